"""Amounts as people write them (coins, a decimal string) and as the ledger keeps them.

1 coin = 10^8 base units. Parsing goes through `Decimal` from the string, never a float, and
refuses more than 8 decimal places rather than rounding someone's money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from consensus.types import COIN, MAX_AMOUNT
from wallet.errors import AmountError

DECIMALS = 8


def parse_coins(text: str) -> int:
    """'1.5' -> 150000000. Raises AmountError for anything but a positive decimal."""
    if not isinstance(text, str):
        raise AmountError("an amount is given as text, e.g. 1.5")
    cleaned = text.strip()
    if not cleaned or cleaned[0] in "+-" or any(c not in "0123456789." for c in cleaned):
        raise AmountError(f"{text!r} is not an amount in coins (digits and one '.', e.g. 1.5)")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise AmountError(f"{text!r} is not an amount in coins") from None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DECIMALS:
        raise AmountError(f"{text!r} has more than {DECIMALS} decimal places")
    units = int(value * COIN)
    if not 1 <= units <= MAX_AMOUNT:
        raise AmountError(f"{text!r} is out of range (0.00000001 to {MAX_AMOUNT // COIN})")
    return units


def parse_units(text: str, *, zero: bool = False) -> int:
    """Units of credit as people write them, like coins ('12.5'); with `zero`, '0' too (a
    credit limit withdrawn). Credit counts in the same base units as coins."""
    if zero and isinstance(text, str) and set(text.strip()) <= set("0.") and \
            text.strip().count(".") <= 1 and "0" in text:
        return 0
    return parse_coins(text)


def format_coins(units: int) -> str:
    """150000000 -> '1.50000000' (always 8 places, so columns line up)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    return f"{sign}{whole}.{frac:08d}"
