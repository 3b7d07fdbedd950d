"""`LevelDBStore`: the node's chain store in one LevelDB database, through plyvel.

Each block is one `WriteBatch` written with sync=True (see `BaseStore.commit_block`), so a node
killed at any instant reopens on a consistent tip. plyvel's own failures are turned into the
storage errors an operator can act on: a missing database, a lock held by another process, and
LevelDB-level corruption (checksums are verified: `paranoid_checks`).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
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
    StoreWriteFailed,
)
from faircoop_node.storage.keyvalue import prefix_end

WRITE_BUFFER = 16 * 1024 * 1024  # a 5,000-tx block's batch fits in one memtable
WRITE_BUFFER_SPREAD = 0.5  # each opening adds a random share of up to this much of it
BLOCK_CACHE = 32 * 1024 * 1024
# No snappy: the chain is mostly hashes, keys and signatures. On a 16-validator devnet's
# store snappy saved 29% of the bytes (7.6 -> 5.4 MB a flush) for 2.4x the CPU of writing a
# memtable out (0.17 s -> 0.07 s); with one buffer size every validator flushed at the same
# height (they write the same bytes), so on shared cores that burst was the latency tail
# (STORAGE.md; `write_buffer_size` now spreads the flushes too).
COMPRESSION = None
MAX_OPEN_FILES = 1000  # LevelDB's own default: the table files it keeps open
OWN_FILES = 8  # what LevelDB opens besides table files: log, manifest, lock, info log


def write_buffer_size(rng: random.Random | None = None) -> int:
    """The memtable size for one opening of a store: WRITE_BUFFER plus a random share of up to
    WRITE_BUFFER_SPREAD of it.

    Validators write the same bytes, so with one size they all write their memtables out (and
    start the level-0 compactions that follow) at the same height. Validators sharing cores or
    a disk (a devnet, coops hosted together) then pay every flush in one burst, and the quorum
    waits out that height's slowest. Spread sizes give each store's flushes heights of its own.
    """
    share = (rng or random).random() * WRITE_BUFFER_SPREAD
    return WRITE_BUFFER + int(share * WRITE_BUFFER)


def open_files_for(nofile: int) -> int:
    """Table files to keep open under a descriptor limit of `nofile`: a quarter of it, within
    [64, 1,000]. LevelDB's default of 1,000 alone would use a 1,024 limit up on a large store.
    Fewer open files only cost reopening cold tables."""
    return max(64, min(MAX_OPEN_FILES, nofile // 4))


class _ReadGate:
    """Reads in flight, counted so that a reopen closes the LevelDB handle only when none is
    (a read racing LevelDB's close would touch freed memory), and new reads wait while it
    reopens. Reads do not wait for each other. Every read of the chain passes here, so the
    path without a reopen is one plain lock each way (a Condition's would cost a read a
    microsecond: 11% of a warm block apply)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._reading = 0
        self._reopening = False

    def enter(self) -> None:
        with self._lock:
            if self._reopening:
                self._cond.wait_for(lambda: not self._reopening)
            self._reading += 1

    def leave(self) -> None:
        with self._lock:
            self._reading -= 1
            if self._reopening and not self._reading:
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self, timeout_s: float) -> Iterator[None]:
        """No read in flight for the block (StorageError if reads don't drain in time)."""
        with self._cond:
            self._reopening = True
            try:
                if not self._cond.wait_for(lambda: not self._reading, timeout_s):
                    raise StorageError(f"{self._reading} reads still running after "
                                       f"{timeout_s}s; the store was not reopened")
                yield
            finally:
                self._reopening = False
                self._cond.notify_all()


class PlyvelKV:
    """The `KeyValue` backend over an open plyvel.DB; `opener` opens it again.

    A write LevelDB refuses (disk full, I/O error, failed fsync) poisons the handle: LevelDB
    may have appended part of the record to its log, and a record appended after a partial
    one fails its checksum on the next open, which `paranoid_checks` turns into a store that
    won't open (found by issue 20's disk-full test: the node wrote on once space was freed,
    then could not restart). So every later write raises StoreWriteFailed until `reopen`, which
    opens the database again: LevelDB's recovery drops the partial record at the log's end.
    """

    def __init__(self, db: plyvel.DB, path: Path, opener: Callable[[], plyvel.DB]) -> None:
        self._db = db
        self._path = path
        self._where = str(path)
        self._opener = opener
        self._failed: str | None = None  # why the last write failed, until a reopen
        self._gate = _ReadGate()

    def _closed(self) -> StoreClosed:
        return StoreClosed(f"the chain store at {self._where} is closed")

    def get(self, key: bytes) -> bytes | None:
        self._gate.enter()
        try:
            return self._db.get(key)  # type: ignore[no-any-return]
        except RuntimeError:
            raise self._closed() from None
        finally:
            self._gate.leave()

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
        self._gate.enter()
        try:
            it = self._db.iterator(start=lo, stop=hi, reverse=reverse)
        except RuntimeError:
            self._gate.leave()
            raise self._closed() from None
        return self._gated(it)

    def _gated(self, it: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        """The iterator's items, counted as one read until it ends (or is dropped)."""
        try:
            yield from it
        except RuntimeError:
            raise self._closed() from None
        finally:
            self._gate.leave()

    def write(self, writes: Mapping[bytes, bytes | None], *, sync: bool) -> None:
        if self._failed is not None:
            raise StoreWriteFailed(f"the chain store at {self._where} refused a write "
                                   f"({self._failed}); it takes no more until it is reopened")
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
            self._failed = _message(exc)
            raise StoreWriteFailed(f"writing to {self._where} failed: {self._failed}") from None

    def is_empty(self) -> bool:
        with self._db.iterator(include_value=False) as it:
            return next(it, None) is None

    def close(self) -> None:
        self._db.close()

    def reopen(self, drain_s: float = 5.0) -> None:
        """Close the handle and open the database again. LevelDB's recovery writes the log out
        as a table, so without room for that (StoreWriteFailed) the handle stays open for
        reads and nothing is tried; if the open fails anyway, reads fail until one works."""
        short = _room_short(self._path)
        if short:
            raise StoreWriteFailed(f"the chain store at {self._where} can't be reopened yet: "
                                   f"{short}")
        with self._gate.exclusive(drain_s):
            self._db.close()
            self._db = self._opener()
            self._failed = None


REOPEN_MARGIN = 4 * 1024 * 1024  # free space kept beyond the log's size for a reopen


def _room_short(path: Path) -> str:
    """Why `path`'s disk lacks the room to reopen the LevelDB there ("" if it has it)."""
    try:
        log = sum(f.stat().st_size for f in path.glob("*.log"))
        free = shutil.disk_usage(path).free
    except OSError as exc:
        return f"its directory can't be read ({exc.strerror})"
    if free < log + REOPEN_MARGIN:
        return f"{free} bytes free, {log + REOPEN_MARGIN} needed"
    return ""


def _message(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def _open_db(path: Path, create: bool, max_open_files: int,
             write_buffer: int | None = None) -> plyvel.DB:
    if not create and not (path / "CURRENT").is_file():
        raise StoreMissing(
            f"no chain store at {path} (no LevelDB database there); initialise the node first"
        )
    if create:
        path.mkdir(parents=True, exist_ok=True)
    try:
        return plyvel.DB(str(path), create_if_missing=create, paranoid_checks=True,
                         write_buffer_size=write_buffer or write_buffer_size(),
                         lru_cache_size=BLOCK_CACHE,
                         max_open_files=max_open_files, compression=COMPRESSION)
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
        kv = PlyvelKV(db, self.path, lambda: _open_db(self.path, False, max_open_files))
        try:
            super().__init__(kv, genesis, create=create,
                             where=str(self.path), genesis_chain_state=genesis_chain_state)
        except BaseException:
            kv.close()
            raise
