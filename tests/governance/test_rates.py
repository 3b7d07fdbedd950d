"""The assembly's reference price: `SetReferenceRate` (kind 20) and the chain's rate book.

A table drives a real chain (`Net`: real blocks, certificates and rules) through rate
actions and checks what is in force at each height; properties check the book against a
naive model that keeps every change, its encoding, and its bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.chainstate import decode_chain_state, encode_chain_state
from consensus.codec import pack, unpack
from consensus.errors import DecodeError, ValidationError
from consensus.governance import (
    SetParam,
    SetReferenceRate,
    apply_action,
    body_from,
    body_obj,
    decode_block_action,
    encode_action,
    make_action,
)
from consensus.rates import (
    EMPTY_BOOK,
    MAX_CURRENCIES,
    RATE_HISTORY,
    RateBook,
    base_units_for,
    currency_units_for,
    rates_from,
    rates_obj,
)
from consensus.types import COIN, MAX_AMOUNT
from tests.chainstate.harness import CHAIN_ID, Net, key

EUR, CHF = "EUR", "CHF"


@dataclass(frozen=True)
class Step:
    rates: tuple[tuple[str, int], ...] = ()  # (currency, units_per_coin) set by this block
    fails: str | None = None  # the rule the block breaks
    extra: tuple[SetParam, ...] = ()  # other actions in the same block


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    expect: tuple[tuple[int, str, int | None], ...]  # (height, currency, units or None)


CASES = (
    Case("a rate is in force two heights after its block",
         (Step(((EUR, 125_000_000),)),),
         ((1, EUR, None), (2, EUR, None), (3, EUR, 125_000_000), (99, EUR, 125_000_000))),
    Case("a later change replaces it from its own height on; the old one still answers "
         "for earlier heights",
         (Step(((EUR, 100_000_000),)), Step(), Step(((EUR, 150_000_000),))),
         ((3, EUR, 100_000_000), (4, EUR, 100_000_000), (5, EUR, 150_000_000))),
    Case("two changes of one currency in one block: the later wins",
         (Step(((EUR, 1), (EUR, 2))),), ((3, EUR, 2),)),
    Case("currencies are independent",
         (Step(((EUR, 120_000_000), (CHF, 110_000_000))),),
         ((3, EUR, 120_000_000), (3, CHF, 110_000_000))),
    Case("0 withdraws a rate", (Step(((EUR, 5),)), Step(((EUR, 0),))),
         ((3, EUR, 5), (4, EUR, 0))),
    Case("a rate changes no ledger rule: other actions in the block apply as ever",
         (Step(((EUR, 7),), extra=(SetParam("min_fee_rate", 3),)),), ((3, EUR, 7),)),
    Case("a lower-case currency code is refused", (Step((("eur", 1),), fails="bad_currency"),),
         ((3, "eur", None),)),
    Case("a code with a leading digit is refused", (Step((("1EU", 1),), fails="bad_currency"),),
         ((3, "1EU", None),)),
    Case("a two-letter code is refused", (Step((("EU", 1),), fails="bad_currency"),), ()),
)


def run(case: Case) -> Net:
    net = Net.of()
    for i, step in enumerate(case.steps):
        bodies = [*(SetReferenceRate(c, u) for c, u in step.rates), *step.extra]
        actions = tuple(encode_action(net.action(b, ("G0", "G1"))) for b in bodies)
        if step.fails:
            with pytest.raises(ValidationError) as info:
                net.commit(actions=actions)
            assert info.value.rule == step.fails, f"step {i}: {info.value}"
            continue
        net.commit(actions=actions)
    net.commit()
    net.commit()
    return net


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rates_table(case: Case) -> None:
    book = run(case).state.rates
    for height, currency, units in case.expect:
        found = book.at(currency, height)
        assert (None if found is None else found.units_per_coin) == units, (height, currency)


def test_rates_in_force_and_since_are_what_the_api_shows() -> None:
    net = run(CASES[1])
    in_force = dict(net.state.rates.in_force(net.state.height + 1))
    assert in_force[EUR].units_per_coin == 150_000_000 and in_force[EUR].since == 5
    assert in_force[EUR].nonce == 1  # the second action of the chain: its reference is found so
    withdrawn = run(CASES[4]).state.rates
    assert withdrawn.in_force(10) == ()


def test_the_seventeenth_currency_is_refused() -> None:
    net = Net.of()
    codes = [f"C{chr(65 + i)}X" for i in range(MAX_CURRENCIES)]
    net.commit(actions=tuple(encode_action(net.action(SetReferenceRate(c, 1), ("G0", "G1")))
                             for c in codes))
    extra = encode_action(net.action(SetReferenceRate("ZZZ", 1), ("G0", "G1")))
    with pytest.raises(ValidationError) as info:
        net.commit(actions=(extra,))
    assert info.value.rule == "too_many_currencies"
    again = encode_action(net.action(SetReferenceRate(codes[0], 9), ("G0", "G1")))
    net.commit(actions=(again,))  # a known currency may still change
    assert len(net.state.rates.currencies) == MAX_CURRENCIES


def test_state_with_rates_round_trips_and_without_them_keeps_its_old_shape() -> None:
    net = run(CASES[3])
    data = encode_chain_state(net.state)
    assert decode_chain_state(data) == net.state
    assert len(unpack(data, "state")) == 19  # type: ignore[arg-type]
    plain = Net.of()
    plain.commit()
    raw = encode_chain_state(plain.state)
    assert plain.state.rates == EMPTY_BOOK and len(unpack(raw, "state")) == 18  # type: ignore[arg-type]
    fields = unpack(raw, "state")
    assert isinstance(fields, tuple)
    with pytest.raises(DecodeError):  # an empty book is never encoded: one encoding per state
        decode_chain_state(pack((*fields, ())))


def test_a_rate_action_round_trips_and_applies_to_no_configuration() -> None:
    net = Net.of()
    body = SetReferenceRate(EUR, 125_000_000)
    assert body_from(body_obj(body)) == body
    action = make_action(CHAIN_ID, 3, body, (key("G0"),))
    assert decode_block_action(encode_action(action)) == action
    config = net.state.upcoming
    assert apply_action(config, (), body) == (config, ())
    with pytest.raises(DecodeError):
        body_from(body_obj(SetReferenceRate(EUR, MAX_AMOUNT + 1)))
    with pytest.raises(DecodeError):
        body_from(body_obj(SetReferenceRate("EURO12345", 1)))  # over 8 characters


def test_the_next_block_could_carry_is_how_admission_judges_a_rate() -> None:
    from consensus.chainstate import select_carried

    net = Net.of()
    good = encode_action(net.action(SetReferenceRate(EUR, 1), ("G0", "G1")))
    bad = encode_action(net.action(SetReferenceRate("eur", 1), ("G0", "G1")))
    assert select_carried(net.state, (), (bad, good))[1] == (good,)


# -- the book against a naive model -----------------------------------------------------------

currencies = st.sampled_from(["EUR", "CHF", "USD", "GBP"])
changes = st.lists(st.tuples(currencies, st.integers(0, 10**12), st.integers(0, 3)),
                   max_size=80)


@settings(max_examples=150, deadline=None)
@given(changes=changes)
def test_the_book_answers_as_a_model_that_keeps_everything(
        changes: list[tuple[str, int, int]]) -> None:
    book, model = EMPTY_BOOK, []  # model: every (currency, since, units), in order
    since = 2
    for nonce, (currency, units, gap) in enumerate(changes):
        since += gap
        book = book.record(currency, units, nonce, since)
        model = [m for m in model if not (m[0] == currency and m[1] == since)]
        model.append((currency, since, units))
    assert rates_from(unpack(pack(rates_obj(book)), "rates")) == book
    for c in book.currencies:
        assert 1 <= len(c.changes) <= RATE_HISTORY
    assert len(book.currencies) <= MAX_CURRENCIES
    for currency in ("EUR", "CHF", "USD", "GBP"):
        for height in range(0, since + 3):
            found = book.at(currency, height)
            older = [m for m in model if m[0] == currency and m[1] <= height]
            kept = book.of(currency)
            if kept is not None and not kept.known(height):
                assert found is None and len([m for m in model if m[0] == currency]) > \
                    RATE_HISTORY
                continue
            expected = older[-1][2] if older else None
            assert (None if found is None else found.units_per_coin) == expected


@given(units=st.integers(1, 10**15), price=st.integers(1, MAX_AMOUNT))
def test_converting_an_asked_price_never_pays_less_than_it(units: int, price: int) -> None:
    base = base_units_for(units, price)
    assert currency_units_for(base, price) >= units
    assert base == 0 or currency_units_for(base - 1, price) < units


def test_conversion_examples() -> None:
    eur_125 = 125 * COIN // 100  # 1.25 EUR per coin
    assert base_units_for(1250 * COIN // 100, eur_125) == 10 * COIN  # 12.50 EUR = 10 coins
    assert currency_units_for(10 * COIN, eur_125) == 1250 * COIN // 100
    assert base_units_for(1, 3) == 33_333_334  # rounded up
    with pytest.raises(ValueError):
        base_units_for(1, 0)


def test_a_malformed_book_does_not_decode() -> None:
    good = rates_obj(RateBook().record(EUR, 1, 0, 3).record(CHF, 2, 1, 3))
    assert rates_from(good).of(EUR) is not None
    for bad in (
        (("CHF", 0, ((3, 2, 1),)), ("CHF", 0, ((4, 2, 1),))),  # a currency twice
        (("EUR", 0, ((3, 1, 0),)), ("CHF", 0, ((3, 2, 1),))),  # unsorted
        (("EUR", 0, ((4, 1, 0), (3, 1, 0))),),  # changes descending
        (("EUR", 0, ()),),  # no change
        (("EUR", 2, ((3, 1, 0),)),),  # known_from neither 0 nor the oldest change
        (("eur", 0, ((3, 1, 0),)),),  # not a code
    ):
        with pytest.raises(DecodeError):
            rates_from(bad)
