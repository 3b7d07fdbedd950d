"""The outsider-attack soak (issue 12): a real 4-validator devnet and an observer under 400 tx/s
of honest load while an outside attacker (`scripts/outsider_node.py`, a separate process that
holds no validator key) runs every attack of `faircoop_node/byzantine/campaign.py` at once, each
repeated against random nodes, for `SOAK_S` seconds (40 in the default suite, 180 in a soak
run, FAIRCOOP_SOAK=1; FAIRCOOP_OUTSIDER_SOAK_S sets it, and
FAIRCOOP_OUTSIDER_SOAK_ATTACKS=none runs the load alone, as a control).

Checked at the end, all of them, then reported together:

- the chain kept finalizing: no gap between two consecutive blocks above `MAX_GAP_S` (3 s);
- no honest node banned another;
- every node's RSS stayed under `SOAK_RSS_MB`;
- nothing accepted is lost: every tx an API accepted (answered with its txid) is final on
  every node once the load stops and the mempools drain (no fork: every node holds the same
  block at every height);
- every process is alive and logged no handler bug or traceback;
- every attack ran (the attacker's report counts each).

Every node runs under the common 1,024-descriptor limit, so the stream attack meets it.
Prints one `SOAK {...}` line with the figures (run with -s).

Before the fixes (one 180 s run, 4:15 in all) it failed on every count but crashes: no block
for 164 s (the chain stopped at height 74), 8 bans of honest nodes by honest nodes, nodes at
1.2-1.9 GB, and 62,033 of the 72,755 accepted txs never final. The control
(FAIRCOOP_OUTSIDER_SOAK_ATTACKS=none, 90 s) passed: longest gap 0.83 s, nodes at most 157 MB,
36,004 accepted and all final.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faircoop_node.byzantine.campaign import ATTACKS
from tests.attacks.outsider_chain import (
    coins,
    heavy_history,
    payments,
    post_batch,
    wait_final,
    wide_spend,
)
from tests.attacks.outsider_load import SteadyLoad, final_txids
from tests.attacks.outsider_net import (
    AttackNet,
    LogMark,
    RssSampler,
    attack_net,
    honest_bans,
    max_block_gap_s,
    within,
)
from tests.attacks.outsider_watch import MAX_GAP_S
from tests.e2e.helpers import get, height
from tests.faults.cluster import BAD_EVENTS, assert_no_fork

pytestmark = pytest.mark.slow

SOAK_S = float(os.environ.get("FAIRCOOP_OUTSIDER_SOAK_S",
                             "180" if os.environ.get("FAIRCOOP_SOAK") == "1" else "40"))
# Which attacks run (a comma list; default all). "none" runs the load alone: the control that
# shows the bounds hold for honest work on this machine.
SOAK_ATTACKS = os.environ.get("FAIRCOOP_OUTSIDER_SOAK_ATTACKS", "all")
LOAD_TX_PER_S = 400.0
# Under 400 tx/s a node of this devnet holds ~100-200 MB (docs/PERFORMANCE.md: 93 MB at
# 400 tx/s, up to 260 MB at 1,500); the attacks took nodes past 1 GB before the fixes.
SOAK_RSS_MB = 500.0
DRAIN_S = 90.0  # after the load stops: mempools empty and every node at one height
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "outsider_node.py"
WIDE_INPUTS = 200  # the tx the attacker's API hammer asks for: 200 inputs from a big block


def prepare(net: AttackNet) -> tuple[SteadyLoad, str]:
    """The load's payments (pre-signed, one coin each, parents in big blocks) and the txid
    of a tx expensive to look up."""
    needed = int(LOAD_TX_PER_S * SOAK_S * 1.1) + WIDE_INPUTS
    history = heavy_history(net, txs=needed // 2_000 + 1, outputs=2_000)
    chain_id = net.target("coop-1").chain_id
    wide = wide_spend(coins(history, needed - WIDE_INPUTS, WIDE_INPUTS), chain_id)
    wide_id = post_batch(net.validators[0], [wide])[0]
    wait_final(net.nodes, [wide_id])
    pays = payments(coins(history, 0, needed - WIDE_INPUTS), chain_id)
    return SteadyLoad.of(net.validators, LOAD_TX_PER_S, pays), wide_id


def settle(net: AttackNet) -> int:
    """Wait for every validator's mempool to empty and every node to reach one height; that
    height (or the lowest, if they never met)."""
    within(lambda: all(get(n, "mempool", timeout=10)["count"] == 0 for n in net.validators),
           DRAIN_S / 2, every_s=1.0)
    top = max(height(n) for n in net.nodes)
    within(lambda: min(height(n) for n in net.nodes) >= top, DRAIN_S / 2, every_s=1.0)
    return min(height(n) for n in net.nodes)


def attacks_that_never_ran(doc: dict[str, Any]) -> list[str]:
    totals = doc.get("attacks", {})
    chosen = ATTACKS if SOAK_ATTACKS == "all" else SOAK_ATTACKS.split(",")
    return [a for a in chosen if not totals.get(a, {}).get("runs") or
            len(totals[a].get("errors", [])) >= totals[a]["runs"]]


@pytest.mark.timeout(int(SOAK_S) + 900)
def test_outsider_soak(tmp_path: Path) -> None:
    with attack_net(tmp_path / "soak", validators=4) as net:
        load, wide_id = prepare(net)
        first = net.validators[0]
        mark = LogMark.now(net.nodes)
        start_height = height(first)
        report_path = tmp_path / "attacker.json"
        attacker_log = (tmp_path / "attacker.log").open("wb")
        with RssSampler({n.name: net.pid(n.name) for n in net.nodes}, every_s=0.25) as rss:
            load.start()
            command = [sys.executable, str(SCRIPT), "--devnet", str(net.layout.directory),
                       "--attacks", SOAK_ATTACKS, "--duration", str(SOAK_S), "--tx", wide_id,
                       "--report", str(report_path)]
            if SOAK_ATTACKS == "none":  # the control: the same wait, nothing attacks
                command = [sys.executable, "-c", f"import time; time.sleep({SOAK_S})"]
            attacker = subprocess.Popen(command, stdout=attacker_log, stderr=subprocess.STDOUT)
            try:
                attacker.wait(timeout=SOAK_S + 240)
            finally:
                if attacker.poll() is None:
                    attacker.kill()
                    attacker.wait(timeout=10)
                load.stop()
                attacker_log.close()
            gap_s = max_block_gap_s(first, start_height)
        alive = net.alive()
        end_height = settle(net)
        problems: list[str] = []
        lost: set[str] = set()
        if end_height > start_height:
            final = final_txids(first, start_height, end_height)
            lost = load.accepted - final
        try:
            compared = assert_no_fork(net.nodes)
        except AssertionError as exc:
            problems.append(f"fork: {exc}")
            compared = 0
        doc = json.loads(report_path.read_text()) if report_path.exists() else {}
        bans = honest_bans(mark, net)
        logged = {n.name: [b for b in BAD_EVENTS if b in n.log_path.read_text(errors="replace")]
                  for n in net.nodes}
        figures = {
            "soak_s": SOAK_S, "load": load.figures(), "lost": len(lost),
            "heights": [start_height, end_height], "compared_heights": compared,
            "max_block_gap_s": gap_s, "rss": rss.figures(), "honest_bans": bans[:10],
            "honest_ban_count": len(bans), "bad_log_events": logged, "alive": alive,
            "attacker_exit": attacker.returncode,
            "attacks": {a: {k: v for k, v in t.items() if k != "node_ids"}
                        for a, t in doc.get("attacks", {}).items()},
        }
        print("SOAK " + json.dumps(figures, default=str))

    if gap_s > MAX_GAP_S:
        problems.append(f"the chain stalled {gap_s:.1f}s (bound {MAX_GAP_S}s)")
    if bans:
        problems.append(f"{len(bans)} bans of honest nodes by honest nodes, e.g. {bans[:3]}")
    fat = {n: f["peak_mb"] for n, f in rss.figures().items() if f["peak_mb"] > SOAK_RSS_MB}
    if fat:
        problems.append(f"nodes over {SOAK_RSS_MB} MB: {fat}")
    if lost:
        problems.append(f"{len(lost)} of {len(load.accepted)} accepted txs never became final "
                        f"(chain {start_height} -> {end_height}), e.g. {sorted(lost)[:3]}")
    if not alive:
        problems.append("a node process died")
    if any(logged.values()):
        problems.append(f"bad log events: {logged}")
    if SOAK_ATTACKS != "none":
        if attacker.returncode != 0 or not doc:
            problems.append(f"the attacker exited {attacker.returncode} without a report")
        never = attacks_that_never_ran(doc)
        if doc and never:
            problems.append(f"attacks that never ran: {never}")
    if len(load.accepted) < LOAD_TX_PER_S * SOAK_S * 0.25:
        problems.append(f"only {len(load.accepted)} txs accepted: the honest load fell short")
    assert not problems, "\n".join(problems)
