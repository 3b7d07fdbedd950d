"""`LevelDBStore`: the node's chain store in one LevelDB database, through plyvel.

Each block is one `WriteBatch` written with sync=True (see `BaseStore.commit_block`), so a node
killed at any instant reopens on a consistent tip. plyvel's own failures are turned into the
storage errors an operator can act on: a missing database, a lock held by another process, and
LevelDB-level corruption (checksums are verified: `paranoid_checks`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import plyvel

from consensus.types import Genesis
from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.errors import (
    CorruptStore,
    StorageError,
    StoreClosed,
    StoreLocked,
    StoreMissing,
)
from faircoop_node.storage.keyvalue import prefix_end

WRITE_BUFFER = 16 * 1024 * 1024  # a 5,000-tx block's batch fits in one memtable
BLOCK_CACHE = 32 * 1024 * 1024
MAX_OPEN_FILES = 1000  # LevelDB's own default: the table files it keeps open
OWN_FILES = 8  # what LevelDB opens besides table files: log, manifest, lock, info log


def open_files_for(nofile: int) -> int:
    """Table files to keep open under a descriptor limit of `nofile`: a quarter of it, within
    [64, 1,000]. LevelDB's default of 1,000 alone would use a 1,024 limit up on a large store.
    Fewer open files only cost reopening cold tables."""
    return max(64, min(MAX_OPEN_FILES, nofile // 4))


class PlyvelKV:
    """The `KeyValue` backend over an open plyvel.DB."""

    def __init__(self, db: plyvel.DB, where: str) -> None:
        self._db = db
        self._where = where

    def _closed(self) -> StoreClosed:
        return StoreClosed(f"the chain store at {self._where} is closed")

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(key)  # type: ignore[no-any-return]
        except RuntimeError:
            raise self._closed() from None

    def items(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        lo = max(start, prefix) if start is not None else prefix
        end = prefix_end(prefix)
        hi = end if stop is None else (stop if end is None else min(stop, end))
        try:
            return self._db.iterator(start=lo, stop=hi, reverse=reverse)  # type: ignore[no-any-return]
        except RuntimeError:
            raise self._closed() from None

    def write(self, writes: Mapping[bytes, bytes | None], *, sync: bool) -> None:
        try:
            with self._db.write_batch(transaction=True, sync=sync) as batch:
                put, delete = batch.put, batch.delete
                for key, value in writes.items():
                    if value is None:
                        delete(key)
                    else:
                        put(key, value)
        except RuntimeError:
            raise self._closed() from None
        except plyvel.Error as exc:
            raise StorageError(f"writing to {self._where} failed: {exc}") from None

    def is_empty(self) -> bool:
        with self._db.iterator(include_value=False) as it:
            return next(it, None) is None

    def close(self) -> None:
        self._db.close()


def _open_db(path: Path, create: bool, max_open_files: int) -> plyvel.DB:
    if not create and not (path / "CURRENT").is_file():
        raise StoreMissing(
            f"no chain store at {path} (no LevelDB database there); initialise the node first"
        )
    if create:
        path.mkdir(parents=True, exist_ok=True)
    try:
        return plyvel.DB(str(path), create_if_missing=create, paranoid_checks=True,
                         write_buffer_size=WRITE_BUFFER, lru_cache_size=BLOCK_CACHE,
                         max_open_files=max_open_files)
    except plyvel.IOError as exc:
        if "lock" in str(exc).lower():
            raise StoreLocked(
                f"the chain store at {path} is in use by another process (or already open in"
                f" this one): {exc}"
            ) from None
        raise StorageError(f"cannot open the chain store at {path}: {exc}") from None
    except plyvel.CorruptionError as exc:
        raise CorruptStore(f"LevelDB reports corruption in {path}: {exc}") from None
    except plyvel.Error as exc:
        if "does not exist" in str(exc):
            raise StoreMissing(f"no chain store at {path}: {exc}") from None
        raise StorageError(f"cannot open the chain store at {path}: {exc}") from None


class LevelDBStore(BaseStore):
    """The chain store in a LevelDB directory.

    `genesis` is checked against the stored one (WrongGenesis on mismatch) and written on first
    open; pass None to open an existing store whatever its chain (for tools). With create=False
    a missing database raises StoreMissing instead of being created. The store holds at most
    `max_open_files + OWN_FILES` descriptors (the node sizes it with `open_files_for`).
    """

    def __init__(
        self,
        path: str | Path,
        genesis: Genesis | None,
        *,
        create: bool = True,
        genesis_chain_state: bytes = b"",
        max_open_files: int = MAX_OPEN_FILES,
    ) -> None:
        self.path = Path(path)
        self.descriptors = max_open_files + OWN_FILES
        db = _open_db(self.path, create and genesis is not None, max_open_files)
        try:
            super().__init__(PlyvelKV(db, str(self.path)), genesis, create=create,
                             where=str(self.path), genesis_chain_state=genesis_chain_state)
        except BaseException:
            db.close()
            raise
