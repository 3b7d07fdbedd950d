"""The consensus driver: the one place the engine's actions are carried out.

etcd's raft has one `Ready` loop; this is ours. `ConsensusDriver` owns the engine, the chain
state, the proposals, evidence and governance actions a proposer carries, the last-signed record
and the production gate, and carries out every action the engine emits, in order: persist (the
last-signed record, a synced write), then send, then apply (build, validate, commit). Its clock,
its store, its disk and its network come in as ports (below), so the node runs it on real
sockets, LevelDB and threads, and the simulator runs the very same class on a simulated network,
a memory store and a simulated clock. What the simulator checks (safety, liveness, over
thousands of seeds) is therefore this code's behaviour, not a copy's.

Ports are async: the node's adapters hand heavy work to worker threads; the simulator's complete
at once, so it drives the driver to completion without an event loop (`run_now`).

Block production is gated: after committing height h, the engine starts h + 1 only when the
pool has txs and `block_interval_ms` has passed since the last block, or `heartbeat_ms` passed
with none, or a proposal or vote for h + 1 arrives (so all validators start together).

Late precommits (arriving after the decision) join the certificate the next block carries, so
their signers' participation counts; the stored certificate of a block stays as decided.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from consensus.chain import ValidBlock, check_not_future, make_block, proposal_time
from consensus.chainstate import ChainState, install_recovery, select_carried
from consensus.codec import block_hash, decode_block, encode_block
from consensus.crypto import PrivateKey, VerifiedMemo
from consensus.engine import (
    Action,
    BlockValidated,
    Broadcast,
    Commit,
    Engine,
    EvidenceFound,
    NewHeight,
    PersistLastSigned,
    ProposalBlockReady,
    ProposalReceived,
    RequestProposalBlock,
    ScheduleTimeout,
    SignedState,
    TimeoutFired,
    ValidateBlock,
    VoteReceived,
)
from consensus.errors import DecodeError, FaircoopError, ValidationError
from consensus.evidence import DuplicateVoteEvidence, evidence_for
from consensus.governance import RecoveryAction
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, Genesis, PublicKey, Tx
from consensus.votes import (
    Proposal,
    Vote,
    VoteType,
    decode_certificate,
    decode_proposal,
    encode_certificate,
    encode_proposal,
    vote_digest,
)
from faircoop_node.node.admission import Frontier, Judgement, Verdict, judge_evidence
from faircoop_node.node.gossip import EvidencePool
from faircoop_node.node.signing import (
    ROUND_MAX,
    Locked,
    SignedRecord,
    encode_signed_record,
    record_after,
)

MAX_TIMER_MS = 86_400_000  # a timeout longer than a day is never going to matter
BLOCK_OVERHEAD = 64 * 1024  # room kept in max_block_size for header, certificate, evidence
SLOT_ROUNDS_KEPT = 2  # proposals of rounds further behind ours are forgotten
MAX_ACTIONS = 256  # governance actions pooled for proposers to carry


# -- the ports ----------------------------------------------------------------------------------


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock milliseconds: block times, recovery waits."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go back: the production gate and stall detection."""
        ...


class Ledger(Protocol):
    """The store as the driver uses it: judge a block on a state, and commit one."""

    async def validate(self, state: ChainState, block: Block, block_id: BlockHash) -> ValidBlock:
        """Every rule (raises ValidationError or DecodeError)."""
        ...

    async def commit(self, state: ChainState, block: Block, block_id: BlockHash,
                     certificate: bytes, valid: ValidBlock) -> None:
        """Write the block, its certificate and the state after it in one atomic batch."""
        ...

    async def write_signed(self, record: bytes) -> None:
        """Durably store the last-signed record (synced) before a signature leaves."""
        ...


class Outbox(Protocol):
    """The network as the driver uses it: every peer gets what it sends."""

    def proposal(self, proposal: Proposal, block: Block, raw_proposal: bytes,
                 raw_block: bytes) -> None: ...

    def vote(self, vote: Vote) -> None: ...

    def evidence(self, evidence: DuplicateVoteEvidence, exclude: bytes | None) -> None:
        """Pass evidence on; `exclude` is the peer it came from (None: found here)."""
        ...


class TxPool(Protocol):
    """The mempool as the driver uses it (`faircoop_node.mempool.Mempool`)."""

    def __len__(self) -> int: ...

    def select(self, max_txs: int, max_bytes: int) -> list[Tx]: ...

    def remove_committed(self, txs: Sequence[Tx]) -> int: ...

    def revalidate(self, params: ChainParams) -> int:
        """Re-admit every pooled tx against the tip and `params`; how many were dropped."""
        ...


@dataclass(frozen=True, slots=True)
class Committed:
    """A block the driver (or catch-up sync) committed, for whoever watches: the feed, logs."""

    block: Block
    block_id: BlockHash
    certificate: bytes
    round: int
    source: str  # "consensus" or "sync"


@dataclass(frozen=True, slots=True)
class DriverOptions:
    gossip_s: float = 1.0  # a driver stuck this long re-sends what it signed


T = TypeVar("T")


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose awaits all complete at once (the simulator's ports), here and now."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a port suspended: run_now needs ports that complete at once")


# -- the driver ---------------------------------------------------------------------------------


class ConsensusDriver:
    """One node's consensus: feed it events (`deliver_*`, `timeout`, `tick`, ...); it carries
    out what the engine decides through its ports. Not thread-safe: one task drives it."""

    def __init__(
        self,
        genesis: Genesis,
        state: ChainState,
        last_cert: bytes,
        key: PrivateKey,
        *,
        validator: bool,
        ledger: Ledger,
        outbox: Outbox,
        schedule: Callable[[TimeoutFired, int], None],
        clock: Clock,
        pool: TxPool,
        on_commit: Callable[[Committed], None] = lambda c: None,
        on_action_included: Callable[[bytes], None] = lambda raw: None,
        log: Any = None,
        options: DriverOptions | None = None,
        sigs: VerifiedMemo | None = None,
    ) -> None:
        self.genesis = genesis
        self.state = state
        self.last_cert = last_cert
        self.key = key
        self.pubkey = PublicKey(key.public_key)
        self.wants_to_validate = validator
        self.ledger, self.outbox, self.clock, self.pool = ledger, outbox, clock, pool
        self._schedule_timeout = schedule
        self._on_commit = on_commit
        self._on_action_included = on_action_included
        self.log = log
        self.options = options or DriverOptions()
        self.sigs = sigs or VerifiedMemo()
        self.engine: Engine | None = None
        self.evidence = EvidencePool()
        self.actions: dict[bytes, None] = {}  # governance actions proposers carry, in order
        self.record: SignedRecord | None = None  # the last-signed record as on disk
        self.gated = False
        self.last_block_mono = clock.monotonic()
        self.proposals_built = 0
        # the proposal taken for each (height, round) being decided, to hand a copy back
        self.slots: dict[tuple[int, int], ProposalReceived] = {}
        self._valid: dict[BlockHash, ValidBlock] = {}
        self._locks: dict[BlockHash, tuple[int, bytes, bytes]] = {}  # proposals a precommit
        self._carried: tuple[Vote, ...] = ()  # our votes from before a restart, re-sent
        self._carried_lock: Locked | None = None  # ... and the block we had precommitted
        self._carried_height: int | None = None
        self._progress: tuple[int, int, int] = (-1, -1, -1)
        self._progress_mono = clock.monotonic()

    # -- views -------------------------------------------------------------------------------

    def current_round(self) -> int:
        """The engine's round, or 0 (not started, or silent at the rejoin floor's round)."""
        engine = self.engine
        if engine is None or engine.round >= ROUND_MAX:
            return 0
        return engine.round

    def frontier(self) -> Frontier:
        engine = self.engine
        deciding = engine is not None and engine.height == self.state.height + 1
        return Frontier(self.state, self.current_round() if deciding else 0)

    @property
    def is_validator(self) -> bool:
        return self.wants_to_validate and self.pubkey in self.state.voting_set()

    # -- starting ----------------------------------------------------------------------------

    async def start(self, record: SignedRecord | None) -> None:
        """Create the engine from what we signed before (None: nothing, or a network launch)
        and start the next height; a restart mid-height carries our signed votes back."""
        self.record = record
        last_signed = record.state if record is not None else None
        key = self.key if self.wants_to_validate else None
        self.engine = Engine(self.genesis.chain_id, key, last_signed, verify=self.sigs.verify)
        if record is not None and record.state.height == self.state.height + 1 and \
                (record.votes or record.locked):
            self._carried, self._carried_lock = record.votes, record.locked
            self._carried_height = None
        await self.start_height()
        if self._carried or self._carried_lock is not None:
            await self._carry_votes()

    async def rejoin(self, floor: SignedState) -> None:
        """Start silent up to `floor` (see signing.rejoin_floor): recorded before the engine."""
        record = SignedRecord(floor)
        await self.ledger.write_signed(encode_signed_record(record))
        await self.start(record)

    async def start_height(self) -> None:
        engine = self.engine
        if engine is None:
            return
        self.gated = False
        s = self.state
        height = s.height + 1
        if engine.height == height and not engine.decided:
            return  # already deciding it
        await self._feed(NewHeight(height, s.voting_set(), s.proposer_rotation(), s.params))

    # -- events ------------------------------------------------------------------------------

    async def deliver_vote(self, vote: Vote) -> None:
        if vote.height == self.state.height:
            self._augment_certificate(vote)
        await self._deliver(vote.height, VoteReceived(vote))

    async def deliver_proposal(self, received: ProposalReceived) -> None:
        await self._deliver(received.proposal.height, received)

    async def timeout(self, event: TimeoutFired) -> None:
        await self._feed(event)

    async def tick(self) -> bool:
        """The periodic duties: open the gate when it is time, re-send when stuck (then True)."""
        now = self.clock.monotonic()
        if self.gated and self._gate_open(now):
            await self.start_height()
        engine = self.engine
        if engine is None:
            return False
        progress = (engine.height, engine.round, int(engine.step))
        if progress != self._progress:
            self._progress, self._progress_mono = progress, now
        elif now - self._progress_mono >= self.options.gossip_s:
            self._progress_mono = now
            self._regossip()
            return True
        return False

    async def _deliver(self, height: int, event: VoteReceived | ProposalReceived) -> None:
        if self.engine is None:
            return
        await self._feed(event)
        if self.gated and height == self.state.height + 1:
            await self.start_height()  # a peer started the next height: join it now

    # -- carrying out the engine's actions ---------------------------------------------------

    async def _feed(self, event: Any) -> None:
        """One engine event, and every action it leads to, carried out in order."""
        engine = self.engine
        if engine is None:
            return
        pending: deque[Action] = deque(engine.handle(event))
        while pending:
            a = pending.popleft()
            if isinstance(a, PersistLastSigned):
                await self._persist_signed(a.state, pending[0] if pending else None)
            elif isinstance(a, Broadcast):
                self._broadcast(a)
            elif isinstance(a, ScheduleTimeout):
                if a.delay_ms <= MAX_TIMER_MS:
                    self._schedule_timeout(TimeoutFired(a.height, a.round, a.step), a.delay_ms)
            elif isinstance(a, RequestProposalBlock):
                block = await self._build_block()
                pending.extend(engine.handle(ProposalBlockReady(a.height, a.round, block)))
            elif isinstance(a, ValidateBlock):
                ok = await self._judge(a.block, a.block_id)
                pending.extend(engine.handle(BlockValidated(a.block_id, ok)))
            elif isinstance(a, Commit):
                await self._commit_decided(a)
            elif isinstance(a, EvidenceFound):
                self._evidence_found(a)

    async def _persist_signed(self, state: SignedState, following: Action | None) -> None:
        """The synced write before a signature leaves: the new state and the vote it signs."""
        vote = following.message if isinstance(following, Broadcast) else None
        if not isinstance(vote, Vote) or (vote.height, vote.round) != (state.height, state.round):
            vote = None
        locked = None
        if vote is not None and vote.vote_type == VoteType.PRECOMMIT and not vote.is_nil:
            seen = self._locks.get(vote.block_id)
            if seen is not None:
                locked = Locked(seen[1], seen[2])
        self.record = record_after(self.record, state, vote, locked)
        await self.ledger.write_signed(encode_signed_record(self.record))

    def _broadcast(self, b: Broadcast, count: bool = True) -> None:
        msg = b.message
        if isinstance(msg, Proposal):
            if b.block is None:
                return
            raw, block = encode_proposal(msg), encode_block(b.block)
            if count:
                self.slots.setdefault((msg.height, msg.round), ProposalReceived(msg, b.block))
            self.remember_proposal(msg, raw, block)
            self.outbox.proposal(msg, b.block, raw, block)
        else:
            self.outbox.vote(msg)

    def remember_proposal(self, proposal: Proposal, raw: bytes, block: bytes) -> None:
        """Keep proposals of the heights being decided: a precommit records its block."""
        self._locks[proposal.block_id] = (proposal.height, raw, block)

    def _regossip(self) -> None:
        """Stuck: re-send what we signed at this height (our share of reliable gossip)."""
        engine = self.engine
        if engine is None:
            return
        if engine.height == self.state.height + 1 and not engine.decided:
            for b in engine.gossip():
                self._broadcast(b, count=False)
            self._send_carried()

    # -- the production gate -----------------------------------------------------------------

    def _gate_open(self, now: float) -> bool:
        params = self.state.params
        since_ms = (now - self.last_block_mono) * 1000
        if len(self.pool) and since_ms >= params.block_interval_ms:
            return True
        return since_ms >= params.heartbeat_ms

    # -- building and judging blocks ---------------------------------------------------------

    async def _build_block(self) -> Block:
        s = self.state
        params = s.params
        room = max(0, params.max_block_size - BLOCK_OVERHEAD)
        time_ms = proposal_time(s, self.clock.now_ms())
        evidence, actions = select_carried(s, self.evidence.items(), tuple(self.actions))
        block = await self._valid_block(time_ms, tuple(self.pool.select(params.max_block_txs,
                                                                        room)), evidence, actions)
        if block is None:
            # a pooled tx went bad (e.g. a higher fee rate is in force): clean the pool, retry
            dropped = self.pool.revalidate(params)
            self._log("warning", "proposal_rebuilt", dropped=dropped)
            block = await self._valid_block(
                time_ms, tuple(self.pool.select(params.max_block_txs, room)))
        if block is None:
            block = make_block(s, self.pubkey, time_ms, (), self.last_cert)
            block_id = block_hash(block.header)
            self._valid[block_id] = await self.ledger.validate(s, block, block_id)
        self.proposals_built += 1
        return block

    async def _valid_block(self, time_ms: int, txs: tuple[Tx, ...],
                           evidence: tuple[bytes, ...] = (), actions: tuple[bytes, ...] = ()
                           ) -> Block | None:
        block = make_block(self.state, self.pubkey, time_ms, txs, self.last_cert, evidence,
                           actions)
        block_id = block_hash(block.header)
        try:
            self._valid[block_id] = await self.ledger.validate(self.state, block, block_id)
        except (ValidationError, DecodeError):
            return None
        return block

    async def _judge(self, block: Block, block_id: BlockHash) -> bool:
        """The engine asks about a proposed block: valid on our tip, and not from the future."""
        if block.header.height != self.state.height + 1:
            return False
        if block_id in self._valid:
            return True
        try:
            check_not_future(block.header, self.state.params.max_clock_drift_ms,
                             self.clock.now_ms())
            self._valid[block_id] = await self.ledger.validate(self.state, block, block_id)
        except (ValidationError, DecodeError) as exc:
            self._log("warning", "block_invalid", block=block_id.hex()[:16],
                      rule=getattr(exc, "rule", "decode"), error=str(exc))
            return False
        return True

    # -- committing --------------------------------------------------------------------------

    async def _commit_decided(self, a: Commit) -> None:
        if a.certificate.height != self.state.height + 1:
            return  # sync committed it first
        valid = self._valid.get(a.block_id)
        if valid is None:
            try:
                valid = await self.ledger.validate(self.state, a.block, a.block_id)
            except (ValidationError, DecodeError) as exc:
                self._log("error", "certified_block_invalid", block=a.block_id.hex(),
                          error=str(exc))
                return
        certificate = encode_certificate(a.certificate)
        await self.ledger.commit(self.state, a.block, a.block_id, certificate, valid)
        self.committed(Committed(a.block, a.block_id, certificate, a.certificate.round,
                                 "consensus"), valid.state)
        self.gated = True

    def committed(self, c: Committed, after: ChainState) -> None:
        """Bookkeeping once a block is on disk (committed here, or by catch-up sync)."""
        self.state = after
        self.last_cert = c.certificate
        self._valid.clear()
        self._locks = {k: v for k, v in self._locks.items() if v[0] > after.height}
        self.slots = {k: v for k, v in self.slots.items() if k[0] > after.height}
        self.last_block_mono = self.clock.monotonic()
        self.pool.remove_committed(c.block.txs)
        self.evidence.refresh(after)
        for raw in c.block.actions:
            if raw in self.actions:
                del self.actions[raw]
                self._on_action_included(raw)
        self._on_commit(c)

    async def after_sync(self) -> None:
        """Catch-up sync committed past the engine: restart it at the new tip."""
        engine = self.engine
        if engine is not None and engine.height <= self.state.height:
            self.gated = False
            await self.start_height()

    # -- late precommits and evidence ----------------------------------------------------------

    def _augment_certificate(self, vote: Vote) -> None:
        """Add a late precommit for the tip to the certificate the next block will carry.

        The engine decides on the first quorum it sees; precommits that arrive afterwards
        still count for their signers' participation (and to leave quarantine) once carried
        on chain, so the proposer of the next height includes every one it received.
        """
        if vote.vote_type != VoteType.PRECOMMIT or not self.last_cert:
            return
        cert = decode_certificate(self.last_cert)
        if (vote.block_id, vote.round) != (cert.block_id, cert.round):
            return
        voters = self.state.validators_at(self.state.height) or ()
        index = {pk: i for i, pk in enumerate(voters)}.get(vote.validator)
        if index is None or any(i == index for i, _ in cert.signatures):
            return
        digest = vote_digest(vote.chain_id, vote.vote_type, vote.height, vote.round,
                             vote.block_id, vote.validator)
        if not self.sigs.verify(vote.validator, vote.signature, digest):
            return
        signatures = tuple(sorted((*cert.signatures, (index, vote.signature))))
        self.last_cert = encode_certificate(replace(cert, signatures=signatures))

    def _evidence_found(self, a: EvidenceFound) -> None:
        try:
            ev = evidence_for(a.vote_a, a.vote_b, self.genesis.chain_id)
        except FaircoopError:
            return
        self._log("warning", "equivocation", offender=a.vote_a.validator.hex()[:16],
                  vote_height=a.vote_a.height, vote_round=a.vote_a.round)
        self.pool_evidence(ev, None)

    def pool_evidence(self, ev: DuplicateVoteEvidence, sender: bytes | None) -> Judgement:
        """Pool evidence the next block could carry and pass it on; `sender` is the peer it
        came from (None: our engine found it). The judgement says what the sender earned."""
        judgement = judge_evidence(self.state, ev, self.evidence)
        if judgement.verdict == Verdict.ACCEPT and self.evidence.add(ev):
            self.outbox.evidence(ev, sender)
        return judgement

    # -- governance actions and recovery -------------------------------------------------------

    def add_action(self, raw: bytes) -> bool:
        """Pool a governance action for proposers to carry; False if held or the pool is full."""
        if raw in self.actions or len(self.actions) >= MAX_ACTIONS:
            return False
        self.actions[raw] = None
        return True

    async def install_recovery(self, action: RecoveryAction) -> bool:
        """Install a recovery at our tip (our clock decides the wait); True if it changed the
        state. ValidationError says why not."""
        state = install_recovery(self.state, action, self.clock.now_ms())
        if state == self.state:
            return False
        self.state = state
        self._valid.clear()
        self.slots.clear()  # the new set proposes afresh
        old = self.engine
        if old is not None:  # the height restarts with the new voting set
            self.engine = Engine(self.genesis.chain_id,
                                 self.key if self.wants_to_validate else None,
                                 old.last_signed, verify=self.sigs.verify)
            # The new engine resumes at the round it last signed in and may not sign there
            # again, so it needs that round's votes to move on: carry ours over (the same
            # signed bytes, never a new signature) and keep re-sending them until it does.
            self._carried_lock, self._carried_height = None, None
            self._carried = tuple(b.message for b in old.gossip()
                                  if isinstance(b.message, Vote)
                                  and b.message.height == action.height + 1)
            await self.start_height()
            await self._carry_votes()
        return True

    async def _carry_votes(self) -> None:
        lock = self._carried_lock
        if lock is not None:
            try:
                proposal, block = decode_proposal(lock.proposal), decode_block(lock.block)
            except DecodeError:
                self._carried_lock = None
            else:
                self.remember_proposal(proposal, lock.proposal, lock.block)
                await self._feed(ProposalReceived(proposal, block))
        for vote in self._carried:
            await self._feed(VoteReceived(vote))
        self._send_carried()

    def _send_carried(self) -> None:
        engine = self.engine
        if engine is None:
            return
        if engine.height != self.state.height + 1 or engine.decided or \
                self._carried_height not in (None, engine.height):
            self._carried, self._carried_lock = (), None
            return
        self._carried_height = engine.height
        lock = self._carried_lock
        if lock is not None:
            with contextlib.suppress(DecodeError):
                self.outbox.proposal(decode_proposal(lock.proposal), decode_block(lock.block),
                                     lock.proposal, lock.block)
        for vote in self._carried:
            self.outbox.vote(vote)

    # -- proposals taken from peers ------------------------------------------------------------

    def held_proposal(self, proposal: Proposal) -> ProposalReceived | None:
        """The proposal we hold for its round, if it is this very one (a re-sent copy)."""
        held = self.slots.get((proposal.height, proposal.round))
        return held if held is not None and held.proposal == proposal else None

    def slot_taken(self, height: int, round_: int) -> bool:
        return (height, round_) in self.slots

    def take_proposal(self, received: ProposalReceived, raw: bytes, block: bytes) -> bool:
        """Hold a proposal a peer sent (checked by admission); False if its round is taken."""
        p = received.proposal
        key = (p.height, p.round)
        if key in self.slots:
            return False
        f = self.frontier()
        self.slots = {k: v for k, v in self.slots.items()
                      if k[0] > f.tip + 1 or k[1] >= f.round - SLOT_ROUNDS_KEPT}
        self.slots[key] = received
        self.remember_proposal(p, raw, block)
        return True

    # -- logs ----------------------------------------------------------------------------------

    def _log(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            getattr(self.log, level)(event, **fields)


__all__ = ["Clock", "Committed", "ConsensusDriver", "DriverOptions", "Ledger", "Outbox",
           "TxPool", "run_now"]
