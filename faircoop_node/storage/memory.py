"""`MemoryStore`: the chain store over a sorted in-memory map, for tests and the simulator.

It runs exactly the same code as `LevelDBStore` (see `base.BaseStore`), so a test that passes
on one passes on the other. Nothing survives the process.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping

from consensus.types import Genesis
from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.errors import StoreClosed
from faircoop_node.storage.keyvalue import prefix_end


class MemoryKV:
    """A dict plus a sorted key list, so range reads are ordered like LevelDB's."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []
        self._lock = threading.Lock()
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise StoreClosed("the memory store is closed")

    def get(self, key: bytes) -> bytes | None:
        self._check()
        with self._lock:  # a write's batch is seen whole or not at all, as in LevelDB
            return self._data.get(key)

    def items(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check()
        lo_key = max(start, prefix) if start is not None else prefix
        end = prefix_end(prefix)
        hi_key = end if stop is None else (stop if end is None else min(stop, end))
        with self._lock:  # a snapshot, as a LevelDB iterator sees one
            lo = bisect_left(self._keys, lo_key)
            hi = len(self._keys) if hi_key is None else bisect_left(self._keys, hi_key)
            pairs = [(k, self._data[k]) for k in self._keys[lo:hi]]
        if reverse:
            pairs.reverse()
        return iter(pairs)

    def write(self, writes: Mapping[bytes, bytes | None], *, sync: bool) -> None:
        self._check()
        with self._lock:
            data, keys = self._data, self._keys
            for key, value in writes.items():
                if value is None:
                    if key in data:
                        del data[key]
                        del keys[bisect_left(keys, key)]
                else:
                    if key not in data:
                        insort(keys, key)
                    data[key] = bytes(value)

    def is_empty(self) -> bool:
        self._check()
        return not self._data

    def close(self) -> None:
        self._closed = True

    def reopen(self) -> None:
        """Nothing to do: a memory write never fails half way."""
        self._check()


class MemoryStore(BaseStore):
    """A chain store that lives in memory; `MemoryStore(genesis)` starts at height 0."""

    def __init__(self, genesis: Genesis, *, genesis_chain_state: bytes = b"") -> None:
        super().__init__(MemoryKV(), genesis, create=True, where="memory store",
                         genesis_chain_state=genesis_chain_state)
