"""The node's one loop: feed events to the engine, carry its actions out, commit what is final.

Everything that touches the engine, the chain state or the store's tip runs in one task,
`Node._loop`, which takes items from one queue: messages from peers, fired timeouts, and ticks.
For each engine event it carries the actions out in order, the way etcd's raft asks: persist
(the last-signed state, a synced write), then send, then apply (validate, commit). Heavy calls
(block validation, the commit's write batch, block ranges for a peer) run in a worker thread
while the loop task waits for them, so they never stall the event loop that serves the API and
the sockets, and never run two at once.

Block production is gated: after committing height h the engine starts h + 1 only when the
mempool has txs and `block_interval_ms` has passed since the last block, or `heartbeat_ms`
passed with none, or a proposal or vote for h + 1 arrives from a peer (so all validators start
together). Transactions are admitted on the event loop directly (mempool admission is
synchronous), then relayed in batches.

Late precommits (arriving after the decision) join the certificate the next block carries, so
their signers' participation counts; the stored certificate of a block stays as decided.

Left out: peer exchange (the transport dials the configured peers) and gossip of governance
actions (each validator reads its own inbox, `inbox.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from consensus.chain import ValidBlock, check_not_future, make_block, proposal_time, validate_block
from consensus.chainstate import (
    ChainState,
    decode_chain_state,
    genesis_state,
    install_recovery,
    select_carried,
)
from consensus.codec import (
    block_hash,
    decode_block,
    decode_tx,
    encode_block,
    encode_tx,
    txid,
)
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
from consensus.evidence import (
    DuplicateVoteEvidence,
    decode_evidence,
    encode_evidence,
    evidence_for,
)
from consensus.governance import RecoveryAction
from consensus.ledger import SignatureCache
from consensus.types import Block, BlockHash, Genesis, PublicKey, Tx, TxId
from consensus.votes import (
    Proposal,
    Vote,
    VoteType,
    decode_certificate,
    decode_proposal,
    decode_vote,
    encode_certificate,
    encode_proposal,
    encode_vote,
    vote_digest,
)
from faircoop_node.api.feed import BlockFeed, NewBlock
from faircoop_node.api.view import NodeStatus
from faircoop_node.logs import EventLogger, LogContext, event_logger
from faircoop_node.mempool import Mempool
from faircoop_node.net.envelope import (
    BlockRange,
    GetBlocks,
    MsgType,
    ProposalMessage,
    Status,
    decode_block_range,
    decode_proposal_message,
    decode_status,
    decode_txs,
    encode_get_blocks,
    encode_proposal_message,
    encode_status,
    encode_txs,
)
from faircoop_node.net.transport import PeerEvent, PeerId, Tip, Transport
from faircoop_node.node.admission import (
    Frontier,
    Judgement,
    Verdict,
    judge_evidence,
    judge_proposal,
    judge_vote,
    tx_is_senders_fault,
)
from faircoop_node.node.commit import store_block
from faircoop_node.node.gossip import EvidencePool, SeenCache, TxIntake, TxRelay
from faircoop_node.node.inbox import Inbox, mark_included
from faircoop_node.node.inflow import PeerInflow
from faircoop_node.node.serve import BlockServer
from faircoop_node.node.signing import (
    ROUND_MAX,
    Locked,
    SignedRecord,
    decode_signed_record,
    encode_signed_record,
    record_after,
    rejoin_floor,
)
from faircoop_node.node.sync import (
    RecoveryCheck,
    SyncTracker,
    get_blocks_for,
    store_range,
)
from faircoop_node.storage.base import BaseStore

MAX_TIMER_MS = 86_400_000  # a timeout longer than a day is never going to matter
BLOCK_OVERHEAD = 64 * 1024  # room kept in max_block_size for header, certificate, evidence
INLINE_DECODE_BYTES = 256 * 1024  # larger proposed blocks are decoded in a worker thread
SLOT_ROUNDS_KEPT = 2  # proposals of rounds further behind ours are forgotten


class NodeError(FaircoopError):
    """The node can't start or continue (a store that disagrees with the genesis, ...)."""


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """Timings of the node's own duties (consensus timings are chain parameters)."""

    tick_s: float = 0.02  # how often the block-production gate and sync are looked at
    gossip_s: float = 1.0  # a node stuck this long re-sends what it signed, and asks for blocks
    status_s: float = 2.0  # STATUS (our tip) to every peer at least this often
    sync_batch: int = 250
    sync_timeout_s: float = 5.0
    sync_delay_s: float = 0.3  # a peer one block ahead for this long means we missed a commit
    join_wait_s: float = 3.0  # a validator without a last-signed record waits this for peers
    validate_in_thread: bool = True
    inbox: Path | None = None  # a directory of governance actions to carry (see `_scan_inbox`)
    inbox_s: float = 2.0  # how often the inbox is read


@dataclass
class _Item:
    kind: str  # "vote", "proposal", "blocks", "peer", "timeout", "tick", "stop", ...
    payload: Any = None
    peer: PeerId | None = None  # the sender of a peer's message (its inflow is released)
    size: int = 0  # ... and its payload's size


PUNISHED_KEPT = 256  # reasons of the latest punishments kept in NodeCounters


@dataclass
class NodeCounters:
    """What the node did since it started, for tests and logs."""

    committed_consensus: int = 0
    committed_sync: int = 0
    sync_requests: int = 0
    proposals_built: int = 0
    punished_total: int = 0
    dropped: int = 0  # peers' messages quietly ignored (early, late, seen, out of window)
    punished: deque[str] = field(default_factory=lambda: deque(maxlen=PUNISHED_KEPT))


class Node:
    """A validator or observer: engine, chain state, store, mempool, transport and block feed.

    Implements the API's `NodeView` (store, mempool, feed, status(), chain_state(),
    submit_tx()). Build it, `attach` a transport, `await start()`, and `await stop()`.
    """

    def __init__(
        self,
        genesis: Genesis,
        store: BaseStore,
        key: PrivateKey,
        *,
        validator: bool,
        options: NodeOptions | None = None,
        clock_ms: Callable[[], int] | None = None,
        log_context: LogContext | None = None,
    ) -> None:
        self.genesis = genesis
        self._store = store
        self.key = key
        self.pubkey = PublicKey(key.public_key)
        self.wants_to_validate = validator
        self.options = options or NodeOptions()
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.ctx = log_context or LogContext.for_node(self.pubkey)
        self.log: EventLogger = event_logger("faircoop.node", self.ctx)
        self.sig_cache = SignatureCache()
        self.sigs = VerifiedMemo()  # vote and proposal signatures checked once per node
        self._mempool = Mempool(genesis.chain_id, self.sig_cache)
        self._feed = BlockFeed()
        self.state = self._load_state()
        tip = store.tip()
        self.last_cert: bytes = (store.get_certificate(tip.height) or b"") if tip.height else b""
        self.evidence = EvidencePool()
        self.seen = SeenCache()
        self.sync = SyncTracker(self.options.sync_batch, self.options.sync_timeout_s)
        self.counters = NodeCounters()
        self.engine: Engine | None = None
        self.transport: Transport | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()  # peers' share bounded by _inflow
        self._inflow = PeerInflow()
        self._server = BlockServer(store, lambda: self.transport, lambda: self.state.height)
        # the proposal taken for each (height, round) being decided, kept to hand a copy back
        self._proposal_slots: dict[tuple[int, int], ProposalReceived] = {}
        self._recovery_check: RecoveryCheck | None = None
        self._valid: dict[BlockHash, ValidBlock] = {}
        self._gated = False
        self._last_block_mono = time.monotonic()
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._relay = TxRelay(self._send_txs)
        self._intake = TxIntake(self._admit_relayed)
        self._voting_peers: tuple[ChainState, frozenset[PeerId]] | None = None
        self._progress: tuple[int, int, int] = (-1, -1, -1)
        self._progress_mono = time.monotonic()
        self._last_status_mono = 0.0
        self._joining_since: float | None = None
        self._join_warned = False
        self._tick_queued = False
        self._actions: dict[bytes, Path] = {}  # governance actions to carry -> their inbox file
        self._inbox = Inbox(self.options.inbox) if self.options.inbox is not None else None
        self._recoveries: dict[Path, RecoveryAction] = {}
        self._carried: tuple[Vote, ...] = ()  # our votes from before a restart, re-sent
        self._record: SignedRecord | None = None  # the last-signed record as on disk
        self._carried_lock: Locked | None = None  # ... and the block we had precommitted
        self._carried_height: int | None = None
        self._proposals_seen: dict[BlockHash, tuple[int, bytes, bytes]] = {}
        self._refusals: dict[Path, str] = {}  # the last rule each recovery failed, logged once
        self._inbox_mono = 0.0
        self._stopping = False
        self.running = False

    # -- construction helpers ----------------------------------------------------------------

    def _load_state(self) -> ChainState:
        raw = self._store.get_chain_state()
        if not raw:
            if self._store.tip().height != 0:
                raise NodeError("the store has blocks but no chain state")
            return genesis_state(self.genesis, self._store.genesis_hash)
        try:
            state = decode_chain_state(raw)
        except DecodeError as exc:
            raise NodeError(f"the stored chain state can't be read: {exc}") from None
        tip = self._store.tip()
        if (state.height, state.last_block_id) != (tip.height, tip.block_hash):
            raise NodeError(f"the stored chain state is at {state.height}, the tip at "
                            f"{tip.height}: the store is inconsistent")
        return state

    def attach(self, transport: Transport) -> None:
        self.transport = transport
        transport.set_handlers(self._on_message, self._on_peer)

    def p2p_tip(self) -> Tip:
        """The transport's tip source (sent in handshakes)."""
        return Tip(self.state.height, self.state.last_block_id)

    # -- NodeView ------------------------------------------------------------------------------

    @property
    def store(self) -> BaseStore:
        return self._store

    @property
    def mempool(self) -> Mempool:
        return self._mempool

    @property
    def feed(self) -> BlockFeed:
        return self._feed

    def status(self) -> NodeStatus:
        peers = len(self.transport.peers()) if self.transport is not None else 0
        return NodeStatus(self.pubkey.hex(), self.current_round(), peers, self.is_validator)

    def current_round(self) -> int:
        """The engine's round, or 0 (not started, or silent at the rejoin floor's round)."""
        engine = self.engine
        if engine is None or engine.round >= ROUND_MAX:
            return 0
        return engine.round

    @property
    def is_validator(self) -> bool:
        return self.wants_to_validate and self.pubkey in self.state.voting_set()

    def chain_state(self) -> ChainState:
        return self.state

    async def submit_tx(self, tx: Tx) -> TxId:
        entry = self._mempool.add(tx, self._store, self.state.params)
        self.seen.add(entry.txid)
        self._relay.add((encode_tx(tx),), frozenset())
        return entry.txid

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.transport is None:
            raise NodeError("attach a transport before starting the node")
        self.ctx.at(self.state.height, None)
        last_signed = self._load_last_signed()
        self.log.info("node_starting", tip=self.state.height, validator=self.is_validator,
                      last_signed=None if last_signed is None else
                      [last_signed.height, last_signed.round, int(last_signed.step)])
        await self.transport.start()
        self.running = True
        self._tasks.append(asyncio.create_task(self._loop(), name="node-loop"))
        self._tasks.append(asyncio.create_task(self._ticker(), name="node-ticker"))
        if self.wants_to_validate and last_signed is None and self.transport is not None:
            # no record of what this key signed: learn the network's tip first (see signing.py)
            self._joining_since = time.monotonic()
            self.log.info("rejoin_wait", reason="no last-signed state on disk")
        else:
            self._create_engine(last_signed)

    def _load_last_signed(self) -> SignedState | None:
        raw = self._store.get_last_signed()
        if raw is None:
            return None
        try:
            self._record = decode_signed_record(raw)
            return self._record.state
        except DecodeError as exc:
            raise NodeError(f"the last-signed record can't be read: {exc}; refusing to sign "
                            "with an unknown history (see docs/OPERATIONS.md)") from None

    def _create_engine(self, last_signed: SignedState | None) -> None:
        key = self.key if self.wants_to_validate else None
        self.engine = Engine(self.genesis.chain_id, key, last_signed, verify=self.sigs.verify)
        self._queue.put_nowait(_Item("start_height"))
        record = self._record
        if record is not None and record.state == last_signed and \
                record.state.height == self.state.height + 1 and (record.votes or record.locked):
            # restarted mid-height: what we signed there (and the block we precommitted) back
            # to the engine and the peers
            self._carried, self._carried_lock = record.votes, record.locked
            self._carried_height = None
            self._queue.put_nowait(_Item("carry_votes"))

    async def stop(self) -> None:
        """Stop taking work, finish the item in hand (a commit completes), close the transport.

        The store is left open for the caller to close (it may be shared with a test).
        """
        if not self.running:
            return
        self.running = False
        self._stopping = True
        self._queue.put_nowait(_Item("stop"))
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        self._relay.close()
        self._inflow.close()
        await self._intake.close()
        await self._server.close()
        loop_task, ticker = self._tasks
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task  # the item in hand (a commit, say) finishes first
        self._tasks.clear()
        if self.transport is not None:
            await self.transport.stop()
        self._feed.close_all()
        self.log.info("node_stopped", tip=self.state.height)

    # -- inputs: the transport's handlers and the ticker -------------------------------------------

    async def _on_message(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
        """A peer's message, judged here cheapest check first (`admission.py`); only what passes
        is relayed or queued for the loop, within the peer's share of the queue (`inflow.py`)."""
        if self._stopping:
            return
        try:
            item = await self._admit(peer, msg_type, payload)
        except DecodeError as exc:
            self._punish(peer, f"bad {msg_type.name}: {exc}")
            return
        if item is None:
            return
        size = len(payload)
        await self._inflow.admit(peer, size)
        if self._stopping:
            self._inflow.done(peer, size)
            return
        item.peer, item.size = peer, size
        self._queue.put_nowait(item)

    async def _admit(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> _Item | None:
        """What the loop must do with a peer's message, if anything; DecodeError for junk."""
        if msg_type == MsgType.TXS:
            self._intake.add(peer, decode_txs(payload))  # admitted a slice at a time
        elif msg_type == MsgType.STATUS:
            self.sync.saw(peer, decode_status(payload).height)
        elif msg_type == MsgType.GET_BLOCKS:
            self._server.request(peer, payload)
        elif msg_type == MsgType.VOTE:
            return self._admit_vote(peer, payload)
        elif msg_type == MsgType.PROPOSAL:
            return await self._admit_proposal(peer, payload)
        elif msg_type == MsgType.EVIDENCE:
            self._pool_evidence(decode_evidence(payload), peer)
        elif msg_type == MsgType.BLOCKS:
            answer = decode_block_range(payload)
            check = self._recovery_check
            if self.sync.expects(peer, answer.start) or \
                    (check is not None and check.expects(peer, answer.start)):
                return _Item("blocks", answer)
            self.counters.dropped += 1  # unasked, or too late: ignored rather than judged
        else:  # BLOCK: nothing sends it
            self._punish(peer, f"unexpected {msg_type.name} message")
        return None

    def _frontier(self) -> Frontier:
        engine = self.engine
        deciding = engine is not None and engine.height == self.state.height + 1
        return Frontier(self.state, self.current_round() if deciding else 0)

    def _judged(self, peer: PeerId, judgement: Judgement) -> bool:
        if judgement.verdict == Verdict.PUNISH:
            self._punish(peer, judgement.reason)
        elif judgement.verdict == Verdict.DROP:
            self.counters.dropped += 1
        return judgement.verdict == Verdict.ACCEPT

    def _admit_vote(self, peer: PeerId, payload: bytes) -> _Item | None:
        vote = decode_vote(payload)
        judgement = judge_vote(self._frontier(), vote, self.sigs.verify)
        if not self._judged(peer, judgement):
            return None
        self.sync.saw(peer, vote.height - 1)  # a validator signed at that height
        if self.seen.add(vote.signature) and judgement.relay and self.transport is not None:
            self.transport.broadcast(MsgType.VOTE, payload, frozenset({peer}))
        return _Item("vote", vote)

    async def _admit_proposal(self, peer: PeerId, payload: bytes) -> _Item | None:
        msg = decode_proposal_message(payload)
        proposal = decode_proposal(msg.proposal)
        key = (proposal.height, proposal.round)
        held = self._proposal_slots.get(key)
        if held is not None and held.proposal == proposal:
            return _Item("proposal", held)  # a copy (re-sent on a stall): no work, no relay
        judgement = judge_proposal(self._frontier(), proposal, msg.block,
                                   lambda h, r: (h, r) in self._proposal_slots, self.sigs.verify)
        if not self._judged(peer, judgement):
            return None
        # the header checked out against the signed id: only now is the body worth decoding
        block = decode_block(msg.block) if len(msg.block) <= INLINE_DECODE_BYTES else \
            await asyncio.to_thread(decode_block, msg.block)
        if key in self._proposal_slots:
            return None  # another copy won the race while this one was decoded
        self._prune_slots()
        event = self._proposal_slots[key] = ProposalReceived(proposal, block)
        self.seen.add(proposal.signature)
        self.sync.saw(peer, proposal.height - 1)
        self._remember_proposal(proposal, msg.proposal, msg.block)
        if self.transport is not None:
            self.transport.broadcast(MsgType.PROPOSAL, payload, frozenset({peer}))
        return _Item("proposal", event)

    def _prune_slots(self) -> None:
        """Forget proposals of rounds long past (a long stall would otherwise keep a block per
        round); a copy arriving later is judged afresh, its signature a memo lookup."""
        f = self._frontier()
        self._proposal_slots = {k: v for k, v in self._proposal_slots.items()
                                if k[0] > f.tip + 1 or k[1] >= f.round - SLOT_ROUNDS_KEPT}

    def _pool_evidence(self, ev: DuplicateVoteEvidence, peer: PeerId | None) -> None:
        """Pool evidence the next block could carry and pass it on; `peer` sent it (None: our
        engine found it)."""
        judgement = judge_evidence(self.state, ev, self.evidence)
        if peer is not None and not self._judged(peer, judgement):
            return
        if judgement.verdict == Verdict.ACCEPT and self.evidence.add(ev) and \
                self.transport is not None:
            exclude = frozenset() if peer is None else frozenset({peer})
            self.transport.broadcast(MsgType.EVIDENCE, encode_evidence(ev), exclude)

    async def _on_peer(self, event: PeerEvent) -> None:
        if not self._stopping:
            self._queue.put_nowait(_Item("peer", event))

    async def _ticker(self) -> None:
        """One tick in the queue at a time, so a busy node still runs its periodic duties."""
        while True:
            await asyncio.sleep(self.options.tick_s)
            if not self._tick_queued:
                self._tick_queued = True
                self._queue.put_nowait(_Item("tick"))

    def _schedule(self, a: ScheduleTimeout) -> None:
        if a.delay_ms > MAX_TIMER_MS:
            return
        loop = asyncio.get_running_loop()
        ev = TimeoutFired(a.height, a.round, a.step)
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            if not self._stopping:
                self._queue.put_nowait(_Item("timeout", ev))

        handle = loop.call_later(a.delay_ms / 1000, fire)
        self._timers.add(handle)

    # -- the loop ------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item.peer is not None:
                self._inflow.done(item.peer, item.size)
            if item.kind == "stop" or self._stopping:
                return
            try:
                await self._process(item)
            except FaircoopError as exc:
                self.log.error("node_error", kind=item.kind, error=str(exc))
            except Exception as exc:  # a bug: log it, keep the node alive
                self.log.error("node_bug", kind=item.kind, error=f"{type(exc).__name__}: {exc}")

    async def _process(self, item: _Item) -> None:
        if item.kind == "vote":
            vote: Vote = item.payload
            if vote.height == self.state.height:
                self._augment_certificate(vote)
            await self._deliver_consensus(vote.height, VoteReceived(vote))
        elif item.kind == "proposal":
            received: ProposalReceived = item.payload
            await self._deliver_consensus(received.proposal.height, received)
        elif item.kind == "blocks":
            assert item.peer is not None
            await self._handle_blocks(item.peer, item.payload)
        elif item.kind == "timeout":
            await self._feed_engine(item.payload)
        elif item.kind == "peer":
            self._handle_peer(item.payload)
        elif item.kind == "start_height":
            await self._start_height()
        elif item.kind == "carry_votes":
            await self._carry_votes()
        elif item.kind == "tick":
            self._tick_queued = False
            await self._tick()

    async def _feed_engine(self, event: Any) -> None:
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
                self._broadcast_signed(a)
            elif isinstance(a, ScheduleTimeout):
                self._schedule(a)
            elif isinstance(a, RequestProposalBlock):
                block = await self._build_block()
                pending.extend(engine.handle(ProposalBlockReady(a.height, a.round, block)))
            elif isinstance(a, ValidateBlock):
                ok = await self._judge_live(a.block, a.block_id)
                pending.extend(engine.handle(BlockValidated(a.block_id, ok)))
            elif isinstance(a, Commit):
                await self._commit_decided(a)
            elif isinstance(a, EvidenceFound):
                self._on_evidence_found(a)
        self.ctx.at(engine.height, self.current_round())

    async def _persist_signed(self, state: SignedState, following: Action | None) -> None:
        """The synced write before a signature leaves: the new state and the vote it signs."""
        vote = following.message if isinstance(following, Broadcast) else None
        if not isinstance(vote, Vote) or (vote.height, vote.round) != (state.height, state.round):
            vote = None
        locked = None
        if vote is not None and vote.vote_type == VoteType.PRECOMMIT and not vote.is_nil:
            seen = self._proposals_seen.get(vote.block_id)
            if seen is not None:
                locked = Locked(seen[1], seen[2])
        self._record = record_after(self._record, state, vote, locked)
        await asyncio.to_thread(self._store.put_last_signed, encode_signed_record(self._record))

    # -- heights and the production gate ---------------------------------------------------------

    async def _start_height(self) -> None:
        engine = self.engine
        if engine is None:
            return
        self._gated = False
        s = self.state
        height = s.height + 1
        if engine.height == height and not engine.decided:
            return  # already deciding it
        self.ctx.at(height, 0)
        await self._feed_engine(NewHeight(height, s.voting_set(), s.proposer_rotation(),
                                          s.params))

    def _gate_open(self, now: float) -> bool:
        params = self.state.params
        since_ms = (now - self._last_block_mono) * 1000
        if len(self._mempool) and since_ms >= params.block_interval_ms:
            return True
        return since_ms >= params.heartbeat_ms

    async def _tick(self) -> None:
        now = time.monotonic()
        if self._joining_since is not None:
            await self._maybe_finish_join(now)
        elif self._gated and self._gate_open(now):
            await self._start_height()
        await self._settle_recovery(now)
        self._maybe_sync(now)
        if self._inbox is not None and now - self._inbox_mono >= self.options.inbox_s:
            self._inbox_mono = now
            await self._scan_inbox(self._inbox)
        engine = self.engine
        if engine is not None:
            progress = (engine.height, engine.round, int(engine.step))
            if progress != self._progress:
                self._progress, self._progress_mono = progress, now
            elif now - self._progress_mono >= self.options.gossip_s:
                self._progress_mono = now
                self._regossip()
        if now - self._last_status_mono >= self.options.status_s:
            self._announce_status()

    def _regossip(self) -> None:
        """Stuck: re-send what we signed at this height, and ask peers for blocks we missed."""
        engine = self.engine
        if engine is None or self.transport is None:
            return
        if engine.height == self.state.height + 1 and not engine.decided:
            for b in engine.gossip():
                self._broadcast_signed(b, count_seen=False)
            self._send_carried()
        self._announce_status()

    # -- joining without a last-signed record ---------------------------------------------------

    async def _maybe_finish_join(self, now: float) -> None:
        assert self._joining_since is not None and self.transport is not None
        connected = {p.node_id for p in self.transport.peers()}
        waited = now - self._joining_since
        if not connected and (waited < self.options.join_wait_s or self.state.height > 0):
            if waited >= self.options.join_wait_s and not self._join_warned:
                self._join_warned = True
                self.log.warning("rejoin_waiting_for_peers",
                                 reason="no peer reachable to learn the network's tip")
            return  # alone past genesis we can't know what we may have signed: wait for peers
        network = self.sync.network_tip(connected, self.state.height)
        if network > self.state.height or self.sync.busy():
            return  # still syncing
        if connected and waited < min(0.5, self.options.join_wait_s):
            return  # give every peer's handshake a moment to report its tip
        self._joining_since = None
        if network == 0 and all(self.sync.claims.get(p, 0) == 0 for p in connected):
            self.log.info("rejoin_done", mode="network_launch", tip=0)
            self._create_engine(None)
            return
        floor = rejoin_floor(self.state.height)
        self._record = SignedRecord(floor)
        await asyncio.to_thread(self._store.put_last_signed, encode_signed_record(self._record))
        self.log.info("rejoin_done", mode="synced", tip=self.state.height,
                      votes_from=self.state.height + 2)
        self._create_engine(floor)

    # -- governance actions from the operator's inbox -------------------------------------------

    async def _scan_inbox(self, inbox: Inbox) -> None:
        """Take new inbox files (see `inbox.py`) into the action pool or the recovery list.

        A governance action (`SignedAction`) joins the pool proposers carry from
        (`select_carried` keeps it only while it applies); the file is renamed `.included`
        once a block carries it. A `RecoveryAction` is installed on our tip
        (`install_recovery`, with our clock) and the engine restarts the height with the new
        voting set; it is held in memory only, so the file stays and a restart installs it again.
        """
        items, problems = await asyncio.to_thread(inbox.scan)
        for problem in problems:
            self.log.warning("inbox_unreadable", file=problem.path.name, error=problem.error)
        for item in items:
            action = item.action
            if action.chain_id != self.genesis.chain_id:
                self.log.warning("inbox_wrong_chain", file=item.path.name)
            elif isinstance(action, RecoveryAction):
                self._recoveries[item.path] = action
            elif item.raw not in self._actions:
                self._actions[item.raw] = item.path
                self.log.info("action_pooled", file=item.path.name, nonce=action.nonce)
        for path, recovery in list(self._recoveries.items()):
            await self._install_recovery(recovery, path)  # retried until its time has come

    async def _install_recovery(self, action: RecoveryAction, path: Path) -> None:
        if action.height != self.state.height:
            if action.height < self.state.height:
                self._recoveries.pop(path, None)  # used (or overtaken): nothing left to do
            return
        try:
            state = install_recovery(self.state, action, self._clock_ms())
        except ValidationError as exc:
            if self._refusals.get(path) != exc.rule:
                self._refusals[path] = exc.rule
                self.log.warning("recovery_refused", file=path.name, rule=exc.rule,
                                 error=str(exc))
            return
        if state == self.state:
            return
        self.state = state
        self._valid.clear()
        self._proposal_slots.clear()  # the new set proposes afresh
        self.log.warning("recovery_installed", file=path.name, height=action.height + 1,
                         validators=len(action.validators))
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
            self._queue.put_nowait(_Item("start_height"))
            self._queue.put_nowait(_Item("carry_votes"))

    async def _carry_votes(self) -> None:
        lock = self._carried_lock
        if lock is not None:
            try:
                proposal, block = decode_proposal(lock.proposal), decode_block(lock.block)
            except DecodeError:
                self._carried_lock = None
            else:
                self._remember_proposal(proposal, lock.proposal, lock.block)
                await self._feed_engine(ProposalReceived(proposal, block))
        for vote in self._carried:
            await self._feed_engine(VoteReceived(vote))
        self._send_carried()

    def _send_carried(self) -> None:
        engine = self.engine
        if engine is None or self.transport is None:
            return
        if engine.height != self.state.height + 1 or engine.decided or \
                self._carried_height not in (None, engine.height):
            self._carried, self._carried_lock = (), None
            return
        self._carried_height = engine.height
        if self._carried_lock is not None:
            self.transport.broadcast(MsgType.PROPOSAL, encode_proposal_message(ProposalMessage(
                self._carried_lock.proposal, self._carried_lock.block)))
        for vote in self._carried:
            self.transport.broadcast(MsgType.VOTE, encode_vote(vote))

    def _remember_proposal(self, proposal: Proposal, raw: bytes, block: bytes) -> None:
        """Keep proposals of the heights being decided: a precommit records its block."""
        self._proposals_seen[proposal.block_id] = (proposal.height, raw, block)

    # -- building and judging blocks ------------------------------------------------------------

    async def _build_block(self) -> Block:
        s = self.state
        params = s.params
        txs = tuple(self._mempool.select(params.max_block_txs,
                                         max(0, params.max_block_size - BLOCK_OVERHEAD)))
        evidence, actions = select_carried(s, self.evidence.items(), tuple(self._actions))
        time_ms = proposal_time(s, self._clock_ms())
        block = make_block(s, self.pubkey, time_ms, txs, self.last_cert, evidence, actions)
        block_id = block_hash(block.header)
        try:
            self._valid[block_id] = await self._validate(block, block_id)
        except (ValidationError, DecodeError) as exc:
            # a pooled tx went bad (e.g. a higher fee rate is in force): clean the pool, retry
            dropped = self._revalidate_mempool()
            self.log.warning("proposal_rebuilt", error=str(exc), dropped=dropped)
            txs = tuple(self._mempool.select(params.max_block_txs,
                                             max(0, params.max_block_size - BLOCK_OVERHEAD)))
            block = make_block(s, self.pubkey, time_ms, txs, self.last_cert, (), ())
            block_id = block_hash(block.header)
            try:
                self._valid[block_id] = await self._validate(block, block_id)
            except (ValidationError, DecodeError):
                block = make_block(s, self.pubkey, time_ms, (), self.last_cert, (), ())
                block_id = block_hash(block.header)
                self._valid[block_id] = await self._validate(block, block_id)
        self.counters.proposals_built += 1
        return block

    def _revalidate_mempool(self) -> int:
        """Re-admit every pooled tx against the tip and its params; how many were dropped."""
        entries = self._mempool.entries()
        self._mempool = Mempool(self.genesis.chain_id, self.sig_cache,
                                self._mempool.max_txs, self._mempool.max_bytes)
        for entry in entries:
            with contextlib.suppress(ValidationError):
                self._mempool.add(entry.tx, self._store, self.state.params)
        return len(entries) - len(self._mempool)

    async def _validate(self, block: Block, block_id: BlockHash) -> ValidBlock:
        state = self.state
        if self.options.validate_in_thread:
            return await asyncio.to_thread(validate_block, state, block, block_id, self._store,
                                           sig_cache=self.sig_cache)
        return validate_block(state, block, block_id, self._store, sig_cache=self.sig_cache)

    async def _judge_live(self, block: Block, block_id: BlockHash) -> bool:
        """The engine asks about a proposed block: valid on our tip, and not from the future."""
        if block.header.height != self.state.height + 1:
            return False
        if block_id in self._valid:
            return True
        try:
            check_not_future(block.header, self.state.params.max_clock_drift_ms, self._clock_ms())
            self._valid[block_id] = await self._validate(block, block_id)
        except (ValidationError, DecodeError) as exc:
            self.log.warning("block_invalid", block=block_id.hex()[:16], rule=getattr(
                exc, "rule", "decode"), error=str(exc))
            return False
        return True

    # -- committing -----------------------------------------------------------------------------

    async def _commit_decided(self, a: Commit) -> None:
        if a.certificate.height != self.state.height + 1:
            return  # sync committed it first
        valid = self._valid.get(a.block_id)
        if valid is None:
            try:
                valid = await self._validate(a.block, a.block_id)
            except (ValidationError, DecodeError) as exc:
                self.log.error("certified_block_invalid", block=a.block_id.hex(), error=str(exc))
                return
        await self._commit(a.block, a.block_id, encode_certificate(a.certificate), valid,
                           source="consensus", round_=a.certificate.round)
        self.counters.committed_consensus += 1
        self._gated = True

    async def _commit(self, block: Block, block_id: BlockHash, certificate: bytes,
                      valid: ValidBlock, *, source: str, round_: int) -> None:
        await asyncio.to_thread(store_block, self._store, self.state, block, block_id,
                                certificate, valid)
        self._committed(block, block_id, certificate, valid, source=source, round_=round_)
        self._announce_status()

    def _committed(self, block: Block, block_id: BlockHash, certificate: bytes,
                   valid: ValidBlock, *, source: str, round_: int) -> None:
        """Bookkeeping after a block is on disk: state, mempool, pools, feed, log."""
        after = valid.state
        self.state = after
        self.last_cert = certificate
        self._valid.clear()
        self._proposals_seen = {k: v for k, v in self._proposals_seen.items()
                                if v[0] > after.height}
        self._proposal_slots = {k: v for k, v in self._proposal_slots.items()
                                if k[0] > after.height}
        self._last_block_mono = time.monotonic()
        self._mempool.remove_committed(block.txs)
        self.evidence.refresh(after)
        for raw in block.actions:
            path = self._actions.pop(raw, None)
            if path is not None:
                mark_included(path)
                self.log.info("action_included", file=path.name)
        h = block.header
        self._feed.publish(NewBlock(h.height, block_id, len(block.txs), h.time_ms))
        self.ctx.at(h.height, round_)
        # a synced range logs one `blocks_synced` line; per block only at DEBUG
        emit = self.log.debug if source == "sync" else self.log.info
        emit("block_committed", hash=block_id.hex(), txs=len(block.txs),
             proposer=h.proposer.hex()[:16], source=source, mempool=len(self._mempool))

    # -- sending --------------------------------------------------------------------------------

    def _broadcast_signed(self, b: Broadcast, count_seen: bool = True) -> None:
        if self.transport is None:
            return
        msg = b.message
        if count_seen:
            self.seen.add(msg.signature)
        if isinstance(msg, Proposal):
            if b.block is None:
                return
            raw, block = encode_proposal(msg), encode_block(b.block)
            self._proposal_slots.setdefault((msg.height, msg.round),
                                            ProposalReceived(msg, b.block))
            self._remember_proposal(msg, raw, block)
            self.transport.broadcast(MsgType.PROPOSAL, encode_proposal_message(
                ProposalMessage(raw, block)))
        else:
            self.transport.broadcast(MsgType.VOTE, encode_vote(msg))

    def _announce_status(self) -> None:
        if self.transport is None:
            return
        self._last_status_mono = time.monotonic()
        self.transport.broadcast(MsgType.STATUS, encode_status(
            Status(self.state.height, self.state.last_block_id, self.current_round())))

    def _send_txs(self, raws: tuple[bytes, ...], exclude: frozenset[PeerId]) -> None:
        if self.transport is not None and not self._stopping:
            self.transport.broadcast(MsgType.TXS, encode_txs(raws), exclude)

    def _on_evidence_found(self, a: EvidenceFound) -> None:
        try:
            ev = evidence_for(a.vote_a, a.vote_b, self.genesis.chain_id)
        except FaircoopError:
            return
        self.log.warning("equivocation", offender=a.vote_a.validator.hex()[:16],
                         vote_height=a.vote_a.height, vote_round=a.vote_a.round)
        self._pool_evidence(ev, None)

    # -- receiving ------------------------------------------------------------------------------

    def _punish(self, peer: PeerId, reason: str) -> None:
        self.counters.punished.append(reason)
        self.counters.punished_total += 1
        self.log.warning("peer_punished", peer=peer.hex()[:16], reason=reason)
        if self.transport is not None:
            self.transport.punish(peer, reason)

    def _admit_relayed(self, peer: PeerId, raws: Sequence[bytes]) -> bool:
        """Admit a slice of a peer's relayed txs (in the order sent: a parent before its
        child) and relay the new ones on (see `_relay_exclude`); False if the peer sent junk."""
        fresh: list[bytes] = []
        for raw in raws:
            try:
                tx = decode_tx(raw)
            except DecodeError as exc:
                self._punish(peer, f"bad tx: {exc}")
                return False
            if txid(tx) in self._mempool:
                continue  # another peer's copy came first (the usual case in a mesh)
            try:
                entry = self._mempool.add(tx, self._store, self.state.params)
            except ValidationError as exc:
                if tx_is_senders_fault(exc):  # an honest node relays only txs it admitted
                    self._punish(peer, f"relayed an invalid tx: {exc.rule}")
                    return False
                continue  # stale, conflicting or already pooled: gossip races, not malice
            self.seen.add(entry.txid)
            fresh.append(raw)
        if fresh:
            self._relay.add(fresh, self._relay_exclude(peer))
        return True

    def _relay_exclude(self, peer: PeerId) -> frozenset[PeerId]:
        """Who a tx relayed by `peer` is not passed on to: `peer`, and when `peer` is a
        validator, every validator. The validator that admitted a tx first sends it to every
        validator it is connected to, so passing it on between validators only makes copies
        (n - 2 per validator per tx, n^2 in all); non-validator peers still get it. A validator
        cut off from the first one gets the tx in a block instead (proposals carry whole txs).
        """
        voting = self._voting_peers
        if voting is None or voting[0] is not self.state:
            voting = (self.state, frozenset(PeerId(pk) for pk in self.state.voting_set()))
            self._voting_peers = voting
        return voting[1] if peer in voting[1] else frozenset({peer})

    def _handle_peer(self, event: PeerEvent) -> None:
        peer = event.info.node_id
        if event.connected:
            self.sync.saw(peer, event.info.tip_height)
            self.log.info("peer_up", peer=peer.hex()[:16], tip=event.info.tip_height)
            self._announce_status()
        else:
            self.sync.forget(peer)
            self.log.info("peer_down", peer=peer.hex()[:16], reason=event.reason)

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

    async def _deliver_consensus(self, height: int, event: VoteReceived | ProposalReceived
                                 ) -> None:
        engine = self.engine
        if engine is None:
            return
        await self._feed_engine(event)
        if self._gated and height == self.state.height + 1:
            await self._start_height()  # a peer started the next height: join it now

    # -- sync -----------------------------------------------------------------------------------

    def _maybe_sync(self, now: float) -> None:
        if self.transport is None or self._recovery_check is not None:
            return
        connected = {p.node_id for p in self.transport.peers()}
        ours = self.state.height
        network = self.sync.network_tip(connected, ours)
        if network <= ours:
            self.sync.behind_since = None
            return
        if self.sync.behind_since is None:
            self.sync.behind_since = now
        engine = self.engine
        deciding = engine is not None and engine.height == ours + 1 and not self._gated
        close = network == ours + 1 and deciding
        if close and now - self.sync.behind_since < self.options.sync_delay_s:
            return  # one block behind while deciding it: our own commit is probably coming
        req = self.sync.next_request(ours, connected)
        if req is not None:
            self.counters.sync_requests += 1
            self.transport.send(req.peer, MsgType.GET_BLOCKS, encode_get_blocks(
                get_blocks_for(req)))

    async def _handle_blocks(self, peer: PeerId, answer: BlockRange) -> None:
        check = self._recovery_check
        if check is not None and check.expects(peer, answer.start):
            items = self._decoded_range(peer, answer)
            check.take(peer, items[0] if items else None)
            await self._settle_recovery(time.monotonic())
            return
        if not self.sync.answered(peer, answer.start, len(answer.blocks)):
            return  # unasked, or late: ignore rather than judge
        fresh = [(b, c) for b, c in self._decoded_range(peer, answer)
                 if not self._have_final(peer, b)]
        if fresh:
            await self._store_synced(peer, fresh)

    def _decoded_range(self, peer: PeerId, answer: BlockRange) -> list[tuple[Block, bytes]]:
        """The answer's blocks, decoded, up to the first out of order (whose sender pays)."""
        items: list[tuple[Block, bytes]] = []
        for i, item in enumerate(answer.blocks):
            block = decode_block(item.block)
            if block.header.height != answer.start + i:
                self._punish(peer, "BLOCKS out of order")
                break
            items.append((block, item.certificate))
        return items

    def _have_final(self, peer: PeerId, block: Block) -> bool:
        height = block.header.height
        if height > self.state.height:
            return False
        have = self._store.get_hash_at(height)
        if have is not None and have != block_hash(block.header):
            self.log.error("conflicting_final_block", height=height, peer=peer.hex()[:16])
        return True

    async def _store_synced(self, peer: PeerId, items: list[tuple[Block, bytes]],
                            recovery_ok: int | None = None) -> None:
        outcome = await asyncio.to_thread(store_range, self._store, self.sig_cache, self.state,
                                          items, self._signed_height(), recovery_ok)
        for block, block_id, certificate, valid in outcome.done:
            self._committed(block, block_id, certificate, valid, source="sync",
                            round_=decode_certificate(certificate).round)
            self.counters.committed_sync += 1
        if outcome.done:
            first, last = outcome.done[0][0].header.height, outcome.done[-1][0].header.height
            self.log.info("blocks_synced", first=first, last=last, count=len(outcome.done),
                          peer=peer.hex()[:16])
        if outcome.problem is not None:
            self._punish(peer, outcome.problem)
        if outcome.bug is not None:
            self.log.error("node_bug", kind="sync", error=outcome.bug)
        if outcome.recovery is not None:
            self._check_recovery(peer, *outcome.recovery)
        if outcome.done:
            await self._after_sync()

    # -- a recovery block offered by sync (see sync.RecoveryCheck) -------------------------------

    def _check_recovery(self, peer: PeerId, block: Block, certificate: bytes) -> None:
        """Ask every other peer for the recovery block's height before taking it."""
        height = block.header.height
        others = {p.node_id for p in self.transport.peers()} - {peer} \
            if self.transport is not None else set()
        now = time.monotonic()
        self._recovery_check = RecoveryCheck(height, block, certificate, peer, set(others),
                                             now + self.options.sync_timeout_s)
        self.log.info("recovery_block_offered", height=height, peer=peer.hex()[:16],
                      asking=len(others))
        request = encode_get_blocks(GetBlocks(height, 1))
        for other in others:
            assert self.transport is not None
            self.transport.send(other, MsgType.GET_BLOCKS, request)

    async def _settle_recovery(self, now: float) -> None:
        check = self._recovery_check
        if check is None or not check.settled(now):
            return
        self._recovery_check = None
        if check.height != self.state.height + 1:
            return  # the chain moved on meanwhile
        outcome, item, winner = check.decide(self.state)
        if outcome == "plain":
            assert item is not None and winner is not None
            self.log.warning("recovery_block_refused", height=check.height,
                             offered_by=check.offered_by.hex()[:16],
                             reason="another peer holds a block the old voting set certified")
            self.sync.failed(check.offered_by, self.state.height)
            await self._store_synced(winner, [item])
        elif outcome == "recovery":
            assert item is not None
            self.log.warning("recovery_block_taken", height=check.height,
                             confirmed_by=len(check.answers))
            await self._store_synced(check.offered_by, [item], recovery_ok=check.height)
        else:
            self.log.error("conflicting_recovery_blocks", height=check.height,
                           reason="peers hold different recoveries for this height: the "
                                  "governors signed two; an operator must choose")
            self.sync.failed(check.offered_by, self.state.height)

    def _signed_height(self) -> int | None:
        """The height of our last-signed record: a block there may carry our vote."""
        return None if self._record is None else self._record.state.height

    async def _after_sync(self) -> None:
        """Synced past the engine: restart it at the new tip (unless still joining)."""
        self._announce_status()
        self._maybe_sync(time.monotonic())
        engine = self.engine
        if engine is None:
            return
        if engine.height <= self.state.height:
            self._gated = False
            await self._start_height()

