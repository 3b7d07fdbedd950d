"""Hypothesis properties of campaigns over random chains of real blocks.

Each example creates one campaign (random mode, goal, deadline and beneficiary), then blocks of
random pledges from random pledgers with random refund locks, up to the deadline, then a block
some heights past it. A plain model (the sum of the pledges against the goal) predicts the
decision, and:

- coins are conserved: after every block the UTXO set sums to the genesis allocations;
- while the campaign is open, no party (beneficiary, any pledger, a stranger, a treasury) can
  spend any pledge;
- once decided, every pledge is spendable by exactly one policy: the beneficiary's if the
  model says succeeded, the pledge's own refund policy if failed; and a block spending every
  pledge that way is accepted, leaving no pledge behind and the supply unchanged.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from consensus.campaign import CampaignStatus, pledge_output
from consensus.codec import txid
from consensus.errors import ValidationError
from consensus.ledger import total_supply, validate_tx
from consensus.types import CampaignMode, OutPoint, SpendPolicy
from tests.builders import CHAIN_ID, lock
from tests.ledger.campaign_world import (
    COIN,
    FEE,
    GENESIS,
    PA,
    PARAMS,
    PB,
    PE,
    PM,
    PS,
    World,
    claim,
    terms,
)

PARTIES: tuple[SpendPolicy, ...] = (PA, PB, PS, PE, PM)
PLEDGERS: tuple[SpendPolicy, ...] = (PA, PB, PS, PM)
SUPPLY = sum(o.amount for o in GENESIS.allocations)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spenders(w: World, pledge: OutPoint, amount: int, height: int) -> set[SpendPolicy]:
    """Every party whose policy may spend `pledge` in a block at `height`."""
    able = set()
    for party in PARTIES:
        try:
            validate_tx(claim([pledge], amount, party, lock(party)), w.view_at(height), PARAMS,
                        chain_id=CHAIN_ID)
        except ValidationError as exc:
            assert exc.rule in {"pledge_locked", "not_beneficiary", "not_refund_policy"}
            continue
        able.add(party)
    return able


@SETTINGS
@given(st.data())
def test_coins_are_conserved_and_each_decided_pledge_has_exactly_one_spender(
        data: st.DataObject) -> None:
    mode = data.draw(st.sampled_from(CampaignMode), label="mode")
    deadline = data.draw(st.integers(3, 7), label="deadline")
    goal = data.draw(st.integers(1, 12 * COIN) | st.integers(12 * COIN, 40 * COIN), label="goal")
    beneficiary = data.draw(st.sampled_from((PE, PM)), label="beneficiary")
    w = World.new()
    record = w.create(terms(goal=goal, deadline=deadline, mode=mode,
                            beneficiary=lock(beneficiary)))
    pledges: dict[OutPoint, tuple[int, SpendPolicy]] = {}  # -> amount, refund policy
    for height in range(2, deadline):
        block = []
        for pledger in data.draw(st.lists(st.sampled_from(PLEDGERS), unique=True, max_size=3),
                                 label=f"pledgers at {height}"):
            amounts = data.draw(st.lists(st.integers(FEE + PARAMS.dust_limit, 3 * COIN),
                                         min_size=1, max_size=2), label="amounts")
            refunds = [data.draw(st.sampled_from(PLEDGERS), label="refund") for _ in amounts]
            t = w.pay_from(pledger, [pledge_output(a, record.id, lock(r))
                                     for a, r in zip(amounts, refunds, strict=True)])
            block.append(t)
            for index, (a, r) in enumerate(zip(amounts, refunds, strict=True)):
                pledges[OutPoint(txid(t), index)] = (a, r)
        w.commit(block, height)
        assert total_supply(w.utxos.utxos.values()) == SUPPLY
        if height + 1 < deadline:  # still open in the next block: nobody spends a pledge
            for op, (amount, _) in pledges.items():
                assert spenders(w, op, amount, height + 1) == set()
    total = sum(a for a, _ in pledges.values())
    succeeded = total >= goal if mode is CampaignMode.ALL_OR_NOTHING else total > 0
    event(f"{mode.label} {'succeeded' if succeeded else 'failed'}, "
          f"{'no' if not pledges else 'some'} pledges")
    now = data.draw(st.integers(deadline, deadline + 3), label="decided at")
    decided = w.utxos.get_campaign(record.id)
    assert decided is not None and decided.pledged == total
    assert decided.status(now) is (CampaignStatus.SUCCEEDED if succeeded
                                   else CampaignStatus.FAILED)
    assert decided.status(deadline - 1) is CampaignStatus.OPEN
    spends = []
    for op, (amount, refund) in pledges.items():
        able = spenders(w, op, amount, now)
        assert able == {beneficiary if succeeded else refund}
        (party,) = able
        spends.append(claim([op], amount, party, lock(party)))
    w.commit(spends, now)
    assert total_supply(w.utxos.utxos.values()) == SUPPLY
    assert all(w.utxos.get_utxo(op) is None for op in pledges)
