"""Every outsider attack at once, repeated until a deadline; and the command line that runs them.

    python scripts/outsider_node.py --devnet DIR --node coop-1 --attacks forged_votes
    python scripts/outsider_node.py --api http://127.0.0.1:7070 --p2p ws://127.0.0.1:7170/p2p \\
        --attacks all --duration 180 --report out.json

Without `--duration`, each chosen attack runs once, in turn, against the first target, with
its defaults (change any with `--param attack.name=value`), and its report is printed. With
`--duration`, `campaign` runs every chosen attack at once, each in a loop with the arguments
and pause of its `Wave`, each run against a random target, until the time is up (the soak).
`--equivocate-key` adds a real equivocation by the validator whose node.key it names
(finding 5's check). The last line of output is the JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from consensus.errors import FaircoopError
from consensus.types import PublicKey
from faircoop_node.byzantine import outsider as o
from faircoop_node.byzantine.outpeer import Report, Target, discover, get_json, validator_keys

ATTACKS = ("forged_votes", "forged_proposals", "get_blocks_flood", "evidence_junk",
           "lying_tip", "junk_proposals", "half_open", "pre_handshake_frames", "api_hammer",
           "sse_streams", "junk_txs", "bad_evidence")


@dataclass(frozen=True, slots=True)
class Wave:
    """How one attack repeats in a campaign: its arguments each time, and the pause after."""

    args: dict[str, Any]
    pause_s: float


# Per-run arguments in a campaign: each strikes hard, but leaves the machine (2 cores shared by
# every node, the load and this process) room to show whether the nodes cope.
CAMPAIGN: dict[str, Wave] = {
    "forged_votes": Wave({"connections": 2, "rate_per_s": 4_500.0, "duration_s": 15.0}, 5.0),
    "forged_proposals": Wave({"count": 10, "block_bytes": 15_000_000, "pause_s": 0.2}, 10.0),
    "get_blocks_flood": Wave({"requests": 200, "hold_s": 10.0}, 10.0),
    "evidence_junk": Wave({"count": 1_200, "rate_per_s": 1_000.0}, 20.0),
    "lying_tip": Wave({"duration_s": 60.0, "connect_for_s": 5.0}, 0.0),
    "junk_proposals": Wave({"count": 3, "pause_s": 1.0}, 15.0),
    "half_open": Wave({"sockets": 200, "hold_s": 10.0}, 5.0),
    "pre_handshake_frames": Wave({"sockets": 30, "hold_s": 6.0}, 10.0),
    "api_hammer": Wave({"concurrency": 4, "duration_s": 20.0}, 10.0),
    "sse_streams": Wave({"streams": 1_100, "hold_s": 15.0}, 10.0),
    "junk_txs": Wave({"frames": 5, "per_frame": 500}, 5.0),
    "bad_evidence": Wave({"count": 100}, 5.0),
}


async def run_attack(session: aiohttp.ClientSession, name: str, target: Target,
                     validators: Sequence[PublicKey], args: dict[str, Any],
                     api_path: str | None = None) -> Report:
    """One run of the attack called `name` against `target` with keyword `args`."""
    s, t, v, a = session, target, validators, args
    if name == "forged_votes":
        return await o.forged_votes(s, t, v, **a)
    if name == "forged_proposals":
        return await o.forged_proposals(s, t, v, **a)
    if name == "junk_proposals":
        return await o.junk_proposals(s, t, v, **a)
    if name == "lying_tip":
        return await o.lying_tip(s, t, v, **a)
    if name == "bad_evidence":
        return await o.bad_evidence(s, t, v, **a)
    if name == "get_blocks_flood":
        return await o.get_blocks_flood(s, t, **a)
    if name == "evidence_junk":
        return await o.evidence_junk(s, t, **a)
    if name == "junk_txs":
        return await o.junk_txs(s, t, **a)
    if name == "half_open":
        return await o.half_open(t, **a)
    if name == "pre_handshake_frames":
        return await o.pre_handshake_frames(t, **a)
    if name == "sse_streams":
        return await o.sse_streams(t.api_url, **a)
    if name == "api_hammer":
        path = api_path or await busiest_tx_path(s, t.api_url)
        return await o.api_hammer(s, t.api_url, path, **a)
    raise ValueError(f"unknown attack {name!r} (known: {', '.join(ATTACKS)})")


async def busiest_tx_path(session: aiohttp.ClientSession, api_url: str) -> str:
    """`/api/v1/tx/{txid}` of a tx in the latest block that has any: what an attacker with
    no better idea would hammer."""
    tip = await get_json(session, f"{api_url}/api/v1/status")
    page = await get_json(session, f"{api_url}/api/v1/headers?from="
                          f"{max(1, int(tip['height']) - 50)}&count=50")
    for item in reversed(page):
        txids = await get_json(session, f"{api_url}/api/v1/block/{item['hash']}/txids")
        if txids:
            return f"/api/v1/tx/{txids[0]}"
    return "/api/v1/status"


RUN_ERRORS = (FaircoopError, aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError)


async def campaign(targets: Sequence[Target], attacks: Sequence[str], duration_s: float, *,
                   waves: dict[str, Wave] | None = None, api_path: str | None = None,
                   seed: int = 0) -> Report:
    """Every attack in `attacks` at once, each repeated against a random target (after its
    wave's pause) until `duration_s` has passed. Totals per attack, and each run's report."""
    waves = {**CAMPAIGN, **(waves or {})}
    rng = random.Random(seed)
    deadline = time.monotonic() + duration_s
    runs: dict[str, list[Report]] = {a: [] for a in attacks}
    async with aiohttp.ClientSession() as session:
        validators = await validator_keys(session, targets[0].api_url)

        async def loop(name: str) -> None:
            wave = waves[name]
            while time.monotonic() < deadline:
                target = rng.choice(list(targets))
                args = dict(wave.args)
                if "duration_s" in args:
                    args["duration_s"] = min(args["duration_s"],
                                             max(1.0, deadline - time.monotonic()))
                try:
                    report = await run_attack(session, name, target, validators, args, api_path)
                except RUN_ERRORS as exc:
                    report = {"error": f"{type(exc).__name__}: {exc}"}
                runs[name].append({"target": target.p2p_url, **report})
                await asyncio.sleep(min(wave.pause_s, max(0.0, deadline - time.monotonic())))

        await asyncio.gather(*(loop(a) for a in attacks))
    return {"duration_s": duration_s, "attacks": {a: totals(r) for a, r in runs.items()},
            "runs": runs}


NOT_COUNTS = frozenset({"claimed", "frame_bytes", "amount"})  # settings, not tallies


def totals(reports: Sequence[Report]) -> Report:
    """Sums of one attack's counts over a campaign's runs."""
    out: Counter[str] = Counter()
    for r in reports:
        for k, v in r.items():
            if isinstance(v, int) and not isinstance(v, bool) and k not in NOT_COUNTS:
                out[k] += v
    return {"runs": len(reports), **dict(out),
            "errors": [r["error"] for r in reports if "error" in r][:3]}


# -- the command line ---------------------------------------------------------------------------


def parse_params(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`attack.name=value` items (values read as JSON when they parse, else as text)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        attack, dot, name = key.partition(".")
        if not sep or not dot or attack not in (*ATTACKS, "equivocation"):
            raise SystemExit(f"--param: expected attack.name=value with a known attack, "
                             f"got {item!r}")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        out.setdefault(attack, {})[name] = value
    return out


async def targets_from(args: argparse.Namespace, session: aiohttp.ClientSession
                       ) -> list[Target]:
    pairs: list[tuple[str, str]] = []
    if args.devnet is not None:
        from faircoop_node.devnet import load_devnet
        layout = load_devnet(args.devnet)
        names = set(args.node) if args.node else {n.name for n in layout.nodes}
        pairs = [(n.api_url, n.p2p_url) for n in layout.nodes if n.name in names]
    else:
        if len(args.api) != len(args.p2p) or not args.api:
            raise SystemExit("give --api and --p2p once per target, in the same order")
        pairs = list(zip(args.api, args.p2p, strict=True))
    if not pairs:
        raise SystemExit("no target: name nodes of the devnet with --node")
    return [await discover(session, api, p2p) for api, p2p in pairs]


async def main_async(args: argparse.Namespace) -> Report:
    chosen = list(ATTACKS) if args.attacks == "all" else \
        [a.strip() for a in args.attacks.split(",") if a.strip()]
    for name in chosen:
        if name not in ATTACKS:
            raise SystemExit(f"unknown attack {name!r} (known: {', '.join(ATTACKS)}, all)")
    params = parse_params(args.param)
    api_path = f"/api/v1/tx/{args.tx}" if args.tx else None
    async with aiohttp.ClientSession() as session:
        targets = await targets_from(args, session)
        validators = await validator_keys(session, targets[0].api_url)
        report: Report = {}
        if args.duration is not None:
            waves = {a: Wave({**CAMPAIGN[a].args, **params.get(a, {})}, CAMPAIGN[a].pause_s)
                     for a in chosen}
            report = await campaign(targets, chosen, args.duration, waves=waves,
                                    api_path=api_path, seed=args.seed)
        else:
            for name in chosen:
                started = time.monotonic()
                one = await run_attack(session, name, targets[0], validators,
                                       params.get(name, {}), api_path)
                report[name] = {**one, "seconds": round(time.monotonic() - started, 1)}
                print(name, json.dumps(report[name], sort_keys=True), flush=True)
        if args.equivocate_key is not None:
            from faircoop_node.keys import load_node_key
            key = load_node_key(args.equivocate_key)
            report["equivocation"] = await o.equivocation(
                session, targets[0], key, **params.get("equivocation", {}))
    return report


def raise_descriptor_limit() -> None:
    """Up to the hard limit: holding a thousand streams needs a thousand descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run outsider attacks (issue 12) against a node or "
                                "a devnet, once each or all at once for --duration.")
    p.add_argument("--devnet", type=Path, help="a devnet directory: targets from its manifest")
    p.add_argument("--node", action="append", default=[],
                   help="with --devnet: a node to attack (repeat; default every node)")
    p.add_argument("--api", action="append", default=[], help="a target's API URL (repeat)")
    p.add_argument("--p2p", action="append", default=[], help="its ws://host:port/p2p URL")
    p.add_argument("--attacks", default="all", help=f"comma list of {', '.join(ATTACKS)}; "
                   "or all")
    p.add_argument("--duration", type=float, help="run every attack at once this long")
    p.add_argument("--param", action="append", default=[],
                   help="attack.name=value: an attack's keyword argument (repeat)")
    p.add_argument("--tx", help="the txid api_hammer asks for (default: a recent tx)")
    p.add_argument("--equivocate-key", type=Path,
                   help="a validator's node.key: also send a real equivocation by it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, help="write the JSON report here")
    args = p.parse_args(argv)
    if args.devnet is None and not args.api:
        p.error("give --devnet DIR, or --api URL --p2p URL")
    raise_descriptor_limit()
    report = asyncio.run(main_async(args))
    text = json.dumps(report, sort_keys=True)
    if args.report is not None:
        args.report.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
