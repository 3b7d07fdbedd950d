"""The key-value interface a store backend provides, apart from the store's logic, so that the
store (`base.py`) and the reindex (`reindex.py`) both build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol


class KeyValue(Protocol):
    """The little a backend provides. `write` applies all changes or none; when it fails
    with StoreWriteFailed, every later write fails too until `reopen`."""

    def get(self, key: bytes) -> bytes | None: ...

    def items(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Keys starting with `prefix`, within [start, stop) when given, in byte order."""
        ...

    def write(self, writes: Mapping[bytes, bytes | None], *, sync: bool) -> None: ...

    def is_empty(self) -> bool: ...

    def close(self) -> None: ...

    def reopen(self) -> None:
        """Close and open again on what is on disk: after a write failed (StoreWriteFailed),
        the only way to write again."""
        ...


def prefix_end(prefix: bytes) -> bytes | None:
    """The first key after every key that starts with `prefix` (None: no such key)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


__all__ = ["KeyValue", "prefix_end"]
