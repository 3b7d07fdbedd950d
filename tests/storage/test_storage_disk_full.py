"""A full disk under a real LevelDB store (a small tmpfs): the write the disk refuses raises
StoreWriteFailed, so do all later writes until the store is reopened, and once space is freed a
reopen resumes writing on a store that still opens and replays from genesis.

The regression (issue 20): LevelDB appends part of a record to its log when the disk fills.
The node kept writing through the same handle once space came back; the next record landed
after the partial one, and the next open failed its checksum (`paranoid_checks`): the node
could not restart without operator surgery. This test did the node's sequence (write until
refused, free, write on, reopen) and failed with CorruptStore before the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from faircoop_node.storage import LevelDBStore, StoreWriteFailed
from tests.faults.disk import can_mount, fill, release, tmpfs
from tests.storage.storage_chain import (
    Replay,
    commit,
    make_genesis,
    next_block,
    wallet,
)

pytestmark = pytest.mark.skipif(not can_mount(), reason="needs root to mount a tmpfs")

WALLETS = [wallet(i, "disk-full") for i in range(6)]


def _commit_next(store: LevelDBStore, seed: str) -> None:
    commit(store, next_block(store, WALLETS, seed, max_txs=12))


@pytest.mark.parametrize("record_kb", [1, 24])  # small records, and records over a 4 KiB page
def test_full_disk_refuses_writes_until_reopened_and_the_store_survives(
        tmp_path: Path, record_kb: int) -> None:
    genesis = make_genesis(WALLETS)
    with tmpfs(tmp_path / "disk", 8) as disk:
        path = disk / "chain"
        store = LevelDBStore(path, genesis)
        try:
            for _ in range(5):
                _commit_next(store, "before")
            fill(disk, leave=64 * 1024)
            acknowledged = store.tip().height
            refused = None
            for i in range(10_000):  # until the disk refuses (a big last-signed record helps)
                try:
                    store.put_last_signed(b"signed %d " % i + b"x" * (record_kb * 1024))
                    _commit_next(store, "filling")
                    acknowledged = store.tip().height
                except StoreWriteFailed as exc:
                    refused = exc
                    break
            assert refused is not None, "the disk never filled"
            assert "No space left" in str(refused)
            # the handle is poisoned: nothing more goes through it, even once space is back
            release(disk)
            with pytest.raises(StoreWriteFailed, match="reopened"):
                store.put_last_signed(b"after the failure")
            assert store.tip().height == acknowledged  # reads still work meanwhile
            assert store.get_block_at(acknowledged) is not None
            tip = store.reopen()
            assert tip.height >= acknowledged
            store.put_last_signed(b"after the reopen")
            for _ in range(5):
                _commit_next(store, "after")
            final = store.tip().height
        finally:
            store.close()
        reopened = LevelDBStore(path, genesis, create=False)  # paranoid checks, as the node
        try:
            assert reopened.tip().height == final
            assert reopened.get_last_signed() == b"after the reopen"
            replay = Replay(genesis)
            replay.extend(reopened)
            replay.assert_matches(reopened)
        finally:
            reopened.close()


def test_a_reopen_without_room_keeps_the_old_handle_for_reads(tmp_path: Path) -> None:
    genesis = make_genesis(WALLETS)
    with tmpfs(tmp_path / "disk", 16) as disk:
        store = LevelDBStore(disk / "chain", genesis)
        try:
            for _ in range(3):
                _commit_next(store, "before")
            fill(disk)
            with pytest.raises(StoreWriteFailed):
                for i in range(10_000):
                    store.put_last_signed(b"%d" % i + b"y" * 8192)
            with pytest.raises(StoreWriteFailed, match="can't be reopened yet"):
                store.reopen()
            assert store.get_block_at(3) is not None  # still reading through the old handle
            release(disk)
            assert store.reopen().height == 3
        finally:
            store.close()
