"""Coin selection: pick inputs that pay a target, avoiding a change output where possible.

The algorithm (documented in docs/WALLET.md):

1. Every coin gets an *effective value*: its amount minus the fee its input costs
   (`fee_rate x input size`, the size computed exactly from the canonical encoding with a
   placeholder signature). Coins whose effective value is not positive are never chosen.
2. **Branch and bound** (Bitcoin Core's BnB, after Erhardt 2016): a depth-first search over
   the coins, largest effective value first, for a subset whose effective sum lands in
   `[target, target + cost_of_change]`. `cost_of_change` is the fee of adding a change
   output now plus spending it later. Such a subset needs no change: the small excess goes to
   the fee, which is cheaper than making change. Among the matches found within the try budget
   the one with the least excess wins (fewer inputs breaks ties).
3. **Fallback, largest first**: add coins by descending effective value until the sum covers
   `target + cost_of_change + dust_limit`, so the change output is worth making and is not dust.
   If all coins together reach only `target`, they are used without change.
4. If even all coins fall short, `InsufficientFunds` states the shortfall.

Selection is deterministic for a given coin set (ties break on outpoint), so a test or a
member re-running it sees the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.types import OutPoint
from wallet.errors import InsufficientFunds

BNB_MAX_TRIES = 100_000


@dataclass(frozen=True, slots=True)
class Candidate:
    """A coin offered to selection, with the exact byte cost of spending it."""

    outpoint: OutPoint
    amount: int
    input_size: int  # bytes its TxIn plus witness add to the encoded tx

    def effective_value(self, fee_rate: int) -> int:
        return self.amount - fee_rate * self.input_size


@dataclass(frozen=True, slots=True)
class Selection:
    coins: tuple[Candidate, ...]
    change: bool  # whether the selection expects a change output
    algorithm: str  # "bnb", "largest_first" or "all"

    @property
    def total(self) -> int:
        return sum(c.amount for c in self.coins)


def _sort_key(c: Candidate, fee_rate: int) -> tuple[int, bytes, int]:
    return (-c.effective_value(fee_rate), c.outpoint.txid, c.outpoint.index)


def branch_and_bound(
    coins: Sequence[Candidate], target: int, cost_of_change: int, fee_rate: int,
    max_tries: int = BNB_MAX_TRIES,
) -> tuple[Candidate, ...] | None:
    """A subset whose effective sum is in [target, target + cost_of_change], or None."""
    pool = sorted((c for c in coins if c.effective_value(fee_rate) > 0),
                  key=lambda c: _sort_key(c, fee_rate))
    values = [c.effective_value(fee_rate) for c in pool]
    remaining = [0] * (len(values) + 1)
    for i in range(len(values) - 1, -1, -1):
        remaining[i] = remaining[i + 1] + values[i]
    if remaining[0] < target:
        return None
    best: tuple[int, int, tuple[int, ...]] | None = None  # (excess, n inputs, indexes)
    upper = target + cost_of_change
    included: list[bool] = []  # decision for coins 0..depth-1
    total = 0
    for _ in range(max_tries):
        depth = len(included)
        backtrack = False
        if total > upper or total + remaining[depth] < target:
            backtrack = True
        elif total >= target:
            excess = total - target
            picked = tuple(i for i, inc in enumerate(included) if inc)
            if best is None or (excess, len(picked)) < best[:2]:
                best = (excess, len(picked), picked)
            if excess == 0:
                break
            backtrack = True
        if backtrack:
            while included and not included[-1]:
                included.pop()
            if not included:
                break  # the whole tree is explored
            included[-1] = False  # try the branch without the last coin taken
            total -= values[len(included) - 1]
        else:
            included.append(True)
            total += values[depth]
    if best is None:
        return None
    return tuple(pool[i] for i in best[2])


def select_coins(
    coins: Sequence[Candidate],
    target: int,
    fee_rate: int,
    change_output_size: int,
    change_input_size: int,
    dust_limit: int,
    *,
    need_change: bool = False,
) -> Selection:
    """Choose coins paying `target` (outputs plus the fee of everything but the inputs).

    `need_change`: the tx has no other output (it only creates a campaign), so the selection
    must leave a change output worth making: no branch and bound, no changeless fallback.
    """
    cost_of_change = fee_rate * (change_output_size + change_input_size)
    exact = None if need_change else branch_and_bound(coins, target, cost_of_change, fee_rate)
    if exact is not None:
        return Selection(exact, change=False, algorithm="bnb")
    ordered = sorted((c for c in coins if c.effective_value(fee_rate) > 0),
                     key=lambda c: _sort_key(c, fee_rate))
    want = target + fee_rate * change_output_size + dust_limit
    picked: list[Candidate] = []
    total = 0
    for coin in ordered:
        picked.append(coin)
        total += coin.effective_value(fee_rate)
        if total >= want:
            return Selection(tuple(picked), change=True, algorithm="largest_first")
    if total >= target and not need_change:
        return Selection(tuple(picked), change=False, algorithm="all")
    # Short: state it in amounts the user knows. Uneconomic coins (worth less than the fee to
    # spend them) are not available; the inputs' own fees are part of what is needed.
    available = sum(c.amount for c in picked)
    needed = (want if need_change else target) + fee_rate * sum(c.input_size for c in picked)
    raise InsufficientFunds(needed, available)
