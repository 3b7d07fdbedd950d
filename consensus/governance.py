"""Governance: actions signed by a threshold of governors, and the configuration they change.

Glossary:
- *governors*: the keys the members' assembly entrusts with signing its decisions; `threshold`
  of them (t of |G|) must sign an action for it to count.
- *config*: what governance controls at one height: the voting set, the governors and their
  threshold, the dynamic parameters and the commons treasury lock (`GovernedConfig`).
- *nonce*: every governance action names a nonce; the chain records the nonces it has used, so an
  action, once included, can never be included again (see "Replay" below).
- *recovery*: governors' signatures over a new voting set, made against the last final block,
  that let a chain that lost its quorum resume (`RecoveryAction`).

Reference. Every action can carry the assembly decision behind it (`Reference`: a URI and a
short text), covered by the governors' signatures, so a member reading the chain sees who
decided what and on whose authority. Actions with a reference are version 2 and signed under
`faircoop/governance/v2` (recoveries `faircoop/recovery/v2`); version 1 actions, without one,
still decode and verify.

Replay. A `SignedAction` signs (chain id, nonce, body) under the tag `faircoop/governance/v1`.
The chain id stops cross-chain replay. A nonce may be used once: chain state keeps a floor
(every nonce below it is used) and the used nonces above it, and rejects a nonce more than
`MAX_NONCE_GAP` above the floor, so that record stays small. Governors who number their actions
0, 1, 2, ... keep the record empty. We chose nonces over "the last block hash the action was
made against" because an assembly collects signatures over days, and a block-bound action would
expire long before the last governor signs. A `RecoveryAction` is different on purpose: it *is*
bound to the last final block (height and hash), because that binding is what makes it safe.

Validity of an action is split in two: `check_signatures` (who signed, nonce unused) against the
governors in force at the inclusion height, and `apply_action` against the configuration the
action will change, the one in force two heights later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from consensus import crypto
from consensus.codec import (
    MAX_NAME,
    U64,
    Obj,
    decode_canonical,
    expect_array,
    expect_bytes,
    expect_chain_id,
    expect_items,
    expect_list,
    expect_pubkey,
    expect_str,
    expect_uint,
    pack,
    params_from,
    params_obj,
    validator_from,
    validators_obj,
)
from consensus.credit import LimitChange
from consensus.crypto import PrivateKey, sha256, tagged_hash
from consensus.errors import DecodeError, InvalidSignature, ParamsError, ValidationError, WrongChain
from consensus.params import ChainParams, check_param
from consensus.types import MAX_AMOUNT, MAX_CREDIT, BlockHash, Lock, PublicKey, Validator
from consensus.votes import MAX_VALIDATORS

ACTION_VERSION = 1  # an action without a reference
ACTION_VERSION_REF = 2  # an action with the assembly's reference, covered by the signatures
MAX_REFERENCE_URI = 200  # characters
MAX_REFERENCE_TEXT = 200  # characters
MAX_GOVERNORS = 255
MAX_NONCE_GAP = 1_000  # a nonce may be at most this far above the lowest unused one
GOVERNANCE_TAG = "faircoop/governance/v1"
GOVERNANCE_TAG_REF = "faircoop/governance/v2"
RECOVERY_TAG = "faircoop/recovery/v1"
RECOVERY_TAG_REF = "faircoop/recovery/v2"


class GovernanceError(ValidationError):
    """A governance or recovery action that decodes but may not be applied (see `rule`)."""


# -- the configuration governance controls ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class GovernedConfig:
    """Everything governance decides, as in force at one height."""

    validators: tuple[Validator, ...]  # the voting set, sorted by pubkey (certificate index order)
    governors: tuple[PublicKey, ...]  # sorted, unique
    governor_threshold: int  # t: 1 <= t <= len(governors) (t = 1 when there are no governors)
    params: ChainParams
    treasury_lock: Lock

    def validator_keys(self) -> tuple[PublicKey, ...]:
        return tuple(v.pubkey for v in self.validators)


def config_obj(c: GovernedConfig) -> Obj:
    return (validators_obj(c.validators), c.governors, c.governor_threshold,
            params_obj(c.params), c.treasury_lock)


def config_from(obj: Obj, what: str = "config") -> GovernedConfig:
    vals, govs, threshold, params, lock = expect_array(obj, 5, what)
    validators = sorted_validators_from(vals, f"{what}.validators")
    governors = sorted_keys_from(govs, f"{what}.governors", MAX_GOVERNORS)
    t = expect_uint(threshold, f"{what}.governor_threshold", lo=1, hi=max(1, len(governors)))
    return GovernedConfig(validators, governors, t, params_from(params, f"{what}.params"),
                          Lock(expect_bytes(lock, f"{what}.treasury_lock", size=32)))


def sorted_keys_from(obj: Obj, what: str, max_len: int) -> tuple[PublicKey, ...]:
    keys = expect_items(obj, what, expect_pubkey, max_len)
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        raise DecodeError(f"{what}: keys must be sorted and unique")
    return keys


def sorted_validators_from(obj: Obj, what: str) -> tuple[Validator, ...]:
    vs = expect_items(obj, what, validator_from, MAX_VALIDATORS)
    if any(a.pubkey >= b.pubkey for a, b in zip(vs, vs[1:], strict=False)):
        raise DecodeError(f"{what}: validators must be sorted by pubkey and unique")
    return vs


def sorted_validators(vs: tuple[Validator, ...] | list[Validator]) -> tuple[Validator, ...]:
    """A voting set in canonical order; GovernanceError on a repeated key or a bad size."""
    ordered = tuple(sorted(vs, key=lambda v: v.pubkey))
    if not 1 <= len(ordered) <= MAX_VALIDATORS:
        raise GovernanceError("validator_set_size",
                              f"a voting set has 1 to {MAX_VALIDATORS} members")
    if any(a.pubkey == b.pubkey for a, b in zip(ordered, ordered[1:], strict=False)):
        raise GovernanceError("duplicate_validator", "a key appears twice in the voting set")
    return ordered


# -- action bodies ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddValidator:
    """Admit a new coop. Its name must be new too: one coop, one vote."""

    name: str
    pubkey: PublicKey


@dataclass(frozen=True, slots=True)
class RemoveValidator:
    pubkey: PublicKey


@dataclass(frozen=True, slots=True)
class RekeyValidator:
    """The same coop (same name, same participation record line) signs with a new key."""

    old: PublicKey
    new: PublicKey


@dataclass(frozen=True, slots=True)
class ReadmitValidator:
    """The only way back into the voting set for a validator suspended by evidence."""

    pubkey: PublicKey


@dataclass(frozen=True, slots=True)
class SetParam:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class SetGovernors:
    governors: tuple[PublicKey, ...]  # sorted, unique, 1..MAX_GOVERNORS
    threshold: int


@dataclass(frozen=True, slots=True)
class SetTreasury:
    lock: Lock


@dataclass(frozen=True, slots=True)
class SetCreditLimit:
    """The credit line the assembly grants an account (consensus.credit); 0 withdraws it. A
    limit below the account's debt is allowed: the account then can't send until repaid."""

    lock: Lock
    limit: int  # 0..MAX_CREDIT base units


@dataclass(frozen=True, slots=True)
class SetReferenceRate:
    """The assembly's reference price: one coin is worth `units_per_coin` / 10^8 of `currency`
    (a code such as "EUR"); 0 withdraws it. Informational: no ledger rule reads it. The
    chain keeps it with its history in `consensus.rates`."""

    currency: str  # RATE_CURRENCY_RE: 3 to 8 upper-case letters and digits, a letter first
    units_per_coin: int  # 0..MAX_AMOUNT


ActionBody = (
    AddValidator | RemoveValidator | RekeyValidator | ReadmitValidator | SetParam | SetGovernors
    | SetTreasury | SetCreditLimit | SetReferenceRate
)

_KIND_ADD, _KIND_REMOVE, _KIND_REKEY, _KIND_READMIT = 1, 2, 3, 4
_KIND_PARAM, _KIND_GOVERNORS, _KIND_TREASURY = 5, 6, 7
_KIND_CREDIT_LIMIT = 8
_KIND_RECOVERY = 16
_KIND_RATE = 20  # 8-15 belong to credit and funding, 16 to recovery
MAX_CURRENCY = 8  # characters of a currency code
RATE_CURRENCY_RE = re.compile(r"[A-Z][A-Z0-9]{2,7}\Z")


def body_obj(body: ActionBody) -> Obj:
    match body:
        case AddValidator(name, pubkey):
            return (_KIND_ADD, name, pubkey)
        case RemoveValidator(pubkey):
            return (_KIND_REMOVE, pubkey)
        case RekeyValidator(old, new):
            return (_KIND_REKEY, old, new)
        case ReadmitValidator(pubkey):
            return (_KIND_READMIT, pubkey)
        case SetParam(name, value):
            return (_KIND_PARAM, name, value)
        case SetGovernors(governors, threshold):
            return (_KIND_GOVERNORS, governors, threshold)
        case SetTreasury(lock):
            return (_KIND_TREASURY, lock)
        case SetCreditLimit(lock, limit):
            return (_KIND_CREDIT_LIMIT, lock, limit)
        case SetReferenceRate(currency, units):
            return (_KIND_RATE, currency, units)
    raise GovernanceError("unknown_action", f"not a governance action body: {body!r}")


def body_from(obj: Obj, what: str = "action.body") -> ActionBody:
    if not isinstance(obj, tuple) or not obj:
        raise DecodeError(f"{what}: expected a non-empty array")
    kind = expect_uint(obj[0], f"{what}.kind")
    if kind == _KIND_ADD:
        _, name, key = expect_array(obj, 3, what)
        return AddValidator(expect_str(name, f"{what}.name", MAX_NAME),
                            expect_pubkey(key, f"{what}.pubkey"))
    if kind == _KIND_REMOVE:
        _, key = expect_array(obj, 2, what)
        return RemoveValidator(expect_pubkey(key, f"{what}.pubkey"))
    if kind == _KIND_REKEY:
        _, old, new = expect_array(obj, 3, what)
        return RekeyValidator(expect_pubkey(old, f"{what}.old"), expect_pubkey(new, f"{what}.new"))
    if kind == _KIND_READMIT:
        _, key = expect_array(obj, 2, what)
        return ReadmitValidator(expect_pubkey(key, f"{what}.pubkey"))
    if kind == _KIND_PARAM:
        _, name, value = expect_array(obj, 3, what)
        return SetParam(expect_str(name, f"{what}.name", 64), expect_uint(value, f"{what}.value"))
    if kind == _KIND_GOVERNORS:
        _, govs, threshold = expect_array(obj, 3, what)
        governors = sorted_keys_from(govs, f"{what}.governors", MAX_GOVERNORS)
        return SetGovernors(governors,
                            expect_uint(threshold, f"{what}.threshold", hi=MAX_GOVERNORS))
    if kind == _KIND_TREASURY:
        _, lock = expect_array(obj, 2, what)
        return SetTreasury(Lock(expect_bytes(lock, f"{what}.lock", size=32)))
    if kind == _KIND_CREDIT_LIMIT:
        _, lock, limit = expect_array(obj, 3, what)
        return SetCreditLimit(Lock(expect_bytes(lock, f"{what}.lock", size=32)),
                              expect_uint(limit, f"{what}.limit", hi=MAX_CREDIT))
    if kind == _KIND_RATE:
        _, currency, units = expect_array(obj, 3, what)
        return SetReferenceRate(expect_str(currency, f"{what}.currency", MAX_CURRENCY),
                                expect_uint(units, f"{what}.units_per_coin", hi=MAX_AMOUNT))
    raise DecodeError(f"{what}: unknown action kind {kind}")


# -- the assembly's reference ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    """The assembly decision behind an action: where to read it, and what it says in short."""

    uri: str  # 1..MAX_REFERENCE_URI characters, e.g. "https://coop.example/assembly/2026-11#7"
    text: str  # 1..MAX_REFERENCE_TEXT characters, e.g. "Assembly of 2026-11-20, item 7"


def reference_obj(r: Reference) -> Obj:
    return (r.uri, r.text)


def reference_from(obj: Obj, what: str = "reference") -> Reference:
    uri, text = expect_array(obj, 2, what)
    return Reference(expect_str(uri, f"{what}.uri", MAX_REFERENCE_URI),
                     expect_str(text, f"{what}.text", MAX_REFERENCE_TEXT))


def check_reference(r: Reference) -> Reference:
    """`r` if it fits the bounds; GovernanceError (rule `bad_reference`) otherwise."""
    try:
        return reference_from(reference_obj(r))
    except DecodeError as exc:
        raise GovernanceError("bad_reference", str(exc)) from None


# -- signed actions ---------------------------------------------------------------------------

Signatures = tuple[tuple[PublicKey, bytes], ...]  # (governor key, 64-byte sig), keys ascending


@dataclass(frozen=True, slots=True)
class SignedAction:
    """One governance decision and the governors' signatures over (chain id, nonce, body, and
    the assembly's reference when there is one)."""

    chain_id: str
    nonce: int
    body: ActionBody
    signatures: Signatures
    reference: Reference | None = None  # None: a version 1 action

    def digest(self) -> bytes:
        return action_digest(self.chain_id, self.nonce, self.body, self.reference)


def action_digest(chain_id: str, nonce: int, body: ActionBody,
                  reference: Reference | None = None) -> bytes:
    if reference is None:
        return tagged_hash(GOVERNANCE_TAG, pack((chain_id, nonce, body_obj(body))))
    return tagged_hash(GOVERNANCE_TAG_REF, pack((chain_id, nonce, body_obj(body),
                                                 reference_obj(reference))))


def _add_signature(sigs: Signatures, key: PrivateKey, digest: bytes) -> Signatures:
    pub = PublicKey(key.public_key)
    kept = tuple(s for s in sigs if s[0] != pub)
    return tuple(sorted((*kept, (pub, key.sign(digest)))))


def sign_action(action: SignedAction, key: PrivateKey) -> SignedAction:
    """Add (or replace) one governor's signature: governors sign one by one, in any order."""
    return replace(action, signatures=_add_signature(action.signatures, key, action.digest()))


def make_action(
    chain_id: str, nonce: int, body: ActionBody, keys: tuple[PrivateKey, ...] = (),
    reference: Reference | None = None,
) -> SignedAction:
    action = SignedAction(chain_id, nonce, body, (),
                          None if reference is None else check_reference(reference))
    for key in keys:
        action = sign_action(action, key)
    return action


def _signatures_from(obj: Obj, what: str) -> Signatures:
    sigs: list[tuple[PublicKey, bytes]] = []
    for i, pair in enumerate(expect_list(obj, what, MAX_GOVERNORS)):
        key, sig = expect_array(pair, 2, f"{what}[{i}]")
        sigs.append((expect_pubkey(key, f"{what}[{i}].key"),
                     expect_bytes(sig, f"{what}[{i}].sig", size=64)))
    if any(a[0] >= b[0] for a, b in zip(sigs, sigs[1:], strict=False)):
        raise DecodeError(f"{what}: signer keys must be strictly ascending (one signature each)")
    return tuple(sigs)


def signed_action_obj(a: SignedAction) -> Obj:
    if a.reference is None:
        return (ACTION_VERSION, a.chain_id, a.nonce, body_obj(a.body), a.signatures)
    return (ACTION_VERSION_REF, a.chain_id, a.nonce, body_obj(a.body),
            reference_obj(a.reference), a.signatures)


def encode_action(a: SignedAction) -> bytes:
    return pack(signed_action_obj(a))


# -- recovery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecoveryAction:
    """Governors install `validators` as the voting set for `height + 1`.

    Made against the last final block (`height`, `last_block_id`): it can only ever apply on top
    of that block, so it never reverts a finalized block and can't be replayed later.
    """

    chain_id: str
    height: int  # the last final height; the new set certifies height + 1
    last_block_id: BlockHash
    validators: tuple[Validator, ...]  # sorted by pubkey
    signatures: Signatures
    reference: Reference | None = None  # None: a version 1 recovery

    def digest(self) -> bytes:
        return recovery_digest(self.chain_id, self.height, self.last_block_id, self.validators,
                               self.reference)


def recovery_digest(
    chain_id: str, height: int, last_block_id: bytes, validators: tuple[Validator, ...],
    reference: Reference | None = None,
) -> bytes:
    if reference is None:
        return tagged_hash(RECOVERY_TAG, pack((chain_id, height, last_block_id,
                                               validators_obj(validators))))
    return tagged_hash(RECOVERY_TAG_REF, pack((chain_id, height, last_block_id,
                                               validators_obj(validators),
                                               reference_obj(reference))))


def sign_recovery(action: RecoveryAction, key: PrivateKey) -> RecoveryAction:
    return replace(action, signatures=_add_signature(action.signatures, key, action.digest()))


def make_recovery(
    chain_id: str, height: int, last_block_id: BlockHash, validators: tuple[Validator, ...],
    keys: tuple[PrivateKey, ...] = (), reference: Reference | None = None,
) -> RecoveryAction:
    action = RecoveryAction(chain_id, height, last_block_id, sorted_validators(validators), (),
                            None if reference is None else check_reference(reference))
    for key in keys:
        action = sign_recovery(action, key)
    return action


def encode_recovery(r: RecoveryAction) -> bytes:
    payload = (_KIND_RECOVERY, validators_obj(r.validators))
    if r.reference is None:
        return pack((ACTION_VERSION, r.chain_id, r.height, r.last_block_id, payload,
                     r.signatures))
    return pack((ACTION_VERSION_REF, r.chain_id, r.height, r.last_block_id, payload,
                 reference_obj(r.reference), r.signatures))


BlockAction = SignedAction | RecoveryAction


def block_action_from(obj: Obj, what: str = "action") -> BlockAction:
    """Version 1: a governance action is a 5-array, a recovery a 6-array. Version 2 adds the
    reference before the signatures: 6 and 7. Each opens with its version."""
    if not isinstance(obj, tuple) or len(obj) not in (5, 6, 7):
        raise DecodeError(f"{what}: expected an array of 5 to 7 fields")
    version = expect_uint(obj[0], f"{what}.version", hi=255)
    if version not in (ACTION_VERSION, ACTION_VERSION_REF):
        raise DecodeError(f"{what}: unknown version {version}")
    reference: Reference | None = None
    if version == ACTION_VERSION_REF:
        if len(obj) == 5:
            raise DecodeError(f"{what}: a version 2 action has 6 or 7 fields")
        reference = reference_from(obj[-2], f"{what}.reference")
        obj = (*obj[:-2], obj[-1])
    elif len(obj) == 7:
        raise DecodeError(f"{what}: a version 1 action has 5 or 6 fields")
    chain = expect_chain_id(obj[1], f"{what}.chain_id")
    if len(obj) == 5:
        _, _, nonce, body, sigs = obj
        return SignedAction(chain, expect_uint(nonce, f"{what}.nonce", hi=U64), body_from(body),
                            _signatures_from(sigs, f"{what}.signatures"), reference)
    _, _, height, block_id, payload, sigs = obj
    kind, vals = expect_array(payload, 2, f"{what}.recovery")
    if expect_uint(kind, f"{what}.recovery.kind") != _KIND_RECOVERY:
        raise DecodeError(f"{what}: unknown recovery kind")
    validators = sorted_validators_from(vals, f"{what}.validators")
    if not validators:
        raise DecodeError(f"{what}.validators: a recovery names at least one validator")
    return RecoveryAction(chain, expect_uint(height, f"{what}.height"),
                          BlockHash(expect_bytes(block_id, f"{what}.last_block_id", size=32)),
                          validators, _signatures_from(sigs, f"{what}.signatures"), reference)


def encode_block_action(a: BlockAction) -> bytes:
    return encode_recovery(a) if isinstance(a, RecoveryAction) else encode_action(a)


def decode_block_action(data: bytes) -> BlockAction:
    """Decode one item of `Block.actions`: a governance action or a recovery."""
    return decode_canonical(data, "action", block_action_from)


def credit_limit_changes(actions: tuple[bytes, ...]) -> tuple[LimitChange, ...]:
    """The SetCreditLimit actions among a block's (already applied) actions, in order.

    The block after theirs applies them (`consensus.credit.apply_credit`), so an action
    included at h governs the transfers of h + 2 on, like every other action.
    """
    changes: list[LimitChange] = []
    for raw in actions:
        action = decode_block_action(raw)
        if isinstance(action, SignedAction) and isinstance(action.body, SetCreditLimit):
            changes.append(LimitChange(action.body.lock, action.body.limit, sha256(raw)))
    return tuple(changes)


# -- the rules --------------------------------------------------------------------------------


def check_governor_signatures(
    digest: bytes, signatures: Signatures, governors: tuple[PublicKey, ...], threshold: int
) -> None:
    """At least `threshold` distinct current governors signed, and nobody else did.

    A signature by a key that is not a current governor (say, a removed one) makes the action
    invalid rather than being ignored: anyone can strip it, so the block stays free of
    unauthenticated bytes.
    """
    seen: set[PublicKey] = set()
    last = b""
    for key, sig in signatures:
        if key <= last:
            raise InvalidSignature("duplicate_governor_signature",
                                   "signer keys must be strictly ascending, one signature each")
        last = key
        if key not in governors:
            raise InvalidSignature("not_a_governor", f"{key.hex()} is not a current governor")
        if not crypto.verify(key, sig, digest):
            raise InvalidSignature("bad_governor_signature", f"signature by {key.hex()} fails")
        seen.add(key)
    if not governors or len(seen) < threshold:
        raise InvalidSignature(
            "below_threshold", f"{len(seen)} governor signatures, threshold is {threshold}"
        )


def check_nonce(nonce: int, floor: int, used: tuple[int, ...]) -> None:
    if nonce < floor or nonce in used:
        raise GovernanceError("replayed_action", f"nonce {nonce} was already used")
    if nonce >= floor + MAX_NONCE_GAP:
        raise GovernanceError("nonce_too_far", f"nonce {nonce} is over {MAX_NONCE_GAP} above "
                                               f"the lowest unused one ({floor})")


def use_nonce(nonce: int, floor: int, used: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """The (floor, used) record after `nonce` is consumed, compacted."""
    taken = set(used) | {nonce}
    while floor in taken:
        taken.discard(floor)
        floor += 1
    return floor, tuple(sorted(taken))


def check_action(
    action: SignedAction, chain_id: str, current: GovernedConfig, nonce_floor: int,
    used_nonces: tuple[int, ...],
) -> None:
    """Chain, nonce and signatures, against the governors in force at the inclusion height."""
    if action.chain_id != chain_id:
        raise WrongChain("wrong_chain", f"action is for {action.chain_id!r}")
    if action.reference is None and isinstance(action.body, SetCreditLimit):
        # a kind made after references existed: it is never carried out without one
        raise GovernanceError("reference_required",
                              "a credit limit is set only with the assembly's reference")
    check_nonce(action.nonce, nonce_floor, used_nonces)
    check_governor_signatures(action.digest(), action.signatures, current.governors,
                              current.governor_threshold)


def apply_action(
    config: GovernedConfig, suspended: tuple[Validator, ...], body: ActionBody
) -> tuple[GovernedConfig, tuple[Validator, ...]]:
    """The configuration (in force two heights after inclusion) and suspended list after `body`.

    Raises GovernanceError if the action does not fit the configuration it would change.
    """
    keys = config.validator_keys()
    suspended_keys = tuple(v.pubkey for v in suspended)
    match body:
        case AddValidator(name, pubkey):
            if pubkey in keys:
                raise GovernanceError("already_validator", f"{pubkey.hex()} is already a validator")
            if pubkey in suspended_keys:
                raise GovernanceError("suspended_validator",
                                      "a suspended validator comes back only by ReadmitValidator")
            if any(v.name == name for v in config.validators):
                raise GovernanceError("duplicate_coop_name", f"{name!r} already validates")
            if not crypto.pubkey_valid(pubkey):
                raise GovernanceError("bad_pubkey", "not a valid secp256k1 public key")
            validators = sorted_validators((*config.validators, Validator(name, pubkey)))
            return replace(config, validators=validators), suspended
        case RemoveValidator(pubkey):
            if pubkey not in keys:
                raise GovernanceError("not_a_validator", f"{pubkey.hex()} is not a validator")
            if len(keys) == 1:
                raise GovernanceError("last_validator", "the voting set can't become empty")
            validators = tuple(v for v in config.validators if v.pubkey != pubkey)
            return replace(config, validators=validators), suspended
        case RekeyValidator(old, new):
            if old not in keys:
                raise GovernanceError("not_a_validator", f"{old.hex()} is not a validator")
            if new in keys or new in suspended_keys:
                raise GovernanceError("already_validator", f"{new.hex()} is already in use")
            if not crypto.pubkey_valid(new):
                raise GovernanceError("bad_pubkey", "not a valid secp256k1 public key")
            validators = sorted_validators(
                [Validator(v.name, new) if v.pubkey == old else v for v in config.validators])
            return replace(config, validators=validators), suspended
        case ReadmitValidator(pubkey):
            back = [v for v in suspended if v.pubkey == pubkey]
            if not back:
                raise GovernanceError("not_suspended", f"{pubkey.hex()} is not suspended")
            rest = tuple(v for v in suspended if v.pubkey != pubkey)
            if pubkey in keys:  # suspended as the last validator, so never left the set
                return config, rest
            validators = sorted_validators((*config.validators, back[0]))
            return replace(config, validators=validators), rest
        case SetParam(name, value):
            try:
                params = config.params.with_value(name, check_param(name, value))
            except ParamsError as exc:
                raise GovernanceError("param_out_of_range", str(exc)) from None
            return replace(config, params=params), suspended
        case SetGovernors(governors, threshold):
            if not 1 <= len(governors) <= MAX_GOVERNORS:
                raise GovernanceError("governor_set_size", f"1 to {MAX_GOVERNORS} governors")
            if any(a >= b for a, b in zip(governors, governors[1:], strict=False)):
                raise GovernanceError("governors_unsorted", "governors must be sorted and unique")
            if not 1 <= threshold <= len(governors):
                raise GovernanceError("bad_threshold", "the threshold must satisfy 1 <= t <= |G|")
            return replace(config, governors=governors, governor_threshold=threshold), suspended
        case SetTreasury(lock):
            return replace(config, treasury_lock=lock), suspended
        case SetCreditLimit(_, limit):
            if not 0 <= limit <= MAX_CREDIT:
                raise GovernanceError("credit_limit_out_of_range",
                                      f"a credit limit is 0 to {MAX_CREDIT} base units")
            return config, suspended  # credit accounts are not config: see credit_limit_changes
        case SetReferenceRate():
            check_reference_rate(body)
            return config, suspended  # informational: chainstate records it (consensus.rates)
    raise GovernanceError("unknown_action", type(body).__name__)


def check_reference_rate(body: SetReferenceRate) -> None:
    """GovernanceError (`bad_currency`, `rate_out_of_range`) unless the rate could be set."""
    if not RATE_CURRENCY_RE.match(body.currency):
        raise GovernanceError("bad_currency", f"{body.currency!r} is not a currency code (3 to "
                                              "8 upper-case letters and digits, a letter first)")
    if not 0 <= body.units_per_coin <= MAX_AMOUNT:
        raise GovernanceError("rate_out_of_range", f"units_per_coin is 0 to {MAX_AMOUNT}")


def check_recovery(
    action: RecoveryAction, chain_id: str, height: int, last_block_id: BlockHash,
    last_block_time_ms: int, current: GovernedConfig, now_ms: int,
) -> None:
    """May governors' `action` install its voting set for `height + 1`, at time `now_ms`?

    Yes if the chain has made no block for `recovery_after_ms`, the action is bound to the last
    final block, and at least t current governors signed it. `now_ms` is the node's clock when it
    receives the action, or the time of the block that carries it when a node syncs.
    """
    if action.chain_id != chain_id:
        raise WrongChain("wrong_chain", f"recovery is for {action.chain_id!r}")
    if action.height != height or action.last_block_id != last_block_id:
        raise GovernanceError("recovery_not_at_tip",
                              f"recovery was made against height {action.height}, tip is {height}")
    wait = current.params.recovery_after_ms
    if now_ms < last_block_time_ms + wait:
        raise GovernanceError("recovery_too_early",
                              f"{now_ms - last_block_time_ms} ms since the last block, "
                              f"recovery needs {wait}")
    sorted_validators(action.validators)
    if action.validators != tuple(sorted(action.validators, key=lambda v: v.pubkey)):
        raise GovernanceError("validators_unsorted", "recovery validators must be sorted")
    check_governor_signatures(action.digest(), action.signatures, current.governors,
                              current.governor_threshold)
