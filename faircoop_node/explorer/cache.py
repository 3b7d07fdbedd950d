"""Rendered pages kept for a moment, so a page many people (or a dashboard) reload costs one
render per block, not one per request.

A page is kept under its path and query and the tip height it was rendered at, for at most
`ttl_s` (so the mempool size and "seconds since the last block" are never older than that).
Only successful pages are kept. The cache is bounded in pages and in bytes, and the least
recently used page goes first, so hostile URLs can only evict pages, never grow it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CachedPage:
    body: bytes
    made: float


class PageCache:
    """Touched from the event loop only."""

    def __init__(self, *, ttl_s: float = 1.0, max_pages: int = 256, max_bytes: int = 16 * MIB,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._max_pages = max_pages
        self._max_bytes = max_bytes
        self._clock = clock
        self._pages: OrderedDict[tuple[str, int], CachedPage] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, path: str, tip: int) -> bytes | None:
        key = (path, tip)
        page = self._pages.get(key)
        if page is None or self._clock() - page.made > self._ttl_s:
            if page is not None:
                self._drop(key)
            self.misses += 1
            return None
        self._pages.move_to_end(key)
        self.hits += 1
        return page.body

    def put(self, path: str, tip: int, body: bytes) -> None:
        if len(body) > self._max_bytes // 4:
            return  # one huge page would evict everything else
        key = (path, tip)
        if key in self._pages:
            self._drop(key)
        self._pages[key] = CachedPage(body, self._clock())
        self.bytes += len(body)
        while len(self._pages) > self._max_pages or self.bytes > self._max_bytes:
            self._drop(next(iter(self._pages)))

    def _drop(self, key: tuple[str, int]) -> None:
        self.bytes -= len(self._pages.pop(key).body)
