"""The light client: the wallet follows the header chain itself and trusts no single node.

Header h is followed if it links to header h-1 (`prev_hash`), carries a commit certificate by
more than 2/3 of its validator set (`consensus.certificate.verify_certificate`), commits to
the parameters in force (`params_hash`), and its validator set is either

- the one header h-1 committed to (`next_validators_hash`), or
- installed by a *recovery* the block carries first: the node's own rule
  (`consensus.governance.check_recovery`) decides, with the governors in force at h, the
  block's time as the clock, and the followed header h-1 as the tip the action must be bound to.

To know the governors in force, the light client follows governance the node's way: a block
whose header commits to actions (`actions_hash`) is fetched whole (`GET block/{hash}/raw`,
checked against the header's hash), its `SetGovernors`/`SetParam` actions are checked against
the governors in force (`check_governor_signatures`) and applied (`apply_action`) to the
configuration of two heights later, as `consensus.chainstate.next_state` does; its
`SetReferenceRate` actions go into the followed rate book (`consensus.rates`), so the wallet
converts at the assembly's rate as the chain holds it, not as one node says. Validator
changes need no such tracking: the headers commit to every voting set. A validator set fetched
from a node is accepted only if it hashes to a commitment already followed.

The followed state (`LightState`) is public data and lives in the wallet file. It keeps the
validator-set changes (epochs), the governance in force, and the heights of the recoveries it
followed, not every header hash. A state written before governance was followed is dropped on
load (`LightState.is_legacy`): the next sync starts again from the genesis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from consensus import codec
from consensus.codec import (
    block_hash,
    decode_block,
    decode_header,
    decode_params,
    encode_params,
    hash_items,
    params_hash,
    validators_hash,
)
from consensus.errors import DecodeError, FaircoopError, ValidationError
from consensus.governance import (
    GovernedConfig,
    RecoveryAction,
    SetGovernors,
    SetParam,
    SetReferenceRate,
    SignedAction,
    apply_action,
    check_governor_signatures,
    check_recovery,
    decode_block_action,
    sorted_validators,
    sorted_validators_from,
)
from consensus.params import ChainParams
from consensus.rates import EMPTY_BOOK, RateBook, rates_from, rates_obj, record_action
from consensus.types import BlockHash, BlockHeader, Genesis, Lock, PublicKey, Validator
from wallet.errors import AnswerTooLarge, ChainMismatch, ReceiptInvalid
from wallet.fileio import hex_field as _hex_field

HEADER_BATCH = 1000  # the API's maximum count per headers request
NO_ACTIONS = hash_items(())  # the actions_hash of a block that carries none

ValidatorSet = tuple[Validator, ...]


def verify_block_certificate(cert: bytes, block_id: bytes, validators: ValidatorSet,
                             chain_id: str, height: int) -> None:
    # Imported here so the wallet loads even where the consensus engine is absent.
    from consensus.certificate import InvalidCertificate, verify_certificate

    keys = tuple(PublicKey(v.pubkey) for v in validators)
    try:
        verify_certificate(cert, block_id, keys, chain_id, height)
    except InvalidCertificate as exc:
        raise ReceiptInvalid(f"height {height}: block is not final: {exc}") from None


def encode_validator_set(vs: ValidatorSet) -> bytes:
    return codec.pack(codec.validators_obj(vs))


def decode_validator_set(data: bytes) -> ValidatorSet:
    """A validator set in canonical (pubkey-sorted) order, as `validator-set/{hash}` serves."""
    return codec.decode_canonical(
        data, "validator set", lambda obj: sorted_validators_from(obj, "validator set")
    )


def hex_field(value: object, what: str) -> bytes:
    return _hex_field(value, what, ReceiptInvalid)


# -- the followed state -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Governance:
    """The part of the governed configuration the light client follows: who may sign a
    recovery, how many of them, and the parameters (the recovery wait among them)."""

    governors: tuple[PublicKey, ...]  # sorted, unique
    threshold: int
    params: ChainParams

    def config(self, validators: ValidatorSet) -> GovernedConfig:
        """As the consensus rules take it. The treasury lock is not followed (no rule the
        light client runs reads it)."""
        return GovernedConfig(validators, self.governors, self.threshold, self.params,
                              Lock(bytes(32)))

    def to_json(self) -> dict[str, object]:
        return {"governors": [k.hex() for k in self.governors], "threshold": self.threshold,
                "params_hex": encode_params(self.params).hex()}

    @classmethod
    def from_json(cls, doc: Any) -> Governance:
        return cls(tuple(PublicKey(bytes.fromhex(k)) for k in doc["governors"]),
                   int(doc["threshold"]), decode_params(bytes.fromhex(doc["params_hex"])))


@dataclass(frozen=True, slots=True)
class LightState:
    """What the wallet knows, verified, about the chain it follows."""

    chain_id: str
    network: str
    genesis_hash: bytes
    height: int  # the last header followed (0 = genesis)
    header_hash: bytes  # its block hash (the genesis hash at 0)
    header_time_ms: int  # its time (the genesis time at 0): a recovery's wait starts here
    next_validators_hash: bytes  # the set that must certify height + 1 (unless a recovery)
    epochs: tuple[tuple[int, bytes], ...]  # (first height, validators hash), ascending
    sets: tuple[tuple[bytes, ValidatorSet], ...]  # every set met, by hash
    governance: Governance  # in force at height + 1
    governance_next: Governance  # in force at height + 2 (actions of `height` applied)
    recoveries: tuple[int, ...] = ()  # heights whose block carried a recovery, followed
    rates: RateBook = EMPTY_BOOK  # the assembly's reference prices, as the chain keeps them

    def set_hash_at(self, height: int) -> bytes | None:
        """The validators hash that certifies `height`, if followed that far."""
        if not 1 <= height <= self.height + 1:
            return None
        found: bytes | None = None
        for first, vhash in self.epochs:
            if first <= height:
                found = vhash
        return found

    def known_set(self, vhash: bytes) -> ValidatorSet | None:
        for h, vs in self.sets:
            if h == vhash:
                return vs
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "chain_id": self.chain_id,
            "network": self.network,
            "genesis_hash": self.genesis_hash.hex(),
            "height": self.height,
            "header_hash": self.header_hash.hex(),
            "header_time_ms": self.header_time_ms,
            "next_validators_hash": self.next_validators_hash.hex(),
            "epochs": [[h, v.hex()] for h, v in self.epochs],
            "validator_sets": {h.hex(): encode_validator_set(vs).hex() for h, vs in self.sets},
            "governance": {"current": self.governance.to_json(),
                           "next": self.governance_next.to_json()},
            "recoveries": list(self.recoveries),
            "rates_hex": codec.pack(rates_obj(self.rates)).hex(),
        }

    @staticmethod
    def is_legacy(doc: object) -> bool:
        """A followed state written before the light client followed governance (it can't
        check a recovery) or the reference rates (it skipped their actions): the wallet drops
        it and follows again from the genesis."""
        return isinstance(doc, dict) and ("governance" not in doc or "rates_hex" not in doc)

    @classmethod
    def from_json(cls, doc: object) -> LightState:
        if not isinstance(doc, dict):
            raise ReceiptInvalid("the wallet's followed-chain state is malformed")
        try:
            sets = tuple(
                (bytes.fromhex(h), decode_validator_set(bytes.fromhex(v)))
                for h, v in doc["validator_sets"].items()
            )
            state = cls(
                chain_id=str(doc["chain_id"]),
                network=str(doc["network"]),
                genesis_hash=bytes.fromhex(doc["genesis_hash"]),
                height=int(doc["height"]),
                header_hash=bytes.fromhex(doc["header_hash"]),
                header_time_ms=int(doc["header_time_ms"]),
                next_validators_hash=bytes.fromhex(doc["next_validators_hash"]),
                epochs=tuple((int(h), bytes.fromhex(v)) for h, v in doc["epochs"]),
                sets=sets,
                governance=Governance.from_json(doc["governance"]["current"]),
                governance_next=Governance.from_json(doc["governance"]["next"]),
                recoveries=tuple(int(h) for h in doc.get("recoveries", [])),
                rates=codec.decode_canonical(bytes.fromhex(doc["rates_hex"]), "rates",
                                             rates_from),
            )
        except (AttributeError, KeyError, TypeError, ValueError, DecodeError):
            raise ReceiptInvalid("the wallet's followed-chain state is malformed") from None
        for vhash, vs in state.sets:
            if validators_hash(vs) != vhash:
                raise ReceiptInvalid("the wallet's followed-chain state holds a mislabelled set")
        return state


def genesis_light_state(genesis: Genesis) -> LightState:
    """The starting point: trust the genesis (its hash is the chain's identity)."""
    gid = codec.genesis_hash(genesis)
    try:
        vs = sorted_validators(genesis.validators)
    except FaircoopError as exc:
        raise ReceiptInvalid(f"genesis validator set: {exc}") from None
    vhash = validators_hash(vs)
    governance = Governance(tuple(sorted(genesis.governors)), genesis.governor_threshold,
                            genesis.params)
    return LightState(genesis.chain_id, genesis.network, gid, 0, gid, genesis.time_ms, vhash,
                      ((1, vhash),), ((vhash, vs),), governance, governance)


# -- following one header ---------------------------------------------------------------------


def _carried(h: int, header: BlockHeader,
             actions: tuple[bytes, ...] | None) -> tuple[RecoveryAction | None,
                                                         tuple[SignedAction, ...]]:
    """The block's recovery (if it carries one first) and its governance actions, checked
    against the header's `actions_hash`."""
    if header.actions_hash == NO_ACTIONS:
        return None, ()
    if actions is None:
        raise ReceiptInvalid(f"header {h} carries governance actions the wallet was not given")
    if hash_items(actions) != header.actions_hash:
        raise ReceiptInvalid(f"the actions given for header {h} are not the ones it commits to")
    try:
        decoded = [decode_block_action(a) for a in actions]
    except DecodeError as exc:
        raise ReceiptInvalid(f"header {h}: an action does not decode: {exc}") from None
    if any(isinstance(a, RecoveryAction) for a in decoded[1:]):
        raise ReceiptInvalid(f"header {h}: a recovery is carried, but not first")
    first = decoded[0] if isinstance(decoded[0], RecoveryAction) else None
    return first, tuple(a for a in decoded if isinstance(a, SignedAction))


def _recovered_set(state: LightState, h: int, header: BlockHeader,
                   recovery: RecoveryAction) -> ValidatorSet:
    """The set a recovery installs for h, if the node's rule accepts it here."""
    current = state.governance.config(state.known_set(state.next_validators_hash) or ())
    try:
        check_recovery(recovery, state.chain_id, state.height, BlockHash(state.header_hash),
                       state.header_time_ms, current, header.time_ms)
    except ValidationError as exc:
        raise ReceiptInvalid(f"header {h} carries a recovery the rules refuse ({exc})") from None
    if header.validators_hash != validators_hash(recovery.validators):
        raise ReceiptInvalid(f"header {h} names another validator set than its recovery installs")
    return recovery.validators


def _govern(state: LightState, h: int,
            actions: tuple[SignedAction, ...]) -> tuple[Governance, RateBook]:
    """The governance in force at h + 2: `governance_next` with block h's governor and
    parameter changes applied (each checked against the governors in force at h); and the
    rate book with block h's reference rates recorded from h + 2."""
    current, upcoming = state.governance, state.governance_next
    config, rates = upcoming.config(()), state.rates
    for n, action in enumerate(actions):
        if not isinstance(action.body, (SetGovernors, SetParam, SetReferenceRate)):
            continue  # validator changes reach the light client through header commitments
        try:
            if action.chain_id != state.chain_id:
                raise ValidationError("wrong_chain", f"action is for {action.chain_id!r}")
            check_governor_signatures(action.digest(), action.signatures, current.governors,
                                      current.threshold)
            config, _ = apply_action(config, (), action.body)
            rates = record_action(rates, action, h + 2)
        except ValidationError as exc:
            raise ReceiptInvalid(f"header {h}: action {n} fails ({exc})") from None
    return Governance(config.governors, config.governor_threshold, config.params), rates


def follow_header(state: LightState, header: BlockHeader, certificate: bytes,
                  next_set: ValidatorSet | None = None,
                  actions: tuple[bytes, ...] | None = None) -> LightState:
    """Advance one height, checking link, validator set (or recovery), parameters and
    certificate.

    `actions` (the block's) must be given when the header commits to any. `next_set` must be
    given (and hash to `header.next_validators_hash`) when that set is not yet known.
    """
    h = state.height + 1
    if header.height != h:
        raise ReceiptInvalid(f"expected header {h}, got {header.height}")
    if header.chain_id != state.chain_id:
        raise ChainMismatch(f"header {h} is for chain {header.chain_id!r}, "
                            f"the wallet follows {state.chain_id!r}")
    if header.prev_hash != state.header_hash:
        raise ReceiptInvalid(f"header {h} does not link to the followed header {h - 1}")
    recovery, governed = _carried(h, header, actions)
    sets, epochs, recoveries = state.sets, state.epochs, state.recoveries
    if recovery is not None:
        validators: ValidatorSet | None = _recovered_set(state, h, header, recovery)
        vhash = header.validators_hash
        if state.known_set(vhash) is None:
            sets = (*sets, (vhash, recovery.validators))
        epochs = (*tuple(e for e in epochs if e[0] < h), (h, vhash))
        recoveries = (*recoveries, h)
    elif header.validators_hash != state.next_validators_hash:
        raise ReceiptInvalid(f"header {h} names a validator set its parent did not commit to "
                             "(and carries no recovery)")
    else:
        validators = state.known_set(header.validators_hash)
    if validators is None:
        raise ReceiptInvalid(f"validator set of height {h} is unknown")
    if header.params_hash != params_hash(state.governance.params):
        raise ReceiptInvalid(f"header {h} commits to other parameters than the ones the "
                             "followed chain has in force")
    bid = block_hash(header)
    verify_block_certificate(certificate, bid, validators, state.chain_id, h)
    governance_next, rates = _govern(state, h, governed)
    nxt = header.next_validators_hash
    if not any(vh == nxt for vh, _ in sets):
        if next_set is None or validators_hash(next_set) != nxt:
            raise ReceiptInvalid(f"header {h} commits to a validator set the wallet cannot check")
        sets = (*sets, (nxt, next_set))
    if nxt != header.validators_hash:
        epochs = (*epochs, (h + 1, nxt))
    return replace(state, height=h, header_hash=bid, header_time_ms=header.time_ms,
                   next_validators_hash=nxt, epochs=epochs, sets=sets,
                   governance=state.governance_next, governance_next=governance_next,
                   recoveries=recoveries, rates=rates)


# -- following a node -------------------------------------------------------------------------


class HeaderSource(Protocol):
    """What following needs from a node (`NodeClient` satisfies it)."""

    def headers(self, start: int, count: int) -> Awaitable[Any]: ...

    def validator_set(self, validators_hash: str) -> Awaitable[Any]: ...

    def block_raw(self, block_hash: str) -> Awaitable[Any]: ...


async def fetch_validator_set(source: HeaderSource, vhash: bytes) -> ValidatorSet:
    """A set from the node, accepted only if it hashes to `vhash`."""
    doc = await source.validator_set(vhash.hex())
    if not isinstance(doc, dict):
        raise ReceiptInvalid("validator-set: malformed answer")
    try:
        vs = decode_validator_set(hex_field(doc.get("hex"), "validator-set.hex"))
    except DecodeError as exc:
        raise ReceiptInvalid(f"validator set {vhash.hex()[:16]}: {exc}") from None
    if validators_hash(vs) != vhash:
        raise ReceiptInvalid(f"the node sent a validator set that does not hash to "
                             f"{vhash.hex()[:16]}")
    return vs


async def fetch_block_actions(source: HeaderSource, header: BlockHeader) -> tuple[bytes, ...]:
    """The actions of `header`'s block, from the whole block, accepted only if its header is
    this one (`follow_header` then checks them against `actions_hash`)."""
    bid = block_hash(header)
    doc = await source.block_raw(bid.hex())
    try:
        block = decode_block(hex_field(doc.get("hex") if isinstance(doc, dict) else None,
                                       "block.hex"))
    except DecodeError as exc:
        raise ReceiptInvalid(f"block {header.height}: {exc}") from None
    if block_hash(block.header) != bid:
        raise ReceiptInvalid(f"the node sent another block than {bid.hex()[:16]} for height "
                             f"{header.height}")
    return block.actions


async def sync_headers(
    source: HeaderSource, state: LightState, upto: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> LightState:
    """Follow headers from `state.height + 1` up to `upto` (or as far as the node serves).

    A batch larger than the client reads at once (a large validator set makes certificates
    long) is asked for again in halves, down to one header.
    """
    batch_size = HEADER_BATCH
    while upto is None or state.height < upto:
        count = batch_size if upto is None else min(batch_size, upto - state.height)
        try:
            batch = await source.headers(state.height + 1, count)
        except AnswerTooLarge:
            if count == 1:
                raise
            batch_size = max(1, count // 2)
            continue
        if not isinstance(batch, list):
            raise ReceiptInvalid("headers: malformed answer")
        if not batch:
            break
        advanced = False
        for entry in batch:
            if not isinstance(entry, dict):
                raise ReceiptInvalid("headers: malformed entry")
            if entry.get("certificate_hex") is None:
                break  # not certified yet (the tip being committed): stop here
            try:
                header = decode_header(hex_field(entry.get("header_hex"), "header_hex"))
            except DecodeError as exc:
                raise ReceiptInvalid(f"header: {exc}") from None
            cert = hex_field(entry.get("certificate_hex"), "certificate_hex")
            actions = (None if header.actions_hash == NO_ACTIONS
                       else await fetch_block_actions(source, header))
            nxt = header.next_validators_hash
            next_set = None
            # (a recovery's own set, named by this header, comes with the recovery)
            if state.known_set(nxt) is None and nxt != header.validators_hash:
                next_set = await fetch_validator_set(source, nxt)
            state = follow_header(state, header, cert, next_set, actions)
            advanced = True
        if progress is not None:
            progress(state.height)
        if not advanced:
            break
    if upto is not None and state.height < upto:
        raise ReceiptInvalid(f"the node served headers only up to {state.height}, not {upto}")
    return state
