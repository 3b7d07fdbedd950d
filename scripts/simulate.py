#!/usr/bin/env python3
"""Run the seeded whole-network consensus simulator over a range of seeds.

    python scripts/simulate.py --validators 4 --byzantine 1 --seeds 0:100 --faults all

Each failing seed is printed with the exact command that replays it. The last line of output is
one JSON object: {"runs", "safety_violations", "liveness_failures", "heights_finalized", ...}.
Exit status: 0 if every run was safe and live, 1 if any failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script; tests import it as `scripts.simulate`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faircoop_node.simulation import SimConfig, parse_faults, run_simulation  # noqa: E402
from faircoop_node.simulation.faults import FaultSpecError  # noqa: E402


def _seeds(text: str) -> range:
    """`A:B` (B exclusive) or a single seed `A`."""
    try:
        if ":" in text:
            a, b = text.split(":", 1)
            return range(int(a), int(b))
        return range(int(text), int(text) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be A:B or A, not {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--byzantine", type=int, default=0)
    ap.add_argument("--seeds", type=_seeds, default=range(0, 10))
    ap.add_argument("--faults", default="", help="comma list of fault names, or `all`")
    ap.add_argument("--heights", type=int, default=3, help="heights each run must finalize")
    ap.add_argument("--rules", default="auto", choices=("auto", "chainstate"),
                    help="the chain rules: the node's own chain-state rules (the only ones since "
                         "the simulator runs the node's consensus driver)")
    ap.add_argument("--verbose", action="store_true", help="print every run, not only failures")
    load = ap.add_mutually_exclusive_group()
    load.add_argument("--campaigns", action="store_true",
                      help="give the chain members with coins and crowdfunding campaign txs, "
                           "and check every node decides each campaign alike, at its deadline")
    load.add_argument("--credit", action="store_true",
                      help="grant credit lines and mix credit transfers into the load (checked: "
                           "the same credit accounts on every node at every height, zero-sum)")
    args = ap.parse_args(argv)
    try:
        faults = parse_faults(args.faults)
    except FaultSpecError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    if args.validators < 1 or not 0 <= args.byzantine <= args.validators:
        print("simulate: need validators >= 1 and 0 <= byzantine <= validators", file=sys.stderr)
        return 2
    runs = safety = liveness = heights = messages = 0
    failing: list[int] = []
    started = time.monotonic()
    for seed in args.seeds:
        config = SimConfig(validators=args.validators, byzantine=args.byzantine, faults=faults,
                           seed=seed, heights=args.heights, rules=args.rules,
                           campaigns=args.campaigns, credit=args.credit)
        result = run_simulation(config)
        runs += 1
        heights += result.heights_finalized
        messages += dict(result.stats).get("messages", 0)
        if result.safety_violations:
            safety += 1
        if result.liveness_failure:
            liveness += 1
        if not result.ok:
            failing.append(seed)
            why = "; ".join(result.safety_violations) or "no progress after heal"
            print(f"FAIL seed {seed}: {why}\n  replay: {result.replay_command()}")
        elif args.verbose:
            print(f"ok seed {seed}: height {result.heights_finalized},"
                  f" recovery {result.recovery_ms} ms, trace {result.trace_hash[:16]}")
    summary = {
        "runs": runs,
        "safety_violations": safety,
        "liveness_failures": liveness,
        "heights_finalized": heights,
        "messages_per_block": round(messages / max(1, heights), 1),
        "failing_seeds": failing,
        "validators": args.validators,
        "byzantine": args.byzantine,
        "faults": sorted(faults),
        "wall_s": round(time.monotonic() - started, 3),
    }
    print(json.dumps(summary, sort_keys=True))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
