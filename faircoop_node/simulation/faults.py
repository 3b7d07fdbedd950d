"""The faults the simulator can inject, by name, and how a run draws them from its seed.

Network and process faults act only before the run's heal time; Byzantine behaviours last the
whole run. Every random choice comes from the run's one `random.Random(seed)`, in a fixed
order, so a seed names one run exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from consensus.errors import FaircoopError
from consensus.quorum import max_faulty

NETWORK_FAULTS = ("drop", "delay", "reorder", "duplicate", "partition")
PROCESS_FAULTS = ("crash", "wipe")  # wipe: restart from an empty data dir
BYZANTINE_FAULTS = ("equivocate_proposer", "equivocate_votes", "invalid_proposal", "silence")
ALL_FAULTS = NETWORK_FAULTS + PROCESS_FAULTS + BYZANTINE_FAULTS


class FaultSpecError(FaircoopError):
    """An unknown fault name on the command line or in a config."""


def parse_faults(text: str) -> frozenset[str]:
    """`all`, an empty string, or a comma list of fault names."""
    text = text.strip()
    if text in ("", "none"):
        return frozenset()
    if text == "all":
        return frozenset(ALL_FAULTS)
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - set(ALL_FAULTS))
    if unknown:
        raise FaultSpecError(f"unknown faults {unknown}; known: {', '.join(ALL_FAULTS)}")
    return names


@dataclass(frozen=True, slots=True)
class NetworkFaults:
    """Probabilities and sizes of the message faults in force before the heal time."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0  # probability a message is held back by up to `max_delay_ms`
    max_delay_ms: int = 0
    jitter_ms: int = 0  # reorder: each message gets 0..jitter extra latency


@dataclass(frozen=True, slots=True)
class CrashPlan:
    node: int
    crash_ms: int
    restart_ms: int
    wipe: bool  # restart from an empty data dir (no last-signed state, chain synced from peers)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Everything a seed decides about one run's faults."""

    heal_ms: int
    network: NetworkFaults
    partition: tuple[int, tuple[tuple[int, ...], ...]] | None  # (start ms, groups)
    crashes: tuple[CrashPlan, ...]
    byzantine: tuple[tuple[int, str], ...]  # (node index, behaviour)


def draw_plan(
    rng: random.Random,
    n: int,
    byzantine: int,
    faults: frozenset[str],
    window_ms: tuple[int, int],
    behaviours: tuple[str, ...] = (),
) -> FaultPlan:
    """Draw a run's faults. Byzantine nodes, then network, partition, crashes, in that order.

    A wiped validator forgets what it signed, so it may sign twice without meaning to: it counts
    against the fault budget, and is drawn only while byzantine + 1 <= f.
    """
    nodes = list(range(n))
    byz_nodes = sorted(rng.sample(nodes, byzantine)) if byzantine else []
    kinds = [k for k in BYZANTINE_FAULTS if k in faults] or list(BYZANTINE_FAULTS)
    byz = tuple(
        (node, behaviours[i] if i < len(behaviours) else rng.choice(kinds))
        for i, node in enumerate(byz_nodes)
    )
    has_faults = bool(faults - set(BYZANTINE_FAULTS))
    heal = rng.randint(*window_ms) if has_faults else 0
    net = NetworkFaults(
        drop=rng.uniform(0.05, 0.3) if "drop" in faults else 0.0,
        duplicate=rng.uniform(0.05, 0.3) if "duplicate" in faults else 0.0,
        delay=rng.uniform(0.1, 0.3) if "delay" in faults else 0.0,
        max_delay_ms=rng.randint(100, 1500) if "delay" in faults else 0,
        jitter_ms=rng.randint(10, 80) if "reorder" in faults else 0,
    )
    partition = None
    if "partition" in faults and n >= 2:
        shuffled = nodes[:]
        rng.shuffle(shuffled)
        cut = rng.randint(1, n - 1)
        groups = (tuple(sorted(shuffled[:cut])), tuple(sorted(shuffled[cut:])))
        partition = (rng.randint(0, heal // 2), groups)
    honest = [i for i in nodes if i not in byz_nodes]
    crashes: list[CrashPlan] = []
    if "crash" in faults and honest:
        node = rng.choice(honest)
        at = rng.randint(0, max(0, heal * 2 // 3))
        crashes.append(CrashPlan(node, at, rng.randint(at + 1, max(at + 1, heal)), wipe=False))
    if "wipe" in faults and byzantine + 1 <= max_faulty(n):
        choices = [i for i in honest if all(c.node != i for c in crashes)] or honest
        node = rng.choice(choices)
        at = rng.randint(0, max(0, heal * 2 // 3))
        crashes.append(CrashPlan(node, at, rng.randint(at + 1, max(at + 1, heal)), wipe=True))
    return FaultPlan(heal, net, partition, tuple(crashes), byz)
