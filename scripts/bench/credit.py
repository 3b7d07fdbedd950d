"""Benchmark: credit transfers/s through block apply, as a ratio to coin txs of the same
signature count (target >= 1.0: an account update should cost no more than a UTXO spend).

Both workloads are blocks of N one-signature items over the same --keys signers, applied and
committed (with every index) to a fresh LevelDBStore, one core, CPU time, best of --repeat:
- coin: 1-input, 2-output txs (`apply_block.build`), `ledger.apply_block` + `commit_block`;
- credit: one-payment transfers between the same signers' credit accounts (granted a line by
  an untimed first block), `credit.apply_credit` + `commit_block(credit=...)`.
Cold: an empty signature cache (every signature verified); warm: every item validated into
the cache first, as mempool admission does. The last line is JSON; `cold_ratio` and
`warm_ratio` are credit/s over coin/s.

    .venv/bin/python scripts/bench/credit.py [--blocks 2] [--txs 5000] [--keys 256]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from consensus import codec, credit, ledger  # noqa: E402
from consensus.crypto import PrivateKey, sha256  # noqa: E402
from consensus.params import ChainParams  # noqa: E402
from consensus.types import (  # noqa: E402
    Block,
    BlockHash,
    BlockHeader,
    CreditTransfer,
    Genesis,
    Hash32,
    PublicKey,
    SpendPolicy,
    Validator,
)
from faircoop_node.storage import LevelDBStore  # noqa: E402
from scripts.bench.apply_block import CHAIN_ID, Clock, Timing, Workload, apply_all  # noqa: E402
from scripts.bench.apply_block import build as build_coin  # noqa: E402

ZERO = Hash32(bytes(32))
UNIT = 10**8


@dataclass(frozen=True, slots=True)
class CreditWorkload:
    genesis: Genesis
    grant: tuple[Block, BlockHash]  # untimed: every signer's credit line
    limits: tuple[credit.LimitChange, ...]
    blocks: tuple[tuple[Block, BlockHash], ...]
    params: ChainParams


def build_credit(n_blocks: int, n_txs: int, n_keys: int = 256) -> CreditWorkload:
    keys = [PrivateKey(sha256(b"bench/%d" % i)) for i in range(n_keys)]
    policies = [SpendPolicy.single(k.public_key) for k in keys]
    locks = [codec.policy_lock(p) for p in policies]
    params = ChainParams(max_block_txs=max(n_txs, 10_000), credit_block_cap=10_000)
    genesis = Genesis(1, CHAIN_ID, "test", 0, (),
                      (Validator("bench-coop", PublicKey(keys[0].public_key)),),
                      (PublicKey(keys[0].public_key),), 1, params, locks[0])
    gid = codec.genesis_hash(genesis)
    vhash = codec.validators_hash(genesis.validators)

    def block(height: int, parent: BlockHash, txs: tuple[CreditTransfer, ...]
              ) -> tuple[Block, BlockHash]:
        fields = BlockHeader(1, CHAIN_ID, height, parent, height, ZERO, vhash, vhash,
                             codec.params_hash(params), ZERO, ZERO, ZERO,
                             PublicKey(keys[0].public_key))
        b = ledger.assemble_block(fields, txs)
        return b, codec.block_hash(b.header)

    grant = block(1, BlockHash(gid), ())
    limits = tuple(credit.LimitChange(lk, 10**6 * UNIT, bytes(32)) for lk in locks)
    sequence = [0] * n_keys
    blocks = []
    parent = grant[1]
    for b in range(n_blocks):
        txs = []
        for j in range(b * n_txs, (b + 1) * n_txs):
            k = j % n_keys
            t = credit.new_transfer(CHAIN_ID, locks[k], sequence[k],
                                    [(locks[(k + 1) % n_keys], 3 * UNIT)])
            sequence[k] += 1
            txs.append(credit.sign_credit_transfer(t, policies[k], [keys[k]]))
        made = block(b + 2, parent, tuple(txs))
        parent = made[1]
        blocks.append(made)
    return CreditWorkload(genesis, grant, limits, tuple(blocks), params)


def apply_credit_all(work: CreditWorkload, warm: bool) -> Timing:
    g = work.genesis
    with tempfile.TemporaryDirectory(prefix="faircoop-bench-") as tmp, \
            LevelDBStore(os.path.join(tmp, "chain"), g) as store:
        grant, grant_id = work.grant
        diff = credit.apply_credit(grant, store, work.params, work.limits)
        store.commit_block(grant, grant_id, ledger.UtxoDiff((), (), 0), b"bench-certificate",
                           b"", credit=diff)
        n = sum(len(b.txs) for b, _ in work.blocks)
        cache = ledger.SignatureCache(capacity=n + 1)
        if warm:
            for b, _ in work.blocks:
                for t in b.txs:
                    assert isinstance(t, CreditTransfer)
                    credit.check_transfer_witness(t, cache)
        clock = Clock()
        for b, block_id in work.blocks:
            utxo = ledger.apply_block(b, block_id, store, work.params,
                                      treasury_lock=g.treasury_lock, sig_cache=cache)
            diff = credit.apply_credit(b, store, work.params, sig_cache=cache)
            store.commit_block(b, block_id, utxo, b"bench-certificate", b"", credit=diff)
        elapsed = clock.stop()
        assert store.tip().height == len(work.blocks) + 1
        assert store.get_credit_totals().positive == store.get_credit_totals().outstanding
        return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--txs", type=int, default=5_000)
    ap.add_argument("--keys", type=int, default=256, help="distinct signers, cycled")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each kind; the best counts")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    t = time.perf_counter()
    coin: Workload = build_coin(args.blocks, args.txs, max(1, args.keys))
    work = build_credit(args.blocks, args.txs, max(1, args.keys))
    n = args.blocks * args.txs
    print(f"built {args.blocks} blocks x {args.txs} of each in {time.perf_counter() - t:.1f}s")
    gc.collect()
    gc.freeze()
    runs: dict[str, list[Timing]] = {"coin_cold": [], "credit_cold": [], "coin_warm": [],
                                     "credit_warm": []}
    for _ in range(max(1, args.repeat)):  # interleaved, best of each: the machine is shared
        runs["coin_cold"].append(apply_all(coin, warm=False))
        runs["credit_cold"].append(apply_credit_all(work, warm=False))
        runs["coin_warm"].append(apply_all(coin, warm=True))
        runs["credit_warm"].append(apply_credit_all(work, warm=True))
        print("run (wall): " + "  ".join(f"{k} {n / v[-1].wall:.0f}/s" for k, v in runs.items()))
    cpu = {k: min(x.cpu for x in v) for k, v in runs.items()}
    result = {
        "blocks": args.blocks, "txs_per_block": args.txs, "keys": args.keys,
        "clock": "process_cpu",
        **{f"{k}_per_s": round(n / s) for k, s in cpu.items()},
        "cold_ratio": round(cpu["coin_cold"] / cpu["credit_cold"], 3),
        "warm_ratio": round(cpu["coin_warm"] / cpu["credit_warm"], 3),
    }
    print(f"credit/coin through block apply: cold {result['cold_ratio']}, warm "
          f"{result['warm_ratio']} (target >= 1.0)")
    print(json.dumps(result))



if __name__ == "__main__":
    main()
