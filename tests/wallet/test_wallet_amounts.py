"""Amounts: coins as decimal strings, never floats; at most 8 places; integers in JSON."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.types import COIN, MAX_AMOUNT
from wallet.amounts import format_coins, parse_coins
from wallet.errors import AmountError


@pytest.mark.parametrize("text,units", [
    ("1.5", 150_000_000),
    ("0.00000001", 1),
    ("1", COIN),
    (" 2.25 ", 225_000_000),
    ("1000000000", MAX_AMOUNT),
    ("0.1", 10_000_000),  # exact in Decimal, not 0.1000000000000000055 as a float would be
])
def test_parse_valid_amounts(text: str, units: int) -> None:
    assert parse_coins(text) == units


@pytest.mark.parametrize("text,match", [
    ("1.000000001", "decimal places"),
    ("0", "out of range"),
    ("1000000000.00000001", "out of range"),
    ("-1", "not an amount"),
    ("+1", "not an amount"),
    ("1e3", "not an amount"),
    ("1,5", "not an amount"),
    ("", "not an amount"),
    ("1.2.3", "not an amount"),
    ("NaN", "not an amount"),
])
def test_parse_refuses_anything_else(text: str, match: str) -> None:
    with pytest.raises(AmountError, match=match):
        parse_coins(text)


@settings(max_examples=200)
@given(st.integers(1, MAX_AMOUNT))
def test_format_then_parse_is_the_identity(units: int) -> None:
    text = format_coins(units)
    assert len(text.split(".")[1]) == 8
    assert parse_coins(text) == units


def test_format_negative_for_history() -> None:
    assert format_coins(-150_000_001) == "-1.50000001"
