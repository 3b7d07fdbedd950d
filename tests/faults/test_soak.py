"""Faults combined (issue 20, item 5): a seeded schedule (`schedule.py`) of kills, pauses,
partitions, splits, slow links, clock skew and full disks, overlapping, on 7 validators and an
observer under a steady load of payments (one in five with a double spend sent to another node).

After the schedule every fault is undone and these must hold:

- every node finalizes two new heights within RECOVERY_BOUND_S;
- every node holds the same block at every height (`assert_no_fork`);
- every accepted tx is final on every node, exactly once: each payment spends its own coin, and
  of each double-spend pair exactly one is final, the same one everywhere (`assert_settled`);
  a tx only a killed or restarted node had accepted is resubmitted once, as a wallet would;
- no validator is suspended and no node caught anyone signing twice (all 7 are honest);
- every process runs, no node logged a bug, and all exit 0 on SIGTERM.

Each fault's recovery (from its end until its victims reach the height the network had then)
is measured and printed with the schedule (`SOAK-RUN {...}`, with -s).

FAIRCOOP_SOAK_S sets the schedule's length: 45 s in the default suite (`slow`, one seed),
600 s for the `soak` test, over seeds FAIRCOOP_SOAK_SEEDS (comma-separated, default 1-5).
A seed replays its schedule: `FAIRCOOP_SOAK_SEEDS=3 pytest ... -m soak`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from faircoop_node.devnet import DevnetLayout, DevnetNode
from tests.e2e.helpers import get, height
from tests.faults.cluster import (
    RECOVERY_BOUND_S,
    Cluster,
    assert_clean_logs,
    assert_no_fork,
    assert_settled,
    funded_load,
    log_offset,
    restart,
    start_cluster,
    stop_cluster,
    time_to_progress,
    wait_logged,
)
from tests.faults.disk import can_mount, fill, mount_tmpfs, release, unmount
from tests.faults.proxy import CUT, HELD, OPEN, Link
from tests.faults.replay import equivocations_logged
from tests.faults.schedule import Fault, make_schedule
from tests.faults.shaping import CLEAN, Shape

VALIDATORS = 7
DISK_VICTIMS = ("coop-2", "coop-5")
DISK_MB = 128
SHORT_S = float(os.environ.get("FAIRCOOP_SOAK_S", "45"))
LONG_S = float(os.environ.get("FAIRCOOP_SOAK_S", "600"))
SEEDS = [int(s) for s in os.environ.get("FAIRCOOP_SOAK_SEEDS", "1,2,3,4,5").split(",") if s]
MAX_PAYMENTS = 1800  # one fan-out tx holds at most ~2,000 outputs (max_tx_size)
FAKETIME_LIB = next((p for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1")
                     if Path(p).exists()), None)


@dataclass
class Recovery:
    fault: Fault
    ended: float  # monotonic
    target: int  # the highest height any node had when the fault ended
    took_s: float | None = None


@dataclass
class Injector:
    """Applies and undoes the schedule's faults on a running cluster."""

    cluster: Cluster
    mounts: dict[str, Path]
    restarted: set[str] = field(default_factory=set)  # names whose mempool a fault may have lost
    skews_seen: list[float] = field(default_factory=list)  # a skewed node's clock, as it logs
    _down: dict[Link, int] = field(default_factory=dict)  # partitions holding each link

    def start(self, f: Fault) -> None:
        net, hub = self.cluster.net, self.cluster.hub
        victim = f.victims[0]
        if f.kind == "kill":
            net.kill(victim)
            self.restarted.add(victim)
        elif f.kind == "pause":
            net.signal(victim, signal.SIGSTOP)
        elif f.kind in ("partition", "split"):
            self._hold(self._crossing(f), HELD if f.mode == "held" else CUT)
        elif f.kind == "slow":
            if f.rate_kbps is not None:
                hub.limit_node(victim, f.rate_kbps)
            else:
                hub.set_shape(hub.links_of(victim),
                              Shape(latency_ms=f.latency_ms, jitter_ms=f.latency_ms / 4))
        elif f.kind == "skew":
            assert FAKETIME_LIB is not None
            net.wrappers[victim] = ["env", f"LD_PRELOAD={FAKETIME_LIB}",
                                   f"FAKETIME={f.skew_s:+.1f}s"]
            since = log_offset(self.cluster.node(victim))
            self._restart(victim)
            started = wait_logged(self.cluster.node(victim), "node_starting", since, 20)
            seen = datetime.fromisoformat(str(started["ts"])).timestamp() - time.time()
            assert abs(seen - f.skew_s) < 1.0, f"{victim}'s clock is off by {seen:.1f}s"
            self.skews_seen.append(round(seen, 1))
        elif f.kind == "disk":
            fill(self.mounts[victim])

    def end(self, f: Fault) -> None:
        net, hub = self.cluster.net, self.cluster.hub
        victim = f.victims[0]
        if f.kind == "kill":
            net.start(self.cluster.node(victim))
        elif f.kind == "pause":
            net.signal(victim, signal.SIGCONT)
        elif f.kind in ("partition", "split"):
            self._release(f)
        elif f.kind == "slow":
            hub.limit_node(victim, None)
            hub.set_shape(hub.links_of(victim), CLEAN)
        elif f.kind == "skew":
            net.wrappers.pop(victim, None)
            self._restart(victim)
        elif f.kind == "disk":
            release(self.mounts[victim])

    def _restart(self, name: str) -> None:
        restart(self.cluster, self.cluster.node(name), grace_s=20)
        self.restarted.add(name)

    def _hold(self, links: list[Link], mode: str) -> None:
        for link in links:
            self._down[link] = self._down.get(link, 0) + 1
        self.cluster.hub.set_mode(links, mode)

    def _crossing(self, f: Fault) -> list[Link]:
        """The links a partition (its victim against everyone) or a split cuts."""
        groups = f.groups or ((f.victims[0],), tuple(n.name for n in self.cluster.nodes
                                                     if n.name != f.victims[0]))
        side = {name: i for i, g in enumerate(groups) for name in g}
        return [link for link in self.cluster.hub.links if side[link[0]] != side[link[1]]]

    def _release(self, f: Fault) -> None:
        """Open the fault's links that no other partition still holds down."""
        reopen = []
        for link in self._crossing(f):
            self._down[link] -= 1
            if self._down[link] == 0:
                del self._down[link]
                reopen.append(link)
        self.cluster.hub.set_mode(reopen, OPEN)


def run_schedule(cluster: Cluster, injector: Injector, faults: tuple[Fault, ...],
                 length_s: float) -> list[Recovery]:
    """Play the schedule in real time; each fault's recovery, measured by a sampler."""
    actions = sorted([(f.start_s, 1, i) for i, f in enumerate(faults)] +
                     [(f.end_s, 0, i) for i, f in enumerate(faults)])
    recoveries: list[Recovery] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            heights = {n.name: height(n) for n in cluster.nodes}
            now = time.monotonic()
            with lock:
                for r in recoveries:
                    if r.took_s is None and all(heights[v] >= r.target for v in r.fault.victims):
                        r.took_s = round(now - r.ended, 2)

    sampler = threading.Thread(target=sample, daemon=True, name="recovery")
    sampler.start()
    t0 = time.monotonic()
    try:
        for at, starting, i in actions:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            fault = faults[i]
            if starting:
                injector.start(fault)
                continue
            injector.end(fault)
            target = max(height(n) for n in cluster.nodes)
            with lock:
                recoveries.append(Recovery(fault, time.monotonic(), target))
        time.sleep(max(0.0, t0 + length_s - time.monotonic()))
        deadline = time.monotonic() + RECOVERY_BOUND_S
        while time.monotonic() < deadline and any(r.took_s is None for r in recoveries):
            time.sleep(0.5)
    finally:
        stop.set()
        sampler.join()
    return recoveries


def undo_everything(cluster: Cluster, injector: Injector) -> None:
    """After a failure mid-schedule: every process running, unpaused, on clean links."""
    for name, proc in cluster.net.procs.items():
        if proc.poll() is None:
            cluster.net.signal(name, signal.SIGCONT)
        else:
            cluster.net.start(cluster.node(name))
    for mount in injector.mounts.values():
        release(mount)
    cluster.hub.heal()


def validators_where(node: DevnetNode, flag: str) -> list[str]:
    """Names of validators whose `flag` (suspended, quarantined) is set, as `node` sees it."""
    return [str(v["name"]) for v in get(node, "validators")["validators"] if v[flag]]


def soak(tmp_path: Path, seed: int, length_s: float) -> dict[str, object]:
    mounts: dict[str, Path] = {}
    disks = can_mount()

    def prepare(layout: DevnetLayout) -> None:
        if not disks:
            return
        for node in layout.nodes:
            if node.name in DISK_VICTIMS:
                data = node.directory / "data"
                mount_tmpfs(data, DISK_MB)
                mounts[node.name] = data

    faults = make_schedule(seed, length_s, [f"coop-{i}" for i in range(1, VALIDATORS + 1)],
                           DISK_VICTIMS if disks else ())
    if FAKETIME_LIB is None or shutil.which("env") is None:
        faults = tuple(f for f in faults if f.kind != "skew")
    try:
        cluster = start_cluster(tmp_path / "devnet", validators=VALIDATORS, prepare=prepare,
                                seed=seed)
    except BaseException:
        for m in mounts.values():
            unmount(m)
        raise
    injector = Injector(cluster, mounts)
    codes: dict[str, int] = {}
    try:
        payments = min(MAX_PAYMENTS, int(5 * length_s))
        load = funded_load(cluster, payments, seed=seed)
        load.rate_per_s = payments / length_s
        start_height = max(height(n) for n in cluster.nodes)
        load.start()
        try:
            recoveries = run_schedule(cluster, injector, faults, length_s)
        except BaseException:
            undo_everything(cluster, injector)
            raise
        finally:
            load.stop()
        final_s = time_to_progress(cluster.nodes, 2, RECOVERY_BOUND_S,
                                   "two new heights on every node after the schedule")
        first = cluster.validators[0]
        resubmitted = load.resubmit(injector.restarted, first)
        double_spends = assert_settled(cluster.nodes, load, list(load.accepted), 60)
        heights = assert_no_fork(cluster.nodes)
        assert all(cluster.alive().values()), f"a node process died: {cluster.net.exited()}"
        suspended = validators_where(first, "suspended")
        assert not suspended, f"honest validators suspended: {suspended}"
        assert not equivocations_logged(cluster.nodes)
        assert_clean_logs(cluster.nodes)
        unrecovered = [r.fault.describe() for r in recoveries if r.took_s is None]
        assert not unrecovered, f"victims never caught up: {unrecovered}"
        worst = max(recoveries, key=lambda r: r.took_s or 0.0, default=None)
        report: dict[str, object] = {
            "seed": seed, "length_s": length_s, "faults": len(faults),
            "kinds": {k: sum(f.kind == k for f in faults) for k in sorted({f.kind
                                                                          for f in faults})},
            "accepted": len(load.accepted), "double_spends": double_spends,
            "resubmitted": resubmitted, "heights": heights,
            "heights_during": heights - start_height,
            "worst_recovery_s": None if worst is None else worst.took_s,
            "worst_recovery_of": None if worst is None else worst.fault.describe(),
            "after_schedule_s": round(final_s, 2),
            "quarantined_at_end": validators_where(first, "quarantined"),
            "skews_seen_s": injector.skews_seen,
            "recovery_s": {r.fault.describe(): r.took_s for r in recoveries}}
        print("SOAK-RUN " + json.dumps(report))
    finally:
        codes = stop_cluster(cluster)
        for m in mounts.values():
            unmount(m)
    assert all(c == 0 for c in codes.values()), f"unclean exits: {codes}"
    return report


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_short_seeded_schedule_of_combined_faults(tmp_path: Path) -> None:
    report = soak(tmp_path, SEEDS[0], SHORT_S)
    assert int(str(report["faults"])) >= 3


@pytest.mark.soak
@pytest.mark.timeout(0)
@pytest.mark.parametrize("seed", SEEDS)
def test_ten_minutes_of_combined_faults(tmp_path: Path, seed: int) -> None:
    report = soak(tmp_path, seed, LONG_S)
    assert int(str(report["faults"])) >= 10
