"""The node: its parts wired together, one queue, one task that drives them, and the lifecycle.

The parts, each owning its own state:
- `driver.ConsensusDriver`: the engine, the chain state, the pools a proposer carries, the
  last-signed record and the production gate; it carries out every engine action.
- `peers.PeerMessages`: what peers send, judged, relayed and turned into work.
- `catchup.CatchUp`: fetching final blocks from peers ahead, a recovery's corroboration, and
  joining without a last-signed record.
- `serve.BlockServer`: answering peers' GET_BLOCKS off this loop.

Everything that touches the driver runs in one task, `Node._loop`, which takes `Work` from one
queue (peers' votes, proposals and block ranges, fired timeouts, ticks) and dispatches it by
kind. Peers' share of the queue is bounded (`inflow.py`); the ticker keeps one tick queued at a
time, so a busy node still runs its periodic duties.

Whoever watches the node (the process's HTTP API, see `faircoop_node/service.py`) reads its
store, mempool, chain state and `status()`, and registers with `on_commit` for each committed
block; the runtime imports nothing of the API.

Left out: peer exchange (the transport dials the configured peers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.chainstate import ChainState, decode_chain_state, genesis_state
from consensus.crypto import PrivateKey, VerifiedMemo
from consensus.engine import Engine, TimeoutFired
from consensus.errors import DecodeError, FaircoopError
from consensus.ledger import SignatureCache
from consensus.types import BlockTx, Genesis, PublicKey, TxId
from faircoop_node.logs import EventLogger, LogContext, event_logger
from faircoop_node.mempool import Mempool
from faircoop_node.net.envelope import MsgType, Status, encode_status
from faircoop_node.net.transport import PeerEvent, PeerId, Tip, Transport
from faircoop_node.node.catchup import CatchUp, CatchUpOptions
from faircoop_node.node.counters import NodeCounters
from faircoop_node.node.driver import Committed, ConsensusDriver, DriverOptions
from faircoop_node.node.gossip import SeenCache
from faircoop_node.node.inbox import Inbox, InboxDuty
from faircoop_node.node.inflow import PeerInflow
from faircoop_node.node.outage import OutageDuty
from faircoop_node.node.peers import POOL_RESEND_S, PeerMessages, Work
from faircoop_node.node.ports import StoreLedger, StorePool, SystemClock, TransportOutbox
from faircoop_node.node.serve import BlockServer
from faircoop_node.node.signing import SignedRecord, decode_signed_record
from faircoop_node.node.sync import SyncTracker
from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.errors import StoreWriteFailed

BEHIND_TICK_S = 0.02  # the tick's period while a peer is ahead of us (we may need to sync)
GATE_SLACK_S = 0.001  # a tick for the gate comes this late, so it never finds it just shut
# Work that feeds the consensus driver, dropped while the store refuses writes (outage.py)
DRIVER_WORK = frozenset({"vote", "proposal", "blocks", "timeout", "start"})


class NodeError(FaircoopError):
    """The node can't start or continue (a store that disagrees with the genesis, ...)."""


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """Live facts about the node that are not in its store."""

    node_id: str  # the node's public identity, hex (its key for a validator)
    round: int  # the consensus round at the current height
    peers: int  # connected P2P peers
    validator: bool  # True when this node signs votes


CommitListener = Callable[[Committed], None]


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """Timings of the node's own duties (consensus timings are chain parameters)."""

    tick_s: float = 0.1  # how often periodic duties (sync, re-sends) run; the gate is timed
    gossip_s: float = 1.0  # a node stuck this long re-sends what it signed, and asks for blocks
    status_s: float = 2.0  # STATUS (our tip) to every peer when they have not heard from us
    sync_batch: int = 250
    sync_timeout_s: float = 5.0
    sync_delay_s: float = 0.3  # a peer one block ahead for this long means we missed a commit
    join_wait_s: float = 3.0  # a validator without a last-signed record waits this for peers
    validate_in_thread: bool = True
    inbox: Path | None = None  # a directory of governance actions to carry (see `inbox.py`)
    inbox_s: float = 2.0  # how often the inbox is read
    store_retry_s: float = 2.0  # after the store refused a write, how often it is tried again


class Node:
    """A validator or observer: its parts, a store, a mempool and a transport.

    Build it, `attach` a transport, register `on_commit` listeners, `await start()`, and
    `await stop()`. Readers (the API) use store, mempool, status(), chain_state(), submit_tx().
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
        self.options = opts = options or NodeOptions()
        self.ctx = log_context or LogContext.for_node(self.pubkey)
        self.log: EventLogger = event_logger("faircoop.node", self.ctx)
        self.clock = SystemClock(clock_ms)
        self.sig_cache = SignatureCache()
        self.sigs = VerifiedMemo()  # vote and proposal signatures checked once per node
        self._mempool = Mempool(genesis.chain_id, self.sig_cache)
        self._commit_listeners: list[CommitListener] = []
        self.seen = SeenCache()
        self.counters = NodeCounters()
        self.transport: Transport | None = None
        state = self._load_state()
        tip = store.tip()
        last_cert = (store.get_certificate(tip.height) or b"") if tip.height else b""
        self.sync = SyncTracker(opts.sync_batch, opts.sync_timeout_s)
        self._outbox = TransportOutbox(lambda: self.transport, self.seen, self.clock.monotonic,
                                       lambda h: self.peers.passed(h),
                                       lambda: self.peers.lagging())
        self.driver = ConsensusDriver(
            genesis, state, last_cert, key, validator=validator,
            ledger=StoreLedger(store, self.sig_cache, self.sigs, opts.validate_in_thread),
            outbox=self._outbox, schedule=self._schedule,
            clock=self.clock, pool=StorePool(self._mempool, store), on_commit=self._committed,
            on_action_included=self._action_included, log=self.log,
            options=DriverOptions(gossip_s=opts.gossip_s), sigs=self.sigs)
        self._server = BlockServer(store, lambda: self.transport,
                                   lambda: self.driver.state.height)
        self.catchup = CatchUp(
            self.driver, store, self.sig_cache, self.sync, lambda: self.transport, self._punish,
            self._announce_status, self.counters, self.log,
            CatchUpOptions(opts.sync_timeout_s, opts.sync_delay_s, opts.join_wait_s))
        self.outage = OutageDuty(store, self.driver, self.catchup, self.log, opts.store_retry_s)
        self.peers = PeerMessages(self.driver, store, self._mempool, lambda: self.transport,
                                  self._punish, self.sync.saw, self.catchup.expects,
                                  self._server, self.seen, self.counters, self.sync,
                                  pooled=self._pooled)
        self._queue: asyncio.Queue[Work] = asyncio.Queue()  # peers' share bounded by _inflow
        self._inflow = PeerInflow()
        self._handlers: dict[str, Callable[[Work], Awaitable[None]]] = {
            "vote": self._on_vote, "proposal": self._on_proposal, "blocks": self._on_blocks,
            "timeout": self._on_timeout, "peer": self._on_peer_event, "tick": self._tick,
            "start": self._on_start,
        }
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_status_mono = 0.0
        self._neighbors_told = True  # our last STATUS named every peer we reach directly
        self._tick_queued = False
        self._ticker_wake: asyncio.Future[bool] | None = None
        self._gate_waits_for_tx = False
        self._inbox = None if opts.inbox is None else InboxDuty(
            Inbox(opts.inbox), self.driver, genesis.chain_id, self.log,
            lambda raw: self.peers.gossip_actions((raw,), frozenset()))
        self._inbox_mono = 0.0
        self._resend_mono = 0.0
        self._stopping = False
        self.running = False

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

    # -- views (the parts own the state; these read it) ----------------------------------------

    @property
    def state(self) -> ChainState:
        return self.driver.state

    @property
    def engine(self) -> Engine | None:
        return self.driver.engine

    @property
    def last_cert(self) -> bytes:
        return self.driver.last_cert

    @property
    def evidence(self) -> Any:
        return self.driver.evidence

    @property
    def wants_to_validate(self) -> bool:
        return self.driver.wants_to_validate

    @property
    def is_validator(self) -> bool:
        return self.driver.is_validator

    def current_round(self) -> int:
        return self.driver.current_round()

    @property
    def proposals_withheld(self) -> int:
        """Our proposals not sent because f + 1 validators had passed their height."""
        return self._outbox.withheld

    # -- what readers (the API) use ---------------------------------------------------------

    @property
    def store(self) -> BaseStore:
        return self._store

    @property
    def mempool(self) -> Mempool:
        return self._mempool

    def status(self) -> NodeStatus:
        peers = len(self.transport.peers()) if self.transport is not None else 0
        return NodeStatus(self.pubkey.hex(), self.current_round(), peers, self.is_validator)

    def chain_state(self) -> ChainState:
        return self.state

    async def submit_tx(self, tx: BlockTx) -> TxId:
        return self.peers.submit(tx)

    async def submit_action(self, raw: bytes) -> str:
        """A governance action or recovery (its block encoding) from the API: "pooled" or
        "already_pooled"; DecodeError or ValidationError (with its rule) says why not."""
        return self.peers.submit_action(raw)

    def pooled_actions(self) -> tuple[bytes, ...]:
        """The governance actions held for proposers to carry, in pool order (a copy)."""
        return tuple(self.driver.actions)

    def held_recoveries(self) -> tuple[bytes, ...]:
        """The recoveries held until they are due (a copy)."""
        return tuple(self.driver.recoveries)

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener` with each block this node commits, on the node's loop once the block
        is on disk (by consensus or catch-up sync). It must not block; what it raises is logged.
        Listeners are the process's wiring (a few), registered before `start`."""
        self._commit_listeners.append(listener)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.transport is None:
            raise NodeError("attach a transport before starting the node")
        self.ctx.at(self.state.height, None)
        record = self._load_record()
        self.log.info("node_starting", tip=self.state.height, validator=self.is_validator,
                      last_signed=None if record is None else
                      [record.state.height, record.state.round, int(record.state.step)])
        await self.transport.start()
        self.running = True
        self._tasks.append(asyncio.create_task(self._loop(), name="node-loop"))
        self._tasks.append(asyncio.create_task(self._ticker(), name="node-ticker"))
        if self.wants_to_validate and record is None:
            # no record of what this key signed: learn the network's tip first (see signing.py)
            self.catchup.joining_since = self.clock.monotonic()
            self.log.info("rejoin_wait", reason="no last-signed state on disk")
        else:
            self._queue.put_nowait(Work("start", record))

    def _load_record(self) -> SignedRecord | None:
        raw = self._store.get_last_signed()
        if raw is None:
            return None
        try:
            return decode_signed_record(raw)
        except DecodeError as exc:
            raise NodeError(f"the last-signed record can't be read: {exc}; refusing to sign "
                            "with an unknown history (see docs/OPERATIONS.md)") from None

    async def stop(self) -> None:
        """Stop taking work, finish the item in hand (a commit completes), close the transport.

        The store is left open for the caller to close (it may be shared with a test).
        """
        if not self.running:
            return
        self.running = False
        self._stopping = True
        self._queue.put_nowait(Work("stop"))
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        self._inflow.close()
        await self.peers.close()
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
        self.log.info("node_stopped", tip=self.state.height)

    # -- inputs: the transport's handlers, timers and the ticker --------------------------------

    async def _on_message(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
        """A peer's message, judged at once (`peers.py`); what the driver must act on waits in
        the queue, within the peer's share of it (`inflow.py`)."""
        if self._stopping:
            return
        try:
            work = await self.peers.admit(peer, msg_type, payload)
        except DecodeError as exc:
            self._punish(peer, f"bad {msg_type.name}: {exc}")
            return
        if work is None:
            return
        await self._inflow.admit(peer, work.size)
        if self._stopping:
            self._inflow.done(peer, work.size)
            return
        self._queue.put_nowait(work)

    async def _on_peer(self, event: PeerEvent) -> None:
        if not self._stopping:
            self._queue.put_nowait(Work("peer", event))

    def _schedule(self, event: TimeoutFired, delay_ms: int) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            if not self._stopping:
                self._queue.put_nowait(Work("timeout", event))

        handle = loop.call_later(delay_ms / 1000, fire)
        self._timers.add(handle)

    async def _ticker(self) -> None:
        """Queue a tick when the production gate opens, and for the periodic duties: every
        `tick_s`, or `BEHIND_TICK_S` while a peer is ahead of us.

        The gate's moment is computed (`ConsensusDriver.gate_wait`), not polled: polling it
        every 20 ms cost each idle validator 50 wake-ups a second, half of its CPU at four
        validators, and 50 validators on one machine 2,500. A commit, a tx entering an empty
        pool and a handled tick change that moment: they call `_retime_ticker`. One tick in
        the queue at a time, so a busy node still runs its periodic duties."""
        loop = asyncio.get_running_loop()
        while True:
            wake = self._ticker_wake = loop.create_future()
            timer = loop.call_later(self._tick_wait(), _resolve, wake, True)
            due = await wake
            timer.cancel()
            if due and not self._tick_queued:
                self._tick_queued = True
                self._queue.put_nowait(Work("tick"))

    def _tick_wait(self) -> float:
        # no gate while a tick waits in the queue, or the store is out (no height can start:
        # an open gate would make this a 1 ms loop)
        gate = None if self._tick_queued or self.outage.active else \
            self.driver.gate_wait(self.clock.monotonic())
        self._gate_waits_for_tx = gate is not None and not len(self._mempool)
        behind = self.sync.behind_since is not None  # a peer is ahead: sync steps come quick
        period = min(self.options.tick_s, BEHIND_TICK_S) if behind else self.options.tick_s
        return period if gate is None else min(period, gate + GATE_SLACK_S)

    def _retime_ticker(self) -> None:
        _resolve(self._ticker_wake, False)

    def _pooled(self) -> None:
        """A tx entered the pool: if the gate was waiting out a heartbeat for want of one,
        it now opens a block interval after the last block."""
        if self._gate_waits_for_tx:
            self._gate_waits_for_tx = False
            self._retime_ticker()

    def _punish(self, peer: PeerId, reason: str) -> None:
        self.counters.punished.append(reason)
        self.counters.punished_total += 1
        self.log.warning("peer_punished", peer=peer.hex()[:16], reason=reason)
        if self.transport is not None:
            self.transport.punish(peer, reason)

    # -- the loop ------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            work = await self._queue.get()
            if work.peer is not None:
                self._inflow.done(work.peer, work.size)
            if work.kind == "stop" or self._stopping:
                return
            if self.outage.active and work.kind in DRIVER_WORK:
                continue
            try:
                await self._handlers[work.kind](work)
            except StoreWriteFailed as exc:
                self.outage.failed(exc, self.clock.monotonic())
            except FaircoopError as exc:
                self.log.error("node_error", kind=work.kind, error=str(exc))
            except Exception as exc:  # a bug: log it with its traceback, keep the node alive
                self.log.error("node_bug", kind=work.kind, exc_info=exc)
            engine = self.driver.engine
            if engine is not None:
                self.ctx.at(engine.height, self.current_round())

    async def _on_start(self, work: Work) -> None:
        await self.driver.start(work.payload)

    async def _on_vote(self, work: Work) -> None:
        await self.driver.deliver_vote(work.payload)

    async def _on_proposal(self, work: Work) -> None:
        await self.driver.deliver_proposal(work.payload)

    async def _on_blocks(self, work: Work) -> None:
        assert work.peer is not None
        await self.catchup.on_blocks(work.peer, work.payload, self.clock.monotonic())
        self._retime_ticker()  # still behind, or not any more

    async def _on_timeout(self, work: Work) -> None:
        await self.driver.timeout(work.payload)

    async def _on_peer_event(self, work: Work) -> None:
        event: PeerEvent = work.payload
        peer = event.info.node_id
        if event.connected:
            self.sync.saw(peer, event.info.tip_height)
            self.log.info("peer_up", peer=peer.hex()[:16], tip=event.info.tip_height)
            # the newcomer hears our tip and what we signed at this height (lost to it if it
            # reconnected); the rest learn of the new neighbor within status_s: a burst of
            # connections (a restart among n peers) costs one broadcast, not n
            self._status_to(peer)
            self._neighbors_told = False
            self.driver.regossip(to=peer)
            self.peers.offer_pool(peer)
        else:
            self.sync.forget(peer)
            self.peers.forget(peer)
            self.log.info("peer_down", peer=peer.hex()[:16], reason=event.reason)
            self._announce_status()  # our neighbors changed: peers relay to us again

    async def _tick(self, work: Work) -> None:
        self._tick_queued = False
        try:
            await self._duties()
        finally:
            self._retime_ticker()  # what they did may move the gate or put us behind

    async def _duties(self) -> None:
        now = self.clock.monotonic()
        if self.outage.active:
            await self.outage.tick(now)
            return
        if self.catchup.joining_since is not None:
            await self.catchup.maybe_finish_join(now)
        elif await self.driver.tick():
            self.counters.regossips += 1
            self._announce_status()  # stuck: tell peers where we are
        await self.catchup.settle_recovery(now)
        self.catchup.maybe_sync(now)
        if now - self._resend_mono >= POOL_RESEND_S:
            self._resend_mono = now
            self.peers.resend_stale()
        if self._inbox is not None and now - self._inbox_mono >= self.options.inbox_s:
            self._inbox_mono = now
            await self._inbox.scan()
        since_status = now - self._last_status_mono
        if since_status >= self.options.status_s and (
                not self._neighbors_told or
                now - self._outbox.last_sent_mono >= self.options.status_s):
            self._announce_status()  # news of neighbors, or peers have not heard from us

    # -- after a commit ------------------------------------------------------------------------

    def _committed(self, c: Committed) -> None:
        h = c.block.header
        for listener in self._commit_listeners:
            try:
                listener(c)
            except Exception as exc:  # a watcher's bug must not stop the commit's bookkeeping
                self.log.error("commit_listener_failed", height=h.height,
                               error=f"{type(exc).__name__}: {exc}")
        self.ctx.at(h.height, c.round)
        self._retime_ticker()  # the gate's clock starts again
        if c.source == "consensus":
            # no STATUS here: peers deciding with us learn our height from our votes, and a
            # STATUS follows when we have been quiet for `status_s` (n - 1 frames a block saved)
            self.counters.committed_consensus += 1
        # a synced range logs one `blocks_synced` line; per block only at DEBUG
        emit = self.log.debug if c.source == "sync" else self.log.info
        emit("block_committed", hash=c.block_id.hex(), txs=len(c.block.txs),
             proposer=h.proposer.hex()[:16], source=c.source, mempool=len(self._mempool),
             timeline_ms=c.timeline_ms)

    def _action_included(self, raw: bytes) -> None:
        if self._inbox is not None:
            self._inbox.included(raw)

    def _announce_status(self) -> None:
        if self.transport is None:
            return
        self._last_status_mono = self.clock.monotonic()
        self._neighbors_told = True
        self.transport.broadcast(MsgType.STATUS, self._status())

    def _status_to(self, peer: PeerId) -> None:
        if self.transport is not None:
            self.transport.send(peer, MsgType.STATUS, self._status())

    def _status(self) -> bytes:
        return encode_status(Status(self.state.height, self.state.last_block_id,
                                    self.current_round(), self.peers.neighbors()))

def _resolve(future: asyncio.Future[bool] | None, value: bool) -> None:
    if future is not None and not future.done():
        future.set_result(value)


__all__ = ["CommitListener", "Node", "NodeError", "NodeOptions", "NodeStatus"]
