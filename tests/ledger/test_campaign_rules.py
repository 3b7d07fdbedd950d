"""Every campaign rule in consensus/campaign.py, from tables of named cases.

Who may spend a pledge is tabled for every combination: mode (all-or-nothing,
keep-what-you-raise) x outcome (open, succeeded, failed) x spender (the beneficiary, the
pledger, the other pledger, a stranger, the coop treasury) x height (one before the deadline,
the deadline, long after). Exactly one party ever spends a decided pledge; nobody spends an
open one. The creation and pledge rules have a row each, and a meta-test fails if a rule
exists in campaign.py that no row exercises.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from consensus import campaign as campaign_module
from consensus.campaign import (
    CampaignStatus,
    campaign_id,
    decode_campaign,
    encode_campaign,
    pledge_output,
)
from consensus.codec import (
    block_hash,
    decode_genesis,
    decode_tx,
    encode_genesis,
    encode_tx,
    pack,
    policy_lock,
    terms_obj,
    txid,
    txout_obj,
)
from consensus.crypto import PrivateKey, sha256
from consensus.errors import DecodeError, ValidationError
from consensus.ledger import apply_block, total_supply, validate_tx
from consensus.types import (
    CampaignMode,
    CampaignTerms,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
)
from tests.builders import CHAIN_ID, lock, make_block
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
    tx,
    with_campaign,
)

AON, KWYR = CampaignMode.ALL_OR_NOTHING, CampaignMode.KEEP_WHAT_YOU_RAISE
DEADLINE = 10
# pledges (A's, B's) per mode and outcome; goal 5 coins
PLEDGES = {
    (AON, "succeeded"): (3 * COIN, 2 * COIN),  # exactly the goal
    (AON, "failed"): (3 * COIN, 2 * COIN - 1),  # one base unit short
    (KWYR, "succeeded"): (1 * COIN, 1 * COIN),  # far below the goal: kept all the same
}


@dataclass
class Pledged:
    world: World
    cid: bytes
    a: OutPoint  # A's pledge, refund to A
    b: OutPoint  # B's pledge, refund to B
    amounts: tuple[int, int]


def pledged(mode: CampaignMode, outcome: str) -> Pledged:
    w = World.new()
    record = w.create(terms(mode=mode, deadline=DEADLINE))
    amounts = PLEDGES[(mode, outcome)]
    a = w.pledge(PA, record.id, amounts[0])
    b = w.pledge(PB, record.id, amounts[1])
    return Pledged(w, record.id, a, b, amounts)


# -- who may spend a pledge: every combination -------------------------------------------------

SPENDERS: dict[str, SpendPolicy] = {
    "beneficiary": PE, "pledger": PA, "other_pledger": PB, "stranger": PS, "treasury": PM}


def expected(outcome: str, spender: str, height: int) -> str | None:
    """The rule a spend of A's pledge by `spender` at `height` breaks (None: valid)."""
    if height < DEADLINE:
        return "pledge_locked"
    if outcome == "succeeded":
        return None if spender == "beneficiary" else "not_beneficiary"
    return None if spender == "pledger" else "not_refund_policy"


SPEND_CASES = [
    (mode, outcome, spender, height)
    for (mode, outcome) in PLEDGES
    for spender in SPENDERS
    for height in (DEADLINE - 1, DEADLINE, DEADLINE + 1000)
]


@pytest.mark.parametrize(("mode", "outcome", "spender", "height"), SPEND_CASES,
                         ids=[f"{m.label}-{o}-{s}-h{h}" for m, o, s, h in SPEND_CASES])
def test_who_may_spend_a_pledge(mode: CampaignMode, outcome: str, spender: str,
                                height: int) -> None:
    p = pledged(mode, outcome)
    record = p.world.utxos.get_campaign(p.cid)
    assert record is not None
    want = CampaignStatus.OPEN if height < DEADLINE else CampaignStatus(outcome)
    assert record.status(height) is want
    by = SPENDERS[spender]
    spend = claim([p.a], p.amounts[0], by, lock(by))
    rule = expected(outcome, spender, height)
    view = p.world.view_at(height)
    if rule is None:
        validate_tx(spend, view, PARAMS, chain_id=CHAIN_ID)
        p.world.commit([spend], height)  # and a block at that height takes it
        assert p.world.utxos.get_utxo(p.a) is None
        return
    with pytest.raises(ValidationError) as info:
        validate_tx(spend, view, PARAMS, chain_id=CHAIN_ID)
    assert info.value.rule == rule


@pytest.mark.parametrize("claimant", [PE, PA, PB, PS, PM])
def test_the_refund_policy_is_the_pledges_own_even_for_a_policy_that_signs_another(
        claimant: SpendPolicy) -> None:
    """After a failure, spending B's pledge takes B's policy: A's witness (a valid signature by
    a party of the campaign) is refused, and so is every other."""
    p = pledged(AON, "failed")
    spend = claim([p.b], p.amounts[1], claimant, lock(claimant))
    view = p.world.view_at(DEADLINE)
    if claimant == PB:
        validate_tx(spend, view, PARAMS, chain_id=CHAIN_ID)
        return
    with pytest.raises(ValidationError) as info:
        validate_tx(spend, view, PARAMS, chain_id=CHAIN_ID)
    assert info.value.rule == "not_refund_policy"


def test_the_beneficiary_claims_every_pledge_in_one_tx_with_a_coin_of_its_own() -> None:
    p = pledged(AON, "succeeded")
    coin, amount = p.world.coins[PE]
    spend = tx([(p.a, PE), (p.b, PE), (coin, PE)],
               [TxOut(sum(p.amounts) + amount - FEE, lock(PE))])
    p.world.commit([spend], DEADLINE)
    assert p.world.utxos.get_utxo(p.a) is None and p.world.utxos.get_utxo(p.b) is None


def test_a_multisig_beneficiary_claims_with_its_m_of_n() -> None:
    w = World.new()
    record = w.create(terms(beneficiary=lock(PM), deadline=DEADLINE))
    a = w.pledge(PA, record.id, 5 * COIN)
    w.commit([claim([a], 5 * COIN, PM, lock(PM))], DEADLINE)


# -- creating campaigns and pledging -----------------------------------------------------------


def created_world() -> tuple[World, bytes]:
    w = World.new()
    return w, w.create(terms(deadline=DEADLINE)).id


def bad_pledge(cid: Callable[[World, bytes], bytes] = lambda w, c: c,
               refund: Callable[[World, bytes], bytes] = lambda w, c: lock(PA),
               height: int = 3) -> Callable[[], tuple[Tx, World, int]]:
    def build() -> tuple[Tx, World, int]:
        w, c = created_world()
        t = w.pay_from(PA, [pledge_output(COIN, cid(w, c), refund(w, c))])
        return t, w, height
    return build


def creation(**changes: object) -> Callable[[], tuple[Tx, World, int]]:
    def build() -> tuple[Tx, World, int]:
        w = World.new()
        t = w.pay_from(PE, [], campaign=terms(deadline=DEADLINE))
        if changes:
            t = with_campaign(t, **changes)
        return tx([(t.inputs[0].prevout, PE)], t.outputs, campaign=t.campaign), w, 1
    return build


def existing_campaign_as_beneficiary() -> tuple[Tx, World, int]:
    w, c = created_world()
    t = w.pay_from(PE, [], campaign=terms(deadline=DEADLINE, beneficiary=Lock(c)))
    return t, w, 2


def version_without_terms() -> tuple[Tx, World, int]:
    t, w, h = creation()()
    return replace(t, campaign=None), w, h


def terms_in_version_1() -> tuple[Tx, World, int]:
    t, w, h = creation()()
    return replace(t, version=1), w, h


def version_3() -> tuple[Tx, World, int]:
    t, w, h = creation()()
    return replace(t, version=3, campaign=None), w, h


def ordinary_coin_to_a_campaign_lock_is_not_a_pledge() -> tuple[Tx, World, int]:
    """A 2-field output to a campaign's id is an ordinary output no policy spends (as any
    output to a lock nobody holds): valid, not counted as pledged. Wallets never build one."""
    w, c = created_world()
    return w.pay_from(PA, [TxOut(COIN, Lock(c))]), w, 3


@dataclass(frozen=True)
class Case:
    build: Callable[[], tuple[Tx, World, int]]
    rule: str | None


CASES: dict[str, Case] = {
    "valid_creation": Case(creation(), None),
    "valid_creation_keep_what_you_raise": Case(creation(mode=KWYR), None),
    "valid_deadline_next_block": Case(creation(deadline=2), None),
    "valid_pledge": Case(bad_pledge(), None),
    "valid_pledge_refund_to_a_treasury": Case(bad_pledge(refund=lambda w, c: lock(PM)), None),
    "valid_pledge_in_the_block_before_the_deadline": Case(bad_pledge(height=DEADLINE - 1),
                                                          None),
    "valid_coin_to_a_campaign_id": Case(ordinary_coin_to_a_campaign_lock_is_not_a_pledge, None),
    "campaign_version_terms_in_v1": Case(terms_in_version_1, "campaign_version"),
    "campaign_version_v2_without_terms": Case(version_without_terms, "campaign_version"),
    "campaign_version_v3": Case(version_3, "campaign_version"),
    "bad_campaign_goal_zero": Case(creation(goal=0), "bad_campaign"),
    "bad_campaign_deadline_zero": Case(creation(deadline=0), "bad_campaign"),
    "bad_campaign_title_empty": Case(creation(title=""), "bad_campaign"),
    "bad_campaign_title_81": Case(creation(title="t" * 81), "bad_campaign"),
    "bad_campaign_uri_201": Case(creation(uri="u" * 201), "bad_campaign"),
    "bad_campaign_title_newline": Case(creation(title="line\nbreak"), "bad_campaign"),
    "bad_campaign_uri_escape": Case(creation(uri="https://x\x1b[2J"), "bad_campaign"),
    "bad_campaign_title_c1_control": Case(creation(title="x\x9b"), "bad_campaign"),
    "bad_campaign_mode_3": Case(creation(mode=3), "bad_campaign"),
    "bad_campaign_beneficiary_31_bytes": Case(creation(beneficiary=Lock(b"\x01" * 31)),
                                              "bad_campaign"),
    "campaign_deadline_passed_now": Case(creation(deadline=1), "campaign_deadline_passed"),
    "bad_beneficiary_a_campaign": Case(existing_campaign_as_beneficiary, "bad_beneficiary"),
    "unknown_campaign": Case(bad_pledge(cid=lambda w, c: b"\x07" * 32), "unknown_campaign"),
    "unknown_campaign_a_txid": Case(bad_pledge(cid=lambda w, c: w.utxos.campaigns[c].txid),
                                    "unknown_campaign"),
    "campaign_closed_at_the_deadline": Case(bad_pledge(height=DEADLINE), "campaign_closed"),
    "campaign_closed_after": Case(bad_pledge(height=DEADLINE + 5), "campaign_closed"),
    "bad_refund_lock_a_campaign": Case(bad_pledge(refund=lambda w, c: c), "bad_refund_lock"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_campaign_rule_table(case: str) -> None:
    row = CASES[case]
    t, w, height = row.build()
    view = w.view_at(height)
    if row.rule is None:
        validate_tx(t, view, PARAMS, chain_id=CHAIN_ID)
        return
    with pytest.raises(ValidationError) as info:
        validate_tx(t, view, PARAMS, chain_id=CHAIN_ID)
    assert info.value.rule == row.rule


def _rules_in(module: object) -> set[str]:
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    rules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args \
                and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "ValidationError":
            first = node.exc.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                rules.add(first.value)
    return rules


def test_the_tables_cover_every_rule_in_campaign_py() -> None:
    covered = {r.rule for r in CASES.values()} | {"pledge_locked", "not_beneficiary",
                                                  "not_refund_policy"}
    assert {expected(o, s, h) for _, o, s, h in SPEND_CASES} - {None} == {
        "pledge_locked", "not_beneficiary", "not_refund_policy"}
    assert _rules_in(campaign_module) - covered == set()


# -- in blocks -------------------------------------------------------------------------------


def test_a_block_may_create_a_campaign_and_take_pledges_to_it_after_the_creation() -> None:
    w = World.new()
    made = w.pay_from(PE, [], campaign=terms(deadline=DEADLINE))
    cid = campaign_id(txid(made))
    p1 = w.pay_from(PA, [pledge_output(COIN, cid, lock(PA))])
    p2 = w.pay_from(PB, [pledge_output(2 * COIN, cid, lock(PB)),
                         pledge_output(COIN, cid, lock(PB))])
    block = make_block([made, p1, p2], height=1, prev_hash=w.prev)
    diff = apply_block(block, block_hash(block.header), w.view_at(1), PARAMS,
                       treasury_lock=lock(PS))
    (record,) = diff.campaigns
    assert (record.id, record.pledged, record.pledges, record.created) == (cid, 4 * COIN, 3, 1)
    assert record.txid == txid(made)
    with pytest.raises(ValidationError) as info:  # the pledge before its campaign exists
        block = make_block([p1, made], height=1, prev_hash=w.prev)
        apply_block(block, block_hash(block.header), w.view_at(1), PARAMS,
                    treasury_lock=lock(PS))
    assert info.value.rule == "unknown_campaign"


def test_pledges_count_toward_the_decision_and_supply_is_conserved() -> None:
    p = pledged(AON, "succeeded")
    w = p.world
    record = w.utxos.get_campaign(p.cid)
    assert record is not None and record.pledged == 5 * COIN and record.pledges == 2
    supply = total_supply(w.utxos.utxos.values())
    w.commit([claim([p.a, p.b], 5 * COIN, PE, lock(PE))], DEADLINE)
    assert total_supply(w.utxos.utxos.values()) == supply
    after = w.utxos.get_campaign(p.cid)
    assert after == record  # claiming changes no record: the decision stays what it was


# -- bytes -------------------------------------------------------------------------------------


def test_a_creation_tx_and_a_pledge_round_trip_and_sign_their_terms() -> None:
    w = World.new()
    made = w.pay_from(PE, [], campaign=terms(deadline=DEADLINE))
    assert decode_tx(encode_tx(made)) == made
    assert encode_tx(made)[:2] == bytes([0x97, 0x02])  # a 7-array, version 2
    changed = with_campaign(made, goal=1)  # same signatures, other terms: another txid
    assert txid(changed) != txid(made)
    with pytest.raises(ValidationError) as info:
        validate_tx(changed, w.view_at(1), PARAMS, chain_id=CHAIN_ID)
    assert info.value.rule == "bad_signature"
    pledge = w.pay_from(PA, [pledge_output(COIN, b"\x05" * 32, lock(PA))])
    assert decode_tx(encode_tx(pledge)) == pledge
    assert encode_tx(pledge).count(bytes([0x93, 0xCE]) + COIN.to_bytes(4, "big")) == 1


def test_a_campaign_record_round_trips_and_is_strict() -> None:
    w, cid = created_world()
    record = w.utxos.get_campaign(cid)
    assert record is not None
    assert decode_campaign(encode_campaign(record)) == record
    with pytest.raises(DecodeError):
        decode_campaign(encode_campaign(record) + b"\x00")


def test_genesis_allocations_are_never_pledges() -> None:
    bad = replace(GENESIS, allocations=(TxOut(COIN, Lock(bytes(32)), Lock(bytes(32))),))
    with pytest.raises(DecodeError, match="extra fields"):
        decode_genesis(encode_genesis(bad))


def test_a_pledge_is_refused_where_no_campaign_view_is_kept() -> None:
    """Without campaign records (an empty view), a pledge output names no campaign."""
    w, cid = created_world()
    t = w.pay_from(PA, [pledge_output(COIN, cid, lock(PA))])
    w.utxos.campaigns.clear()
    with pytest.raises(ValidationError, match="unknown_campaign"):
        validate_tx(t, w.view_at(3), PARAMS, chain_id=CHAIN_ID)


def _doc_example() -> dict[str, str]:
    text = (Path(__file__).parents[2] / "docs" / "PROTOCOL.md").read_text()
    block = text.split("### 8.3 Crowdfunding campaigns", 1)[1].split("```", 2)[1]
    pairs = (line.split("=", 1) for line in block.strip().splitlines())
    return {name.strip(): value.strip() for name, value in pairs}


def test_protocol_md_campaign_example() -> None:
    k = PrivateKey((1).to_bytes(32, "big"))
    lk = policy_lock(SpendPolicy.single(k.public_key))
    t = CampaignTerms(lk, 10**9, 1000, AON, "Bakery", "https://coop.example/b")
    made = Tx(2, "faircoop-dev", (TxIn(OutPoint(TxId(bytes(32)), 0)),), (TxOut(10**8, lk),),
              b"", (), t)
    cid = campaign_id(txid(made))
    assert _doc_example() == {
        "terms": pack(terms_obj(t)).hex(),
        "creation_tx": encode_tx(made).hex(),
        "creation_txid": txid(made).hex(),
        "campaign_id": cid.hex(),
        "pledge_output": pack(txout_obj(pledge_output(10**8, cid, lk))).hex(),
    }
    raw = encode_tx(made)
    assert raw[:2] == b"\x97\x02" and raw[-1] == 0x90
    assert txid(made) == sha256(b"\x96" + raw[1:-1])
