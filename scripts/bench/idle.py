#!/usr/bin/env python3
"""Benchmark: what an idle network costs each validator per block, as the validator count grows.

For each validator count, a fresh devnet (validators only, one process each) runs with no load
for a window; the benchmark reads each node's CPU time (/proc) at the window's edges and the
chain's height, then stops the nodes and reads the P2P traffic each one logged at shutdown.

    .venv/bin/python scripts/bench/idle.py [--validators 4,16,32,50] [--window 30] [--warmup 5]
        [--spy DIR]

With `--spy DIR`, one validator is recorded with py-spy through the window (DIR/idle-N.raw)
and the run reports where its busy time went (scripts/bench/spy.py).

Per count it reports blocks per second, CPU per block per validator (ms, the mean over nodes),
and frames sent and received per block per validator (by message type and in all). The last
line is JSON: {"runs": [...]}.

What "linear in n" means here: each validator must check about 2n vote signatures a block and
handle about 3n frames (its own proposal or votes to n - 1 peers, and theirs), so CPU per block
per validator divided by n should stay flat as n grows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "scripts" / "bench"))

from devnet import wait_height  # noqa: E402  (scripts/bench/devnet.py)
from spy import record, summarize  # noqa: E402  (scripts/bench/spy.py)

from faircoop_node.devnet import Devnet, create_devnet, free_base_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def height(url: str) -> int:
    with urllib.request.urlopen(f"{url}/api/v1/blocks/tip/height", timeout=5) as r:
        return int(r.read())


FRAMES = re.compile(r'^faircoop_p2p_frames_total\{direction="(in|out)",type="(\w+)"\} (\S+)$')
TOTALS = re.compile(r'^faircoop_(consensus_relayed|regossips)_total (\S+)$')


def frames_now(url: str) -> Counter[tuple[str, str]] | None:
    """(direction, type) -> frames so far, from the node's /metrics; None if it has none."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    found: Counter[tuple[str, str]] = Counter()
    for line in text.splitlines():
        m = FRAMES.match(line)
        if m:
            found[(m.group(1), m.group(2))] = int(float(m.group(3)))
        t = TOTALS.match(line)
        if t:  # counted as if a direction of their own
            found[(t.group(1), "all")] = int(float(t.group(2)))
    return found or None


def window_frames(before: list[Counter[tuple[str, str]] | None],
                  after: list[Counter[tuple[str, str]] | None]) -> dict[str, Counter[str]] | None:
    """Frames in and out by type over the window, summed over nodes; None without /metrics."""
    if any(b is None for b in before) or any(a is None for a in after):
        return None
    out: dict[str, Counter[str]] = {"in": Counter(), "out": Counter(),
                                    "consensus_relayed": Counter(), "regossips": Counter()}
    for b, a in zip(before, after, strict=True):
        assert a is not None and b is not None
        for (direction, kind), n in a.items():
            out[direction][kind] += n - b.get((direction, kind), 0)
    return out


def traffic_of(log: Path) -> tuple[int, dict[str, dict[str, int]], int] | None:
    """(tip, traffic, regossips) from the node's `p2p_traffic` line, written at shutdown."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if '"p2p_traffic"' in line:
            doc = json.loads(line)
            return int(doc["tip"]), doc["traffic"], int(doc.get("regossips", 0))
    return None


def run_one(n: int, args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="faircoop-idle-bench-"))
    try:
        layout = create_devnet(tmp / "net", n, free_base_port(args.base_port, n + 1, step=211))
        net = Devnet(layout)
        nodes = [node for node in layout.nodes if node.validator]
        start_height = 0
        spied = False
        windowed = None
        net.start_all(nodes)
        try:
            for node in nodes:
                wait_height(node.api_url, 2, 120 + 3 * n)
            time.sleep(args.warmup)
            pids = {node.name: net.procs[node.name].pid for node in nodes}
            f0 = [frames_now(node.api_url) for node in nodes]
            h0, c0, t0 = height(nodes[0].api_url), {k: cpu_s(p) for k, p in pids.items()}, \
                time.monotonic()
            if args.spy:
                raw = Path(args.spy) / f"idle-{n}.raw"
                raw.parent.mkdir(parents=True, exist_ok=True)
                spied = record(pids[nodes[1 % n].name], args.window, raw, args.spy_rate,
                               args.spy_gil)
            else:
                time.sleep(args.window)
            h1, c1, t1 = height(nodes[0].api_url), {k: cpu_s(p) for k, p in pids.items()}, \
                time.monotonic()
            windowed = window_frames(f0, [frames_now(node.api_url) for node in nodes])
            start_height = h0
        finally:
            codes = net.stop_all()
        blocks = max(1, h1 - h0)
        cpu = [sum(c1[k]) - sum(c0[k]) for k in pids]
        kernel = sum(c1[k][1] - c0[k][1] for k in pids)
        frames_in: Counter[str] = Counter()
        frames_out: Counter[str] = Counter()
        tips = []
        regossips = 0
        for node in nodes:
            found = traffic_of(node.log_path)
            if found is None:
                continue
            tip, traffic, stalls = found
            tips.append(tip)
            regossips += stalls
            frames_in.update(traffic["frames_in"])
            frames_out.update(traffic["frames_out"])
        counted = max(1, len(tips))
        life_blocks = max(1, (sum(tips) / counted))  # traffic covers each node's whole life
        per = counted * life_blocks
        if windowed is not None:  # the window only (/metrics at its edges): no start-up
            frames_in, frames_out = windowed["in"], windowed["out"]
            per = len(nodes) * blocks
        return {
            "validators": n,
            "window_s": round(t1 - t0, 1),
            "blocks": h1 - h0,
            "blocks_per_s": round((h1 - h0) / (t1 - t0), 3),
            "cpu_ms_per_block_per_validator": round(1000 * sum(cpu) / len(cpu) / blocks, 2),
            "cpu_cores_all_nodes": round(sum(cpu) / (t1 - t0), 3),
            "cpu_kernel_share": round(kernel / max(sum(cpu), 1e-9), 2),
            "frames_out_per_block_per_validator": round(sum(frames_out.values()) / per, 1),
            "frames_in_per_block_per_validator": round(sum(frames_in.values()) / per, 1),
            "frames_out_by_type": {k: round(v / per, 1) for k, v in frames_out.most_common()},
            "frames_counted": "window" if windowed is not None else "whole life",
            **({"relayed_per_block_per_validator":
                round(windowed["consensus_relayed"]["all"] / per, 2),
                "window_regossips_per_block_per_validator":
                round(windowed["regossips"]["all"] / per, 3)} if windowed is not None else {}),
            "regossips_per_block_per_validator": round(regossips / (counted * life_blocks), 2),
            "start_height": start_height,
            "node_exit_codes": sorted(set(codes.values())),
            **({"spy_top": summarize(Path(args.spy) / f"idle-{n}.raw", 25)["self"]}
               if spied else {}),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--validators", default="4,16,32,50", help="comma-separated counts")
    ap.add_argument("--window", type=float, default=30.0, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds after height 2")
    ap.add_argument("--base-port", type=int, default=18_600)
    ap.add_argument("--spy", help="directory for a py-spy recording of one validator")
    ap.add_argument("--spy-rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--spy-gil", action="store_true",
                    help="record only samples that hold the GIL (the node's Python work)")
    args = ap.parse_args(argv)
    runs = []
    for n in (int(x) for x in args.validators.split(",")):
        result = run_one(n, args)
        print(json.dumps(result), file=sys.stderr, flush=True)
        runs.append(result)
    print(json.dumps({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
