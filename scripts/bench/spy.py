#!/usr/bin/env python3
"""Where a running node's time goes: record it with py-spy and print the top functions.

    .venv/bin/python scripts/bench/spy.py --pid PID --seconds 15 [--out FILE.raw]
    .venv/bin/python scripts/bench/spy.py --summarize FILE.raw

`record` runs `py-spy record --nonblocking --format raw` (py-spy: `.venv/bin/pip install
py-spy`); `summarize` reads py-spy's collapsed stacks and prints, for the top functions, the
share of samples spent in the function itself (self) and under it (inclusive). Samples from
idle waits (the event loop's `select`, a worker thread waiting for work) are counted apart
as `idle`, so the shares are of the time the process was busy.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path


def record(pid: int, seconds: float, out: Path, rate: int = 100, gil: bool = False) -> bool:
    """Record `pid`; with `gil`, only samples of a thread holding the GIL (the process's
    Python work, without waits and without native calls that release it, such as
    libsecp256k1's verify or LevelDB's write)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed (.venv/bin/pip install py-spy)", file=sys.stderr)
        return False
    proc = subprocess.run([spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r",
                           str(rate), "-f", "raw", "-o", str(out), "--nonblocking", "-t"]
                          + (["--gil"] if gil else []),
                          capture_output=True, text=True)
    return proc.returncode == 0 and out.exists()


# leaves that are waits: the event loop's poll, a worker thread's wait for work
IDLE_LEAVES = ("select (selectors.py:", "_worker (concurrent/futures/thread.py:81)",
               "wait (threading.py:")


def summarize(raw: Path, top: int = 20) -> dict[str, object]:
    total = idle = 0
    self_: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("thread (") and
                  not f.startswith("process ")]
        if not frames or any(leaf in frames[-1] for leaf in IDLE_LEAVES):
            idle += n  # no Python frame: the thread waits in native code
            continue
        total += n
        self_[frames[-1]] += n
        for f in set(frames):
            incl[f] += n

    def pct(n: int) -> float:
        return round(100 * n / max(total, 1), 1)

    return {
        "samples": total,
        "idle_samples": idle,
        "self": [[pct(n), f] for f, n in self_.most_common(top)],
        "inclusive": [[pct(n), f] for f, n in incl.most_common(top * 3)],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--out", default="/tmp/faircoop-profile.raw")
    ap.add_argument("--summarize", help="a raw py-spy file to summarize (no recording)")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args(argv)
    raw = Path(args.summarize or args.out)
    if not args.summarize:
        if args.pid is None:
            ap.error("--pid or --summarize")
        if not record(args.pid, args.seconds, raw):
            return 1
    summary = summarize(raw, args.top)
    for share, frame in summary["self"]:  # type: ignore[union-attr]
        print(f"{share:5.1f}% self  {frame}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
