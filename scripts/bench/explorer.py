#!/usr/bin/env python3
"""Benchmark: the explorer's overview page served by one validator while a 4-validator devnet
finalizes a steady load, and what serving it does to the chain.

    .venv/bin/python scripts/bench/explorer.py [--rate 400] [--page-rate 250] [--window 10] \
        [--rounds 4] [--senders 400] [--page-connections 4] [--validators 4] [--base-port 18600]

A fresh devnet (validators only) takes `scripts/loadgen.py` at `--rate` tx/s, spread over every
validator. Once its txs flow, windows of `--window` seconds follow: one without page load,
then `--rounds` times a window with GET / against coop-1 at `--page-rate` requests/s (open loop,
paced, over `--page-connections` keep-alive connections) and one without (the kinds alternate,
so a drift in the machine's load, shared with other work, falls on both alike). Blocks are
followed over the block stream of coop-2 (not the node serving the pages).

Per window: the mean block interval (from the headers' times), committed tx/s, coop-1's CPU;
in the page window, the pages served per second (200s), their latency p50/p99, and any other
status. The verdicts are ratios: pages served / 200 (target >= 1); the block interval with
pages / without, per round (a window with pages against the mean of the two windows without
around it, so a drift in the machine's load cancels out) and their median (target <= 1.1;
the ratio of the means over all windows is reported too); committed tx/s / offered per
window. A run in which some window committed under 90% of the offered rate is not a valid
measurement (`load_held` false: the chain fell behind, e.g. on a machine busy with other work)
and is not `met`. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from faircoop_node.devnet import Devnet, create_devnet, free_base_port  # noqa: E402
from scripts.bench.devnet import wait_height  # noqa: E402
from scripts.loadgen import Conn, HttpError, host_port, proc_cpu_s  # noqa: E402

TARGET_PAGES = 200.0
TARGET_INTERVAL_RATIO = 1.1


@dataclass(frozen=True, slots=True)
class Seen:
    """A block announced on the stream: when it arrived here, and what the stream said."""

    mono: float
    height: int
    time_ms: int
    tx_count: int


@dataclass
class Pages:
    latencies: list[float] = field(default_factory=list)
    other: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: int = 0


async def follow(url: str, seen: list[Seen], stop: asyncio.Event) -> None:
    """Record every block event of `url`'s /api/v1/blocks/stream until `stop`."""
    host, port = host_port(url)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/v1/blocks/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    try:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 1.0)
            except TimeoutError:
                continue
            if not line:
                break
            if line.startswith(b"data: "):
                doc = json.loads(line[6:])
                seen.append(Seen(time.monotonic(), int(doc["height"]), int(doc["time_ms"]),
                                 int(doc["tx_count"])))
    finally:
        writer.close()


async def load_pages(url: str, rate: float, connections: int, seconds: float,
                     pages: Pages) -> None:
    """GET / at `rate` per second for `seconds`: each connection takes its share of the slots
    (open loop: a slow answer does not slow the schedule; a slot that passed is sent at once)."""
    host, port = host_port(url)
    start = time.monotonic()
    interval = connections / rate

    async def worker(offset: float) -> None:
        conn = Conn(host, port)
        n = 0
        while True:
            due = start + offset + n * interval
            if due - start >= seconds:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            pages.sent += 1
            began = time.perf_counter()
            try:
                status, _ = await conn.request("GET", "/")
            except (HttpError, OSError):
                pages.errors += 1
                continue
            if status == 200:
                pages.latencies.append(time.perf_counter() - began)
            else:
                pages.other[status] = pages.other.get(status, 0) + 1
        conn.close()

    await asyncio.gather(*(worker(i / rate) for i in range(connections)))


def window_figures(seen: list[Seen], start: float, end: float) -> dict[str, float]:
    inside = [s for s in seen if start <= s.mono < end]
    gaps = [b.time_ms - a.time_ms for a, b in zip(inside, inside[1:], strict=False)
            if b.height == a.height + 1]
    return {"blocks": len(inside),
            "block_interval_ms": statistics.fmean(gaps) if gaps else float("nan"),
            "block_interval_p50_ms": statistics.median(gaps) if gaps else float("nan"),
            "committed_tx_per_s": sum(s.tx_count for s in inside) / (end - start)}


async def measure(args: argparse.Namespace, urls: list[str], pid: int | None
                  ) -> dict[str, object]:
    seen: list[Seen] = []
    stop = asyncio.Event()
    follower = asyncio.create_task(follow(urls[1], seen, stop))
    # the load is flowing once the last 3 s of blocks carried at least half the offered rate
    deadline = time.monotonic() + args.setup_timeout
    while True:
        await asyncio.sleep(0.5)
        now = time.monotonic()
        recent = sum(s.tx_count for s in seen if s.mono > now - 3)
        if recent >= 1.5 * args.rate:
            break
        if now > deadline:
            raise SystemExit("the load never reached half the offered rate")
    await asyncio.sleep(2)  # settle
    windows: list[dict[str, object]] = []
    pages = Pages()
    names = ["without"] + ["with", "without"] * args.rounds
    for name in names:
        cpu0 = proc_cpu_s(pid) if pid else None
        start = time.monotonic()
        if name == "with":
            await load_pages(urls[0], args.page_rate, args.page_connections, args.window,
                             pages)
            await asyncio.sleep(max(0.0, start + args.window - time.monotonic()))
        else:
            await asyncio.sleep(args.window)
        end = time.monotonic()
        cpu1 = proc_cpu_s(pid) if pid else None
        figures: dict[str, object] = {"window": name, **window_figures(seen, start, end)}
        if cpu0 is not None and cpu1 is not None:
            figures["coop1_cpu_pct"] = 100 * (cpu1 - cpu0) / (end - start)
        windows.append(figures)
    stop.set()
    await follower
    lat = sorted(pages.latencies)
    served = len(lat) / (args.window * args.rounds)

    def mean_of(kind: str, key: str) -> float:
        return statistics.fmean(float(str(w[key])) for w in windows if w["window"] == kind)

    without = mean_of("without", "block_interval_ms")
    with_pages = mean_of("with", "block_interval_ms")
    intervals = [float(str(w["block_interval_ms"])) for w in windows]
    # each window with pages against the mean of the two without it, on either side: a drift
    # in the machine's load (shared with other work) cancels out of each round's ratio
    rounds = [intervals[i] / statistics.fmean((intervals[i - 1], intervals[i + 1]))
              for i in range(1, len(intervals), 2)]
    verdict = statistics.median(rounds)
    committed = [float(str(w["committed_tx_per_s"])) for w in windows]
    load_held = min(committed) >= 0.9 * args.rate  # else the chain, not the pages, was behind
    cpu = [w.get("coop1_cpu_pct") for w in windows]
    return {
        "windows": windows,
        "pages_sent": pages.sent, "pages_ok": len(lat), "pages_other_status": pages.other,
        "pages_errors": pages.errors,
        "pages_per_s": served,
        "page_latency_p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
        "page_latency_p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else None,
        "pages_ratio_to_target": served / TARGET_PAGES,
        "block_interval_ms_without": without, "block_interval_ms_with": with_pages,
        "block_interval_ratio_with_to_without": with_pages / without,
        "block_interval_ratio_per_round": rounds,
        "block_interval_ratio_median_of_rounds": verdict,
        "committed_tx_ratio_to_offered_per_window": [c / args.rate for c in committed],
        "load_held": load_held,
        "coop1_cpu_pct_per_window": cpu,
        "met": load_held and served >= TARGET_PAGES and verdict <= TARGET_INTERVAL_RATIO,
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="faircoop-explorer-bench-"))
    layout = create_devnet(tmp / "net", args.validators,
                           free_base_port(args.base_port, args.validators + 1, step=211))
    net = Devnet(layout)
    validators = [n for n in layout.nodes if n.validator]
    loadgen: subprocess.Popen[str] | None = None
    try:
        net.start_all(validators)
        for n in validators:
            wait_height(n.api_url, 2, 60)
        duration = (2 * args.rounds + 1) * args.window + args.load_margin
        loadgen = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "loadgen.py"), "--node",
             validators[0].api_url, "--wallet", str(layout.wallet_path), "--password-file",
             str(layout.password_path), "--duration", str(duration), "--warmup", "3",
             "--senders", str(args.senders), "--rate", str(args.rate), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pid_file = validators[0].pid_path
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        result = asyncio.run(measure(args, [n.api_url for n in validators], pid))
        out, err = loadgen.communicate(timeout=duration + 120)
        lines = out.strip().splitlines()
        result["loadgen"] = json.loads(lines[-1]) if lines else {"error": err[-2000:]}
        return result
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
            loadgen.wait()
        net.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=400.0, help="offered tx/s (loadgen)")
    ap.add_argument("--page-rate", type=float, default=250.0, help="GET / per second")
    ap.add_argument("--page-connections", type=int, default=4)
    ap.add_argument("--window", type=float, default=10.0, help="seconds per window")
    ap.add_argument("--rounds", type=int, default=4,
                    help="page-load windows, each between two windows without")
    ap.add_argument("--senders", type=int, default=400)
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--base-port", type=int, default=18_600)
    ap.add_argument("--setup-timeout", type=float, default=180.0)
    ap.add_argument("--load-margin", type=float, default=40.0,
                    help="seconds of load beyond the windows: the wait until it flows")
    ap.add_argument("--keep", action="store_true", help="keep the devnet directory")
    args = ap.parse_args(argv)
    result = run(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
