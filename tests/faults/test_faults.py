"""Faults under load on a devnet of real processes: SIGKILL + restart, SIGSTOP + SIGCONT, and a
network partition made with the test's TCP proxy, each over seeded runs.

4 validators and an observer run as processes (`ProxiedDevnet`); every P2P link goes through
the proxy. A background client submits independent payments to random nodes' APIs while the
fault strikes. After every run:

- no two nodes finalized different blocks at any height (`assert_no_fork`, every height);
- every tx an API accepted is final on every node, unless a conflicting one won: one payment in
  five has a double spend sent to another node at the same moment, and of each such pair
  exactly one is final, the same on every node, and the other on none; only txs accepted by a
  node that was then SIGKILLed are resubmitted once, as a wallet would (mempools do not survive
  a crash, docs/OPERATIONS.md);
- no node logged a bug, a traceback, `conflicting_final_block` or `certified_block_invalid`;
- within RECOVERY_BOUND_S of the fault's end, every node finalized two new heights;
- every node process is still running.

The default suite runs 2 seeds of each fault on one shared cluster (short faults); the `soak`
tests run FAIRCOOP_FAULT_SEEDS seeds with longer faults on their own cluster. Every run prints
one `FAULT {...}` JSON line with its measured figures (run with -s to see them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from faircoop_node.devnet import DevnetNode
from tests.e2e.helpers import height
from tests.faults.cluster import (
    RECOVERY_BOUND_S,
    Cluster,
    LoadClient,
    assert_clean_logs,
    assert_no_fork,
    assert_settled,
    funded_load,
    start_cluster,
    stop_cluster,
    time_to_progress,
)
from tests.faults.proxy import CUT, HELD

pytestmark = pytest.mark.slow

DEFAULT_SEEDS = (1, 2)
SOAK_SEEDS = tuple(range(1, int(os.environ.get("FAIRCOOP_FAULT_SEEDS", "10")) + 1))


@dataclass(frozen=True, slots=True)
class Timing:
    lead_s: tuple[float, float]  # load before the fault strikes
    fault_s: tuple[float, float]  # how long the fault lasts


SHORT = Timing((0.5, 1.5), (2.0, 5.0))
LONG = Timing((1.0, 4.0), (4.0, 15.0))


@dataclass
class Run:
    kind: str
    seed: int
    detail: str
    fault_s: float
    heights_during: int  # blocks the unaffected majority finalized during the fault
    recovery_s: float  # from the fault's end to two new heights on every node
    accepted: int
    double_spends: int  # conflicting pairs both accepted by some node: exactly one won
    resubmitted: int  # accepted only by a SIGKILLed node and still not final 8 s later
    heights_checked: int


# -- one seeded run of a fault ---------------------------------------------------------------------


def run_fault(cluster: Cluster, load: LoadClient, kind: str, seed: int, timing: Timing) -> Run:
    rng = random.Random(f"{kind}:{seed}")
    nodes = cluster.nodes
    validators = cluster.validators
    already = set(load.accepted)
    load.start()
    resubmitted = 0
    killed: set[str] = set()
    try:
        time.sleep(rng.uniform(*timing.lead_s))
        fault_s = rng.uniform(*timing.fault_s)
        majority_live = True
        if kind == "kill":
            victim = rng.choice(validators + [cluster.node("observer")])
            detail = f"SIGKILL {victim.name} for {fault_s:.1f}s"
            cluster.net.kill(victim.name)
            killed.add(victim.name)
            end = _during(cluster, fault_s)
            cluster.net.start(victim)
            affected = {victim.name}
        elif kind == "pause":
            victim = rng.choice(validators)
            detail = f"SIGSTOP {victim.name} for {fault_s:.1f}s"
            cluster.net.signal(victim.name, signal.SIGSTOP)
            try:
                end = _during(cluster, fault_s)
            finally:
                cluster.net.signal(victim.name, signal.SIGCONT)
            affected = {victim.name}
        elif kind == "partition":
            names = [n.name for n in validators]
            rng.shuffle(names)
            # both link modes and both shapes, alternating over the seeds (1: held + one alone,
            # 2: cut + two against two, 3: held + two against two, 4: cut + one alone, ...)
            mode = (CUT, HELD)[seed % 2]
            if (seed // 2) % 2 == 0:  # one validator alone: the other three keep a quorum
                groups = [names[:1], [*names[1:], "observer"]]
            else:  # two against two: no side has a quorum, the chain must wait
                groups = [names[:2], [*names[2:], "observer"]]
                majority_live = False
            detail = f"partition {groups[0]} | {groups[1]} ({mode}) for {fault_s:.1f}s"
            links = cluster.hub.partition(groups, mode)
            assert links, "the partition cut no link"
            try:
                end = _during(cluster, fault_s)
            finally:
                cluster.hub.heal()
            affected = set(groups[0]) if majority_live else {n.name for n in nodes}
        else:
            raise ValueError(kind)
        unaffected = [n for n in nodes if n.name not in affected]
        heights_during = end(unaffected)
        if majority_live:
            assert heights_during >= 1, f"{detail}: the unaffected nodes finalized nothing"
        recovery_s = time_to_progress(nodes, 2, RECOVERY_BOUND_S,
                                      f"two new heights on every node after: {detail}")
    finally:
        load.stop()
    if killed:
        resubmitted = load.resubmit(killed, validators[0] if validators[0].name not in killed
                                    else validators[1])
    fresh = [t for t in load.accepted if t not in already]
    double_spends = assert_settled(nodes, load, fresh, RECOVERY_BOUND_S)
    checked = assert_no_fork(nodes)
    assert all(cluster.alive().values()), f"a node process died: {cluster.net.exited()}"
    assert_clean_logs(nodes)
    run = Run(kind, seed, detail, round(fault_s, 2), heights_during, round(recovery_s, 2),
              len(fresh), double_spends, resubmitted, checked)
    print("FAULT " + json.dumps(run.__dict__))
    return run


def _during(cluster: Cluster, fault_s: float) -> Callable[[list[DevnetNode]], int]:
    """Wait out the fault; a function giving the fewest heights any of `nodes` gained meanwhile
    (heights are read through the API: a paused or dead node reads as -1)."""
    before = {n.name: height(n) for n in cluster.nodes}
    time.sleep(fault_s)
    after = {n.name: height(n) for n in cluster.nodes}

    def gained(nodes: list[DevnetNode]) -> int:
        return min((after[n.name] - before[n.name] for n in nodes), default=0)

    return gained


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, LoadClient]]:
    c = start_cluster(Path(tmp_path_factory.mktemp("faults")) / "devnet")
    try:
        yield c, funded_load(c, 600, seed=0)
    finally:
        codes = stop_cluster(c)
        assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"


@pytest.mark.parametrize("kind", ["kill", "pause", "partition"])
def test_fault_under_load_keeps_safety_and_liveness(
        cluster: tuple[Cluster, LoadClient], kind: str) -> None:
    c, load = cluster
    runs = [run_fault(c, load, kind, seed, SHORT) for seed in DEFAULT_SEEDS]
    assert len(runs) == len(DEFAULT_SEEDS)
    assert all(r.recovery_s <= RECOVERY_BOUND_S for r in runs)
    assert sum(r.accepted for r in runs) > 0, "the load client got nothing accepted"


@pytest.mark.soak
def test_soak_every_fault_over_many_seeds(tmp_path: Path) -> None:
    c = start_cluster(tmp_path / "soak")
    try:
        load = funded_load(c, 1800, seed=0)
        load.rate_per_s = 5.0
        runs = [run_fault(c, load, kind, seed, LONG)
                for seed in SOAK_SEEDS for kind in ("kill", "pause", "partition")]
        print("FAULT-SUMMARY " + json.dumps({
            "runs": len(runs), "max_recovery_s": max(r.recovery_s for r in runs),
            "accepted": sum(r.accepted for r in runs)}))
    finally:
        stop_cluster(c)
