"""A chain with campaigns for the API tests, on the same `FakeNode` as `api_chain.py`.

- height 1: bob creates `won` (all-or-nothing, 6 coins, deadline 5, to bob); alice creates
  `lost` (all-or-nothing, 100 coins, deadline 4, to carol) and `kept` (keep-what-you-raise,
  50 coins, deadline 30, to carol);
- height 2: alice pledges 6 coins to `won` and 1 coin to `lost`; the treasury pledges block 1's
  fees less one FEE to `won` (refund to itself), with a grant memo;
- height 3: alice pays carol a coin; height 4: carol pledges 2 coins to `kept` (still open at
  the end); height 5: empty (`lost` failed at 4, `won` succeeded at 5);
- height 6: bob claims `won`'s two pledges; alice is refunded `lost`'s pledge (unless
  `settle=False`).
Blocks are 1 s apart, except height 6, a day after height 5 (fees on two days).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from consensus import codec
from consensus.campaign import campaign_id, pledge_output
from consensus.ledger import treasury_outpoint
from consensus.types import (
    COIN,
    CampaignMode,
    CampaignTerms,
    Genesis,
    Lock,
    OutPoint,
    Tx,
    TxIn,
    TxOut,
)
from faircoop_node.storage import BaseStore
from tests.api.api_chain import (
    ALICE,
    BOB,
    CAROL,
    FEE,
    TREASURY,
    FakeNode,
    Member,
    fresh_node,
    genesis_op,
    make_chain_genesis,
)
from tests.builders import CHAIN_ID, sign

DAY_MS = 86_400_000
GRANT_MEMO = b"fc-grant/1 ref=https://coop.example/assembly/2026-11#4"


@dataclass(frozen=True, slots=True)
class CampaignScene:
    node: FakeNode
    won: bytes
    lost: bytes
    kept: bytes
    grant: Tx
    claim: Tx
    refund: Tx


def signed_tx(spends: list[tuple[OutPoint, Member]], outputs: list[TxOut], *,
        campaign: CampaignTerms | None = None, memo: bytes = b"") -> Tx:
    unsigned = Tx(2 if campaign else 1, CHAIN_ID, tuple(TxIn(op) for op, _ in spends),
                  tuple(outputs), memo, (), campaign)
    return sign(unsigned, [(m.policy, [m.key]) for _, m in spends])


def _terms(beneficiary: Lock, goal: int, deadline: int, mode: CampaignMode,
           title: str) -> CampaignTerms:
    return CampaignTerms(beneficiary, goal, deadline, mode, title,
                         f"https://coop.example/{title.lower().replace(' ', '-')}")


MIDNIGHT = 19_676 * DAY_MS  # 2023-11-15T00:00Z, just after the standard genesis time


def campaign_genesis() -> Genesis:
    """The standard API genesis, 2.5 s before a UTC midnight (so the fees fall on two days)."""
    return replace(make_chain_genesis(), time_ms=MIDNIGHT - 2_500)


def campaign_chain(store: BaseStore | None = None, *, settle: bool = True) -> CampaignScene:
    """The scene, on `store` if given (it must be at `campaign_genesis()`); with `settle`
    False it stops at height 5, the claim and the refund made but not committed."""
    node = fresh_node(genesis=campaign_genesis(), store=store)
    gid = node.store.genesis_hash
    aon, kwyr = CampaignMode.ALL_OR_NOTHING, CampaignMode.KEEP_WHAT_YOU_RAISE
    make_won = signed_tx([(genesis_op(gid, 1), BOB)], [TxOut(20 * COIN - FEE, BOB.lock)],
                   campaign=_terms(BOB.lock, 6 * COIN, 5, aon, "Bakery oven"))
    make_lost = signed_tx([(genesis_op(gid, 0), ALICE)], [TxOut(50 * COIN - FEE, ALICE.lock)],
                    campaign=_terms(CAROL.lock, 100 * COIN, 4, aon, "Cargo bike"))
    make_kept = signed_tx([(genesis_op(gid, 2), ALICE)], [TxOut(7 * COIN - FEE, ALICE.lock)],
                    campaign=_terms(CAROL.lock, 50 * COIN, 30, kwyr, "Seed library"))
    won, lost, kept = (campaign_id(codec.txid(t)) for t in (make_won, make_lost, make_kept))
    b1 = node.commit((make_won, make_lost, make_kept))
    pledges = signed_tx([(OutPoint(codec.txid(make_lost), 0), ALICE)],
                  [pledge_output(6 * COIN, won, ALICE.lock),
                   pledge_output(COIN, lost, ALICE.lock),
                   TxOut(43 * COIN - 2 * FEE, ALICE.lock)])
    fees = 3 * FEE
    grant = signed_tx([(treasury_outpoint(b1), TREASURY)],
                [pledge_output(fees - FEE, won, TREASURY.lock)], memo=GRANT_MEMO)
    node.commit((pledges, grant))
    carol_coin = signed_tx([(OutPoint(codec.txid(make_kept), 0), ALICE)],
                     [TxOut(7 * COIN - 2 * FEE, CAROL.lock)])
    node.commit((carol_coin,))
    carol_pledge = signed_tx([(OutPoint(codec.txid(carol_coin), 0), CAROL)],
                       [pledge_output(2 * COIN, kept, CAROL.lock),
                        TxOut(5 * COIN - 3 * FEE, CAROL.lock)])
    node.commit((carol_pledge,))
    node.commit()
    won_pledges = [OutPoint(codec.txid(pledges), 0), OutPoint(codec.txid(grant), 0)]
    claim = signed_tx([(op, BOB) for op in won_pledges],
                      [TxOut(6 * COIN + fees - 2 * FEE, BOB.lock)])
    refund = signed_tx([(OutPoint(codec.txid(pledges), 1), ALICE)],
                       [TxOut(COIN - FEE, ALICE.lock)])
    if settle:
        node.commit((claim, refund))
    return CampaignScene(node, won, lost, kept, grant, claim, refund)

