"""`commit_block(..., sync=False)`: the same atomic batch and the same store, minus the fsync.

The sync bench measures it (docs/PERFORMANCE.md proposes committing a fetched block range with
unsynced writes and a synced last one). Here: a mix of unsynced and synced commits stores the same
blocks, certificates, tip and chain state as all-synced commits, seen after a clean reopen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus import codec, ledger
from faircoop_node.storage import LevelDBStore
from tests.storage.storage_chain import (
    chain_state_for,
    fake_certificate,
    make_block,
    make_genesis,
    wallet,
)


def _build(path: Path, synced: list[bool]) -> list[tuple[bytes, bytes]]:
    wallets = [wallet(i) for i in range(3)]
    genesis = make_genesis(wallets)
    parent = codec.genesis_hash(genesis)
    with LevelDBStore(path, genesis) as store:
        for height, sync in enumerate(synced, start=1):
            block = make_block(genesis, parent, height, ())
            block_id = codec.block_hash(block.header)
            diff = ledger.apply_block(block, block_id, store, genesis.params,
                                      treasury_lock=genesis.treasury_lock)
            store.commit_block(block, block_id, diff, fake_certificate(block_id),
                               chain_state_for(height, block_id), sync=sync)
            parent = block_id
        store.flush()
        assert store.tip().height == len(synced)
    with LevelDBStore(path, genesis) as store:
        assert store.tip().height == len(synced)
        assert store.get_chain_state() == chain_state_for(len(synced), parent)
        return [(bytes(store.get_hash_at(h) or b""), store.get_certificate(h) or b"")
                for h in range(1, len(synced) + 1)]


@pytest.mark.parametrize("pattern", [[False] * 5 + [True], [False] * 6, [True, False, True]])
def test_unsynced_commits_store_what_synced_ones_do(tmp_path: Path, pattern: list[bool]) -> None:
    assert _build(tmp_path / "mixed", pattern) == _build(tmp_path / "synced", [True] * len(pattern))
