"""The node key file: the secret that identifies a node, and signs a validator's votes.

The file holds the 32-byte secret as one line of lower-case hex. It is written atomically
(a temporary file in the same directory, fsync, rename, fsync of the directory) with mode
0600 from its first byte, and never overwritten: replacing a validator's key by accident
would make it a different validator. Loading says exactly what is wrong with a missing,
unreadable or malformed file, and warns when other users can read it. The secret never
appears in an error message.

Left out: encryption at rest. A node signs unattended, so its key sits in a file the
operator protects (permissions, disk encryption); the wallet's key store is the encrypted one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from consensus.crypto import PrivateKey
from consensus.errors import CryptoError, FaircoopError
from faircoop_common.fileio import write_atomic
from faircoop_node.logs import event_logger

KEY_FILE_MODE = 0o600
_log = event_logger("faircoop.keys")


class KeyFileError(FaircoopError):
    """A node key file that is missing, unreadable, malformed, or would be overwritten."""


def write_node_key(path: Path | str, key: PrivateKey) -> None:
    """Write `key` to a new file at `path` (mode 0600); KeyFileError if one already exists."""
    path = Path(path)
    if path.exists():
        raise KeyFileError(f"{path} already exists; refusing to overwrite a node key "
                           "(move it away first if you really mean to replace it)")
    data = key.secret_bytes().hex() + "\n"
    try:
        write_atomic(path, data, mode=KEY_FILE_MODE, overwrite=False)
    except FileExistsError:  # it appeared meanwhile: linking, unlike renaming, never replaces
        raise KeyFileError(f"{path} already exists; refusing to overwrite a node key") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write node key {path}: {exc.strerror}") from None


def generate_node_key(path: Path | str) -> PrivateKey:
    """A fresh key, written to `path`."""
    key = PrivateKey.generate()
    write_node_key(path, key)
    return key


def key_file_problem(path: Path | str) -> str | None:
    """Why the file's permissions are unsafe (readable by group or others), or None."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return (f"{path} has mode {mode:04o}: other users can read the node key "
                f"(run: chmod 600 {path})")
    return None


def load_node_key(path: Path | str) -> PrivateKey:
    """The key in `path`; KeyFileError saying what is wrong. Warns (log) on loose permissions."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"node key file {path} does not exist "
                           "(create one with `faircoop-node init`)") from None
    except IsADirectoryError:
        raise KeyFileError(f"node key file {path} is a directory") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read node key file {path}: {exc.strerror}") from None
    problem = key_file_problem(path)
    if problem:
        _log.warning("key_file_permissions", path=str(path), problem=problem)
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"node key file {path} is not hex text") from None
    if len(text) != 64:
        raise KeyFileError(f"node key file {path} must hold 64 hex digits (a 32-byte secret), "
                           f"found {len(text)} characters")
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"node key file {path} holds characters that are not hex") from None
    try:
        return PrivateKey(secret)
    except CryptoError as exc:
        raise KeyFileError(f"node key file {path} does not hold a valid key: {exc}") from None

