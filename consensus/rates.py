"""The assembly's reference price: rates set by governance, kept as informational chain state.

Glossary:
- *rate*: what one coin is worth in a currency, as the assembly set it with a
  `SetReferenceRate(currency, units_per_coin)` action: `units_per_coin` / 10^8 of the currency
  per coin (`RATE_SCALE`, the same scale as base units: 1.25 EUR per coin is 125_000_000).
  0 withdraws the rate.
- *since*: the first height a rate is in force: the inclusion height + 2, as for every action.
- *book*: every currency's recent changes (`RateBook`), so "the rate in force at height h" has
  one answer on every node and in every light client that followed the same blocks.

Informational only: no ledger rule reads a rate. Members and merchants exchange at it, wallets
convert amounts with it and show what a payment was worth when it was made.

Bounds, said plainly: at most `MAX_CURRENCIES` currencies are ever named (a 17th is refused,
`too_many_currencies`; a withdrawn currency keeps its place, since its history is still asked
for), and each keeps its last `RATE_HISTORY` changes. Older changes are dropped, and the heights
they governed become unknown (`CurrencyRates.known_from`): a wallet then says it can't tell what
a payment was worth, rather than guess. Encoded, a full book is under 20 KB.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.codec import U64, Obj, expect_array, expect_items, expect_str, expect_uint
from consensus.errors import DecodeError
from consensus.governance import (
    MAX_CURRENCY,
    RATE_CURRENCY_RE,
    GovernanceError,
    SetReferenceRate,
    SignedAction,
)
from consensus.types import COIN, MAX_AMOUNT

RATE_SCALE = COIN  # units_per_coin counts 10^-8 of a currency unit
MAX_CURRENCIES = 16
RATE_HISTORY = 32  # changes kept per currency


@dataclass(frozen=True, slots=True)
class RateChange:
    since: int  # the first height it is in force (inclusion height + 2)
    units_per_coin: int  # 10^-8 of the currency per coin; 0: withdrawn
    nonce: int  # of the action that set it: its reference is in the governance history


@dataclass(frozen=True, slots=True)
class CurrencyRates:
    """One currency's kept changes, oldest first (since strictly ascending, 1..RATE_HISTORY)."""

    currency: str
    known_from: int  # heights below this are no longer known (older changes dropped); 0: all
    changes: tuple[RateChange, ...]

    def at(self, height: int) -> RateChange | None:
        """The change in force at `height`: None if none was set by then, or if `height` is
        below `known_from` (see `known`)."""
        if height < self.known_from:
            return None
        found = None
        for change in self.changes:
            if change.since > height:
                break
            found = change
        return found

    def known(self, height: int) -> bool:
        return height >= self.known_from


@dataclass(frozen=True, slots=True)
class RateBook:
    """Every currency the assembly has set a rate for, sorted by code."""

    currencies: tuple[CurrencyRates, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.currencies)

    def of(self, currency: str) -> CurrencyRates | None:
        return next((c for c in self.currencies if c.currency == currency), None)

    def at(self, currency: str, height: int) -> RateChange | None:
        """The change of `currency` in force at `height` (units 0: withdrawn), if known."""
        found = self.of(currency)
        return None if found is None else found.at(height)

    def in_force(self, height: int) -> tuple[tuple[str, RateChange], ...]:
        """(currency, change) of every rate in force at `height` (withdrawn ones left out)."""
        out = []
        for c in self.currencies:
            change = c.at(height)
            if change is not None and change.units_per_coin:
                out.append((c.currency, change))
        return tuple(out)

    def record(self, currency: str, units_per_coin: int, nonce: int, since: int) -> RateBook:
        """The book once `currency` is set to `units_per_coin` from height `since` on.

        A second change with the same `since` (two actions in one block) replaces the first:
        the later one wins, as for `SetParam`. GovernanceError `too_many_currencies` when a
        new currency would be one past `MAX_CURRENCIES`.
        """
        change = RateChange(since, units_per_coin, nonce)
        old = self.of(currency)
        if old is None:
            if len(self.currencies) >= MAX_CURRENCIES:
                raise GovernanceError("too_many_currencies",
                                      f"the chain keeps rates for at most {MAX_CURRENCIES} "
                                      "currencies")
            entry = CurrencyRates(currency, 0, (change,))
        else:
            if old.changes[-1].since > since:
                raise GovernanceError("rate_not_ascending", "rates are recorded in height order")
            kept = tuple(c for c in old.changes if c.since < since)
            changes = (*kept, change)
            known_from = old.known_from
            if len(changes) > RATE_HISTORY:
                changes = changes[-RATE_HISTORY:]
                known_from = changes[0].since
            entry = CurrencyRates(currency, known_from, changes)
        others = tuple(c for c in self.currencies if c.currency != currency)
        return RateBook(tuple(sorted((*others, entry), key=lambda c: c.currency)))


EMPTY_BOOK = RateBook()


def record_action(book: RateBook, action: SignedAction, since: int) -> RateBook:
    """`book` after an applied action (included at `since` - 2); unchanged for any other kind."""
    body = action.body
    if not isinstance(body, SetReferenceRate):
        return book
    return book.record(body.currency, body.units_per_coin, action.nonce, since)


# -- conversion (integers only) ---------------------------------------------------------------


def base_units_for(currency_units: int, units_per_coin: int) -> int:
    """Base units worth at least `currency_units` (10^-8 of the currency) at the rate: rounded
    up, so a payer converting an asked price never pays less than it."""
    if units_per_coin <= 0:
        raise ValueError("no rate: it is withdrawn")
    return -(-currency_units * COIN // units_per_coin)


def currency_units_for(base_units: int, units_per_coin: int) -> int:
    """What `base_units` are worth in 10^-8 of the currency, rounded down."""
    return base_units * units_per_coin // COIN


# -- encoding ---------------------------------------------------------------------------------


def rates_obj(book: RateBook) -> Obj:
    return tuple((c.currency, c.known_from,
                  tuple((ch.since, ch.units_per_coin, ch.nonce) for ch in c.changes))
                 for c in book.currencies)


def _change_from(obj: Obj, what: str) -> RateChange:
    since, units, nonce = expect_array(obj, 3, what)
    return RateChange(expect_uint(since, f"{what}.since"),
                      expect_uint(units, f"{what}.units_per_coin", hi=MAX_AMOUNT),
                      expect_uint(nonce, f"{what}.nonce", hi=U64))


def _currency_from(obj: Obj, what: str) -> CurrencyRates:
    code, known_from, changes = expect_array(obj, 3, what)
    currency = expect_str(code, f"{what}.currency", MAX_CURRENCY)
    if not RATE_CURRENCY_RE.match(currency):
        raise DecodeError(f"{what}.currency: not a currency code")
    kept = expect_items(changes, f"{what}.changes", _change_from, RATE_HISTORY)
    if not kept or any(a.since >= b.since for a, b in zip(kept, kept[1:], strict=False)):
        raise DecodeError(f"{what}.changes: 1 to {RATE_HISTORY}, heights strictly ascending")
    start = expect_uint(known_from, f"{what}.known_from")
    if start not in (0, kept[0].since):
        raise DecodeError(f"{what}.known_from: 0, or the oldest kept change's height")
    return CurrencyRates(currency, start, kept)


def rates_from(obj: Obj, what: str = "rates") -> RateBook:
    book = expect_items(obj, what, _currency_from, MAX_CURRENCIES)
    if any(a.currency >= b.currency for a, b in zip(book, book[1:], strict=False)):
        raise DecodeError(f"{what}: currencies sorted, once each")
    return RateBook(book)
