"""Member contributions: a share of a month's income paid to the cooperative, with a memo the
assembly can read back from the chain.

- `income`: what others paid this wallet in a calendar month (UTC, by block time): every
  output to one of the wallet's addresses in a tx none of whose inputs the wallet signed.
  Change, the wallet's own transfers, its claims and its refunds are not income (the wallet
  signed them); a payment from a treasury the member helps sign is (the treasury's policy
  signed it, not the member's address).
- `prepare_contribution`: `rate` percent of that income, rounded down to a base unit, to the
  cooperative (the treasury in force unless told otherwise), in one tx whose memo is
  `fc-contribution/1 period=YYYY-MM rate=R income=N` (`wallet.memos`). Its finality receipt
  (`Wallet.wait_final`, `receipt export`) proves it to anyone, offline.
- `report`: every contribution an address received, from the chain: who paid (the addresses
  whose policies signed), how much, for which period, at which rate and income.

No consensus rule is involved: a contribution is an ordinary payment with a structured memo.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import wallet.ops as ops
from consensus.address import decode_address, encode_address
from consensus.codec import decode_header, decode_tx, policy_lock
from consensus.errors import DecodeError
from consensus.types import Lock, Tx
from wallet.client import NodeClient
from wallet.errors import DustOutput, NodeError, NotFound
from wallet.memos import (
    ContributionMemo,
    check_period,
    contribution_memo,
    format_rate,
    parse_contribution,
)
from wallet.payments import Payee, PreparedPayment
from wallet.payments import prepare as prepare_payment
from wallet.walletfile import WalletData

PAGE = 1000


@dataclass(frozen=True, slots=True)
class IncomeLine:
    txid: str
    height: int
    amount: int  # paid to the wallet's addresses
    payers: tuple[str, ...]  # the addresses whose policies signed the tx


@dataclass(frozen=True, slots=True)
class Income:
    period: str
    heights: tuple[int, int] | None  # the first and last block of the month (None: no block)
    lines: tuple[IncomeLine, ...]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True, slots=True)
class Contribution:
    """A prepared contribution: the payment, and what it was computed from."""

    payment: PreparedPayment
    income: Income
    memo: ContributionMemo
    to: str

    @property
    def amount(self) -> int:
        return self.payment.amount


@dataclass(frozen=True, slots=True)
class ContributionLine:
    """A contribution `report` found: a tx paying the address with a contribution memo."""

    txid: str
    height: int
    payers: tuple[str, ...]
    amount: int
    memo: ContributionMemo


def month_bounds(period: str) -> tuple[int, int]:
    """[start, end) of a calendar month in ms since the epoch, UTC."""
    year, month = (int(x) for x in check_period(period).split("-"))
    start = datetime.datetime(year, month, 1, tzinfo=datetime.UTC)
    days = calendar.monthrange(year, month)[1]
    return (int(start.timestamp() * 1000),
            int((start + datetime.timedelta(days=days)).timestamp() * 1000))


def last_month(now_ms: int) -> str:
    """The calendar month before the one `now_ms` falls in (UTC): the default period."""
    now = datetime.datetime.fromtimestamp(now_ms / 1000, datetime.UTC)
    first = now.replace(day=1) - datetime.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


async def _block_time(node: NodeClient, height: int) -> int:
    try:
        doc = (await node.headers(height, 1))[0]
        return decode_header(bytes.fromhex(doc["header_hex"])).time_ms
    except (KeyError, IndexError, TypeError, ValueError, DecodeError):
        raise NodeError(200, "headers: malformed answer") from None


async def _first_at_or_after(time_ms: int, tip: int,
                             block_time: Callable[[int], Awaitable[int]]) -> int:
    """The lowest height in 1..tip whose block time is at least `time_ms` (tip + 1 if none):
    block times only grow with height, so a binary search."""
    lo, hi = 1, tip + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if await block_time(mid) >= time_ms:
            hi = mid
        else:
            lo = mid + 1
    return lo


async def period_heights(node: NodeClient, period: str) -> tuple[int, int] | None:
    """The first and last height whose block time falls in the month (None: none does)."""
    start, end = month_bounds(period)
    tip = (await ops.chain_info(node)).height

    async def block_time(height: int) -> int:
        return await _block_time(node, height)

    first = await _first_at_or_after(start, tip, block_time)
    after = await _first_at_or_after(end, tip, block_time)
    return None if first >= after else (first, after - 1)


async def _history(node: NodeClient, address: str, lowest: int,
                   highest: int | None = None) -> list[tuple[str, int]]:
    """(txid, height) of the address's txs with lowest <= height (<= highest), newest first."""
    found: list[tuple[str, int]] = []
    before: tuple[int, int] | None = None
    while True:
        page = await node.address_txs(address, PAGE, before)
        try:
            entries = [(str(e["txid"]), int(e["height"]), int(e["position"])) for e in page]
        except (KeyError, TypeError, ValueError):
            raise NodeError(200, "address txs: malformed answer") from None
        for tid, height, _ in entries:
            if height < lowest:
                return found
            if highest is None or height <= highest:
                found.append((tid, height))
        if len(entries) < PAGE:
            return found
        before = entries[-1][1:]


async def _committed_tx(node: NodeClient, tid: str) -> Tx | None:
    """The tx, or None for a history entry that is no tx (a block's fee output)."""
    try:
        doc = await node.tx(tid)
    except NotFound:
        return None
    try:
        return decode_tx(bytes.fromhex(doc["hex"]))
    except (KeyError, TypeError, ValueError, DecodeError):
        raise NodeError(200, f"tx {tid[:16]}: malformed answer") from None


def signers(tx: Tx, network: str) -> tuple[str, ...]:
    """The addresses whose policies signed the tx's inputs, in input order, once each."""
    seen: dict[Lock, None] = {policy_lock(w.policy): None for w in tx.witnesses}
    return tuple(encode_address(lock, network) for lock in seen)


async def income(node: NodeClient, data: WalletData, period: str) -> Income:
    """What others paid the wallet's addresses in `period` (see the module notes)."""
    heights = await period_heights(node, period)
    if heights is None:
        return Income(period, None, ())
    own = set(data.known_locks())
    seen: dict[str, int] = {}
    for lock in own:
        for tid, height in await _history(node, encode_address(lock, data.network), *heights):
            seen[tid] = height
    lines: list[IncomeLine] = []
    for tid, height in sorted(seen.items(), key=lambda kv: (kv[1], kv[0])):
        tx = await _committed_tx(node, tid)
        if tx is None or any(policy_lock(w.policy) in own for w in tx.witnesses):
            continue  # a fee output, or the wallet's own tx
        amount = sum(o.amount for o in tx.outputs if o.refund is None and o.lock in own)
        if amount:
            lines.append(IncomeLine(tid, height, amount, signers(tx, data.network)))
    return Income(period, heights, tuple(lines))


def share(total: int, rate: Decimal) -> int:
    """`rate` percent of `total` base units, rounded down to a base unit."""
    return int((Decimal(total) * rate / 100).to_integral_value(rounding=ROUND_FLOOR))


async def cooperative_address(node: NodeClient) -> str:
    """The treasury in force, from the node's governance view."""
    doc = await node.governance()
    try:
        return str(doc["treasury_address"])
    except (KeyError, TypeError):
        raise NodeError(200, "governance: malformed answer") from None


async def prepare_contribution(node: NodeClient, data: WalletData, rate: Decimal, period: str,
                               *, to: str | None = None, fee_rate: int | None = None
                               ) -> tuple[WalletData, Contribution]:
    """`rate` percent of the period's income, to `to` (default: the treasury), with the
    contribution memo; nothing is sent. DustOutput if that is below the dust limit."""
    earned = await income(node, data, period)
    target = to or await cooperative_address(node)
    decode_address(target, data.network)
    memo = contribution_memo(period, rate, earned.total)
    amount = share(earned.total, rate)
    params = await ops.chain_params(node)
    if amount < params.dust_limit:
        raise DustOutput(f"{rate}% of this wallet's income in {period} ({earned.total} base "
                         f"units) is {amount}, below the dust limit {params.dust_limit}: "
                         "nothing to contribute")
    data, payment = await prepare_payment(node, data, [Payee(target, amount)],
                                          fee_rate=fee_rate, memo=memo.text())
    return data, Contribution(payment, earned, memo, target)


async def report(node: NodeClient, to: str, network: str, *,
                 from_height: int = 0) -> list[ContributionLine]:
    """Every contribution `to` received at or above `from_height`, oldest first."""
    lock = decode_address(to, network)
    lines: list[ContributionLine] = []
    for tid, height in reversed(await _history(node, to, from_height)):
        tx = await _committed_tx(node, tid)
        memo = None if tx is None else parse_contribution(tx.memo)
        if tx is None or memo is None:
            continue
        amount = sum(o.amount for o in tx.outputs if o.refund is None and o.lock == lock)
        if amount and not any(policy_lock(w.policy) == lock for w in tx.witnesses):
            lines.append(ContributionLine(tid, height, signers(tx, network), amount, memo))
    return lines


def report_csv(lines: list[ContributionLine]) -> str:
    """The report as CSV, one row per contribution (payers joined by `+`)."""
    rows = ["height,txid,payer,amount,period,rate,income"]
    rows += [f"{c.height},{c.txid},{'+'.join(c.payers)},{c.amount},{c.memo.period},"
             f"{format_rate(c.memo.rate)},{c.memo.income}" for c in lines]
    return "\n".join(rows) + "\n"


def totals(lines: list[ContributionLine]) -> dict[str, int]:
    """What each payer (or group of payers) contributed in all."""
    out: dict[str, int] = {}
    for c in lines:
        key = "+".join(c.payers)
        out[key] = out.get(key, 0) + c.amount
    return out

