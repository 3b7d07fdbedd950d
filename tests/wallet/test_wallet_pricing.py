"""Amounts in a currency, converted at the assembly's reference price (integers only)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.rates import EMPTY_BOOK
from consensus.types import COIN
from wallet.errors import AmountError, NoRate
from wallet.pricing import Asked, convert, format_currency, parse_amount, value_at, values_at

EUR_125 = EMPTY_BOOK.record("EUR", 125_000_000, 0, 3).record("EUR", 150_000_000, 1, 9) \
    .record("CHF", 110_000_000, 2, 5).record("CHF", 0, 3, 7)


@pytest.mark.parametrize(("text", "expected"), [
    ("1.5", Asked(base_units=150_000_000)),
    ("12.50EUR", Asked(currency="EUR", currency_units=1_250_000_000)),
    ("12.50 eur", Asked(currency="EUR", currency_units=1_250_000_000)),
    (" 3 CHF ", Asked(currency="CHF", currency_units=300_000_000)),
    ("0.00000001XAU", Asked(currency="XAU", currency_units=1)),
    ("7usdt", Asked(currency="USDT", currency_units=700_000_000)),
])
def test_an_amount_is_in_coins_or_in_a_currency(text: str, expected: Asked) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["", "EUR", "12.50E", "12.5.0EUR", "-1EUR", "1e3",
                                  "12.000000001EUR", "0EUR", "12.50EUROCOINS", "EUR12.50",
                                  "1,5EUR", "12.50 1EU"])
def test_a_malformed_amount_is_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)


@pytest.mark.parametrize(("height", "base", "since"), [
    (3, 10 * COIN, 3), (8, 10 * COIN, 3), (9, 833_333_334, 9), (100, 833_333_334, 9)])
def test_conversion_uses_the_rate_in_force_at_the_height(height: int, base: int,
                                                         since: int) -> None:
    got = convert(parse_amount("12.50EUR"), EUR_125, height)
    assert (got.base_units, got.since, got.height) == (base, since, height)
    assert got.text().startswith("12.50 EUR at ")


@pytest.mark.parametrize(("currency", "height", "says"), [
    ("EUR", 2, "no reference rate for EUR in force at height 2 (rates in force: none)"),
    ("CHF", 7, "no reference rate for CHF"),  # withdrawn at 7
    ("USD", 9, "rates in force: EUR"),
])
def test_no_rate_in_force_is_said_not_guessed(currency: str, height: int, says: str) -> None:
    with pytest.raises(NoRate) as info:
        convert(Asked(currency=currency, currency_units=COIN), EUR_125, height)
    assert says in str(info.value)


def test_a_payment_is_valued_at_its_own_height_or_said_unknown() -> None:
    assert value_at(10 * COIN, EUR_125, "EUR", 4).currency_units == 1_250_000_000
    assert value_at(10 * COIN, EUR_125, "EUR", 9).currency_units == 1_500_000_000
    assert [c.currency for c in values_at(COIN, EUR_125, 6)] == ["CHF", "EUR"]
    trimmed = EMPTY_BOOK
    for n in range(40):
        trimmed = trimmed.record("EUR", 100 + n, n, 3 + n)
    with pytest.raises(NoRate, match="no longer keeps"):
        value_at(COIN, trimmed, "EUR", 5)
    assert value_at(COIN, trimmed, "EUR", 42).units_per_coin == 139


@pytest.mark.parametrize(("units", "places", "text"), [
    (1_250_000_000, 2, "12.50 EUR"), (1_249_500_000, 2, "12.50 EUR"),
    (1_249_499_999, 2, "12.49 EUR"), (125_000_000, 8, "1.25000000 EUR"), (0, 2, "0.00 EUR")])
def test_currency_amounts_are_shown_rounded(units: int, places: int, text: str) -> None:
    assert format_currency(units, "EUR", places) == text


@given(cents=st.integers(1, 10**12), rate=st.integers(1, 10**15))
def test_a_converted_price_is_never_less_than_asked(cents: int, rate: int) -> None:
    book = EMPTY_BOOK.record("EUR", rate, 0, 1)
    got = convert(Asked(currency="EUR", currency_units=cents), book, 1) \
        if cents * COIN // rate <= 10**17 else None
    if got is not None:
        assert value_at(got.base_units, book, "EUR", 1).currency_units >= cents
