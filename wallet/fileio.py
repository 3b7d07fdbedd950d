"""The wallet's file helpers beside the shared atomic writer.

Every file the wallet writes (wallet file, key store, partial txs, receipts) goes through
`faircoop_common.fileio.write_atomic`, the one helper the node uses too: a temp file in the
same directory, fsync, rename, directory fsync, mode 0600 from the first byte. `write_private`
is that call with the wallet's mode.

`FileLock` is an exclusive advisory lock (flock) that read-modify-write users of one file take,
so two processes neither lose each other's updates nor act on the same stale state.
`hex_field` reads one hex field of the wallet's JSON formats, failing with the format's error;
`bounded_text` and `load_bounded` read a file of one of them with a size cap. A partial file
(a multisig tx's, a treasury's credit transfer's) opens and closes the same way: `read_head`,
`file_chain` and `check_file_chain` read and check what they share, `dump_file` writes it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from faircoop_common.fileio import PRIVATE_MODE, write_atomic
from wallet.errors import ChainMismatch, WalletBusy, WalletError

T = TypeVar("T")

try:
    import fcntl
except ImportError:  # not POSIX (Windows): FileLock then locks nothing (documented)
    fcntl = None  # type: ignore[assignment]


def write_private(path: str | os.PathLike[str], data: str | bytes, *,
                  parents: bool = False) -> None:
    """`path` holds `data`, written atomically with mode 0600 (`parents`: create missing
    directories, mode 0700). OSError names the file."""
    write_atomic(path, data, mode=PRIVATE_MODE, parents=parents)


class FileLock:
    """An exclusive flock on `path` (created 0600 if missing). `acquire` waits up to
    `timeout_s`, then raises WalletBusy; the kernel drops the lock if the process dies."""

    def __init__(self, path: str | os.PathLike[str], timeout_s: float = 30.0,
                 poll_s: float = 0.05) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        if fcntl is None:
            self._fd = fd
            return
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise WalletBusy(f"{self.path} is held by another process (another "
                                     f"faircoop-wallet using this wallet?) after "
                                     f"{self.timeout_s:.0f} s") from None
                time.sleep(self.poll_s)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hex_field(value: object, what: str, error: type[WalletError]) -> bytes:
    """`value` as bytes if it is a hex string; else `error` naming the field."""
    if not isinstance(value, str):
        raise error(f"{what}: expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise error(f"{what}: not hex") from None


def bounded_text(raw: bytes, limit: int, error: type[WalletError], what: str) -> str:
    """A file's bytes as text: `error` if over `limit` bytes or not UTF-8 (`what` names the
    format: "a partial-transaction file")."""
    if len(raw) > limit:
        size = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"
        raise error(f"over {size}: not {what}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"not UTF-8 text: not {what}") from None


def load_bounded(path: str | os.PathLike[str], limit: int, parse: Callable[[bytes], T],
                 error: type[WalletError]) -> T:
    """`parse` of the file's first `limit` + 1 bytes (so an oversize file is seen as such and
    never read whole); an `error` it raises names the file. OSError if unreadable."""
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    try:
        return parse(raw)
    except error as exc:
        raise type(exc)(f"{os.fspath(path)}: {exc}") from None


def read_head(text: str, fmt: str, version: int, error: type[WalletError], name: str,
              short: str) -> dict[str, Any]:
    """The JSON object of a file of format `fmt` and `version`, or `error` (`name`: "partial
    credit file"; `short`: "partial credit", in the version's message)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise error(f"not a {name} (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise error(f"not a faircoop {name}")
    if doc.get("version") != version:
        raise error(f"{short} version {doc.get('version')!r}; this wallet reads {version}")
    return doc


def file_chain(doc: dict[str, Any], error: type[WalletError]) -> tuple[str, bytes | None]:
    """A partial file's network and the genesis hash it names (None if it names none)."""
    network = doc.get("network")
    if network not in ("main", "test"):
        raise error("network must be main or test")
    genesis = doc.get("genesis_hash")
    genesis_hash = None if genesis is None else hex_field(genesis, "genesis_hash", error)
    if genesis_hash is not None and len(genesis_hash) != 32:
        raise error("genesis_hash: 32 bytes of hex")
    return str(network), genesis_hash


def check_file_chain(file_chain_id: str, file_network: str, file_genesis: bytes | None,
                     chain_id: str, network: str, genesis_hash: bytes) -> None:
    """A partial file is for the wallet's chain: chain id and network, and the genesis if the
    file names one (a signature commits to the chain id only: a chain of the same name but
    another genesis is caught here)."""
    if file_chain_id != chain_id or file_network != network:
        raise ChainMismatch(f"the file is for chain {file_chain_id!r} ({file_network}), the "
                            f"wallet is for {chain_id!r} ({network})")
    if file_genesis is not None and file_genesis != genesis_hash:
        raise ChainMismatch(f"the file names genesis {file_genesis.hex()[:16]}, the wallet's "
                            f"is {genesis_hash.hex()[:16]}: another chain of the same name")


def dump_file(doc: dict[str, object], genesis_hash: bytes | None) -> str:
    """A partial file's text: `doc`, with the genesis hash when the writer knows it."""
    if genesis_hash is not None:
        doc["genesis_hash"] = genesis_hash.hex()
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
