"""When this node committed each recent block: the finality latency the overview shows.

A block's header carries its proposer's clock (`time_ms`); the node notes its own clock when it
commits the block. The difference is the block's finality latency as seen here: from proposal
to a certificate this node holds (clocks of different coops may differ by up to the chain's
`max_clock_drift_ms`, so a single figure can be off by that much; the median of many is what
to read). Blocks committed before the process started have no figure.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

KEPT = 512  # recent blocks remembered: 512 x ~100 bytes


@dataclass(frozen=True, slots=True)
class Commit:
    height: int
    header_time_ms: int
    committed_ms: int

    @property
    def latency_ms(self) -> int:
        return max(0, self.committed_ms - self.header_time_ms)


class CommitLog:
    """The last `KEPT` commits, by height (written on the event loop, read from threads)."""

    def __init__(self, kept: int = KEPT, clock_ms: Callable[[], int] | None = None) -> None:
        self._kept = kept
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._commits: OrderedDict[int, Commit] = OrderedDict()

    def record(self, height: int, header_time_ms: int) -> None:
        self._commits[height] = Commit(height, header_time_ms, self._clock_ms())
        while len(self._commits) > self._kept:
            self._commits.popitem(last=False)

    def get(self, height: int) -> Commit | None:
        return self._commits.get(height)
