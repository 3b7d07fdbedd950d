"""Governance proposals: one action, passed between governors as a file until enough signed.

A governor proposes an action (add, remove, rekey or readmit a validator, set a parameter, the
governors or the treasury, or a recovery) with the assembly decision behind it, and writes it
as a *proposal file*. Each governor reads what it does in words, signs a copy offline with the
governor key of their wallet, copies combine, and anyone submits the action once t governors
have signed. Like the partial-tx files (`wallet.multisig`), the file is versioned JSON, read
with a size cap and written atomically (docs/GOVERNANCE.md gives the format).

The file (JSON, version 1)::

    {"format": "faircoop-governance-proposal", "version": 1,
     "network": "test", "chain_id": "...", "genesis_hash": "<hex>",
     "kind": "add_validator", "nonce": 7, "height": null, "last_block_id": null,
     "reference": {"uri": "...", "text": "..."},
     "digest": "<hex: what each governor signs>", "signers": ["<pubkey hex>", ...],
     "action": "<hex of consensus.governance.encode_block_action, signatures included>"}

`action` is the one source of truth; every other field but `network` and `genesis_hash` is
derived from it and must match (a hand edit of a readable field is refused as inconsistent,
an edit of the action breaks every signature: `ProposalChanged`). The action is always
version 2: it carries the assembly's reference, covered by the signatures. `network` and
`genesis_hash` are not signed (the chain id is); a wallet or node of another genesis refuses
the file (`ChainMismatch`), and the node checks the chain id again.

Nothing here talks to a node: `GovernanceView` is what a caller learnt about the chain's
governors (from a node, or from the wallet's followed chain), and without one a description
says it could not check who may sign.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from consensus import crypto
from consensus.address import encode_address
from consensus.codec import MAX_NAME
from consensus.crypto import PrivateKey
from consensus.errors import DecodeError, InvalidSignature, ParamsError
from consensus.governance import (
    MAX_GOVERNORS,
    MAX_REFERENCE_TEXT,
    MAX_REFERENCE_URI,
    ActionBody,
    AddValidator,
    BlockAction,
    GovernanceError,
    GovernedConfig,
    ReadmitValidator,
    RecoveryAction,
    Reference,
    RekeyValidator,
    RemoveValidator,
    SetCreditLimit,
    SetGovernors,
    SetParam,
    SetReferenceRate,
    SetTreasury,
    apply_action,
    body_from,
    body_obj,
    check_governor_signatures,
    check_reference_rate,
    decode_block_action,
    encode_block_action,
    make_action,
    make_recovery,
    sign_action,
    sign_recovery,
)
from consensus.params import PARAM_RANGES, ChainParams, check_param
from consensus.rates import RATE_SCALE
from consensus.types import NETWORKS, BlockHash, Lock, PublicKey, Validator
from wallet.amounts import format_coins
from wallet.errors import (
    BadAction,
    BadReference,
    ChainMismatch,
    NotAGovernor,
    ProposalChanged,
    ProposalError,
    ProposalIncomplete,
)
from wallet.fileio import bounded_text, hex_field, load_bounded, write_private

FORMAT = "faircoop-governance-proposal"
VERSION = 1
MAX_FILE_BYTES = 1 << 20  # a SetGovernors of 255 keys, signed by all of them, is about 70 KB
EFFECT_DELAY = 2  # an action included at height h takes effect at h + 2

KINDS = {
    AddValidator: "add_validator", RemoveValidator: "remove_validator",
    RekeyValidator: "rekey_validator", ReadmitValidator: "readmit_validator",
    SetParam: "set_param", SetGovernors: "set_governors", SetTreasury: "set_treasury",
    SetCreditLimit: "set_credit_limit",
    SetReferenceRate: "set_reference_rate",
}
RECOVERY = "recovery"


# -- text a person reads ----------------------------------------------------------------------


def printable(text: str) -> str:
    """`text` with every control or otherwise unprintable character escaped, so a name or a
    reference from a file can't rewrite the terminal it is shown on."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def make_reference(uri: str, text: str) -> Reference:
    """The assembly decision behind an action: BadReference unless each part is 1 to 200
    characters (the consensus bound) of printable text."""
    for what, value, most in (("--ref (the reference's URI)", uri, MAX_REFERENCE_URI),
                              ("--note (the reference's text)", text, MAX_REFERENCE_TEXT)):
        if not 1 <= len(value) <= most:
            raise BadReference(f"{what} must be 1 to {most} characters, not {len(value)}")
        if not value.isprintable():
            raise BadReference(f"{what} holds a control character: {printable(value)!r}")
    return Reference(uri, text)


def default_note(subject: ActionBody | Sequence[Validator | str], network: str) -> str:
    """The reference text a proposer who gave none gets: what the action does, in one line
    of at most 200 characters (a recovery: the new set's names)."""
    if isinstance(subject, Sequence):
        names = ", ".join(m.name if isinstance(m, Validator) else m.rpartition("=")[0] or m
                          for m in subject)
        text = f"recovery: a new voting set of {len(subject)}: {names}"
    else:
        text = _describe_body(subject, network, {}, None)
    text = printable(text)
    return text if len(text) <= MAX_REFERENCE_TEXT else text[:MAX_REFERENCE_TEXT - 3] + "..."


# -- the proposal -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """One governance action (or recovery) on its way to t signatures."""

    network: str
    genesis_hash: bytes
    action: BlockAction

    @property
    def chain_id(self) -> str:
        return self.action.chain_id

    @property
    def digest(self) -> bytes:
        """What each governor signs (chain, nonce or tip, body and reference)."""
        return self.action.digest()

    @property
    def signers(self) -> tuple[PublicKey, ...]:
        return tuple(key for key, _ in self.action.signatures)

    @property
    def kind(self) -> str:
        return action_kind(self.action)

    @property
    def reference(self) -> Reference:
        if self.action.reference is None:  # refused on construction and on reading
            raise ProposalError("the action carries no assembly reference")
        return self.action.reference

    @property
    def nonce(self) -> int | None:
        return None if isinstance(self.action, RecoveryAction) else self.action.nonce

    def unsigned(self) -> BlockAction:
        """The action without its signatures: what copies of one proposal share."""
        return replace(self.action, signatures=())

    def encoded(self) -> bytes:
        """The action's bytes, as a block carries it and `POST actions` takes it."""
        return encode_block_action(self.action)


def action_kind(action: BlockAction) -> str:
    """`add_validator`, ..., `set_treasury` or `recovery` (the API's names)."""
    if isinstance(action, RecoveryAction):
        return RECOVERY
    return KINDS[type(action.body)]


def check_body(body: ActionBody) -> ActionBody:
    """`body` if it could apply to some chain; BadAction says what is wrong with it.

    Checked here, before anyone signs: the keys are valid public keys, the coop name fits,
    the parameter exists and the value is in its range, and the threshold is one the
    governors can meet. Whether it fits the chain as it stands is the node's to say.
    """
    match body:
        case AddValidator(name, pubkey):
            _check_coop_name(name)
            _check_key(pubkey, "--pubkey")
        case RemoveValidator(pubkey) | ReadmitValidator(pubkey):
            _check_key(pubkey, "--pubkey")
        case RekeyValidator(old, new):
            _check_key(old, "--old")
            _check_key(new, "--new")
            if old == new:
                raise BadAction("--old and --new are the same key")
        case SetParam(name, value):
            try:
                check_param(name, value)
            except ParamsError as exc:
                raise BadAction(f"{exc} (parameters: {', '.join(PARAM_RANGES)})") from None
        case SetReferenceRate():
            try:
                check_reference_rate(body)
            except GovernanceError as exc:
                raise BadAction(str(exc)) from None
        case SetGovernors(governors, threshold):
            if not 1 <= len(governors) <= MAX_GOVERNORS:
                raise BadAction(f"1 to {MAX_GOVERNORS} governors, not {len(governors)}")
            for key in governors:
                _check_key(key, "a governor key")
            if not 1 <= threshold <= len(governors):
                raise BadAction(f"--threshold must be 1 to {len(governors)} (the number of "
                                f"governors), not {threshold}")
    try:
        body_from(body_obj(body))  # the consensus decoder's bounds (lengths, key order)
    except (DecodeError, GovernanceError) as exc:
        raise BadAction(str(exc)) from None
    return body


def rate_units(price: str) -> int:
    """'1.20' (currency per coin, up to 8 decimals; '0' withdraws) -> units_per_coin."""
    text = price.strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,8})?", text):
        raise BadAction(f"PRICE {price!r}: what one coin is worth, digits with up to 8 "
                        "decimals (0 withdraws the rate)")
    return int(Decimal(text) * RATE_SCALE)


def _check_key(key: bytes, what: str) -> None:
    if not crypto.pubkey_valid(bytes(key)):
        raise BadAction(f"{what} {bytes(key).hex()[:16]}... is not a valid public key (66 hex "
                        "digits, compressed)")


def check_governor_label(pubkey: bytes, name: str) -> None:
    """A name a wallet gives a governor: 1 to 64 printable characters, for a valid key."""
    _check_key(pubkey, "the governor key")
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise BadAction(f"a governor's name is 1 to {MAX_NAME} printable characters")


def _check_coop_name(name: str) -> None:
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise BadAction(f"a coop name is 1 to {MAX_NAME} printable characters")


def new_action(network: str, genesis_hash: bytes, chain_id: str, nonce: int, body: ActionBody,
               reference: Reference) -> Proposal:
    """An unsigned proposal of `body` under `nonce`, carrying the assembly's `reference`."""
    check_body(body)
    reference = make_reference(reference.uri, reference.text)
    return _checked_new(network, genesis_hash,
                        make_action(chain_id, nonce, body, reference=reference))


def new_recovery(network: str, genesis_hash: bytes, chain_id: str, height: int,
                 last_block_id: bytes, validators: Sequence[Validator],
                 reference: Reference) -> Proposal:
    """An unsigned recovery: `validators` become the voting set after the last final block
    (`height`, `last_block_id`)."""
    for v in validators:
        _check_coop_name(v.name)
        _check_key(v.pubkey, f"validator {v.name!r}:")
    reference = make_reference(reference.uri, reference.text)
    if len(last_block_id) != 32:
        raise BadAction("the last final block's hash is 32 bytes (64 hex digits)")
    try:
        action = make_recovery(chain_id, height, BlockHash(last_block_id), tuple(validators),
                               reference=reference)
    except GovernanceError as exc:
        raise BadAction(str(exc)) from None
    return _checked_new(network, genesis_hash, action)


def _checked_new(network: str, genesis_hash: bytes, action: BlockAction) -> Proposal:
    if network not in NETWORKS:
        raise BadAction(f"network must be one of {', '.join(NETWORKS)}")
    if len(genesis_hash) != 32:
        raise BadAction("the genesis hash is 32 bytes (64 hex digits)")
    try:  # exactly what the file will hold, so the proposer can't write one nobody reads
        decode_block_action(encode_block_action(action))
    except DecodeError as exc:
        raise BadAction(str(exc)) from None
    return Proposal(network, genesis_hash, action)


# -- the file ---------------------------------------------------------------------------------


def to_json(p: Proposal) -> str:
    recovery = p.action if isinstance(p.action, RecoveryAction) else None
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "network": p.network,
        "chain_id": p.chain_id,
        "genesis_hash": p.genesis_hash.hex(),
        "kind": p.kind,
        "nonce": p.nonce,
        "height": None if recovery is None else recovery.height,
        "last_block_id": None if recovery is None else recovery.last_block_id.hex(),
        "reference": {"uri": p.reference.uri, "text": p.reference.text},
        "digest": p.digest.hex(),
        "signers": [k.hex() for k in p.signers],
        "action": p.encoded().hex(),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def from_bytes(raw: bytes) -> Proposal:
    """A proposal file's bytes (at most MAX_FILE_BYTES of UTF-8 JSON), checked as `from_json`."""
    return from_json(bounded_text(raw, MAX_FILE_BYTES, ProposalError,
                                  "a governance proposal file"))


def from_json(text: str) -> Proposal:
    """Parse and check a proposal file; every inconsistency is a `ProposalError`.

    Signatures are not verified here (`check_signatures` does, and says whose fails).
    """
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise ProposalError("not a governance proposal file (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProposalError("not a faircoop governance proposal file")
    if doc.get("version") != VERSION:
        raise ProposalError(f"proposal file version {doc.get('version')!r}; this wallet "
                            f"reads {VERSION}")
    network = doc.get("network")
    if network not in NETWORKS:
        raise ProposalError(f"network must be one of {', '.join(NETWORKS)}")
    genesis_hash = hex_field(doc.get("genesis_hash"), "genesis_hash", ProposalError)
    if len(genesis_hash) != 32:
        raise ProposalError("genesis_hash: 32 bytes of hex")
    try:
        action = decode_block_action(hex_field(doc.get("action"), "action", ProposalError))
    except DecodeError as exc:
        raise ProposalError(f"the action does not decode: {exc}") from None
    if action.reference is None:
        raise ProposalError("the action carries no assembly reference (a version 1 action): "
                            "this wallet signs only actions that name the decision behind them")
    proposal = Proposal(str(network), genesis_hash, action)
    derived = json.loads(to_json(proposal))
    for name in sorted(derived):
        if doc.get(name) != derived[name]:
            raise ProposalError(f"the file's {name!r} does not match its action: the file "
                                "was edited by hand")
    return proposal


def load_proposal(path: str | os.PathLike[str]) -> Proposal:
    """Read and check a proposal file; its errors name the file. OSError if unreadable."""
    return load_bounded(path, MAX_FILE_BYTES, from_bytes, ProposalError)


def save_proposal(path: str | os.PathLike[str], p: Proposal) -> None:
    """Write a proposal file atomically (mode 0600): signing FILE in place never leaves a torn
    file behind."""
    write_private(path, to_json(p))


# -- checking, signing, combining -------------------------------------------------------------


def check_signatures(p: Proposal) -> None:
    """Every signature present verifies against the action as it is now (ProposalChanged)."""
    digest = p.digest
    for key, sig in p.action.signatures:
        if not crypto.verify(key, sig, digest):
            raise ProposalChanged(
                f"the signature of {key.hex()} does not match this action: the action or its "
                "reference was changed after that governor signed (or the signature is "
                "forged); refusing it")


def check_chain(p: Proposal, chain_id: str, network: str, genesis_hash: bytes) -> None:
    """The proposal is for this chain: chain id, network and genesis (ChainMismatch)."""
    if (p.chain_id, p.network) != (chain_id, network):
        raise ChainMismatch(f"the proposal is for chain {p.chain_id!r} ({p.network}), not "
                            f"{chain_id!r} ({network})")
    if p.genesis_hash != genesis_hash:
        raise ChainMismatch(f"the proposal names genesis {p.genesis_hash.hex()[:16]}, this "
                            f"chain's is {genesis_hash.hex()[:16]}: another chain of the same "
                            "name")


def check_governors(p: Proposal, governors: Sequence[PublicKey]) -> None:
    """Every signer is one of `governors` (NotAGovernor names the first who is not)."""
    for key in p.signers:
        if key not in governors:
            raise NotAGovernor(
                f"{key.hex()} signed, but is not a current governor: the node would refuse "
                "the action (ask the governors to sign a fresh proposal without it)")


def check_complete(p: Proposal, governors: Sequence[PublicKey], threshold: int) -> None:
    """Signed by at least `threshold` of `governors` and nobody else, every signature valid:
    what the node checks before it pools the action."""
    check_signatures(p)
    check_governors(p, governors)
    try:
        check_governor_signatures(p.digest, p.action.signatures, tuple(governors), threshold)
    except InvalidSignature as exc:
        raise ProposalIncomplete(
            f"{len(p.signers)} of the {threshold} governor signatures the action needs: "
            f"{threshold - len(p.signers)} more to collect before it can be submitted"
            if exc.rule == "below_threshold" else str(exc)) from None


def sign(p: Proposal, key: PrivateKey) -> tuple[Proposal, bool]:
    """`p` with `key`'s signature added, and whether it was new (a governor who already
    signed signs nothing twice). Refuses (ProposalChanged) a proposal whose present
    signatures no longer verify: someone changed it after they signed."""
    check_signatures(p)
    if PublicKey(key.public_key) in p.signers:
        return p, False
    if isinstance(p.action, RecoveryAction):
        return replace(p, action=sign_recovery(p.action, key)), True
    return replace(p, action=sign_action(p.action, key)), True


def combine(parts: Sequence[Proposal]) -> Proposal:
    """Merge the signatures of copies of one proposal (each checked first)."""
    if not parts:
        raise ProposalError("nothing to combine")
    first = parts[0]
    for n, p in enumerate(parts):
        if (p.network, p.genesis_hash, p.unsigned()) != (first.network, first.genesis_hash,
                                                         first.unsigned()):
            raise ProposalError(
                f"cannot combine: copy {n + 1} proposes another action (or the same one for "
                f"another nonce, reference or chain) than copy 1 (digest "
                f"{p.digest.hex()[:16]}... vs {first.digest.hex()[:16]}...)")
        check_signatures(p)
    merged = dict(sig for p in parts for sig in p.action.signatures)
    return replace(first, action=replace(first.action, signatures=tuple(sorted(merged.items()))))


# -- what a governor sees before signing ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GovernanceView:
    """What a caller learnt about the chain's governance, and from where."""

    source: str  # "the node at URL", "this wallet's followed chain": said with every count
    height: int  # the tip this describes; the governors are those in force at height + 1
    governors: tuple[PublicKey, ...]
    threshold: int
    validators: tuple[Validator, ...] = ()  # the voting set, for coop names
    params: ChainParams | None = None
    treasury_lock: Lock | None = None


@dataclass(frozen=True, slots=True)
class SignerLine:
    pubkey: PublicKey
    name: str | None  # the wallet's name for this governor, if it knows one
    you: bool  # the viewing wallet's own governor key
    governor: bool | None  # a current governor; None: could not check


@dataclass(frozen=True, slots=True)
class ProposalDescription:
    kind: str
    summary: str  # in words: what the action does
    effective: str  # in words: from when
    proposal: Proposal
    signers: tuple[SignerLine, ...]
    view: GovernanceView | None
    warnings: tuple[str, ...]

    @property
    def threshold(self) -> int | None:
        return None if self.view is None else self.view.threshold

    @property
    def valid_signatures(self) -> int:
        """Signatures that count: by current governors (all of them, if unchecked)."""
        return sum(1 for s in self.signers if s.governor is not False)

    @property
    def remaining(self) -> int | None:
        """Signatures still needed; None: the governors could not be checked."""
        if self.threshold is None:
            return None
        return max(0, self.threshold - self.valid_signatures)

    @property
    def complete(self) -> bool | None:
        if self.remaining is None:
            return None
        return self.remaining == 0 and all(s.governor for s in self.signers)

    def as_json(self) -> dict[str, object]:
        p = self.proposal
        recovery = p.action if isinstance(p.action, RecoveryAction) else None
        return {
            "kind": self.kind,
            "summary": self.summary,
            "effective": self.effective,
            "chain_id": p.chain_id,
            "network": p.network,
            "genesis_hash": p.genesis_hash.hex(),
            "nonce": p.nonce,
            "height": None if recovery is None else recovery.height,
            "last_block_id": None if recovery is None else recovery.last_block_id.hex(),
            "action": action_json(p),
            "reference": {"uri": p.reference.uri, "text": p.reference.text},
            "digest": p.digest.hex(),
            "signers": [{"pubkey": s.pubkey.hex(), "name": s.name, "you": s.you,
                         "governor": s.governor} for s in self.signers],
            "threshold": self.threshold,
            "signatures_remaining": self.remaining,
            "complete": self.complete,
            "governors_checked": self.view is not None,
            "governors_source": None if self.view is None else self.view.source,
            "warnings": list(self.warnings),
            "action_hex": p.encoded().hex(),
        }


def action_json(p: Proposal) -> dict[str, object]:
    """The action's own fields, in JSON (keys in hex, a treasury lock also as an address)."""
    if isinstance(p.action, RecoveryAction):
        return {"validators": [{"name": v.name, "pubkey": v.pubkey.hex()}
                               for v in p.action.validators]}
    match p.action.body:
        case AddValidator(name, pubkey):
            return {"name": name, "pubkey": pubkey.hex()}
        case RemoveValidator(pubkey) | ReadmitValidator(pubkey):
            return {"pubkey": pubkey.hex()}
        case RekeyValidator(old, new):
            return {"old": old.hex(), "new": new.hex()}
        case SetParam(name, value):
            return {"name": name, "value": value}
        case SetGovernors(governors, threshold):
            return {"governors": [k.hex() for k in governors], "threshold": threshold}
        case SetTreasury(lock):
            return {"lock": lock.hex(), "address": encode_address(lock, p.network)}
        case SetCreditLimit(lock, limit):
            return {"lock": lock.hex(), "address": encode_address(lock, p.network),
                    "limit": limit}
        case SetReferenceRate(currency, units):
            return {"currency": currency, "units_per_coin": units,
                    "price": format_coins(units)}
    raise ProposalError("unknown action")  # pragma: no cover - body_from decodes no other


def describe(p: Proposal, view: GovernanceView | None = None, *,
             names: Mapping[PublicKey, str] | None = None,
             own: PublicKey | None = None) -> ProposalDescription:
    """What `p` does, in words, who signed it and, with a `view`, how many more must sign.

    `names` are the viewer's names for governors; `own` is the viewer's governor key. A
    signer who is not among `view.governors` is marked and named in a warning: the node
    would refuse the action as long as that signature is on it.
    """
    known = names or {}
    signers = tuple(
        SignerLine(key, known.get(key), key == own,
                   None if view is None else key in view.governors)
        for key in p.signers)
    warnings = [f"{s.pubkey.hex()} signed but is not a current governor ({view.source}): the "
                "node will refuse the action with this signature on it"
                for s in signers if s.governor is False and view is not None]
    warnings += _fit_warnings(p, view)
    summary = action_summary(p.action, p.network, view)
    if isinstance(p.action, RecoveryAction):
        effective = _describe_recovery(p.action, view)[1]
    else:
        effective = (f"from {EFFECT_DELAY} blocks after the block that includes it (an "
                     f"action included at height h takes effect at h + {EFFECT_DELAY})")
    return ProposalDescription(p.kind, summary, effective, p, signers, view, tuple(warnings))


def action_summary(action: BlockAction, network: str,
                   view: GovernanceView | None = None) -> str:
    """What `action` does, in one sentence (coop names from `view`'s voting set)."""
    if isinstance(action, RecoveryAction):
        return _describe_recovery(action, view)[0]
    coop = {v.pubkey: v.name for v in (view.validators if view else ())}
    return _describe_body(action.body, network, coop, view)


def _coop(key: PublicKey, coop: Mapping[PublicKey, str]) -> str:
    name = coop.get(key)
    return f"coop '{printable(name)}' ({key.hex()})" if name else f"the validator {key.hex()}"


def _describe_body(body: ActionBody, network: str, coop: Mapping[PublicKey, str],
                   view: GovernanceView | None) -> str:
    match body:
        case AddValidator(name, pubkey):
            return f"adds coop '{printable(name)}' ({pubkey.hex()}) to the validators"
        case RemoveValidator(pubkey):
            return f"removes {_coop(pubkey, coop)} from the validators"
        case RekeyValidator(old, new):
            return f"moves {_coop(old, coop)} to the new key {new.hex()} (same coop, same name)"
        case ReadmitValidator(pubkey):
            return (f"readmits the suspended validator {pubkey.hex()} to the validators (and "
                    "the proposer rotation)")
        case SetParam(name, value):
            now = ("" if view is None or view.params is None
                   else f"; it is {getattr(view.params, name)} now")
            lo, hi = PARAM_RANGES.get(name, (0, 0))
            return f"sets the chain parameter {name} to {value} (allowed {lo}..{hi}{now})"
        case SetGovernors(governors, threshold):
            keys = ", ".join(k.hex() for k in governors)
            return (f"replaces the governors by {len(governors)} key(s): {keys}; {threshold} of "
                    "them must sign each action from then on")
        case SetTreasury(lock):
            return (f"makes {encode_address(lock, network)} the commons treasury (where block "
                    "fees go)")
        case SetCreditLimit(lock, limit):
            if not limit:
                return (f"withdraws the credit line of {encode_address(lock, network)} (limit "
                        "0: it can spend only what it is owed)")
            return (f"grants {encode_address(lock, network)} a credit limit of "
                    f"{format_coins(limit)} units (its balance may go down to "
                    f"-{format_coins(limit)}; a debt above it stops its sending, never moves it)")
        case SetReferenceRate(currency, units):
            if not units:
                return (f"withdraws the assembly's reference price in {printable(currency)} "
                        "(informational: no ledger rule reads it)")
            return (f"sets the assembly's reference price: 1 coin = {format_coins(units)} "
                    f"{printable(currency)} (informational: no ledger rule reads it)")
    raise ProposalError("unknown action")  # pragma: no cover - body_from decodes no other


def _describe_recovery(r: RecoveryAction, view: GovernanceView | None) -> tuple[str, str]:
    members = ", ".join(f"'{printable(v.name)}' ({v.pubkey.hex()})" for v in r.validators)
    summary = (f"RECOVERY: replaces the whole voting set, after the last final block (height "
               f"{r.height}, {r.last_block_id.hex()}), by {len(r.validators)} coop(s): "
               f"{members}")
    wait = ("" if view is None or view.params is None
            else f" ({view.params.recovery_after_ms // 1000} s)")
    effective = (f"for height {r.height + 1} on, once the chain has made no block for "
                 f"recovery_after_ms{wait} after height {r.height}; void once any block "
                 f"{r.height + 1} exists")
    return summary, effective


def _fit_warnings(p: Proposal, view: GovernanceView | None) -> list[str]:
    """Whether the action fits the chain as `view` shows it (the node decides at submission,
    against its own state, suspended validators included)."""
    if view is None or view.params is None or not view.validators:
        return []
    if isinstance(p.action, RecoveryAction):
        if p.action.height != view.height:
            return [f"made against height {p.action.height}, but the tip is {view.height} "
                    f"({view.source}): the nodes will refuse it"]
        return []
    if isinstance(p.action.body, ReadmitValidator):
        return []  # the view does not list suspended validators
    config = GovernedConfig(view.validators, view.governors, view.threshold, view.params,
                            view.treasury_lock or Lock(bytes(32)))
    try:
        apply_action(config, (), p.action.body)
    except GovernanceError as exc:
        return [f"as the chain stands ({view.source}) the node would refuse it: "
                f"{exc.rule}: {exc}"]
    return []
