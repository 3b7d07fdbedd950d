"""The consensus driver: the one place the engine's actions are carried out.

etcd's raft has one `Ready` loop; this is ours. `ConsensusDriver` owns the engine, the chain
state, the proposals, evidence and governance actions a proposer carries, the last-signed record
and the production gate, and carries out every action the engine emits, in order: persist (the
last-signed record, a synced write), then send, then apply (build, validate, commit). Its clock,
its store, its disk and its network come in as ports (below), so the node runs it on real
sockets, LevelDB and threads, and the simulator runs the very same class on a simulated network,
a memory store and a simulated clock. What the simulator checks (safety, liveness, over
thousands of seeds) is therefore this code's behaviour, not a copy's.

The ports are in `contract.py`: async, so the node's adapters can hand heavy work to worker
threads; the simulator's complete at once, so it drives the driver without an event loop.

Block production is gated: after committing height h, the engine starts h + 1 only when the
pool has txs and `block_interval_ms` has passed since the last block, or `heartbeat_ms` passed
with none, or a proposal or vote for h + 1 arrives (so all validators start together).

Late precommits (arriving after the decision) join the certificate the next block carries, so
their signers' participation counts; the stored certificate of a block stays as decided.
"""

from __future__ import annotations

from collections import ChainMap, deque
from collections.abc import Callable, Container
from typing import Any

from consensus.certificate import with_late_precommit
from consensus.chain import ValidBlock, check_not_future, make_block, proposal_time
from consensus.chainstate import ChainState, install_recovery, select_carried
from consensus.codec import block_hash, encode_block
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
from consensus.governance import BlockAction, RecoveryAction
from consensus.types import Block, BlockHash, BlockHeader, BlockTx, Genesis, PublicKey
from consensus.votes import (
    CommitCertificate,
    Proposal,
    Vote,
    VoteType,
    decode_certificate,
    encode_certificate,
    encode_proposal,
)
from faircoop_node.node.admission import Frontier, Judgement, Verdict, judge_evidence
from faircoop_node.node.carried import CarriedVotes
from faircoop_node.node.clockwatch import ClockWatch, skew_advice
from faircoop_node.node.contract import (
    Clock,
    Committed,
    DriverOptions,
    Ledger,
    Outbox,
    TxPool,
    run_now,
)
from faircoop_node.node.gossip import EvidencePool
from faircoop_node.node.proposals import ProposalBook
from faircoop_node.node.signing import (
    ROUND_MAX,
    Locked,
    SignedRecord,
    encode_signed_record,
    record_after,
)
from faircoop_node.node.timeline import HeightTimeline

MAX_TIMER_MS = 86_400_000  # a timeout longer than a day is never going to matter
BLOCK_OVERHEAD = 64 * 1024  # room kept in max_block_size for header, certificate, evidence
MAX_ACTIONS = 256  # governance actions pooled for proposers to carry (64 KiB each at most)
MAX_RECOVERIES = 16  # recoveries held until their wait is over


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
        self.last_cert = last_cert  # the tip's certificate the next block carries (grows)
        self._cert: tuple[bytes, CommitCertificate | None, dict[PublicKey, int]] | None = None
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
        self.recoveries: dict[bytes, RecoveryAction] = {}  # bound to our tip, not yet due
        self._refusals: dict[bytes, str] = {}  # the last rule each recovery failed (logged once)
        self.record: SignedRecord | None = None  # the last-signed record as on disk
        self.gated = False
        self.last_block_mono = clock.monotonic()
        self.proposals_built = 0
        self.proposals = ProposalBook()
        self._valid: dict[BlockHash, ValidBlock] = {}
        self.carried = CarriedVotes()  # what we signed before our engine started over
        self._progress: tuple[int, int, int] = (-1, -1, -1)
        self._progress_mono = clock.monotonic()
        self._stall_waits = 1  # gossip_s times this before the next re-send at this point
        self.clock_watch = ClockWatch()  # says once a minute that our clock is off
        self.timeline: HeightTimeline | None = None  # the height being decided, step by step
        self._early_proposal: tuple[int, float] | None = None  # a proposal before its height

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
        if record is not None and record.state.height == self.state.height + 1:
            self.carried = CarriedVotes(record.votes, record.locked)
        await self.start_height()
        if self.carried:
            await self._carry_votes()

    def reset(self, state: ChainState, last_cert: bytes) -> None:
        """Forget the engine and what it decided, and stand at `state` (the store's tip, read
        again after it refused a write: see outage.py); `start` or `rejoin` begins again."""
        self.engine = None
        self.state, self.last_cert, self._cert = state, last_cert, None
        self._valid.clear()
        self.proposals.committed(state.height)
        self.carried = CarriedVotes()
        self.gated = False
        self.last_block_mono = self.clock.monotonic()

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
        now = self.clock.monotonic()
        self.timeline = HeightTimeline(height, now, now - self.last_block_mono)
        early = self._early_proposal
        if early is not None and early[0] == height:  # it came while we were at the gate
            self.timeline.mark("proposal", early[1])
        await self._feed(NewHeight(height, s.voting_set(), s.proposer_rotation(), s.params))

    # -- events ------------------------------------------------------------------------------

    async def deliver_vote(self, vote: Vote) -> None:
        if vote.height == self.state.height:
            self._augment_certificate(vote)
        await self._deliver(vote.height, VoteReceived(vote))

    async def deliver_proposal(self, received: ProposalReceived) -> None:
        if received.proposal.height == self.state.height + 1:
            if self.gated:
                self._early_proposal = (received.proposal.height, self.clock.monotonic())
            else:
                self._mark("proposal")
            for vote in self._carried_precommits(received.block):
                await self.deliver_vote(vote)
        await self._deliver(received.proposal.height, received)

    def _carried_precommits(self, block: Block) -> list[Vote]:
        """The precommits for our tip that a proposed block carries (its last commit).

        Votes go to peers that could not have them first-hand, so a validator that shows
        different precommits to different peers is seen twice by nobody; the next block's
        certificate shows everyone the precommit the proposer saw, and the engine convicts
        the signer if it signed another one for us. These also complete our own certificate.
        """
        try:
            cert = decode_certificate(block.last_commit) if block.last_commit else None
        except DecodeError:
            return []
        if cert is None or cert.height != self.state.height or \
                cert.chain_id != self.genesis.chain_id:
            return []
        voters = self.state.validators_at(cert.height) or ()
        return [Vote(cert.chain_id, VoteType.PRECOMMIT, cert.height, cert.round, cert.block_id,
                     voters[i], sig) for i, sig in cert.signatures if 0 <= i < len(voters)]

    async def timeout(self, event: TimeoutFired) -> None:
        await self._feed(event)

    async def tick(self) -> bool:
        """The periodic duties: open the gate when it is time, re-send when stuck (then True)."""
        now = self.clock.monotonic()
        if self.recoveries:
            await self._try_recoveries()
        if self.gate_wait(now) == 0.0:
            await self.start_height()
        engine = self.engine
        if engine is None:
            return False
        progress = (engine.height, engine.round, int(engine.step))
        if progress != self._progress:
            self._progress, self._progress_mono, self._stall_waits = progress, now, 1
        elif now - self._progress_mono >= self.options.gossip_s * self._stall_waits:
            self._progress_mono = now
            self._stall_waits = min(2 * self._stall_waits, self.options.gossip_backoff_max)
            return self.regossip()
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
                if isinstance(a.message, Vote):
                    self._mark(a.message.vote_type.name.lower())
                self._broadcast(a)
            elif isinstance(a, ScheduleTimeout):
                if a.delay_ms <= MAX_TIMER_MS:
                    self._schedule_timeout(TimeoutFired(a.height, a.round, a.step), a.delay_ms)
            elif isinstance(a, RequestProposalBlock):
                block = await self._build_block()
                self._mark("built")
                pending.extend(engine.handle(ProposalBlockReady(a.height, a.round, block)))
            elif isinstance(a, ValidateBlock):
                ok = await self._judge(a.block, a.block_id)
                self._mark("validated")
                pending.extend(engine.handle(BlockValidated(a.block_id, ok)))
            elif isinstance(a, Commit):
                self._mark("decided")
                await self._commit_decided(a)
            elif isinstance(a, EvidenceFound):
                self._evidence_found(a)

    def _mark(self, step: str) -> None:
        timeline = self.timeline
        if timeline is not None and self.engine is not None and \
                self.engine.height == timeline.height:
            timeline.mark(step, self.clock.monotonic())

    async def _persist_signed(self, state: SignedState, following: Action | None) -> None:
        """The synced write before a signature leaves: the new state and the vote it signs."""
        vote = following.message if isinstance(following, Broadcast) else None
        if not isinstance(vote, Vote) or (vote.height, vote.round) != (state.height, state.round):
            vote = None
        locked = None
        if vote is not None and vote.vote_type == VoteType.PRECOMMIT and not vote.is_nil:
            held = self.proposals.encoded(vote.block_id)
            if held is not None:
                locked = Locked(*held)
        self.record = record_after(self.record, state, vote, locked)
        await self.ledger.write_signed(encode_signed_record(self.record))

    def _broadcast(self, b: Broadcast, count: bool = True, to: bytes | None = None) -> None:
        msg = b.message
        if isinstance(msg, Proposal):
            if b.block is None:
                return
            raw, block = encode_proposal(msg), encode_block(b.block)
            if count:
                self.proposals.own(ProposalReceived(msg, b.block))
            self.proposals.remember(msg, raw, block)
            self.outbox.proposal(msg, b.block, raw, block, to)
        else:
            self.outbox.vote(msg, to)

    def regossip(self, to: bytes | None = None) -> bool:
        """Stuck deciding a height: re-send what we signed there (our share of reliable gossip),
        to every peer, or to peer `to` only (it just connected: what we sent before is lost to
        it). False if there was nothing to re-send (waiting at the gate is not being stuck)."""
        engine = self.engine
        if engine is None or engine.height != self.state.height + 1 or engine.decided:
            return False
        for b in engine.gossip():
            self._broadcast(b, count=False, to=to)
        self._send_carried(to)
        return True

    # -- the production gate -----------------------------------------------------------------

    def gate_wait(self, now: float) -> float | None:
        """Seconds until the gate opens with the pool as it is now (0.0: it is open), or None
        while a height is being decided. A node times its tick by this instead of polling."""
        if not self.gated:
            return None
        params = self.state.params
        due_ms = min(params.block_interval_ms, params.heartbeat_ms) if len(self.pool) else \
            params.heartbeat_ms
        return max(0.0, due_ms / 1000 - (now - self.last_block_mono))

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

    async def _valid_block(self, time_ms: int, txs: tuple[BlockTx, ...],
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
        now_ms = self.clock.now_ms()
        try:
            check_not_future(block.header, self.state.params.max_clock_drift_ms, now_ms)
            self._valid[block_id] = await self.ledger.validate(self.state, block, block_id)
        except (ValidationError, DecodeError) as exc:
            self._log("warning", "block_invalid", block=block_id.hex()[:16],
                      rule=getattr(exc, "rule", "decode"), error=str(exc))
            if getattr(exc, "rule", None) == "time_in_future":
                self._clock_skew(block.header, self.clock_watch.refused_future(
                    block.header, self.state.params.max_clock_drift_ms, now_ms,
                    self.clock.monotonic()))
            return False
        return True

    def _clock_skew(self, header: BlockHeader, skew_ms: int | None) -> None:
        if skew_ms is not None:
            self._log("warning", "clock_skew", skew_ms=skew_ms, height=header.height,
                      block_time_ms=header.time_ms, proposer=header.proposer.hex()[:16],
                      max_clock_drift_ms=self.state.params.max_clock_drift_ms,
                      advice=skew_advice(skew_ms))

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
        if a.block.header.proposer != self.pubkey:
            self._clock_skew(a.block.header, self.clock_watch.final_block(
                a.block.header, self.state.last_block_time_ms,
                self.state.params.max_clock_drift_ms, self.clock.now_ms(),
                self.clock.monotonic()))
        certificate = encode_certificate(a.certificate)
        await self.ledger.commit(self.state, a.block, a.block_id, certificate, valid)
        timeline = self.timeline
        self.committed(Committed(
            a.block, a.block_id, certificate, a.certificate.round, "consensus",
            timeline.as_ms(self.clock.monotonic()) if timeline is not None
            and timeline.height == a.block.header.height else None), valid.state)
        self.gated = True

    def committed(self, c: Committed, after: ChainState) -> None:
        """Bookkeeping once a block is on disk (committed here, or by catch-up sync)."""
        self.state = after
        self.last_cert = c.certificate
        self._valid.clear()
        self.proposals.committed(after.height)
        self.last_block_mono = self.clock.monotonic()
        self.pool.remove_committed(c.block.txs)
        self.evidence.refresh(after)
        for raw in c.block.actions:
            if raw in self.actions:
                del self.actions[raw]
                self._on_action_included(raw)
        if self.actions:  # drop what no block can carry any more (a nonce used, say)
            kept = set(select_carried(after, (), tuple(self.actions))[1])
            self.actions = {raw: None for raw in self.actions if raw in kept}
        self.recoveries = {raw: r for raw, r in self.recoveries.items()
                           if r.height >= after.height}
        self._on_commit(c)

    async def after_sync(self) -> None:
        """Catch-up sync committed past the engine: restart it at the new tip."""
        engine = self.engine
        if engine is not None and engine.height <= self.state.height:
            self.gated = False
            await self.start_height()

    # -- late precommits and evidence ----------------------------------------------------------

    def _augment_certificate(self, vote: Vote) -> None:
        """A late precommit for the tip joins the certificate the next block carries."""
        if vote.vote_type != VoteType.PRECOMMIT or not self.last_cert:
            return
        cached = self._cert
        if cached is None or cached[0] is not self.last_cert:
            try:
                cert: CommitCertificate | None = decode_certificate(self.last_cert)
            except DecodeError:
                cert = None
            voters = self.state.validators_at(self.state.height) or ()
            cached = self._cert = (self.last_cert, cert,
                                   {pk: i for i, pk in enumerate(voters)})
        if cached[1] is None:
            return
        more = with_late_precommit(cached[1], vote, (), self.sigs.verify, cached[2])
        if more is not None:
            self.last_cert = encode_certificate(more)
            self._cert = (self.last_cert, more, cached[2])

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

    def held_actions(self) -> Container[bytes]:
        """The encodings of every action and recovery we hold."""
        return ChainMap[bytes, object](self.actions, self.recoveries)  # type: ignore[arg-type]

    def pool_action(self, raw: bytes, action: BlockAction) -> bool:
        """Hold an action that admission checked: a recovery until it is due, any other for
        proposers to carry. False if held already or its pool is full."""
        if isinstance(action, RecoveryAction):
            return self.offer_recovery(raw, action)
        return self.add_action(raw)

    def add_action(self, raw: bytes) -> bool:
        """Pool a governance action for proposers to carry; False if held or the pool is full."""
        if raw in self.actions or len(self.actions) >= MAX_ACTIONS:
            return False
        self.actions[raw] = None
        return True

    def offer_recovery(self, raw: bytes, action: RecoveryAction) -> bool:
        """Hold a recovery bound to our tip; it is installed (`tick`) once its wait is over, by
        our clock. False if held already, or the pool is full."""
        if raw in self.recoveries or len(self.recoveries) >= MAX_RECOVERIES:
            return False
        self.recoveries[raw] = action
        return True

    async def _try_recoveries(self) -> None:
        for raw, action in list(self.recoveries.items()):
            if action.height < self.state.height:
                del self.recoveries[raw]  # used, or overtaken by the chain
                continue
            if action.height != self.state.height:
                continue
            try:
                installed = await self.install_recovery(action)
            except ValidationError as exc:
                if self._refusals.get(raw) != exc.rule:
                    self._refusals[raw] = exc.rule
                    self._log("warning", "recovery_refused", rule=exc.rule, error=str(exc))
                if exc.rule != "recovery_too_early":
                    del self.recoveries[raw]
                continue
            if installed:
                self._log("warning", "recovery_installed", height=action.height + 1,
                          validators=len(action.validators))
        self._refusals = {k: v for k, v in self._refusals.items() if k in self.recoveries}

    async def install_recovery(self, action: RecoveryAction) -> bool:
        """Install a recovery at our tip (our clock decides the wait); True if it changed the
        state. ValidationError says why not."""
        state = install_recovery(self.state, action, self.clock.now_ms())
        if state == self.state:
            return False
        self.state = state
        self._valid.clear()
        self.proposals.clear_rounds()
        old = self.engine
        if old is not None:  # the height restarts with the new voting set
            self.engine = Engine(self.genesis.chain_id,
                                 self.key if self.wants_to_validate else None,
                                 old.last_signed, verify=self.sigs.verify)
            # The new engine resumes at the round it last signed in and may not sign there
            # again, so it needs that round's votes to move on: carry ours over (the same
            # signed bytes, never a new signature) and keep re-sending them until it does.
            self.carried = CarriedVotes(tuple(
                b.message for b in old.gossip()
                if isinstance(b.message, Vote) and b.message.height == action.height + 1))
            await self.start_height()
            await self._carry_votes()
        return True

    async def _carry_votes(self) -> None:
        lock = self.carried.lock
        for event in self.carried.events():
            if isinstance(event, ProposalReceived) and lock is not None:
                self.proposals.remember(event.proposal, lock.proposal, lock.block)
            await self._feed(event)
        self._send_carried()

    def _send_carried(self, to: bytes | None = None) -> None:
        engine = self.engine
        if engine is None or not self.carried.due(engine.height, self.state.height + 1,
                                                  engine.decided):
            return
        lock, locked = self.carried.lock, self.carried.locked_proposal()
        if lock is not None and locked is not None:
            self.outbox.proposal(locked.proposal, locked.block, lock.proposal, lock.block, to)
        for vote in self.carried.votes:
            self.outbox.vote(vote, to)

    # -- proposals taken from peers ------------------------------------------------------------

    def held_proposal(self, proposal: Proposal) -> ProposalReceived | None:
        return self.proposals.held(proposal)

    def slot_taken(self, height: int, round_: int) -> bool:
        return self.proposals.taken(height, round_)

    def take_proposal(self, received: ProposalReceived, raw: bytes, block: bytes) -> bool:
        """Hold a proposal a peer sent (checked by admission); False if its round is taken."""
        f = self.frontier()
        return self.proposals.take(received, raw, block, f.tip, f.round)

    # -- logs ----------------------------------------------------------------------------------

    def _log(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            getattr(self.log, level)(event, **fields)


__all__ = ["Clock", "Committed", "ConsensusDriver", "DriverOptions", "Ledger", "Outbox",
           "TxPool", "run_now"]
