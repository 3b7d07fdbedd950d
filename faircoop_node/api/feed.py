"""The new-block feed: a fan-out of committed-block events, and the counters /metrics reads.

The node calls `BlockFeed.publish` once per committed block (from its event loop, never
blocking); each open `blocks/stream` holds a `Subscription`. A subscriber that falls more than
`max_backlog` events behind is dropped rather than letting its queue grow without bound: its
stream ends and the client reconnects (SSE clients do that by themselves). Events are
fixed-size (`NewBlock`: four fields, about 250 bytes with the object overhead), so the bound in
items is one in bytes too: 256 events, ~64 KiB per subscriber; the number of subscribers is
capped by the API (`ApiLimits.max_streams`).

The feed also keeps the committed-block and committed-tx totals since the process started and
a sliding window of recent commits, so the tx/s rate needs no extra bookkeeping in the node.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from consensus.types import BlockHash

DEFAULT_WINDOW_S = 60.0
DEFAULT_BACKLOG = 256


@dataclass(frozen=True, slots=True)
class NewBlock:
    """One committed block, as the stream announces it."""

    height: int
    hash: BlockHash
    tx_count: int
    time_ms: int  # the header's time (the proposer's clock)

    def as_json(self) -> dict[str, object]:
        return {"height": self.height, "hash": self.hash.hex(), "tx_count": self.tx_count,
                "time_ms": self.time_ms}


E = TypeVar("E")


class Subscription(Generic[E]):
    """One consumer's queue of events (new blocks, or an address's payments: `watch.py`);
    iterate it, and close it when done. Past `max_backlog` waiting events it closes itself."""

    def __init__(self, on_close: Callable[[Subscription[E]], None], max_backlog: int) -> None:
        self._on_close = on_close
        self._queue: asyncio.Queue[E | None] = asyncio.Queue(max_backlog + 1)
        self._max_backlog = max_backlog
        self.closed = False

    def offer(self, event: E) -> None:
        """Queue `event` (never blocks); a subscriber that far behind is closed instead."""
        if self.closed:
            return
        if self._queue.qsize() >= self._max_backlog:
            self.close()  # too slow: end its stream instead of buffering forever
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        """End the iteration (idempotent); a waiting `next_event` returns None."""
        if self.closed:
            return
        self.closed = True
        self._on_close(self)
        self._queue.put_nowait(None)

    async def next_event(self, timeout: float | None = None) -> E | None:
        """The next block; None once closed. TimeoutError if none arrives within `timeout`."""
        if self.closed and self._queue.empty():
            return None
        event = await asyncio.wait_for(self._queue.get(), timeout)
        if event is None:
            self._queue.put_nowait(None)  # keep later calls returning None
        return event

    async def __aiter__(self) -> AsyncIterator[E]:
        while (event := await self.next_event()) is not None:
            yield event


class BlockFeed:
    def __init__(
        self,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        max_backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        self._window_s = window_s
        self._clock = clock
        self._max_backlog = max_backlog
        self._subscribers: set[Subscription[NewBlock]] = set()
        self._recent: deque[tuple[float, int]] = deque()  # (clock, tx_count) per commit
        self._started = clock()
        self.blocks_total = 0
        self.txs_total = 0

    def publish(self, event: NewBlock) -> None:
        """Record a committed block and hand it to every subscriber; never blocks."""
        now = self._clock()
        self.blocks_total += 1
        self.txs_total += event.tx_count
        self._recent.append((now, event.tx_count))
        self._trim(now)
        for sub in tuple(self._subscribers):
            sub.offer(event)

    def subscribe(self) -> Subscription[NewBlock]:
        sub = Subscription(self._forget, self._max_backlog)
        self._subscribers.add(sub)
        return sub

    def close_all(self) -> None:
        """End every open subscription: the API calls this on shutdown."""
        for sub in tuple(self._subscribers):
            sub.close()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def tx_rate(self) -> float:
        """Committed txs per second over the sliding window (or since start, if shorter)."""
        now = self._clock()
        self._trim(now)
        span = min(self._window_s, now - self._started)
        if span <= 0:
            return 0.0
        return sum(n for _, n in self._recent) / span

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] <= now - self._window_s:
            self._recent.popleft()

    def _forget(self, sub: Subscription[NewBlock]) -> None:
        self._subscribers.discard(sub)
