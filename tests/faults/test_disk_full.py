"""A validator whose data directory fills up, on a devnet of real processes under load.

coop-2's `data` directory is a 64 MiB tmpfs. While payments flow, a filler file takes all of
its free space; later the filler is deleted. What must hold (issue 20, item 3):

- coop-2 stops signing at its first refused write and says why (`store_write_failed`, naming
  the disk's error); its API keeps answering reads (status, blocks) meanwhile;
- the other three keep finalizing;
- once space is back it resumes by itself (`store_recovered`), catches up, and its precommits
  appear in certificates again (`rounds_voted` grows), with no operator step;
- a restart afterwards opens its store (before the fix it failed: "checksum mismatch");
- nothing half-written, no double sign: after the run every node's store replays from genesis
  with the node's own sync rules (`replay.replay_store`), no block carries evidence and no
  node logged an equivocation; no fork, every accepted tx final (the usual checks).

Prints `DISK {...}` with the figures (run with -s).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from faircoop_node.devnet import DevnetLayout
from tests.e2e.helpers import get, height, wait_for
from tests.faults.cluster import (
    RECOVERY_BOUND_S,
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
from tests.faults.replay import equivocations_logged, evidence_on_chain, replay_store

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not can_mount(), reason="needs root to mount a tmpfs")]

VICTIM = "coop-2"
DISK_MB = 64
FULL_S = 10.0


def rounds_voted(node: object, name: str) -> int:
    doc = get(node, "validators")  # type: ignore[arg-type]
    return int(next(v["rounds_voted"] for v in doc["validators"] if v["name"] == name))


def test_a_full_disk_stops_signing_serves_reads_and_resumes(tmp_path: Path) -> None:
    mounts: list[Path] = []
    try:
        _fill_then_free_the_victims_disk(tmp_path, mounts)
    finally:  # whatever failed, the tmpfs goes (a test left mounted fills the next run's /tmp)
        for m in mounts:
            unmount(m)


def _fill_then_free_the_victims_disk(tmp_path: Path, mounts: list[Path]) -> None:
    def mount_victim(layout: DevnetLayout) -> None:
        data = next(n for n in layout.nodes if n.name == VICTIM).directory / "data"
        mount_tmpfs(data, DISK_MB)
        mounts.append(data)

    cluster = start_cluster(tmp_path / "devnet", prepare=mount_victim)
    disk = mounts[0]
    victim = cluster.node(VICTIM)
    others = [n for n in cluster.nodes if n.name != VICTIM]
    figures: dict[str, object] = {}
    try:
        load = funded_load(cluster, 400, seed=20)
        load.start()
        time.sleep(3)
        mark = log_offset(victim)
        t_fill = time.monotonic()
        figures["filled_bytes"] = fill(disk)
        failed = wait_logged(victim, "store_write_failed", mark, 15)
        figures["stopped_after_s"] = round(time.monotonic() - t_fill, 2)
        assert "No space left on device" in str(failed["error"]), failed
        stuck = height(victim)
        before = {n.name: height(n) for n in others}
        time.sleep(FULL_S)
        # reads go on, signing does not; the others finalize without it
        assert height(victim) == stuck, "the victim's tip moved while its disk was full"
        block_id = get(victim, f"block-height/{stuck}")
        assert get(victim, f"block/{block_id}")["height"] == stuck
        gained = min(height(n) - before[n.name] for n in others)
        assert gained >= 3, f"the others finalized only {gained} heights meanwhile"
        figures["heights_while_full"] = gained
        voted_before = rounds_voted(others[0], VICTIM)
        mark = log_offset(victim)
        t_free = time.monotonic()
        release(disk)
        recovered = wait_logged(victim, "store_recovered", mark, 15)
        figures["recovered_after_s"] = round(time.monotonic() - t_free, 2)
        figures["out_s"] = recovered["out_s"]
        top = max(height(n) for n in others)
        wait_for(lambda: height(victim) >= top, RECOVERY_BOUND_S, "the victim to catch up")
        figures["caught_up_after_s"] = round(time.monotonic() - t_free, 2)
        wait_for(lambda: rounds_voted(others[0], VICTIM) >= voted_before + 3, RECOVERY_BOUND_S,
                 "the victim's precommits in new certificates")
        figures["voting_again_after_s"] = round(time.monotonic() - t_free, 2)
        # a restart opens the store (it could not before the fix) and the victim rejoins
        restart(cluster, victim)
        figures["restart_recovery_s"] = round(time_to_progress(
            cluster.nodes, 2, RECOVERY_BOUND_S, "two heights after the victim's restart"), 2)
        load.stop()
        figures["accepted"] = len(load.accepted)
        figures["double_spends"] = assert_settled(cluster.nodes, load, list(load.accepted),
                                                  RECOVERY_BOUND_S)
        figures["heights_compared"] = assert_no_fork(cluster.nodes)
        assert all(cluster.alive().values()), f"a node died: {cluster.net.exited()}"
        assert_clean_logs(cluster.nodes)
    finally:
        codes = stop_cluster(cluster)
    assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"
    figures["replayed"] = {n.name: replay_store(n) for n in cluster.nodes}
    assert not evidence_on_chain(victim), "evidence on chain: someone signed twice"
    assert not equivocations_logged(cluster.nodes)
    print("DISK " + json.dumps(figures))
