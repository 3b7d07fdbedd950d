"""Atomic, durable file writes, shared by the node (config, genesis, node key, devnet files)
and the wallet (wallet file, key store, partial txs, receipts).

`write_atomic` writes to a fresh temporary name in the target's directory, fsyncs it, then
renames it over the target (or links it, when overwriting is refused) and fsyncs the
directory, so a crash leaves the old file or the new one, never a torn mix, and a finished
write survives a power loss. With `mode`, the file has that mode from its first byte.
Callers turn the `OSError` into their own `FaircoopError` subclass, naming the file.

Left out: locking (two writers of one file each win whole, the last one stays; the wallet's
`FileLock` serializes its read-modify-write users) and Windows durability (there a directory
cannot be fsynced; the write is still atomic).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600  # keys, wallets, passwords: readable by the owner only
_DEFAULT_CREATE_MODE = 0o666  # before the umask, as open() creates files


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    mode: int | None = None,
    overwrite: bool = True,
    parents: bool = False,
) -> None:
    """Make `path` hold `data` (str is written as UTF-8), atomically and durably.

    mode:      the file's exact permission bits (PRIVATE_MODE for secrets), set before any
               byte is written; None: as open() would create it (0666 less the umask).
    overwrite: False refuses an existing `path` with FileExistsError, even one that appears
               while we write (the temp file is linked, not renamed, into place).
    parents:   create missing parent directories (mode 0700).

    On any failure (OSError, or Ctrl-C in between) the temp file is removed and `path` is
    untouched.
    """
    target = Path(path)
    directory = target.parent
    if parents:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not overwrite and target.exists():
        raise FileExistsError(17, "File exists", str(target))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    create_mode = _DEFAULT_CREATE_MODE if mode is None else mode
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, create_mode)
        try:
            if mode is not None:
                os.chmod(tmp, mode)  # exactly `mode`: the umask may have narrowed it
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # FileExistsError if `target` appeared meanwhile
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not overwrite:
        with contextlib.suppress(OSError):  # `target` is written; a stray temp name is harmless
            os.unlink(tmp)
    fsync_dir(directory)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename or link in `directory` durable (POSIX); quietly nothing where it can't."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
