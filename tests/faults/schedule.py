"""A seeded schedule of overlapping faults for the combined soak (issue 20, item 5).

`make_schedule(seed, length_s, validators, disks)` is a pure function of its arguments, so a
failing seed replays exactly (the timing of the load and the nodes does not). The faults:

- `kill`: SIGKILL, then restart on the same data dir;
- `pause`: SIGSTOP, then SIGCONT (shorter than the 15 s WebSocket heartbeat);
- `partition`: one validator cut off (`cut`: reset) or stalled (`held`) from everyone;
- `split`: the network in two groups, neither with a quorum: the chain must stop, then resume;
- `slow`: one validator behind a narrow access link, or with 50-200 ms (+-25%) on all its links;
- `skew`: one validator restarted with its wall clock off by 2-4 s either way (libfaketime),
  then restarted right; one at a time, well inside `max_clock_drift_ms` (10 s);
- `disk`: one validator's data dir (a tmpfs) filled up, then freed (only where `disks` name it).

At most `MAX_IMPAIRED` (f = 2 of 7) validators are under a fault at any moment, so a quorum is
always whole except during a `split`, which runs alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

MAX_IMPAIRED = 2
KINDS = ("kill", "pause", "partition", "slow", "skew", "disk", "split")
WEIGHTS = (3, 3, 3, 3, 2, 2, 1)
DURATION_S = {"kill": (3.0, 12.0), "pause": (2.0, 10.0), "partition": (3.0, 12.0),
              "slow": (10.0, 30.0), "skew": (15.0, 40.0), "disk": (5.0, 15.0),
              "split": (3.0, 8.0)}
GAP_S = (1.0, 6.0)  # between the starts of two faults: they overlap
LEAD_S = (3.0, 6.0)
TAIL_S = 5.0  # no fault starts this close to the end


@dataclass(frozen=True, slots=True)
class Fault:
    start_s: float
    end_s: float
    kind: str
    victims: tuple[str, ...]
    mode: str = ""  # partition: cut or held
    groups: tuple[tuple[str, ...], ...] = ()  # split
    rate_kbps: float | None = None  # slow: an access link
    latency_ms: float = 0.0  # slow: on every link of the victim
    skew_s: float = 0.0  # skew: the victim's clock minus the true one

    def describe(self) -> str:
        what = {"partition": f" ({self.mode})",
                "split": f" {' | '.join(','.join(g) for g in self.groups)}",
                "slow": (f" {self.rate_kbps:g} kbit/s" if self.rate_kbps is not None
                         else f" {self.latency_ms:g} ms"),
                "skew": f" {self.skew_s:+.1f} s"}.get(self.kind, "")
        who = "" if self.kind == "split" else f" {','.join(self.victims)}"
        return f"{self.start_s:.1f}-{self.end_s:.1f}s {self.kind}{who}{what}"


def make_schedule(seed: int, length_s: float, validators: Sequence[str],
                  disks: Sequence[str] = ()) -> tuple[Fault, ...]:
    """Faults starting within `length_s`, each ending by `length_s`; `disks` are the
    validators whose data dir can be filled."""
    rng = random.Random(f"soak:{seed}")
    faults: list[Fault] = []
    t = rng.uniform(*LEAD_S)
    while t < length_s - TAIL_S:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        end = min(length_s, t + rng.uniform(*DURATION_S[kind]))
        active = [f for f in faults if f.end_s > t]
        busy = {v for f in active for v in f.victims}
        if kind == "split" or any(f.kind == "split" for f in active):
            if active:  # a split runs alone
                t = max(f.end_s for f in active) + rng.uniform(*GAP_S)
                continue
            faults.append(_split(rng, t, end, validators))
            t = end + rng.uniform(*GAP_S)
            continue
        if len(busy) >= MAX_IMPAIRED:
            t = min(f.end_s for f in active) + 0.5
            continue
        free = [v for v in validators if v not in busy and (kind != "disk" or v in disks)]
        if kind == "skew" and any(f.kind == "skew" for f in active):
            free = []  # one skewed clock at a time
        if not free:
            t += rng.uniform(*GAP_S)
            continue
        faults.append(_one(rng, kind, t, end, rng.choice(free)))
        t += rng.uniform(*GAP_S)
    return tuple(faults)


def _split(rng: random.Random, start: float, end: float,
           validators: Sequence[str]) -> Fault:
    names = list(validators)
    rng.shuffle(names)
    cut = len(names) // 2 + rng.randrange(len(names) % 2 + 1)  # 3|4 or 4|3 of 7
    first, second = tuple(names[:cut]), (*names[cut:], "observer")
    return Fault(start, end, "split", tuple(validators), groups=(first, second))


def _one(rng: random.Random, kind: str, start: float, end: float, victim: str) -> Fault:
    if kind == "partition":
        return Fault(start, end, kind, (victim,), mode=rng.choice(("cut", "held")))
    if kind == "slow":
        if rng.random() < 0.5:
            return Fault(start, end, kind, (victim,), rate_kbps=rng.choice((256, 512, 1024)))
        return Fault(start, end, kind, (victim,), latency_ms=round(rng.uniform(50, 200)))
    if kind == "skew":
        skew = rng.uniform(2.0, 4.0) * rng.choice((-1, 1))
        return Fault(start, end, kind, (victim,), skew_s=round(skew, 1))
    return Fault(start, end, kind, (victim,))
