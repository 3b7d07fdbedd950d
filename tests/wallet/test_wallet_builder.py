"""Coin selection and the builder: exact fees, change, dust, memo, many outputs, shortfall.

Every built tx is signed and run through `consensus.ledger.validate_tx`.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import codec, ledger
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import COIN, OutPoint, SpendPolicy, TxId
from wallet.builder import (
    Coin,
    Payment,
    build_transaction,
    input_size,
    sign_transaction,
    signed_size,
)
from wallet.coinselect import Candidate, branch_and_bound, select_coins
from wallet.errors import DustOutput, InsufficientFunds, WalletError, WatchOnly

KEYS = [PrivateKey((i + 7).to_bytes(32, "big")) for i in range(4)]
POLICIES = [SpendPolicy.single(k.public_key) for k in KEYS]
PAYEE = codec.policy_lock(SpendPolicy.single(PrivateKey((99).to_bytes(32, "big")).public_key))
CHANGE = POLICIES[3]
PARAMS = ChainParams()
CHAIN = "faircoop-test"
KEYMAP = {k.public_key: k for k in KEYS}


def coins_of(amounts: list[int]) -> list[Coin]:
    return [Coin(OutPoint(TxId(bytes([i + 1]) * 32), i), a, POLICIES[i % 3])
            for i, a in enumerate(amounts)]


def build_and_check(coins: list[Coin], payments: list[Payment], rate: int = 1,
                    memo: bytes = b"", params: ChainParams = PARAMS) -> tuple:  # type: ignore[type-arg]
    unsigned = build_transaction(coins, payments, fee_rate=rate, params=params, chain_id=CHAIN,
                                 change_policy=CHANGE, memo=memo)
    tx = sign_transaction(unsigned, KEYMAP)
    view = ledger.MemoryUtxoSet({c.outpoint: c.output for c in coins})
    valid = ledger.validate_tx(tx, view, params, chain_id=CHAIN)
    assert valid.size == unsigned.signed_size == codec.tx_size(tx)
    assert valid.fee == unsigned.fee
    return unsigned, tx, valid


@pytest.mark.parametrize("rate", [1, 3, 50])
def test_fee_is_exactly_signed_size_times_rate_with_change(rate: int) -> None:
    unsigned, tx, valid = build_and_check(coins_of([5 * COIN, 2 * COIN]),
                                          [Payment(PAYEE, COIN)], rate)
    assert unsigned.change_index is not None and unsigned.fee_exact
    assert valid.fee == valid.size * rate
    change = tx.outputs[unsigned.change_index]
    assert change.lock == codec.policy_lock(CHANGE)  # change goes to the fresh change key


def test_exact_match_needs_no_change() -> None:
    """A coin worth exactly payment + its own fee is chosen by branch and bound, no change."""
    probe = coins_of([10**9])
    payment = Payment(PAYEE, 123_456_789)
    plain = build_transaction(probe, [payment], fee_rate=2, params=PARAMS, chain_id=CHAIN,
                              change_policy=CHANGE)
    no_change_size = signed_size(plain.tx.__class__(plain.tx.version, plain.tx.chain_id,
                                                    plain.tx.inputs, plain.tx.outputs[:1],
                                                    plain.tx.memo, ()), plain.policies)
    exact = payment.amount + no_change_size * 2
    coins = coins_of([exact + 50_000_000, exact, exact // 3])
    coins = [coins[0], Coin(probe[0].outpoint, exact, POLICIES[0]), coins[2]]
    unsigned, tx, valid = build_and_check(coins, [payment], rate=2)
    assert unsigned.algorithm == "bnb" and unsigned.change_index is None
    assert len(tx.outputs) == 1 and valid.fee == valid.size * 2


def test_change_below_dust_is_added_to_the_fee() -> None:
    params = ChainParams(dust_limit=5_000)
    coin_amount = 100_000
    # Pay so that what would be left as change is positive but below the dust limit.
    probe = build_transaction(coins_of([coin_amount]), [Payment(PAYEE, 50_000)], fee_rate=1,
                              params=params, chain_id=CHAIN, change_policy=CHANGE)
    assert probe.change_index is not None
    left = probe.tx.outputs[probe.change_index].amount
    unsigned, tx, valid = build_and_check(coins_of([coin_amount]),
                                          [Payment(PAYEE, 50_000 + left - 4_000)], params=params)
    assert unsigned.change_index is None and len(tx.outputs) == 1
    assert valid.fee > valid.size * params.min_fee_rate  # the dust went to the fee
    assert valid.fee - valid.size < params.dust_limit + 100


def test_memo_and_many_outputs_in_one_tx() -> None:
    payments = [Payment(codec.policy_lock(SpendPolicy.single(
        PrivateKey((1000 + i).to_bytes(32, "big")).public_key)), 10_000 + i) for i in range(60)]
    unsigned, tx, valid = build_and_check(coins_of([COIN, COIN]), payments, memo=b"patronage 2026")
    assert tx.memo == b"patronage 2026"
    assert [o.amount for o in tx.outputs[:60]] == [p.amount for p in payments]
    assert valid.fee == valid.size


def test_dust_payment_is_refused() -> None:
    with pytest.raises(DustOutput, match="dust limit"):
        build_transaction(coins_of([COIN]), [Payment(PAYEE, PARAMS.dust_limit - 1)], fee_rate=1,
                          params=PARAMS, chain_id=CHAIN, change_policy=CHANGE)


def test_insufficient_funds_states_the_shortfall() -> None:
    coins = coins_of([30_000, 20_000])
    with pytest.raises(InsufficientFunds) as info:
        build_transaction(coins, [Payment(PAYEE, 60_000)], fee_rate=1, params=PARAMS,
                          chain_id=CHAIN, change_policy=CHANGE)
    err = info.value
    fees = sum(input_size(c.outpoint, c.policy) for c in coins)
    assert err.available == 50_000
    assert err.shortfall >= 10_000 + fees and str(err.shortfall) in str(err)


@pytest.mark.parametrize("kwargs,match", [
    ({"fee_rate": 0, "params": ChainParams(min_fee_rate=2)}, "below the chain"),
    ({"memo": b"x" * 81}, "memo"),
])
def test_bad_requests_are_refused(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    args = {"fee_rate": 1, "params": PARAMS, "chain_id": CHAIN, "change_policy": CHANGE,
            **kwargs}
    with pytest.raises(WalletError, match=match):
        build_transaction(coins_of([COIN]), [Payment(PAYEE, 10_000)], **args)


def test_signing_without_the_keys_is_refused() -> None:
    unsigned = build_transaction(coins_of([COIN]), [Payment(PAYEE, 10_000)], fee_rate=1,
                                 params=PARAMS, chain_id=CHAIN, change_policy=CHANGE)
    with pytest.raises(WatchOnly):
        sign_transaction(unsigned, {})


def test_branch_and_bound_finds_the_exact_subset() -> None:
    cands = [Candidate(OutPoint(TxId(bytes([i]) * 32), 0), a, 0)
             for i, a in enumerate([7, 13, 29, 41, 53, 61])]
    found = branch_and_bound(cands, 7 + 29 + 53, 0, fee_rate=0)
    assert found is not None and sum(c.amount for c in found) == 89
    assert branch_and_bound(cands, 1, 0, fee_rate=0) is None  # nothing sums to exactly 1


def test_selection_falls_back_to_largest_first_with_change() -> None:
    cands = [Candidate(OutPoint(TxId(bytes([i]) * 32), 0), a, 100)
             for i, a in enumerate([5_000, 80_000, 300_000])]
    sel = select_coins(cands, 50_000, 1, 43, 140, 1_000)
    assert sel.algorithm == "largest_first" and sel.change
    assert [c.amount for c in sel.coins] == [300_000]


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.integers(2_000, 5 * COIN), min_size=1, max_size=12),
       pay=st.lists(st.integers(1_000, 2 * COIN), min_size=1, max_size=5),
       rate=st.integers(1, 20))
def test_any_built_tx_is_valid_and_pays_at_least_size_times_rate(
        amounts: list[int], pay: list[int], rate: int) -> None:
    coins = coins_of(amounts)
    payments = [Payment(PAYEE, p) for p in pay]
    try:
        unsigned, tx, valid = build_and_check(coins, payments, rate)
    except InsufficientFunds as exc:
        assert exc.shortfall > 0
        assert sum(amounts) < sum(pay) + rate * (200 + 140 * len(amounts)) + PARAMS.dust_limit
        return
    assert valid.fee >= valid.size * rate
    if unsigned.change_index is not None:
        assert valid.fee == valid.size * rate or not unsigned.fee_exact
        assert tx.outputs[unsigned.change_index].amount >= PARAMS.dust_limit
    else:
        # without change, what the fee absorbs is less than a change output would be worth
        assert valid.fee - valid.size * rate < rate * 200 + PARAMS.dust_limit


@settings(max_examples=80, deadline=None)
@given(amounts=st.lists(st.integers(1, 10_000), min_size=1, max_size=14),
       target=st.integers(1, 40_000), window=st.integers(0, 500))
def test_branch_and_bound_answers_lie_in_the_window_and_none_means_none_exists(
        amounts: list[int], target: int, window: int) -> None:
    from itertools import combinations

    cands = [Candidate(OutPoint(TxId(i.to_bytes(32, "big")), 0), a, 0)
             for i, a in enumerate(amounts)]
    found = branch_and_bound(cands, target, window, fee_rate=0)
    sums = {sum(c) for r in range(1, len(amounts) + 1) for c in combinations(amounts, r)}
    feasible = [s for s in sums if target <= s <= target + window]
    if found is None:
        assert not feasible
    else:
        total = sum(c.amount for c in found)
        assert target <= total <= target + window
        assert total == min(feasible)  # the least excess
