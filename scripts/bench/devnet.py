#!/usr/bin/env python3
"""Benchmark: throughput and finality latency of a local devnet under scripts/loadgen.py.

For each validator count (and each offered rate), this creates a fresh devnet in a temporary
directory (`faircoop_node.devnet.create_devnet`), starts its validators (the observer too with
`--observer`), waits for the first blocks, runs the load generator against it, stops it, and
collects the generator's JSON. Every run starts from a new chain, so runs don't inherit each
other's mempool or UTXO set.

    .venv/bin/python scripts/bench/devnet.py [--validators 4,7,10] [--rate 600,1500] \
        [--duration 60] [--warmup 5] [--senders 1000] [--repeat 1] [--base-port 17600] \
        [--connections 8] [--backlog 2]

The last line is JSON: {"runs": [loadgen results...], "summary": {"<n>x<rate>": medians}}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "scripts" / "bench"))  # spy.py; after the packages (wallet.py!)

from spy import record  # noqa: E402  (scripts/bench/spy.py)
from spy import summarize as summarize_profile  # noqa: E402

from faircoop_node.devnet import (  # noqa: E402
    Devnet,
    create_devnet,
    free_base_port,
)


def wait_height(url: str, height: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/blocks/tip/height", timeout=2) as r:
                last = int(r.read())
            if last >= height:
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not reach height {height} in {timeout}s (at {last})")


def run_one(validators: int, rate: float, args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="faircoop-devnet-bench-", dir=args.keep))
    try:
        layout = create_devnet(tmp / "net", validators,
                               free_base_port(args.base_port, validators + 1, step=211))
        net = Devnet(layout)
        nodes = [n for n in layout.nodes if n.validator or args.observer]
        net.start_all(nodes)
        try:
            for n in nodes:
                wait_height(n.api_url, 2, 60)
            cmd = [sys.executable, str(ROOT / "scripts" / "loadgen.py"),
                   "--node", nodes[0].api_url, "--wallet", str(layout.wallet_path),
                   "--password-file", str(layout.password_path),
                   "--duration", str(args.duration), "--warmup", str(args.warmup),
                   "--senders", str(args.senders), "--rate", str(rate),
                   "--drain", str(args.drain), "--connections", str(args.connections),
                   "--backlog", str(args.backlog), "--batch", str(args.batch), "--quiet"]
            if args.keep is not None:
                cmd += ["--trace", str(tmp / "trace.json")]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            err: list[str] = []
            profiled = Path(args.profile) if args.profile else None
            assert proc.stderr is not None and proc.stdout is not None
            for line in proc.stderr:  # progress; the window starts at the first "t=" line
                err.append(line)
                if profiled is not None and "t=" in line and not profiled.exists():
                    pid = net.procs[nodes[min(1, len(nodes) - 1)].name].pid
                    threading.Thread(target=record, args=(
                        pid, max(3, min(15, args.duration - 3)), profiled), daemon=True).start()
            out = proc.stdout.read()
            if proc.wait() != 0:
                raise SystemExit(f"loadgen failed ({proc.returncode}):\n{''.join(err)[-3000:]}")
            result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
            if profiled is not None:
                time.sleep(1)
                if profiled.exists():
                    result["profile"] = summarize_profile(profiled, 15)
        finally:
            codes = net.stop_all()
        result["validators"] = validators
        result["observer_running"] = bool(args.observer)
        result["node_exit_codes"] = codes
        return result
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept the devnet (node logs) in {tmp}", file=sys.stderr)


KEYS = ("submitted_tx_per_s", "committed_tx_per_s", "committed_in_window_tx_per_s",
        "finality_p50_s", "finality_p95_s", "finality_p99_s", "nodes_cpu_pct_total",
        "loadgen_cpu_pct", "machine_busy_pct", "send_slots_lapsed")


def summarize(runs: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    groups: dict[str, list[dict[str, object]]] = {}
    for r in runs:
        groups.setdefault(f"{r['validators']}x{r['offered_rate_tx_per_s']:g}", []).append(r)
    out: dict[str, dict[str, object]] = {}
    for name, rs in groups.items():
        row: dict[str, object] = {"runs": len(rs)}
        for k in KEYS:
            vals = [float(r[k]) for r in rs if r.get(k) is not None]  # type: ignore[arg-type]
            if vals:
                row[k] = round(statistics.median(vals), 3)
                row[k + "_range"] = [min(vals), max(vals)]
        rss = [max(float(n["rss_peak_mb"]) for n in r["nodes"].values())  # type: ignore[attr-defined]
               for r in rs if r.get("nodes")]
        if rss:
            row["node_rss_peak_mb_max"] = max(rss)
        out[name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--validators", default="4", help="comma-separated validator counts")
    ap.add_argument("--rate", default="1500", help="comma-separated offered loads, tx/s")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--drain", type=float, default=15.0)
    ap.add_argument("--senders", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--connections", type=int, default=8,
                    help="loadgen's keep-alive HTTP connections per node")
    ap.add_argument("--backlog", type=float, default=2.0,
                    help="loadgen's bank of unused send slots, seconds (see loadgen.SendSlots)")
    ap.add_argument("--base-port", type=int, default=17600)
    ap.add_argument("--observer", action="store_true", help="run the devnet's observer too")
    ap.add_argument("--batch", type=int, default=1,
                    help="loadgen's txs per request (1: POST /api/v1/tx each; more: "
                         "POST /api/v1/txs)")
    ap.add_argument("--keep", metavar="DIR", help="keep each run's devnet (with its node logs and "
                    "loadgen's per-tx trace.json) "
                    "in a new directory under DIR instead of deleting it")
    ap.add_argument("--profile", help="py-spy the second validator during the window into "
                    "this raw file (see scripts/bench/spy.py); one run only")
    args = ap.parse_args(argv)
    runs = []
    for _ in range(args.repeat):
        for n in (int(v) for v in args.validators.split(",")):
            for rate in (float(r) for r in args.rate.split(",")):
                r = run_one(n, rate, args)
                print(f"{n} validators, offered {rate:g} tx/s: submitted "
                      f"{r.get('submitted_tx_per_s')} committed "
                      f"{r['committed_tx_per_s']} tx/s, finality p50 {r['finality_p50_s']} s "
                      f"p99 {r['finality_p99_s']} s, nodes CPU {r['nodes_cpu_pct_total']}%, "
                      f"loadgen CPU {r['loadgen_cpu_pct']}%, machine busy "
                      f"{r['machine_busy_pct']}%, slots lapsed {r.get('send_slots_lapsed')}",
                      flush=True)
                runs.append(r)
    print(json.dumps({"runs": runs, "summary": summarize(runs)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
