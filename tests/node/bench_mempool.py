"""Mempool admission throughput, this tree against a git revision's mempool (A/B, interleaved).

    .venv/bin/python -m tests.node.bench_mempool [--txs N] [--rounds R] [--baseline REV]

Three workloads over the same signed txs, each admitted by a fresh pool per round:
- `cold`: a roomy pool, signatures verified on admission (what a node does for a new tx);
- `warm`: a roomy pool, signatures already cached, so the pool's own bookkeeping is what counts;
- `full`: a pool of N/2 slots, signatures cached; every tx past N/2 pays more than all before
  it and evicts the cheapest (the eviction path).
Best of R rounds per side; the ratio is this tree's rate over the baseline's (> 1: faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consensus import ledger
from consensus.types import Tx
from faircoop_node import mempool as current
from tests.node.mempool_chain import PARAMS, fee_ladder


def _load_baseline(rev: str) -> Any:
    source = subprocess.run(["git", "show", f"{rev}:faircoop_node/mempool.py"], check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "mempool_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("mempool_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _rate(module: Any, utxos: ledger.MemoryUtxoSet, txs: list[Tx], *, slots: int,
          cache: ledger.SignatureCache | None) -> float:
    pool = module.Mempool(txs[0].chain_id,
                         cache if cache is not None else ledger.SignatureCache(), max_txs=slots)
    started = time.perf_counter()
    for tx in txs:
        pool.add(tx, utxos, PARAMS)
    elapsed = time.perf_counter() - started
    assert len(pool) == min(slots, len(txs))
    return len(txs) / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=4_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", default="HEAD", help="git revision of the baseline mempool")
    args = ap.parse_args(argv)
    baseline = _load_baseline(args.baseline)
    utxos, txs = fee_ladder(args.txs)
    warm = ledger.SignatureCache()
    _rate(current, utxos, txs, slots=len(txs), cache=warm)  # fills the cache
    runs: dict[str, Callable[[Any], float]] = {
        "cold": lambda m: _rate(m, utxos, txs, slots=len(txs), cache=None),
        "warm": lambda m: _rate(m, utxos, txs, slots=len(txs), cache=warm),
        "full": lambda m: _rate(m, utxos, txs, slots=len(txs) // 2, cache=warm),
    }
    print(f"{args.txs} txs, best of {args.rounds}, baseline {args.baseline}")
    for name, run in runs.items():
        best = {"this tree": 0.0, "baseline": 0.0}
        for _ in range(args.rounds):  # interleaved, so machine load hits both sides alike
            best["this tree"] = max(best["this tree"], run(current))
            best["baseline"] = max(best["baseline"], run(baseline))
        ratio = best["this tree"] / best["baseline"]
        print(f"  {name}: this tree {best['this tree']:,.0f} tx/s, baseline "
              f"{best['baseline']:,.0f} tx/s, ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
