"""Catch-up: fetch final blocks from peers that are ahead, check and store them, and join.

A node that learns a peer is ahead (`sync.SyncTracker`: a claim from a handshake, a STATUS, a
checked vote) asks it for a range; each block is stored only if its certificate proves it final
on our chain (`sync.store_range`), and a block that carries a governors' recovery first waits
for the other peers' word (`sync.RecoveryCheck`). Then the driver restarts at the new tip.

Joining: a validator with no last-signed record (a lost data directory) first catches up to the
network's tip T, then records the rejoin floor for T and only then starts its engine (see
`signing.py`), so it never signs twice what it may have signed before the loss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from consensus.codec import block_hash, decode_block
from consensus.ledger import SignatureCache
from consensus.types import Block
from consensus.votes import decode_certificate
from faircoop_node.logs import EventLogger
from faircoop_node.net.envelope import BlockRange, GetBlocks, MsgType, encode_get_blocks
from faircoop_node.net.transport import PeerId, Transport
from faircoop_node.node.counters import NodeCounters
from faircoop_node.node.driver import Committed, ConsensusDriver
from faircoop_node.node.signing import rejoin_floor
from faircoop_node.node.sync import RecoveryCheck, SyncTracker, get_blocks_for, store_range
from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.errors import StoreWriteFailed


@dataclass(frozen=True, slots=True)
class CatchUpOptions:
    sync_timeout_s: float = 5.0
    sync_delay_s: float = 0.3  # a peer one block ahead for this long means we missed a commit
    join_wait_s: float = 3.0  # a validator without a last-signed record waits this for peers


class CatchUp:
    def __init__(self, driver: ConsensusDriver, store: BaseStore, sig_cache: SignatureCache,
                 tracker: SyncTracker, transport: Callable[[], Transport | None],
                 punish: Callable[[PeerId, str], None], announce: Callable[[], None],
                 counters: NodeCounters, log: EventLogger, options: CatchUpOptions) -> None:
        self.driver = driver
        self._store = store
        self._sig_cache = sig_cache
        self.tracker = tracker
        self._transport = transport
        self._punish = punish
        self._announce = announce
        self._counters = counters
        self.log = log
        self.options = options
        self.check: RecoveryCheck | None = None
        self.joining_since: float | None = None
        self.synced_to = -1  # the height the last synced range brought us to
        self._join_warned = False

    def _connected(self) -> set[PeerId]:
        transport = self._transport()
        return {p.node_id for p in transport.peers()} if transport is not None else set()

    def expects(self, peer: PeerId, start: int) -> bool:
        check = self.check
        return self.tracker.expects(peer, start) or \
            (check is not None and check.expects(peer, start))

    # -- asking ------------------------------------------------------------------------------

    def maybe_sync(self, now: float) -> None:
        transport = self._transport()
        if transport is None or self.check is not None:
            return
        connected = self._connected()
        ours = self.driver.state.height
        network = self.tracker.network_tip(connected, ours)
        if network <= ours:
            self.tracker.behind_since = None
            return
        if self.tracker.behind_since is None:
            self.tracker.behind_since = now
        engine = self.driver.engine
        deciding = engine is not None and engine.height == ours + 1 and not self.driver.gated
        # arrived here by sync, we never saw this height's proposal go out: waiting for our
        # own commit would let a fast chain (a block every 100 ms) outrun us for good
        close = network == ours + 1 and deciding and self.synced_to != ours
        if close and now - self.tracker.behind_since < self.options.sync_delay_s:
            return  # one block behind while deciding it: our own commit is probably coming
        req = self.tracker.next_request(ours, connected)
        if req is not None:
            self._counters.sync_requests += 1
            transport.send(req.peer, MsgType.GET_BLOCKS, encode_get_blocks(get_blocks_for(req)))

    # -- answers -----------------------------------------------------------------------------

    async def on_blocks(self, peer: PeerId, answer: BlockRange, now: float) -> None:
        check = self.check
        if check is not None and check.expects(peer, answer.start):
            items = self._decoded(peer, answer)
            check.take(peer, items[0] if items else None)
            await self.settle_recovery(now)
            return
        if not self.tracker.answered(peer, answer.start, len(answer.blocks)):
            return  # unasked, or late: ignore rather than judge
        fresh = [(b, c) for b, c in self._decoded(peer, answer) if not self._have(peer, b)]
        if fresh:
            await self._store_range(peer, fresh)

    def _decoded(self, peer: PeerId, answer: BlockRange) -> list[tuple[Block, bytes]]:
        """The answer's blocks, decoded, up to the first out of order (whose sender pays)."""
        items: list[tuple[Block, bytes]] = []
        for i, item in enumerate(answer.blocks):
            block = decode_block(item.block)
            if block.header.height != answer.start + i:
                self._punish(peer, "BLOCKS out of order")
                break
            items.append((block, item.certificate))
        return items

    def _have(self, peer: PeerId, block: Block) -> bool:
        height = block.header.height
        if height > self.driver.state.height:
            return False
        have = self._store.get_hash_at(height)
        if have is not None and have != block_hash(block.header):
            self.log.error("conflicting_final_block", height=height, peer=peer.hex()[:16])
        return True

    async def _store_range(self, peer: PeerId, items: list[tuple[Block, bytes]],
                           recovery_ok: int | None = None) -> None:
        driver = self.driver
        signed = None if driver.record is None else driver.record.state.height
        outcome = await asyncio.to_thread(store_range, self._store, self._sig_cache,
                                          driver.state, items, signed, recovery_ok,
                                          driver.sigs.verify)
        for block, block_id, certificate, valid in outcome.done:
            driver.committed(Committed(block, block_id, certificate,
                                       decode_certificate(certificate).round, "sync"),
                             valid.state)
            self._counters.committed_sync += 1
        if outcome.done:
            first, last = outcome.done[0][0].header.height, outcome.done[-1][0].header.height
            self.synced_to = last
            self.log.info("blocks_synced", first=first, last=last, count=len(outcome.done),
                          peer=peer.hex()[:16])
        if outcome.problem is not None:
            self._punish(peer, outcome.problem)
        if isinstance(outcome.bug, StoreWriteFailed):
            raise outcome.bug  # the disk refused: an outage (outage.py), not a bug
        if outcome.bug is not None:
            self.log.error("node_bug", kind="sync", exc_info=outcome.bug)
        if outcome.recovery is not None:
            self._check_recovery(peer, *outcome.recovery)
        if outcome.done:
            self._announce()
            self.maybe_sync(driver.clock.monotonic())
            await driver.after_sync()

    # -- a recovery block offered by sync (see sync.RecoveryCheck) ---------------------------

    def _check_recovery(self, peer: PeerId, block: Block, certificate: bytes) -> None:
        """Ask every other peer for the recovery block's height before taking it."""
        height = block.header.height
        others = self._connected() - {peer}
        self.check = RecoveryCheck(height, block, certificate, peer, set(others),
                                   self.driver.clock.monotonic() + self.options.sync_timeout_s)
        self.log.info("recovery_block_offered", height=height, peer=peer.hex()[:16],
                      asking=len(others))
        request = encode_get_blocks(GetBlocks(height, 1))
        transport = self._transport()
        for other in others:
            if transport is not None:
                transport.send(other, MsgType.GET_BLOCKS, request)

    async def settle_recovery(self, now: float) -> None:
        check = self.check
        if check is None or not check.settled(now):
            return
        self.check = None
        state = self.driver.state
        if check.height != state.height + 1:
            return  # the chain moved on meanwhile
        outcome, item, winner = check.decide(state)
        if outcome == "plain":
            assert item is not None and winner is not None
            self.log.warning("recovery_block_refused", height=check.height,
                             offered_by=check.offered_by.hex()[:16],
                             reason="another peer holds a block the old voting set certified")
            self.tracker.failed(check.offered_by, state.height)
            await self._store_range(winner, [item])
        elif outcome == "recovery":
            assert item is not None
            self.log.warning("recovery_block_taken", height=check.height,
                             confirmed_by=len(check.answers))
            await self._store_range(check.offered_by, [item], recovery_ok=check.height)
        else:
            self.log.error("conflicting_recovery_blocks", height=check.height,
                           reason="peers hold different recoveries for this height: the "
                                  "governors signed two; an operator must choose")
            self.tracker.failed(check.offered_by, state.height)

    # -- joining without a last-signed record --------------------------------------------------

    async def maybe_finish_join(self, now: float) -> None:
        assert self.joining_since is not None
        connected = self._connected()
        waited = now - self.joining_since
        height = self.driver.state.height
        if not connected and (waited < self.options.join_wait_s or height > 0):
            if waited >= self.options.join_wait_s and not self._join_warned:
                self._join_warned = True
                self.log.warning("rejoin_waiting_for_peers",
                                 reason="no peer reachable to learn the network's tip")
            return  # alone past genesis we can't know what we may have signed: wait for peers
        network = self.tracker.network_tip(connected, height)
        if network > height or self.tracker.busy():
            return  # still syncing
        if connected and waited < min(0.5, self.options.join_wait_s):
            return  # give every peer's handshake a moment to report its tip
        self.joining_since = None
        if network == 0 and all(self.tracker.claims.get(p, 0) == 0 for p in connected):
            self.log.info("rejoin_done", mode="network_launch", tip=0)
            await self.driver.start(None)
            return
        self.log.info("rejoin_done", mode="synced", tip=height, votes_from=height + 2)
        await self.driver.rejoin(rejoin_floor(height))
