"""SIGKILL a node's commit path while blocks of credit transfers are being written; after every
restart the store's credit accounts, history and totals equal, key for key, those of a replay
of its own stored blocks through the consensus rules into a fresh store (and its reindex).

The writer (credit_crash_writer.py) validates and commits blocks of credit transfers to a real
LevelDBStore with the node's `store_block`. The parent kills it at seeded random moments,
reopens the store, replays the newly stored blocks (validate_block + store_block) into a
memory store, and compares the credit keyspaces and the tx index. Then the writer carries on
from the tip it finds, on the same chain. FAIRCOOP_CRASH_SEEDS and FAIRCOOP_CRASH_KILLS as in
test_storage_crash.py.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from consensus import codec
from consensus.chain import validate_block
from consensus.chainstate import encode_chain_state, genesis_state
from faircoop_node.node.commit import store_block, stored_tip
from faircoop_node.storage import BaseStore, MemoryStore, schema
from tests.storage.credit_crash_writer import crash_genesis, open_store
from tests.storage.storage_chain import start_writer

SEEDS = [int(s) for s in os.environ.get("FAIRCOOP_CRASH_SEEDS", "20261205").split(",") if s]
KILLS = int(os.environ.get("FAIRCOOP_CRASH_KILLS", "25"))
COMPARED = (schema.CREDIT_ACCOUNT, schema.CREDIT_HISTORY, schema.CREDIT_TOTALS, schema.TX)


def _snapshot(store: BaseStore) -> dict[bytes, bytes]:
    return {k: v for prefix in COMPARED for k, v in store.backend.items(prefix)}


def _replay_into(replay: MemoryStore, store: BaseStore) -> None:
    """Validate and commit into `replay` the blocks `store` holds past `replay`'s tip."""
    while replay.tip().height < store.tip().height:
        height = replay.tip().height + 1
        block, cert = store.get_block_at(height), store.get_certificate(height)
        assert block is not None and cert is not None
        state, _ = stored_tip(replay)
        block_id = codec.block_hash(block.header)
        store_block(replay, state, block, block_id, cert,
                    validate_block(state, block, block_id, replay))


@pytest.mark.parametrize("seed", SEEDS)
def test_credit_survives_sigkill_mid_block(tmp_path: Path, seed: int) -> None:
    print(f"credit crash test seed {seed} (replay: FAIRCOOP_CRASH_SEEDS={seed})")
    rng = random.Random(seed)
    path = tmp_path / "chain"
    genesis = crash_genesis()
    replay = MemoryStore(genesis, genesis_chain_state=encode_chain_state(
        genesis_state(genesis, codec.genesis_hash(genesis))))
    tips = []
    for kill in range(KILLS):
        proc = start_writer("credit_crash_writer", path, seed)
        time.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"seed {seed} kill {kill}: " \
            f"writer exited early: {proc.stderr.read() if proc.stderr else ''}"
        store = open_store(str(path), create=False)
        try:
            _replay_into(replay, store)
            assert _snapshot(store) == _snapshot(replay), f"seed {seed} kill {kill}"
            totals = store.get_credit_totals()
            assert totals.positive == totals.outstanding
            tips.append(store.tip().height)
        finally:
            store.close()
    print(f"tips after each kill: {tips}")
    assert tips == sorted(tips), "a committed block was lost"
    assert _snapshot(replay)  # credit was written at all
    assert tips[-1] >= 10, f"the writer made too little progress: {tips}"
    store = open_store(str(path), create=False)
    try:
        before = _snapshot(store)
        store.reindex()
        assert _snapshot(store) == before
        assert sum(1 for _ in store.backend.items(schema.CREDIT_HISTORY)) > 20
    finally:
        store.close()
