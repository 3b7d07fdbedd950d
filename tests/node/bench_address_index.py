"""What `GET /address` pays for the mempool's effect on a balance: the walk it made before the
pool's address index (4058f1e: copy the entry list on the loop, then for each pooled tx sum the
outputs to the lock and look up the spent output of each input whose witness policy hashes to
the lock) against `Mempool.lock_delta` (one dict read).

    .venv/bin/python -m tests.node.bench_address_index [--txs N] [--rounds R]

A pool of N one-input txs (`fee_ladder`), all spending coins of KEY's lock: the busy lock is
that one (every input's spent output looked up), the idle one a lock no pooled tx touches
(a policy hashed per input, nothing looked up). The chain's UTXO set is in memory here; a
node's LevelDB store makes each lookup of the old walk dearer, so its figure is a lower bound.
Best of R rounds; the ratio is the walk's time over the index's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from consensus import ledger
from consensus.codec import policy_lock
from consensus.types import Lock
from faircoop_node.mempool import Mempool
from tests.node.mempool_chain import LOCK, LOCKS, PARAMS, fee_ladder, new_pool


def walk_delta(pool: Mempool, chain: ledger.UtxoView, lock: Lock) -> int:
    """The mempool delta as `api/addresses.py` computed it before the index (its
    `spent_output` reduced to the two places these txs' inputs can be: the pool, the chain)."""
    delta = 0
    for entry in pool.entries():
        tx = entry.tx
        delta += sum(o.amount for o in tx.outputs if o.lock == lock)
        for txin, witness in zip(tx.inputs, tx.witnesses, strict=False):
            if policy_lock(witness.policy) != lock:
                continue
            parent = pool.get(txin.prevout.txid)
            prev = (parent.tx.outputs[txin.prevout.index] if parent is not None
                    else chain.get_utxo(txin.prevout))
            if prev is not None and prev.lock == lock:
                delta -= prev.amount
    return delta


def best_of(rounds: int, fn: Callable[[], int]) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    utxos, txs = fee_ladder(args.txs)
    pool = new_pool(max_txs=args.txs)
    for tx in txs:
        pool.add(tx, utxos, PARAMS)
    print(f"a pool of {len(pool):,} txs, best of {args.rounds}")
    for name, lock in (("busy", LOCK), ("idle", LOCKS["A"])):
        walk_s, walked = best_of(args.rounds, lambda lock=lock: walk_delta(pool, utxos, lock))
        index_s, indexed = best_of(args.rounds, lambda lock=lock: pool.lock_delta(lock))
        assert walked == indexed, (walked, indexed)
        print(f"  {name} lock: walk {walk_s * 1e3:,.1f} ms, index {index_s * 1e6:,.2f} us, "
              f"ratio {walk_s / index_s:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
