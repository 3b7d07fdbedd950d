"""Benchmark: build and sign a 100-input transaction with the faircoop wallet library, and the
same job (100 single-key inputs, one payment, change, fee from size x rate) with a peer library
in the same run.

The peer is `bit` (pip install bit; installed only for this benchmark). If it is not installed
the peer part is skipped with a message and its figures are null.

Differences worth knowing when reading the ratio: bit builds legacy P2PKH Bitcoin transactions,
where every input signs its own digest over the whole tx (quadratic hashing); faircoop inputs all
sign one digest (chain id + txid), and coin selection plus the exact-fee iteration run inside
our timing. Both sign with libsecp256k1 through coincurve.

Usage: .venv/bin/python scripts/bench/wallet.py [--inputs 100] [--repeat 5]
The last line of output is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from consensus import codec, ledger  # noqa: E402
from consensus.crypto import PrivateKey  # noqa: E402
from consensus.params import ChainParams  # noqa: E402
from consensus.types import OutPoint, SpendPolicy, TxId  # noqa: E402
from wallet.builder import Coin, Payment, build_transaction, sign_transaction  # noqa: E402

COIN_AMOUNT = 100_000  # base units (satoshis for the peer) per input
FEE_RATE = 2


def median_ms(job: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        job()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def faircoop_job(n: int) -> tuple[Callable[[], object], Callable[[], None]]:
    key = PrivateKey((424242).to_bytes(32, "big"))
    policy = SpendPolicy.single(key.public_key)
    payee = codec.policy_lock(SpendPolicy.single(PrivateKey((7).to_bytes(32, "big")).public_key))
    coins = [Coin(OutPoint(TxId(i.to_bytes(32, "big")), 0), COIN_AMOUNT, policy)
             for i in range(1, n + 1)]
    # Pay enough that every input is needed.
    amount = COIN_AMOUNT * n - 200 * n * FEE_RATE
    params = ChainParams(max_tx_size=1_000_000)
    keys = {key.public_key: key}

    def job() -> object:
        unsigned = build_transaction(coins, [Payment(payee, amount)], fee_rate=FEE_RATE,
                                     params=params, chain_id="faircoop-bench",
                                     change_policy=policy)
        return sign_transaction(unsigned, keys)

    def check() -> None:
        tx = job()
        view = ledger.MemoryUtxoSet({c.outpoint: c.output for c in coins})
        valid = ledger.validate_tx(tx, view, params, chain_id="faircoop-bench")  # type: ignore[arg-type]
        assert len(tx.inputs) == n, len(tx.inputs)  # type: ignore[attr-defined]
        assert valid.fee >= valid.size * FEE_RATE

    return job, check


def bit_job(n: int) -> Callable[[], object] | None:
    try:
        from bit import PrivateKeyTestnet
        from bit.network.meta import Unspent
        from bit.transaction import address_to_scriptpubkey
    except ImportError:
        return None
    key = PrivateKeyTestnet.from_int(424242)
    script = address_to_scriptpubkey(key.address).hex()
    unspents = [Unspent(COIN_AMOUNT, 6, script, i.to_bytes(32, "big").hex(), 0)
                for i in range(1, n + 1)]
    payee = PrivateKeyTestnet.from_int(7).address
    amount = COIN_AMOUNT * n - 200 * n * FEE_RATE

    def job() -> object:
        return key.create_transaction([(payee, amount, "satoshi")], fee=FEE_RATE,
                                      unspents=list(unspents), combine=True)

    return job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    ours, check = faircoop_job(args.inputs)
    check()
    ours()  # warm caches the same way for both
    ours_ms = median_ms(ours, args.repeat)
    print(f"faircoop: build+sign {args.inputs} inputs: {ours_ms:.2f} ms (median of {args.repeat})")
    peer = bit_job(args.inputs)
    peer_ms: float | None = None
    if peer is None:
        print("peer library `bit` is not installed: skipping the peer "
              "(pip install bit to compare)")
    else:
        peer()
        peer_ms = median_ms(peer, args.repeat)
        print(f"bit:      build+sign {args.inputs} inputs: {peer_ms:.2f} ms")
    result = {
        "build_sign_100_inputs_ms": round(ours_ms, 3) if args.inputs == 100 else None,
        "inputs": args.inputs,
        "build_sign_ms": round(ours_ms, 3),
        "peer_library": "bit" if peer is not None else None,
        "peer_ms": round(peer_ms, 3) if peer_ms is not None else None,
        "ratio_vs_peer": round(peer_ms / ours_ms, 3) if peer_ms else None,
        "ratio_meaning": "peer_ms / ours_ms: above 1 means faircoop is faster",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
