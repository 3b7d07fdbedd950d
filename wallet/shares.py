"""Share payouts: a total split by integer shares, exactly, in base units.

`split(total, rows, dust_limit)` gives each payee `floor(total x shares / all shares)`, then the
base units left over (fewer than the number of payees) one each to the largest remainders
(ties: the order of the file). The amounts always sum to `total` exactly.

The dust rule: the ledger refuses outputs below `dust_limit`. While some amount would be below
it, the payee with the fewest shares (of those, the last in the file) is left out and the total
is split again among the others, so as few payees as possible are left out and every amount
paid is at least the limit; who was left out is part of the answer, so the split shown before
confirming says so. Nobody left: SharesError.

The shares file is CSV: `address,shares` per row, shares a positive integer; a header row
(`address,...`) and lines starting with # are skipped; an address listed twice is refused
(merge the rows, so nobody is paid twice by mistake).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from consensus.address import decode_address
from consensus.errors import AddressError
from wallet.errors import SharesError

MAX_SHARES = 10**12  # per row: keeps total x shares far inside exact integer arithmetic


@dataclass(frozen=True, slots=True)
class ShareRow:
    address: str
    shares: int
    line: int = 0  # where it was in the file (for messages)


@dataclass(frozen=True, slots=True)
class SharePay:
    address: str
    shares: int
    amount: int  # base units; 0 when left out (below the dust limit)


@dataclass(frozen=True, slots=True)
class Split:
    total: int
    paid: tuple[SharePay, ...]  # in file order, amounts >= the dust limit, summing to total
    left_out: tuple[SharePay, ...]  # whose amount would have been below the dust limit

    @property
    def shares(self) -> int:
        return sum(p.shares for p in self.paid)


def read_shares(text: str, network: str, source: str = "shares") -> list[ShareRow]:
    """The rows of a shares file (see the module notes); SharesError or AddressError say
    which line is wrong."""
    rows: list[ShareRow] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if n == 1 and cells[0].lower() == "address":
            continue
        if len(cells) < 2:
            raise SharesError(f"{source}:{n}: expected address,shares")
        try:
            decode_address(cells[0], network)
        except AddressError as exc:
            raise AddressError(f"{source}:{n}: {exc}") from None
        if not (cells[1].isascii() and cells[1].isdigit()) or not 0 < int(cells[1]) <= MAX_SHARES:
            raise SharesError(f"{source}:{n}: shares must be a whole number from 1 to "
                              f"{MAX_SHARES}, not {cells[1][:20]!r}")
        key = cells[0].lower()
        if key in seen:
            raise SharesError(f"{source}:{n}: {cells[0]} is listed twice (also line "
                              f"{seen[key]}): merge the rows")
        seen[key] = n
        rows.append(ShareRow(cells[0], int(cells[1]), n))
    if not rows:
        raise SharesError(f"{source}: no rows")
    return rows


def largest_remainder(total: int, shares: Sequence[int]) -> list[int]:
    """`total` split in proportion to `shares`, in whole units summing to `total` exactly."""
    whole = sum(shares)
    if whole <= 0 or total < 0:
        raise SharesError("nothing to split")
    amounts = [total * s // whole for s in shares]
    remainders = [total * s % whole for s in shares]
    left = total - sum(amounts)
    for i in sorted(range(len(shares)), key=lambda i: (-remainders[i], i))[:left]:
        amounts[i] += 1
    return amounts


def split(total: int, rows: Sequence[ShareRow], dust_limit: int) -> Split:
    """The payout (see the module notes)."""
    if total < dust_limit:
        raise SharesError(f"the total {total} is below the dust limit {dust_limit}")
    paying = list(rows)
    left_out: list[SharePay] = []
    while paying:
        amounts = largest_remainder(total, [r.shares for r in paying])
        if min(amounts) >= dust_limit:
            return Split(total, tuple(SharePay(r.address, r.shares, a)
                                      for r, a in zip(paying, amounts, strict=True)),
                         tuple(left_out))
        drop = min(range(len(paying)), key=lambda i: (paying[i].shares, -i))
        left_out.append(SharePay(paying[drop].address, paying[drop].shares, 0))
        del paying[drop]
    raise SharesError(f"a total of {total} base units pays nobody at least the dust limit "
                      f"{dust_limit}")
