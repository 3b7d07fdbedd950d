"""The simulator with mutual credit in its load (`faircoop_node/simulation/credit.py`): seeded
runs with every kind of fault stay safe and live, every honest node holds the same credit
accounts at every height, balances sum to zero, member 0 stops sending once its line is cut
below its debt; and the checks do catch a node whose credit state diverges."""

from __future__ import annotations

import pytest

from consensus.credit import CreditAccount
from consensus.quorum import max_faulty
from faircoop_node.simulation import ALL_FAULTS, SimConfig, run_simulation
from faircoop_node.simulation.credit import (
    FIRST,
    LAST,
    LOWERED,
    MEMBERS,
    member_lock,
)
from faircoop_node.simulation.sim import Simulation
from faircoop_node.storage import schema

FAULTS = frozenset(ALL_FAULTS)
SCRIPTED = (LAST - FIRST + 1) * MEMBERS


@pytest.mark.parametrize(("n", "seeds"), [(1, 8), (4, 8), (7, 4)])
def test_credit_runs_with_every_fault_are_safe_live_and_agree(n: int, seeds: int) -> None:
    failures = []
    for seed in range(seeds):
        config = SimConfig(validators=n, byzantine=seed % (max_faulty(n) + 1), faults=FAULTS,
                           seed=seed, credit=True)
        result = run_simulation(config)
        if not result.ok:
            failures.append(f"seed {seed}: {result.safety_violations[:3] or 'liveness'}\n"
                            f"  {result.replay_command()}")
        # every scripted transfer but member 0's after its cut was committed
        assert SCRIPTED - (LAST - FIRST + 1) < result.credit_transfers < SCRIPTED, seed
    assert not failures, "\n".join(failures)


def test_member_0_can_receive_but_not_send_once_its_line_is_cut() -> None:
    sim = Simulation(SimConfig(seed=3, credit=True))
    assert sim.run().ok
    store = sim.nodes[0].store
    zero = store.get_credit_account(member_lock(0))
    assert zero is not None and zero.limit == LOWERED and zero.balance < -LOWERED
    others = [store.get_credit_account(member_lock(i)) or CreditAccount()
              for i in range(1, MEMBERS)]
    assert all(a.sequence == LAST - FIRST + 1 for a in others)
    assert zero.sequence < LAST - FIRST + 1
    lines = store.get_credit_history(member_lock(0), limit=200)
    cut = next(x.height for x in lines if x.kind == 3 and x.amount == LOWERED)
    assert any(x.kind == 2 and x.height > cut for x in lines)  # still paid after the cut
    assert not any(x.kind == 1 and x.height > cut for x in lines)  # never pays after it


def test_a_credit_run_replays_exactly() -> None:
    config = SimConfig(validators=4, faults=FAULTS, seed=11, credit=True)
    a, b = run_simulation(config), run_simulation(config)
    assert a.trace_hash == b.trace_hash and a.credit_transfers == b.credit_transfers
    assert "--credit" in a.replay_command()


def test_a_node_whose_credit_accounts_diverge_is_caught() -> None:
    """Garble one node's account record mid-run: the next heights' comparison names it."""
    sim = Simulation(SimConfig(validators=4, seed=5, credit=True))
    while sim.nodes[1].height < FIRST + 2:
        assert sim.step()
    key = schema.credit_account_key(member_lock(2))
    store = sim.nodes[1].store
    balance, limit, sequence, lines = schema.decode_credit_account(store.backend.get(key), key)
    store.backend.write({key: schema.encode_credit_account(balance + 1, limit, sequence, lines)},
                        sync=True)
    result = sim.run()
    assert any("node 1's credit accounts differ" in v or "node 1's credit balances" in v
               for v in result.safety_violations), result.safety_violations
