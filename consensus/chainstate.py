"""Chain state: what every node agrees on after each block, besides the UTXO set.

Glossary:
- *voting set* of a height: the validators whose precommits make its commit certificate, sorted
  by public key; a validator's index there is its index in the certificate.
- *rotation*: the voting set minus suspended and quarantined validators; proposer(h, r) =
  rotation[(h + r) mod len(rotation)]. If nobody would be left, the rotation is the whole voting
  set, so the chain can't stall on its own bookkeeping.
- *current* / *upcoming*: the governed configuration (`GovernedConfig`) in force at height + 1
  and at height + 2. An action or evidence included at height h changes the configuration of
  h + 2, so the header of h + 1 can commit to its successor's voting set before h + 1 is built.
- *quarantine*: a validator whose last `quarantine_after` (k) proposals all missed leaves the
  rotation, though it still votes, until its precommit appears in a commit certificate again.
- *suspension*: a validator caught equivocating leaves the rotation at once and the voting set at
  h + 2; only a governance `ReadmitValidator` brings it back.
- *participation*: per validator, blocks proposed, rounds voted (precommits in commit
  certificates) and proposals missed.

Participation is attributed one block late, on purpose. A node's own commit certificate for
block h is not canonical: another node may hold different precommits, even of another round,
for the same block. The certificate of h that block h + 1 carries in `last_commit` is on chain
and the same for everybody, so `next_state` for block h + 1 attributes height h from it: the
proposer of its round proposed, the proposers of rounds 0..r-1 missed, its signers voted.
That keeps the rotation, which every node must agree on, a pure function of the blocks.

`ChainState` is a frozen value; `next_state` returns a new one. The storage layer keeps it as
the opaque bytes of `encode_chain_state`. Header and whole-block validation is in
`consensus.chain`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from consensus.codec import (
    U64,
    Obj,
    decode_canonical,
    expect_array,
    expect_bytes,
    expect_chain_id,
    expect_hash,
    expect_items,
    expect_list,
    expect_network,
    expect_pubkey,
    expect_uint,
    expect_version,
    genesis_hash,
    pack,
    validators_obj,
)
from consensus.errors import DecodeError, FaircoopError, ValidationError
from consensus.evidence import (
    MAX_EVIDENCE_AGE,
    DuplicateVoteEvidence,
    EvidenceKey,
    InvalidEvidence,
    check_duplicate_vote,
    decode_evidence,
)
from consensus.governance import (
    MAX_GOVERNORS,
    GovernanceError,
    GovernedConfig,
    RecoveryAction,
    SignedAction,
    apply_action,
    check_action,
    check_recovery,
    config_from,
    config_obj,
    decode_block_action,
    encode_recovery,
    sorted_keys_from,
    sorted_validators,
    sorted_validators_from,
    use_nonce,
)
from consensus.params import ChainParams
from consensus.quorum import quorum_size
from consensus.rates import EMPTY_BOOK, RateBook, rates_from, rates_obj, record_action
from consensus.types import Block, BlockHash, Genesis, Lock, PublicKey, Validator
from consensus.votes import CommitCertificate, decode_certificate

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Participation:
    """One validator's record, for the assembly's decisions."""

    proposed: int = 0  # blocks it proposed that were committed
    voted: int = 0  # its precommits that appear in commit certificates
    missed: int = 0  # rounds in which it was the proposer and no block of that round committed
    missed_in_a_row: int = 0  # misses since it last proposed (or returned from quarantine)


@dataclass(frozen=True, slots=True)
class ChainState:
    chain_id: str
    network: str
    genesis_hash: BlockHash
    height: int  # the last committed height (0 = genesis)
    last_block_id: BlockHash  # its hash (the genesis hash at height 0)
    last_block_time_ms: int
    current: GovernedConfig  # in force at height + 1
    upcoming: GovernedConfig  # in force at height + 2 (current + what block `height` changed)
    suspended: tuple[Validator, ...]  # caught by evidence, not yet readmitted; sorted by pubkey
    participation: tuple[tuple[PublicKey, Participation], ...]  # sorted by pubkey
    last_rotation: tuple[PublicKey, ...]  # the rotation used at `height` (empty at genesis)
    set_history: tuple[tuple[int, tuple[PublicKey, ...]], ...]  # (first height, voting keys)
    punished: tuple[EvidenceKey, ...]  # equivocations already punished, within the window
    nonce_floor: int  # every governance nonce below this is used
    used_nonces: tuple[int, ...]  # used nonces at or above the floor, ascending
    pending_actions: tuple[bytes, ...]  # actions included at `height`, in force at height + 2
    recovery: bytes  # an installed RecoveryAction for height + 1 (b"" if none)
    rates: RateBook = EMPTY_BOOK  # the assembly's reference prices (`consensus.rates`)

    # -- what the engine needs for height + 1 --

    @property
    def validators(self) -> tuple[Validator, ...]:
        return self.current.validators

    @property
    def params(self) -> ChainParams:
        return self.current.params

    @property
    def governors(self) -> tuple[PublicKey, ...]:
        return self.current.governors

    @property
    def governor_threshold(self) -> int:
        return self.current.governor_threshold

    @property
    def treasury_lock(self) -> Lock:
        return self.current.treasury_lock

    def voting_set(self) -> tuple[PublicKey, ...]:
        """The keys that vote at height + 1, in certificate index order."""
        return self.current.validator_keys()

    def quorum(self) -> int:
        return quorum_size(len(self.current.validators))

    def quarantined(self) -> frozenset[PublicKey]:
        """Members of the voting set whose last k proposals all missed."""
        k = self.params.quarantine_after
        voting = set(self.voting_set())
        return frozenset(pk for pk, p in self.participation
                         if p.missed_in_a_row >= k and pk in voting)

    @property
    def pending_effective_height(self) -> int:
        """The height at which `pending_actions` (included at `height`) take effect."""
        return self.height + 2

    def proposer_rotation(self) -> tuple[PublicKey, ...]:
        """Who proposes at height + 1, in order: voting set minus quarantined and suspended."""
        voting = self.voting_set()
        out = self.quarantined() | {v.pubkey for v in self.suspended}
        rotation = tuple(pk for pk in voting if pk not in out)
        return rotation or voting

    def proposer(self, height: int, round_: int) -> PublicKey:
        if height != self.height + 1:
            raise ValidationError(
                "wrong_height", f"state at {self.height} knows the proposers of {self.height + 1}")
        rotation = self.proposer_rotation()
        return rotation[(height + round_) % len(rotation)]

    # -- lookups --

    def participation_of(self, pubkey: PublicKey) -> Participation:
        for pk, record in self.participation:
            if pk == pubkey:
                return record
        return Participation()

    def validators_at(self, height: int) -> tuple[PublicKey, ...] | None:
        """The voting keys of `height`, if it is within the kept window (up to height + 1)."""
        if height > self.height + 1:
            return None
        found: tuple[PublicKey, ...] | None = None
        for first, keys in self.set_history:
            if first <= height:
                found = keys
        return found


# -- genesis ----------------------------------------------------------------------------------


def genesis_state(genesis: Genesis, genesis_id: BlockHash | None = None) -> ChainState:
    """The state at height 0. ValidationError if the genesis names a bad validator/governor set."""
    gid = genesis_hash(genesis) if genesis_id is None else genesis_id
    validators = sorted_validators(genesis.validators)
    governors = tuple(sorted(genesis.governors))
    if len(set(governors)) != len(governors) or len(governors) > MAX_GOVERNORS:
        raise ValidationError("bad_genesis", "governors must be unique, at most 255")
    if not 1 <= genesis.governor_threshold <= max(1, len(governors)):
        raise ValidationError("bad_genesis", "governor threshold must satisfy 1 <= t <= |G|")
    config = GovernedConfig(validators, governors, genesis.governor_threshold, genesis.params,
                            genesis.treasury_lock)
    keys = config.validator_keys()
    return ChainState(
        chain_id=genesis.chain_id, network=genesis.network, genesis_hash=gid, height=0,
        last_block_id=gid, last_block_time_ms=genesis.time_ms, current=config, upcoming=config,
        suspended=(), participation=tuple((pk, Participation()) for pk in keys),
        last_rotation=(), set_history=((1, keys),), punished=(), nonce_floor=0, used_nonces=(),
        pending_actions=(), recovery=b"",
    )


# -- recovery ---------------------------------------------------------------------------------


def install_recovery(state: ChainState, action: RecoveryAction, now_ms: int) -> ChainState:
    """The state with governors' new voting set installed for height + 1.

    A node calls this, with its own clock, when it receives a recovery action; it then runs the
    engine for height + 1 with the new set, and the first block of that height carries the
    action (`state.recovery`) so nodes that sync later can check it. The new set replaces the
    voting set of height + 1 and height + 2 (a validator change pending from the last block is
    superseded: the governors signed the whole set), lifts the suspension of anyone it names,
    and clears quarantine: everyone starts the new set in the rotation.
    """
    check_recovery(action, state.chain_id, state.height, state.last_block_id,
                   state.last_block_time_ms, state.current, now_ms)
    encoded = encode_recovery(action)
    if state.recovery:
        if state.recovery == encoded:
            return state
        raise GovernanceError("conflicting_recovery",
                              "another recovery is already installed for this height")
    new_keys = {v.pubkey for v in action.validators}
    keys = tuple(v.pubkey for v in action.validators)
    history = tuple(e for e in state.set_history if e[0] <= state.height)
    return replace(
        state,
        current=replace(state.current, validators=action.validators),
        upcoming=replace(state.upcoming, validators=action.validators),
        suspended=tuple(v for v in state.suspended if v.pubkey not in new_keys),
        participation=tuple((pk, replace(p, missed_in_a_row=0)) for pk, p in state.participation),
        set_history=(*history, (state.height + 1, keys)),
        recovery=encoded,
    )


def carried_recovery(block: Block) -> RecoveryAction | None:
    """The recovery a block carries (always as its first action), if any."""
    if not block.actions:
        return None
    try:
        action = decode_block_action(block.actions[0])
    except FaircoopError:
        return None
    return action if isinstance(action, RecoveryAction) else None


def state_for_block(state: ChainState, block: Block) -> ChainState:
    """The state a block at height + 1 is checked against: with its recovery, if it carries one.

    A block that carries a recovery carries it first. A node that already installed a recovery
    accepts only blocks that carry that same recovery first.
    """
    return state_for_actions(state, block.actions, block.header.time_ms)


def state_for_actions(state: ChainState, actions: tuple[bytes, ...], time_ms: int) -> ChainState:
    """`state_for_block` for a block not built yet: its actions and its time."""
    carried = decode_block_action(actions[0]) if actions else None
    if isinstance(carried, RecoveryAction):
        return install_recovery(state, carried, time_ms)
    if state.recovery:
        raise GovernanceError("recovery_not_carried",
                              "the first block after a recovery carries it as its first action")
    return state


# -- the transition ---------------------------------------------------------------------------


def next_state(
    state: ChainState, block: Block, block_id: BlockHash,
    certificate: CommitCertificate | None = None,
) -> ChainState:
    """The state after `block` (already checked by `consensus.chain.validate_block`).

    Governance actions and evidence are checked here in full (signatures included), because
    the state can't be built without applying them. The commit certificate in
    `block.last_commit` is only read, for participation; `validate_block` verifies it.
    `certificate`, the node's own certificate of `block`, is optional and only checked to name
    this block: it is not canonical, so the state never depends on it (see the module notes).
    """
    h = block.header
    if h.height != state.height + 1 or h.prev_hash != state.last_block_id:
        raise ValidationError("not_next_block",
                              f"block {h.height} does not extend the tip {state.height}")
    if certificate is not None and (certificate.block_id != block_id
                                    or certificate.height != h.height):
        raise ValidationError("certificate_mismatch", "the certificate names another block")
    base = state_for_block(state, block)
    participation = _attribute_height(base, block)
    upcoming, suspended, punished = base.upcoming, base.suspended, base.punished
    for i, raw in enumerate(block.evidence):
        ev = decode_evidence(raw)
        try:
            upcoming, suspended, punished = _apply_evidence(base, ev, upcoming, suspended, punished)
        except ValidationError as exc:
            raise type(exc)(exc.rule, f"evidence {i}: {exc.detail}") from None
    floor, used, rates = base.nonce_floor, base.used_nonces, base.rates
    pending: list[bytes] = []
    for i, raw in enumerate(block.actions):
        action = decode_block_action(raw)
        if isinstance(action, RecoveryAction):
            if i != 0:
                raise GovernanceError("recovery_not_first", f"action {i} is a recovery")
            continue
        try:
            upcoming, suspended, floor, used = _apply_signed(
                base, action, upcoming, suspended, floor, used)
            rates = record_action(rates, action, h.height + 2)
        except ValidationError as exc:
            raise type(exc)(exc.rule, f"action {i}: {exc.detail}") from None
        pending.append(raw)
    new_height = h.height
    current = base.upcoming
    return ChainState(
        chain_id=base.chain_id, network=base.network, genesis_hash=base.genesis_hash,
        height=new_height, last_block_id=block_id, last_block_time_ms=h.time_ms,
        current=current, upcoming=upcoming, suspended=suspended, participation=participation,
        last_rotation=base.proposer_rotation(),
        set_history=_extend_history(base.set_history, new_height + 1, current.validator_keys()),
        punished=tuple(sorted(k for k in punished if k[1] >= _oldest_evidence(new_height))),
        nonce_floor=floor, used_nonces=used, pending_actions=tuple(pending), recovery=b"",
        rates=rates,
    )


def _oldest_evidence(height: int) -> int:
    """The lowest vote height evidence may name when the state is at `height`."""
    return max(1, height + 1 - MAX_EVIDENCE_AGE)


def _extend_history(
    history: tuple[tuple[int, tuple[PublicKey, ...]], ...], first: int,
    keys: tuple[PublicKey, ...],
) -> tuple[tuple[int, tuple[PublicKey, ...]], ...]:
    entries = list(history)
    if entries[-1][1] != keys:
        entries.append((first, keys))
    oldest = _oldest_evidence(first - 1)
    while len(entries) > 1 and entries[1][0] <= oldest:
        entries.pop(0)
    return tuple(entries)


def _attribute_height(state: ChainState, block: Block) -> tuple[tuple[PublicKey, Participation],
                                                                 ...]:
    """Participation after the certificate of `state.height` carried in `block.last_commit`."""
    if not block.last_commit:
        if state.height >= 1:
            raise ValidationError("missing_last_commit",
                                  f"block {state.height + 1} must carry the certificate of "
                                  f"{state.height}")
        return state.participation
    if state.height == 0:
        raise ValidationError("unexpected_last_commit", "block 1 carries no certificate")
    cert = decode_certificate(block.last_commit)
    voters = state.validators_at(state.height) or ()
    records = dict(state.participation)
    k = state.params.quarantine_after

    def bump(pk: PublicKey, **deltas: int) -> None:
        record = records.get(pk, Participation())
        records[pk] = replace(record, **{f: getattr(record, f) + d for f, d in deltas.items()})

    for index, _sig in cert.signatures:
        if not 0 <= index < len(voters):
            raise ValidationError("last_commit_unknown_signer", f"index {index} is not a voter")
        pk = voters[index]
        bump(pk, voted=1)
        if records[pk].missed_in_a_row >= k:  # back from quarantine
            records[pk] = replace(records[pk], missed_in_a_row=0)
    rotation = state.last_rotation
    n = len(rotation)
    if n:
        h, r = state.height, cert.round
        full, extra = divmod(r, n)
        for i, pk in enumerate(rotation):
            misses = full + (1 if (i - h) % n < extra else 0)
            if misses:
                bump(pk, missed=misses, missed_in_a_row=misses)
        proposer = rotation[(h + r) % n]
        bump(proposer, proposed=1)
        records[proposer] = replace(records[proposer], missed_in_a_row=0)
    return tuple(sorted(records.items()))


def select_carried(
    state: ChainState, evidence_pool: tuple[bytes, ...], action_pool: tuple[bytes, ...],
) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """The evidence and governance actions from the pools that a block at height + 1 may carry.

    For proposers: each item is tried in pool order against the state the earlier ones left,
    and kept only if it applies, so the block never fails on a stale or already-included item
    (evidence already punished, an action whose nonce was used). Recovery actions are left out:
    `consensus.chain.make_block` puts an installed one first by itself.
    """
    upcoming, suspended, punished = state.upcoming, state.suspended, state.punished
    evidence: list[bytes] = []
    for raw in evidence_pool:
        try:
            upcoming, suspended, punished = _apply_evidence(
                state, decode_evidence(raw), upcoming, suspended, punished)
        except FaircoopError:
            continue
        evidence.append(raw)
    floor, used, rates = state.nonce_floor, state.used_nonces, state.rates
    actions: list[bytes] = []
    for raw in action_pool:
        try:
            action = decode_block_action(raw)
            if isinstance(action, RecoveryAction):
                continue
            upcoming, suspended, floor, used = _apply_signed(
                state, action, upcoming, suspended, floor, used)
            rates = record_action(rates, action, state.height + 3)
        except FaircoopError:
            continue
        actions.append(raw)
    return tuple(evidence), tuple(actions)


def _apply_evidence(
    state: ChainState, ev: DuplicateVoteEvidence, upcoming: GovernedConfig,
    suspended: tuple[Validator, ...], punished: tuple[EvidenceKey, ...],
) -> tuple[GovernedConfig, tuple[Validator, ...], tuple[EvidenceKey, ...]]:
    """Suspend the offender: out of the rotation now, out of the voting set at h + 2."""
    check_duplicate_vote(ev, state.chain_id)
    record = _evidence_record(state, ev, upcoming, suspended, punished)
    offender = ev.offender
    remaining = tuple(v for v in upcoming.validators if v.pubkey != offender)
    if remaining:  # the last validator stays in the voting set; only its rotation place goes
        upcoming = replace(upcoming, validators=remaining)
    suspended = tuple(sorted((*suspended, record), key=lambda v: v.pubkey))
    return upcoming, suspended, (*punished, ev.key())


def _evidence_record(
    state: ChainState, ev: DuplicateVoteEvidence, upcoming: GovernedConfig,
    suspended: tuple[Validator, ...], punished: tuple[EvidenceKey, ...],
) -> Validator:
    """The offender's record if the next block may punish it for `ev` (signatures aside)."""
    if not _oldest_evidence(state.height) <= ev.height <= state.height + 1:
        raise InvalidEvidence("evidence_out_of_window",
                              f"votes at {ev.height}; this block accepts "
                              f"{_oldest_evidence(state.height)}..{state.height + 1}")
    offender = ev.offender
    if offender not in (state.validators_at(ev.height) or ()):
        raise InvalidEvidence("evidence_not_validator", "the signer did not vote at that height")
    if ev.key() in punished or any(v.pubkey == offender for v in suspended):
        raise InvalidEvidence("already_punished", "the offender is already suspended for this")
    record = [v for v in (*upcoming.validators, *state.current.validators) if v.pubkey == offender]
    if not record:
        raise InvalidEvidence("evidence_not_validator", "the offender has left the voting set")
    return record[0]


def check_evidence_context(state: ChainState, ev: DuplicateVoteEvidence) -> None:
    """InvalidEvidence unless the next block could punish `ev`'s offender: the votes are in the
    evidence window, by a validator of their height, not yet punished or suspended.

    Signatures are not checked: a node asks this first, because it is cheap, so evidence about
    strangers or far-off heights costs it no signature checks (`check_duplicate_vote` follows).
    """
    _evidence_record(state, ev, state.upcoming, state.suspended, state.punished)


def _apply_signed(
    state: ChainState, action: SignedAction, upcoming: GovernedConfig,
    suspended: tuple[Validator, ...], floor: int, used: tuple[int, ...],
) -> tuple[GovernedConfig, tuple[Validator, ...], int, tuple[int, ...]]:
    check_action(action, state.chain_id, state.current, floor, used)
    upcoming, suspended = apply_action(upcoming, suspended, action.body)
    floor, used = use_nonce(action.nonce, floor, used)
    return upcoming, suspended, floor, used


# -- encoding ---------------------------------------------------------------------------------


def chain_state_obj(s: ChainState) -> Obj:
    """18 fields; a 19th, the rate book, only once the assembly has set a rate (so a state
    without rates keeps the encoding it had before rates existed, and each state one)."""
    fields = (
        STATE_VERSION, s.chain_id, s.network, s.genesis_hash, s.height, s.last_block_id,
        s.last_block_time_ms, config_obj(s.current), config_obj(s.upcoming),
        validators_obj(s.suspended),
        tuple((pk, p.proposed, p.voted, p.missed, p.missed_in_a_row)
              for pk, p in s.participation),
        s.last_rotation, s.set_history, s.punished, s.nonce_floor, s.used_nonces,
        s.pending_actions, s.recovery,
    )
    return (*fields, rates_obj(s.rates)) if s.rates else fields


def chain_state_from(obj: Obj, what: str = "chain_state") -> ChainState:
    if isinstance(obj, tuple) and len(obj) == 19:
        rates = rates_from(obj[18], f"{what}.rates")
        if not rates:
            raise DecodeError(f"{what}.rates: an empty book is not encoded")
        obj = obj[:18]
    else:
        rates = EMPTY_BOOK
    f = expect_array(obj, 18, what)
    expect_version(f[0], STATE_VERSION, what)
    network = expect_network(f[2], f"{what}.network")
    participation: list[tuple[PublicKey, Participation]] = []
    for i, item in enumerate(expect_list(f[10], f"{what}.participation")):
        pk, proposed, voted, missed, row = expect_array(item, 5, f"{what}.participation[{i}]")
        participation.append((
            expect_pubkey(pk, f"{what}.participation[{i}].pubkey"),
            Participation(*(expect_uint(x, f"{what}.participation[{i}]")
                            for x in (proposed, voted, missed, row))),
        ))
    if any(a[0] >= b[0] for a, b in zip(participation, participation[1:], strict=False)):
        raise DecodeError(f"{what}.participation: must be sorted by key, once each")
    history: list[tuple[int, tuple[PublicKey, ...]]] = []
    for i, item in enumerate(expect_list(f[12], f"{what}.set_history", 10_000)):
        first, keys = expect_array(item, 2, f"{what}.set_history[{i}]")
        history.append((expect_uint(first, f"{what}.set_history[{i}].height", lo=1),
                        sorted_keys_from(keys, f"{what}.set_history[{i}].keys", 1000)))
    if not history or any(a[0] >= b[0] for a, b in zip(history, history[1:], strict=False)):
        raise DecodeError(f"{what}.set_history: non-empty, heights ascending")
    punished: list[EvidenceKey] = []
    for i, item in enumerate(expect_list(f[13], f"{what}.punished")):
        pk, height, round_, kind = expect_array(item, 4, f"{what}.punished[{i}]")
        punished.append((expect_pubkey(pk, f"{what}.punished[{i}].pubkey"),
                         expect_uint(height, f"{what}.punished[{i}].height"),
                         expect_uint(round_, f"{what}.punished[{i}].round"),
                         expect_uint(kind, f"{what}.punished[{i}].type", lo=1, hi=2)))
    if punished != sorted(set(punished)):
        raise DecodeError(f"{what}.punished: must be sorted, once each")
    floor = expect_uint(f[14], f"{what}.nonce_floor", hi=U64)
    used = tuple(expect_uint(n, f"{what}.used_nonces[{i}]", hi=U64, lo=floor + 1)
                 for i, n in enumerate(expect_list(f[15], f"{what}.used_nonces")))
    if list(used) != sorted(set(used)):
        raise DecodeError(f"{what}.used_nonces: must ascend, once each")
    pending = expect_items(f[16], f"{what}.pending_actions", expect_bytes)
    return ChainState(
        chain_id=expect_chain_id(f[1], f"{what}.chain_id"),
        network=network,
        genesis_hash=BlockHash(expect_hash(f[3], f"{what}.genesis_hash")),
        height=expect_uint(f[4], f"{what}.height"),
        last_block_id=BlockHash(expect_hash(f[5], f"{what}.last_block_id")),
        last_block_time_ms=expect_uint(f[6], f"{what}.last_block_time_ms"),
        current=config_from(f[7], f"{what}.current"),
        upcoming=config_from(f[8], f"{what}.upcoming"),
        suspended=sorted_validators_from(f[9], f"{what}.suspended"),
        participation=tuple(participation),
        last_rotation=sorted_keys_from(f[11], f"{what}.last_rotation", 1000),
        set_history=tuple(history),
        punished=tuple(punished),
        nonce_floor=floor,
        used_nonces=used,
        pending_actions=pending,
        recovery=expect_bytes(f[17], f"{what}.recovery"),
        rates=rates,
    )


def encode_chain_state(s: ChainState) -> bytes:
    return pack(chain_state_obj(s))


def decode_chain_state(data: bytes) -> ChainState:
    return decode_canonical(data, "chain_state", chain_state_from)

