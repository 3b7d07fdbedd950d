"""Structured memos: a member's contribution and a treasury grant, readable by people and tools.

A memo is at most 80 bytes of UTF-8 (the ledger's bound); these are two shapes a wallet writes
and reads, documented in docs/FUNDING.md. Each is a tag with its version, then `key=value`
fields separated by single spaces, in a fixed order:

    fc-contribution/1 period=2026-11 rate=5 income=123456789000
    fc-grant/1 ref=https://coop.example/assembly/2026-11#4

- `period` is a calendar month `YYYY-MM` (UTC); `rate` the percentage, a decimal with at most
  two places and no exponent (`5`, `2.5`); `income` the wallet's income from others in that
  period, in base units. The amount paid is the tx's output to the cooperative.
- `ref` names the assembly decision behind a grant (a URI or a short reference without
  spaces), what the governors' partial-tx workflow carries from the assembly to the chain.

Anything else is an ordinary memo: `parse_contribution` and `parse_grant` answer None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from consensus.types import MAX_MEMO
from wallet.errors import MemoError

CONTRIBUTION_TAG = "fc-contribution/1"
GRANT_TAG = "fc-grant/1"
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])\Z")
_RATE = re.compile(r"(100|[1-9]?\d)(\.\d{1,2})?\Z")
_REF = re.compile(r"[!-~]+\Z")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class ContributionMemo:
    period: str  # "YYYY-MM"
    rate: Decimal  # percent, 0 < rate <= 100, at most two places
    income: int  # base units the contribution was computed from

    def text(self) -> str:
        return f"{CONTRIBUTION_TAG} period={self.period} rate={format_rate(self.rate)} " \
               f"income={self.income}"


def format_rate(rate: Decimal) -> str:
    """`5`, `2.5`: no exponent, no trailing zeros."""
    text = format(rate.normalize(), "f")
    return text


def parse_rate(text: str) -> Decimal:
    """A percentage: 0 < rate <= 100, at most two decimal places (MemoError otherwise)."""
    if not _RATE.match(text.strip()):
        raise MemoError(f"rate {text[:20]!r}: a percentage such as 5 or 2.5 (at most two "
                        "places, at most 100)")
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise MemoError(f"rate {text[:20]!r} is not a number") from None
    if not 0 < rate <= 100:
        raise MemoError("the rate is more than 0 and at most 100 (percent)")
    return rate


def check_period(text: str) -> str:
    if not _PERIOD.match(text):
        raise MemoError(f"period {text[:20]!r}: a month as YYYY-MM, e.g. 2026-11")
    return text


def contribution_memo(period: str, rate: Decimal, income: int) -> ContributionMemo:
    memo = ContributionMemo(check_period(period), rate, income)
    if income < 0 or len(memo.text().encode()) > MAX_MEMO:
        raise MemoError("the contribution memo does not fit the 80-byte memo")
    return memo


def parse_contribution(memo: bytes) -> ContributionMemo | None:
    try:
        tag, period, rate, income = memo.decode("utf-8").split(" ")
    except (UnicodeDecodeError, ValueError):
        return None
    if tag != CONTRIBUTION_TAG or not (period.startswith("period=") and rate.startswith("rate=")
                                       and income.startswith("income=")):
        return None
    try:
        value = int(income[7:]) if income[7:].isdigit() else -1
        parsed = ContributionMemo(check_period(period[7:]), parse_rate(rate[5:]), value)
    except MemoError:
        return None
    return parsed if value >= 0 and parsed.text().encode() == memo else None


def grant_memo(reference: str) -> str:
    """The memo of a treasury grant naming the assembly decision `reference`."""
    ref = reference.strip()
    text = f"{GRANT_TAG} ref={ref}"
    if not _REF.match(ref):
        raise MemoError("a grant's reference is printable ASCII without spaces (a URI or a "
                        "short reference such as assembly-2026-11-item-4)")
    if len(text.encode()) > MAX_MEMO:
        raise MemoError(f"the reference is {len(ref)} characters; a grant memo holds at most "
                        f"{MAX_MEMO - len(GRANT_TAG) - 5}")
    return text


def parse_grant(memo: bytes) -> str | None:
    """The assembly reference of a grant memo, or None."""
    try:
        text = memo.decode("ascii")
    except UnicodeDecodeError:
        return None
    prefix = f"{GRANT_TAG} ref="
    if not text.startswith(prefix) or not _REF.match(text[len(prefix):]):
        return None
    return text[len(prefix):]
