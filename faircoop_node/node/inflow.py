"""A bound on what peers' messages may hold in the node's work queue, per peer and in all.

Why: the transport hands the node one message of a peer at a time and reads that peer's next
frame only when the handler returns, but the handler only queued the message, so a peer that
sent fast filled the node's one queue without limit. Now a handler waits (and so its peer's
socket waits, which is TCP's backpressure) while that peer already has `per_peer_items` or
`per_peer_bytes` queued, or all peers together `total_items` or `total_bytes`. A peer with
nothing queued may always queue one message, so no peer is starved by the others.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from faircoop_node.net.transport import PeerId

PER_PEER_ITEMS = 256
PER_PEER_BYTES = 16 * 1024 * 1024
TOTAL_ITEMS = 4_096
TOTAL_BYTES = 64 * 1024 * 1024


class PeerInflow:
    """Counts queued messages by peer; `admit` waits for room, `done` makes it."""

    def __init__(self, per_peer_items: int = PER_PEER_ITEMS,
                 per_peer_bytes: int = PER_PEER_BYTES, total_items: int = TOTAL_ITEMS,
                 total_bytes: int = TOTAL_BYTES) -> None:
        self._limits = (per_peer_items, per_peer_bytes, total_items, total_bytes)
        self._items: Counter[PeerId] = Counter()
        self._bytes: Counter[PeerId] = Counter()
        self.total_items = 0
        self.total_bytes = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def _fits(self, peer: PeerId, size: int) -> bool:
        if not self._items[peer] or self._closed:
            return True
        per_items, per_bytes, all_items, all_bytes = self._limits
        return (self._items[peer] < per_items and self._bytes[peer] + size <= per_bytes
                and self.total_items < all_items and self.total_bytes + size <= all_bytes)

    async def admit(self, peer: PeerId, size: int) -> None:
        """Wait until `peer` may queue a message of `size` bytes, and count it."""
        while not self._fits(peer, size):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        self._items[peer] += 1
        self._bytes[peer] += size
        self.total_items += 1
        self.total_bytes += size

    def done(self, peer: PeerId, size: int) -> None:
        """A message of `peer`'s left the queue."""
        self._items[peer] -= 1
        self._bytes[peer] -= size
        if self._items[peer] <= 0:
            del self._items[peer]
            del self._bytes[peer]
        self.total_items -= 1
        self.total_bytes -= size
        self._wake()

    def close(self) -> None:
        """Let every waiting handler through (the node is stopping and drops what comes)."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def queued(self, peer: PeerId) -> int:
        return self._items.get(peer, 0)
