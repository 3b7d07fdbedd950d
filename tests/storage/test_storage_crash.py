"""SIGKILL a writer at random moments; after every restart the store must be whole.

The writer (crash_writer.py) commits blocks of signed txs to a real LevelDBStore. The parent
kills it at seeded random delays, reopens the store, and checks: the tip is consistent, the
UTXO set equals a replay of the stored blocks from genesis (ledger.apply_block), and the tx,
address and evidence indexes equal what the blocks say. Then the writer carries on.

One seed runs by default; FAIRCOOP_CRASH_SEEDS="1,2,3" runs others, FAIRCOOP_CRASH_KILLS sets
the number of kills. A failure prints its seed, and rerunning that seed replays the same chain
(kill instants vary with timing, the blocks do not).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from faircoop_node.storage import LevelDBStore
from tests.storage.crash_writer import crash_genesis
from tests.storage.storage_chain import Replay, start_writer

SEEDS = [int(s) for s in os.environ.get("FAIRCOOP_CRASH_SEEDS", "20261126").split(",") if s]
KILLS = int(os.environ.get("FAIRCOOP_CRASH_KILLS", "50"))


@pytest.mark.parametrize("seed", SEEDS)
def test_store_survives_sigkill_at_random_moments(tmp_path: Path, seed: int) -> None:
    print(f"crash test seed {seed} (replay: FAIRCOOP_CRASH_SEEDS={seed})")
    rng = random.Random(seed)
    path = tmp_path / "chain"
    genesis = crash_genesis()
    replay = Replay(genesis)
    heights = []
    for kill in range(KILLS):
        proc = start_writer("crash_writer", path, seed)
        time.sleep(rng.uniform(0.0, 0.12))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"seed {seed} kill {kill}: writer exited early"
        store = LevelDBStore(path, genesis, create=False)
        try:
            replay.extend(store)
            replay.assert_matches(store)
            last = store.get_last_signed()
            tip = store.tip().height
            assert last is None or int(last.split()[1]) <= tip
            heights.append(tip)
        finally:
            store.close()
    print(f"tips after each kill: {heights}")
    assert heights == sorted(heights), "a committed block was lost"
    assert heights[-1] >= KILLS // 2, f"the writer made too little progress: {heights}"
