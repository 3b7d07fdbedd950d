"""What a slow, lossy link does to a TCP stream, in userspace (this kernel has no `netem`).

A `Shape` is a link's character, applied by the proxy to every chunk it forwards, each way:

- `latency_ms` and `jitter_ms`: each chunk is held back latency + U(-jitter, +jitter) ms (at
  least 0). A TCP stream keeps its order, so a chunk never overtakes the one before it; that is
  what jitter does to a stream. Messages on different links do overtake each other (a vote
  relayed over one link arrives after a later one sent over another): that is the reordering
  a node can see, so that is the reordering there is.
- `rate_kbps`: the link's bandwidth, a token bucket; a node's access link (`Access`) is one
  bucket each way shared by all its links.
- `loss`: the chance that a 1,460-byte segment is lost. TCP resends it, so the stream stalls
  for a retransmission timeout (200 ms, doubling for each further loss in one chunk, as
  TCP backs off) and nothing is lost: what packet loss does to an application on TCP.
- `cuts_per_min`: connections reset at random points, mid-frame included, this often on
  average (exponential gaps): what dropping means for WebSocket traffic, where a stream with
  a hole in it is a broken connection.

Everything random comes from the hub's seeded `random.Random`, so a schedule of shapes replays;
the timing of the traffic itself does not.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

SEGMENT = 1460  # bytes of a TCP segment on a 1,500-byte MTU
RTO_S = 0.2  # Linux's minimum retransmission timeout
MAX_STALL_S = 3.0  # a chunk's retransmission stall is capped here


@dataclass(frozen=True, slots=True)
class Shape:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_kbps: float | None = None  # None: as fast as loopback
    loss: float = 0.0  # per segment
    cuts_per_min: float = 0.0  # per connection

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0 or not 0 <= self.loss < 1 or \
                self.cuts_per_min < 0 or (self.rate_kbps is not None and self.rate_kbps <= 0):
            raise ValueError(f"impossible link shape {self}")

    @property
    def clean(self) -> bool:
        return self == CLEAN

    def delay_s(self, size: int, rng: random.Random) -> float:
        """How long a chunk of `size` bytes is held back before it may be sent on."""
        delay = max(0.0, self.latency_ms + rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000
        if self.loss:
            lost = sum(rng.random() < self.loss for _ in range(-(-size // SEGMENT)))
            if lost:
                delay += min(MAX_STALL_S, RTO_S * (2 ** lost - 1))
        return delay

    def next_cut_s(self, rng: random.Random) -> float | None:
        """Seconds until this connection is cut (None: never)."""
        if not self.cuts_per_min:
            return None
        return rng.expovariate(self.cuts_per_min / 60)

    def describe(self) -> str:
        parts = []
        if self.latency_ms or self.jitter_ms:
            parts.append(f"{self.latency_ms:g}±{self.jitter_ms:g} ms")
        if self.rate_kbps is not None:
            parts.append(f"{self.rate_kbps:g} kbit/s")
        if self.loss:
            parts.append(f"{self.loss:.1%} loss")
        if self.cuts_per_min:
            parts.append(f"{self.cuts_per_min:g} cuts/min")
        return ", ".join(parts) or "clean"


CLEAN = Shape()


class TokenBucket:
    """Bandwidth: `take(n)` returns once `n` bytes may pass at `rate_kbps` (bursts up to
    `burst_s` of it). Used from one event loop only."""

    def __init__(self, rate_kbps: float, burst_s: float = 0.05) -> None:
        self.rate = rate_kbps * 1000 / 8  # bytes per second
        self.capacity = max(float(SEGMENT), self.rate * burst_s)
        self.tokens = self.capacity
        self.stamp: float | None = None

    async def take(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= n  # may go negative: the debt is waited out here, by this taker
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


@dataclass
class Access:
    """A node's access link: one bucket for what it sends, one for what it receives."""

    up: TokenBucket
    down: TokenBucket

    @classmethod
    def of(cls, rate_kbps: float) -> Access:
        return cls(TokenBucket(rate_kbps), TokenBucket(rate_kbps))
