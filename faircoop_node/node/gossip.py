"""Gossip bookkeeping: what this node already relayed, and the evidence it holds for proposers.

The network is a mesh of the configured peers, not necessarily complete, so a node forwards
each new vote, proposal, tx batch and piece of evidence once to every peer but the sender.
`SeenCache` remembers what was forwarded (by signature or hash) so a message makes one trip
around the mesh, not an endless one. `TxRelay` batches txs into TXS frames; `TxIntake` admits
relayed txs in slices from a bounded backlog. `EvidencePool` keeps checked duplicate-vote
evidence until a block carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence

from consensus.chainstate import ChainState, check_evidence_context
from consensus.errors import FaircoopError
from consensus.evidence import (
    DuplicateVoteEvidence,
    EvidenceKey,
    decode_evidence,
    encode_evidence,
)
from consensus.types import PublicKey
from faircoop_node.net.transport import PeerId

TX_BATCH = 500  # txs per relayed TXS frame
TX_FLUSH_S = 0.005  # relayed txs wait this long to share a frame (one write per peer per frame)
ADMIT_SLICE = 64  # relayed txs admitted between two turns of the event loop
ADMIT_BACKLOG = 10_000  # relayed txs waiting for admission; frames beyond it are dropped
ADMIT_BACKLOG_BYTES = 32 * 1024 * 1024  # ... and their bytes


class SeenCache:
    """A bounded set of recently seen message ids; the oldest are forgotten first."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add(self, key: bytes) -> bool:
        """Remember `key`; True if it is new (so the message should be handled and relayed)."""
        if key in self._items:
            return False
        self._items[key] = None
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return True


class TxRelay:
    """Txs to relay, queued per set of peers left out and sent as one frame per batch.

    Batching (up to `flush_s`, or `batch` txs) matters under load: each frame is a socket
    write at the sender and a read, decode and dispatch at every receiver, and unbatched most
    frames carried one or two txs. `send(txs, exclude)` puts one frame on the wire.
    """

    def __init__(self, send: Callable[[tuple[bytes, ...], frozenset[PeerId]], None],
                 flush_s: float = TX_FLUSH_S, batch: int = TX_BATCH) -> None:
        self._send = send
        self._flush_s = flush_s
        self._batch = batch
        self._out: dict[frozenset[PeerId], list[bytes]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, raws: Iterable[bytes], exclude: frozenset[PeerId]) -> None:
        """Queue encoded txs for every peer but `exclude` (call on the event loop)."""
        out = self._out.setdefault(exclude, [])
        out.extend(raws)
        if len(out) >= self._batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self.flush)

    def flush(self) -> None:
        self._cancel_timer()
        pending, self._out = self._out, {}
        for exclude, out in pending.items():
            for i in range(0, len(out), self._batch):
                self._send(tuple(out[i:i + self._batch]), exclude)

    def close(self) -> None:
        """Drop what is queued (the node is stopping)."""
        self._cancel_timer()
        self._out = {}

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TxIntake:
    """Relayed txs waiting for admission, admitted a slice at a time, with a bounded backlog.

    Why slices: admitting a tx costs about 0.1 ms (a signature check) and a frame holds up to
    `TX_BATCH` txs; admitted on receipt, one frame held the event loop for tens of ms while
    votes, proposals and API requests waited. Why a bound: past capacity, txs arrive faster
    than they are admitted; queueing them all delays consensus without end, so frames beyond
    `backlog` txs or `backlog_bytes` are dropped (counted in `shed`). Nothing is lost: they
    reach the node in blocks.
    `admit(peer, raws)` admits one slice in order and returns False to drop the rest of the
    frame (the peer sent junk and was punished).
    """

    def __init__(self, admit: Callable[[PeerId, Sequence[bytes]], bool],
                 slice_size: int = ADMIT_SLICE, backlog: int = ADMIT_BACKLOG,
                 backlog_bytes: int = ADMIT_BACKLOG_BYTES) -> None:
        self._admit = admit
        self._slice = slice_size
        self._backlog = backlog
        self._backlog_bytes = backlog_bytes
        self._frames: deque[tuple[PeerId, Sequence[bytes], int]] = deque()
        self._queued = 0
        self._queued_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self.shed = 0

    def __len__(self) -> int:
        """Txs queued and not yet taken up for admission."""
        return self._queued

    def add(self, peer: PeerId, raws: Sequence[bytes]) -> None:
        """Queue a frame's txs (call on the event loop); drop them if the backlog is full."""
        size = sum(len(raw) for raw in raws)
        if self._queued + len(raws) > self._backlog or \
                self._queued_bytes + size > self._backlog_bytes:
            self.shed += len(raws)
            return
        self._frames.append((peer, raws, size))
        self._queued += len(raws)
        self._queued_bytes += size
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._frames:
            peer, raws, size = self._frames.popleft()
            self._queued -= len(raws)
            self._queued_bytes -= size
            for start in range(0, len(raws), self._slice):
                if not self._admit(peer, raws[start:start + self._slice]):
                    break
                await asyncio.sleep(0)  # whatever else is ready runs before the next slice

    async def close(self) -> None:
        """Drop what is queued (the node is stopping)."""
        self._frames.clear()
        self._queued = self._queued_bytes = 0
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class EvidencePool:
    """Checked evidence not yet in a block, one piece per offender, in arrival order.

    One piece is enough to suspend a validator, so the pool holds at most one per offender and
    only evidence the next block could carry (`admission.judge_evidence` checks that before
    anything is pooled): its size is bounded by the validators of the evidence window, not by
    what peers send. `capacity` (items) and about 600 bytes an item bound it all the same.
    """

    def __init__(self, capacity: int = 1_000) -> None:
        self._capacity = capacity
        self._items: dict[PublicKey, tuple[EvidenceKey, bytes]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, offender: object) -> bool:
        return offender in self._items

    def add(self, evidence: DuplicateVoteEvidence) -> bool:
        """Pool checked evidence; False if its offender already has some, or the pool is full."""
        offender = evidence.offender
        if offender in self._items or len(self._items) >= self._capacity:
            return False
        self._items[offender] = (evidence.key(), encode_evidence(evidence))
        return True

    def items(self) -> tuple[bytes, ...]:
        return tuple(raw for _, raw in self._items.values())

    def refresh(self, state: ChainState) -> None:
        """Forget evidence the chain no longer takes (carried, punished, or too old)."""
        for offender, (_, raw) in list(self._items.items()):
            try:
                check_evidence_context(state, decode_evidence(raw))
            except FaircoopError:
                del self._items[offender]
