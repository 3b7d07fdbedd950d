#!/usr/bin/env python3
"""How fast is faircoop's verify next to raw coincurve and next to the ecdsa fallback?

Usage: .venv/bin/python scripts/bench/crypto.py [--iterations N] [--rounds R]

Measured, in one run, over the same signatures:
- `verify_per_s`: `consensus.crypto.verify(pub33, sig64, digest)` with the default (coincurve)
  backend: what the ledger calls for every input.
- `raw_coincurve_verify_per_s`: the plain public coincurve API,
  `coincurve.PublicKey(pub33).verify(der_sig, digest, hasher=None)`, one fresh PublicKey per
  call, as a caller holding bytes would write it. This is the baseline of `ratio_vs_raw`.
- `raw_coincurve_preparsed_verify_per_s`: the same with the PublicKey objects parsed once up
  front (not counted in the timing), the fastest the public API goes. Our backend caches parsed
  keys too (validators and coop keys repeat), so this variant is the like-for-like comparison
  and is reported as `ratio_vs_raw_preparsed`.
- `ecdsa_fallback_verify_per_s`: `EcdsaBackend().verify`, the pure-python fallback, with fewer
  iterations (it is 20-40x slower).

Noise control: the variants run interleaved, round after round in a rotating order, with the
garbage collector off while timing; each figure is the median over rounds, and `ratio_vs_raw` is
the median of the per-round ratios (each pair measured back to back). The last line of output is
one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import coincurve  # noqa: E402
from coincurve.ecdsa import cdata_to_der, deserialize_compact  # noqa: E402

from consensus import crypto  # noqa: E402
from consensus.crypto import CoincurveBackend, EcdsaBackend, PrivateKey, sha256  # noqa: E402

KEYS = 32  # distinct signers, cycled: a block's inputs come from a handful of keys


def _workload(count: int) -> list[tuple[bytes, bytes, bytes, bytes]]:
    """(pub33, compact sig, DER sig, digest) for `count` distinct messages over KEYS keys."""
    keys = [PrivateKey(sha256(b"bench-key" + i.to_bytes(4, "big"))) for i in range(KEYS)]
    out = []
    for i in range(count):
        k = keys[i % KEYS]
        digest = sha256(b"bench-msg" + i.to_bytes(4, "big"))
        sig = k.sign(digest)
        der = bytes(cdata_to_der(deserialize_compact(sig)))
        out.append((k.public_key, sig, der, digest))
    return out


def _rate(run: Callable[[], int], n: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        ok = run()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    if ok != n:
        raise SystemExit(f"benchmark bug: only {ok} of {n} signatures verified")
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=5_000, help="verifies per coincurve run")
    ap.add_argument("--ecdsa-iterations", type=int, default=300, help="verifies per ecdsa run")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median taken)")
    args = ap.parse_args(argv)

    work = _workload(max(args.iterations, args.ecdsa_iterations))
    fast = work[: args.iterations]
    slow = work[: args.ecdsa_iterations]
    api_backend = crypto.backend()
    assert isinstance(api_backend, CoincurveBackend), "the default backend should be coincurve"
    fallback = EcdsaBackend()
    verify = crypto.verify
    public_key = coincurve.PublicKey
    preparsed = {pub: public_key(pub) for pub, _, _, _ in fast}

    def ours() -> int:
        return sum(verify(pub, sig, digest) for pub, sig, _, digest in fast)

    def raw() -> int:
        return sum(public_key(pub).verify(der, digest, hasher=None)
                   for pub, _, der, digest in fast)

    def raw_preparsed() -> int:
        return sum(preparsed[pub].verify(der, digest, hasher=None)
                   for pub, _, der, digest in fast)

    def ecdsa_fallback() -> int:
        return sum(fallback.verify(pub, sig, digest) for pub, sig, _, digest in slow)

    variants: dict[str, tuple[Callable[[], int], int]] = {
        "ours": (ours, len(fast)),
        "raw": (raw, len(fast)),
        "raw_preparsed": (raw_preparsed, len(fast)),
        "ecdsa": (ecdsa_fallback, len(slow)),
    }
    # Warm up: caches (our parsed keys, the ecdsa key objects), allocator, branch predictors.
    for run, n in variants.values():
        _rate(run, n)

    rates: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            run, n = variants[name]
            rates[name].append(_rate(run, n))

    med = {name: statistics.median(v) for name, v in rates.items()}
    paired = statistics.median(o / w for o, w in zip(rates["ours"], rates["raw"], strict=True))
    paired_pre = statistics.median(
        o / w for o, w in zip(rates["ours"], rates["raw_preparsed"], strict=True))

    print(f"python {platform.python_version()}, coincurve {_version('coincurve')}, "
          f"ecdsa {_version('ecdsa')}, {os.cpu_count()} cpus, {args.rounds} rounds")
    for name, label in (("ours", "consensus.crypto.verify (coincurve backend)"),
                        ("raw", "raw coincurve, fresh PublicKey per call"),
                        ("raw_preparsed", "raw coincurve, PublicKey parsed up front"),
                        ("ecdsa", "ecdsa fallback (EcdsaBackend)")):
        spread = f"{min(rates[name]):,.0f}..{max(rates[name]):,.0f}"
        print(f"  {label:46s} {med[name]:>10,.0f} verify/s  (rounds: {spread})")
    print(f"  ratio ours/raw {paired:.3f}, ours/raw-preparsed {paired_pre:.3f}, "
          f"ours/ecdsa {med['ours'] / med['ecdsa']:.1f}x")
    result = {
        "verify_per_s": round(med["ours"]),
        "raw_coincurve_verify_per_s": round(med["raw"]),
        "ratio_vs_raw": round(paired, 3),
        "ecdsa_fallback_verify_per_s": round(med["ecdsa"]),
        "raw_coincurve_preparsed_verify_per_s": round(med["raw_preparsed"]),
        "ratio_vs_raw_preparsed": round(paired_pre, 3),
        "iterations": args.iterations,
        "ecdsa_iterations": args.ecdsa_iterations,
        "rounds": args.rounds,
    }
    print(json.dumps(result))
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
