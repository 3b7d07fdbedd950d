"""Benchmark: GET /api/v1/tx/{txid} of a treasury spend of one block's fees (issue 12, finding 10).

The costliest tx lookup: the spent output is a block's fee output, whose amount is the sum of
the fees of every tx in that block. The chain is `tests/api/api_chain.fee_chain(n)`: height 1
splits a coin into `n` outputs, height 2 has `n` txs each spending one (fee 10,000 each), and
height 3 the treasury spends height 2's fee output. The API runs in this process (aiohttp test
server over a LevelDBStore in a temporary directory, or a MemoryStore with --memory; the same
`create_app` a node serves), so the figures are the API's own work, without a node's other load.

Per size: the request's wall time (the first, with the codec's memos cold for this chain's
reads, and the best of --repeat), and the longest the event loop went
without running a 1 ms ticker while the requests ran (what a node's votes would wait). The last
line is JSON.

    .venv/bin/python scripts/bench/api_tx.py [--sizes 100,500,2000] [--repeat 5] [--memory]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from consensus import codec  # noqa: E402
from faircoop_node.api import create_app  # noqa: E402
from faircoop_node.storage import BaseStore, LevelDBStore  # noqa: E402
from tests.api.api_chain import fee_chain, fee_chain_genesis  # noqa: E402


async def _ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def measure(n: int, repeat: int, store: BaseStore | None) -> dict[str, float]:
    scene = fee_chain(n, store)
    txid = codec.txid(scene.treasury_spend).hex()
    app = create_app(scene.node)  # type: ignore[arg-type]
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        times: list[float] = []
        gaps: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(gaps, stop))
        for _ in range(repeat):
            started = time.perf_counter()
            resp = await client.get(f"/api/v1/tx/{txid}")
            body = await resp.json()
            times.append(time.perf_counter() - started)
            assert resp.status == 200 and body["fee"] == 1_000, body
        stop.set()
        await ticker
    return {"n": n, "first_s": times[0], "best_s": min(times), "max_loop_gap_s": max(gaps)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="a MemoryStore, not LevelDB")
    args = parser.parse_args(argv)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="faircoop-bench-") as tmp:
            store = None if args.memory else LevelDBStore(Path(tmp) / "chain",
                                                          fee_chain_genesis())
            try:
                result = asyncio.run(measure(n, args.repeat, store))
            finally:
                if store is not None:
                    store.close()
        print(f"n={n:>6}  GET /tx first {result['first_s'] * 1000:9.2f} ms"
              f"  best {result['best_s'] * 1000:9.2f} ms"
              f"   longest loop stall {result['max_loop_gap_s'] * 1000:9.2f} ms", flush=True)
        results.append(result)
    print(json.dumps({"bench": "api_tx", "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
