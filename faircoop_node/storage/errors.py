"""Storage errors: each bad data directory gets its own class and a message naming the problem.

The node never goes on silently over a store it cannot trust: opening raises one of these, and the
operator reads what is wrong and what to do (point at another directory, run `reindex`, stop the
other node).
"""

from __future__ import annotations

from consensus.errors import FaircoopError


class StorageError(FaircoopError):
    """Root of every error the chain store raises on purpose."""


class StoreMissing(StorageError):
    """No database at the path, and the store was opened with create=False."""


class StoreLocked(StorageError):
    """Another process (or another open store in this one) holds the database's lock."""


class WrongGenesis(StorageError):
    """The directory holds another network's chain: its genesis hash is not the expected one."""

    def __init__(self, message: str, stored: bytes, expected: bytes) -> None:
        super().__init__(message)
        self._stored = stored
        self._expected = expected

    @property
    def stored(self) -> bytes:
        """The genesis hash found in the store."""
        return self._stored

    @property
    def expected(self) -> bytes:
        """The genesis hash the caller asked for."""
        return self._expected


class CorruptStore(StorageError):
    """A value that is garbled, truncated or inconsistent with the records around it.

    `key` names the record (printable form) when one record is to blame.
    """

    def __init__(self, message: str, key: bytes = b"") -> None:
        super().__init__(message)
        self._key = key

    @property
    def key(self) -> bytes:
        return self._key


class IncompleteReindex(CorruptStore):
    """A reindex started and never finished: the indexes are partial until it runs again."""


class UnsupportedSchema(StorageError):
    """The store was written with a key layout this version of the node does not read."""


class StoreClosed(StorageError):
    """A method was called on a store after close()."""


class StoreWriteFailed(StorageError):
    """The disk refused a write: full, an I/O error, or a failed fsync.

    What the write held may or may not be on disk, and LevelDB may have left part of a record
    at the end of its log. Nothing more is written through this handle (a record appended
    after a partial one corrupts the log for the next open); `BaseStore.reopen()` reopens the
    store on what is really on disk, once the disk takes writes again.
    """


class InvalidCommit(StorageError):
    """commit_block was given something the store refuses to write (nothing was written)."""


class OutOfOrderBlock(InvalidCommit):
    """The block does not extend the tip: wrong height or wrong previous hash."""


class RecordMismatch(StorageError):
    """A record whose content does not match the hash it is filed under."""
