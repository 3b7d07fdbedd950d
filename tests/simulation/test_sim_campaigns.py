"""The simulator with campaign txs: under every fault and a Byzantine validator, every honest
node holds the same campaign records at every height, decides each at its deadline the same
way, commits the claims and refunds, and never a tx that spends a pledge against the rules."""

from __future__ import annotations

import pytest

from consensus.campaign import Campaign, CampaignStatus
from faircoop_node.simulation import SimConfig
from faircoop_node.simulation.campaigns import DEADLINE, LATE_DEADLINE
from faircoop_node.simulation.faults import parse_faults
from faircoop_node.simulation.sim import Simulation


@pytest.mark.parametrize("seed", range(6))
def test_every_honest_node_decides_every_campaign_alike_at_its_deadline(seed: int) -> None:
    sim = Simulation(SimConfig(seed=seed, campaigns=True, faults=parse_faults("all"),
                               byzantine=1))
    result = sim.run()
    assert result.ok, result.safety_violations
    load = sim.load
    assert load is not None
    outcomes = {name: status for name, status, _ in result.campaigns}
    assert outcomes == {"won": "succeeded", "kept": "succeeded", "lost": "failed"}
    for node in sim.honest_nodes():
        assert load.outcomes(node.store) == load.outcomes(sim.honest_nodes()[0].store)
        committed = {e.txid for e in load.script if node.store.get_tx_location(e.txid)}
        refused = {e.txid for e in load.script if e.refused}
        assert committed & refused == set()
        assert committed == {e.txid for e in load.script} - refused  # claims, refunds included
        for cid in load.names:
            decided = load.decided.get((node.index, cid))
            record = node.store.get_campaign(cid)
            assert record is not None and record.terms.deadline in (DEADLINE, LATE_DEADLINE)
            assert decided is None or decided >= record.terms.deadline


def test_the_check_reports_nodes_that_hold_different_records() -> None:
    sim = Simulation(SimConfig(seed=0, campaigns=True))
    sim.run()
    load = sim.load
    assert load is not None
    store = sim.nodes[1].store
    height = store.tip().height
    cid = next(iter(load.names))
    load.seen[(height, cid)] = (b"another record", 0)
    problems = load.observe(1, height, store)
    assert len(problems) == 1 and "node 1 holds campaign" in problems[0]


def test_the_check_reports_a_decision_off_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose rules decided one block early would be caught."""
    real = Campaign.status

    def early(self: Campaign, height: int) -> CampaignStatus:
        return real(self, height + 1)

    monkeypatch.setattr(Campaign, "status", early)
    sim = Simulation(SimConfig(seed=0, campaigns=True))
    result = sim.run()
    assert any("first saw campaign" in v and f"its deadline is {DEADLINE}" in v
               for v in result.safety_violations)
