"""Amounts in a currency, converted at the assembly's reference price.

`12.50EUR` is an amount in euros; the wallet pays it in coins at the rate in force (the
`SetReferenceRate` the chain holds, as the wallet's light client followed it, so no single
node can inflate it), rounding up to the base unit: the payee never gets less than asked.
It shows both amounts before anything is signed. `value_at` says what a payment was worth at
its own height, or that the followed chain no longer knows (never a guess).

A currency amount is kept in 10^-8 of the currency (`currency_units`), as the rate is, so the
arithmetic is integers only (`consensus.rates`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from consensus.rates import RATE_SCALE, RateBook, base_units_for, currency_units_for
from consensus.types import MAX_AMOUNT
from wallet.amounts import format_coins, parse_coins
from wallet.errors import AmountError, NoRate

_IN_CURRENCY = re.compile(r"\s*([0-9]+(?:\.[0-9]{1,8})?)\s*([A-Za-z][A-Za-z0-9]{2,7})\s*\Z")


@dataclass(frozen=True, slots=True)
class Asked:
    """An amount as someone wrote it: base units, or an amount in a currency."""

    base_units: int | None = None
    currency: str | None = None
    currency_units: int | None = None  # 10^-8 of the currency

    @property
    def in_currency(self) -> bool:
        return self.currency is not None


def parse_amount(text: str) -> Asked:
    """'1.5' (coins) or '12.50EUR' / '12.50 eur' (a currency); AmountError otherwise."""
    if not isinstance(text, str):
        raise AmountError("an amount is given as text, e.g. 1.5 or 12.50EUR")
    found = _IN_CURRENCY.match(text)
    if found is None:
        return Asked(base_units=parse_coins(text))
    units = int(Decimal(found.group(1)) * RATE_SCALE)
    if not 1 <= units <= MAX_AMOUNT:
        raise AmountError(f"{text!r} is out of range")
    return Asked(currency=found.group(2).upper(), currency_units=units)


def format_currency(units: int, currency: str, places: int = 2) -> str:
    """12.5 EUR kept as 1_250_000_000 -> '12.50 EUR' (rounded half up at `places`)."""
    step = 10 ** (8 - places)
    rounded = (units + step // 2) // step
    whole, frac = divmod(rounded, 10**places)
    return f"{whole}.{frac:0{places}d} {currency}" if places else f"{whole} {currency}"


@dataclass(frozen=True, slots=True)
class Converted:
    """An amount and its value at the rate in force at `height` (a quote the payer sees)."""

    base_units: int
    currency: str
    currency_units: int
    units_per_coin: int
    since: int  # the rate's first height
    height: int  # the height it was in force at

    def text(self) -> str:
        return (f"{format_currency(self.currency_units, self.currency)} at "
                f"{format_currency(self.units_per_coin, self.currency, 8)} per coin (the "
                f"assembly's rate since height {self.since})")

    def as_json(self) -> dict[str, object]:
        amount = Decimal(self.currency_units) / RATE_SCALE
        return {"currency": self.currency, "amount": f"{amount:.8f}",
                "units_per_coin": self.units_per_coin, "since": self.since,
                "height": self.height, "base_units": self.base_units}


def _rate(book: RateBook, currency: str, height: int) -> tuple[int, int]:
    found = book.of(currency)
    if found is not None and not found.known(height):
        raise NoRate(f"the followed chain no longer keeps the {currency} rate at height "
                     f"{height}")
    change = book.at(currency, height)
    if change is None or not change.units_per_coin:
        known = ", ".join(c for c, _ in book.in_force(height)) or "none"
        raise NoRate(f"the assembly has no reference rate for {currency} in force at height "
                     f"{height} (rates in force: {known})")
    return change.units_per_coin, change.since


def convert(asked: Asked, book: RateBook, height: int) -> Converted:
    """The base units to pay for `asked` (in a currency) at the rate in force at `height`."""
    if asked.currency is None or asked.currency_units is None:
        raise AmountError("the amount is in coins already")
    units_per_coin, since = _rate(book, asked.currency, height)
    base = base_units_for(asked.currency_units, units_per_coin)
    if not 1 <= base <= MAX_AMOUNT:
        raise AmountError(f"{asked.currency} amount converts to {base} base units: out of "
                          "range")
    return Converted(base, asked.currency, asked.currency_units, units_per_coin, since, height)


def value_at(base_units: int, book: RateBook, currency: str, height: int) -> Converted:
    """What `base_units` were worth in `currency` at `height` (NoRate if no rate was in
    force then, or the followed chain no longer keeps it)."""
    units_per_coin, since = _rate(book, currency, height)
    return Converted(base_units, currency, currency_units_for(base_units, units_per_coin),
                     units_per_coin, since, height)


def values_at(base_units: int, book: RateBook, height: int) -> tuple[Converted, ...]:
    """The value in every currency with a rate in force at `height`."""
    return tuple(value_at(base_units, book, c, height) for c, _ in book.in_force(height))


def describe(asked: Asked) -> str:
    if asked.currency is None:
        assert asked.base_units is not None
        return format_coins(asked.base_units)
    assert asked.currency_units is not None
    return format_currency(asked.currency_units, asked.currency, 8)
