"""What the CLI shows for payment requests, the reference price, contacts and labels: the
human lines and the `--json` objects (docs/WALLET.md; fields are only ever added)."""

from __future__ import annotations

import io
import time
from typing import Any

import segno

from consensus.rates import RATE_SCALE, RateChange
from wallet.amounts import format_coins
from wallet.pricing import Converted, format_currency
from wallet.proposals import printable
from wallet.requests import PaymentRequest, Quote, RequestStatus, request_json


def when(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def qr_text(uri: str) -> str:
    """The URI as a QR code of Unicode half blocks (two modules a character: it fits a
    terminal), dark on light as scanners expect."""
    out = io.StringIO()
    segno.make(uri, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue().rstrip("\n")


def quote_text(q: Quote) -> str:
    return (f"{format_currency(q.currency_units, q.currency)} at "
            f"{format_currency(q.units_per_coin, q.currency, 8)} per coin (the assembly's rate "
            f"since height {q.since})")


def quote_json(q: Quote | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {"currency": q.currency, "amount": _decimal(q.currency_units),
            "units_per_coin": q.units_per_coin, "since": q.since}


def _decimal(units: int) -> str:
    whole, frac = divmod(units, RATE_SCALE)
    return f"{whole}.{frac:08d}"


def request_lines(r: PaymentRequest) -> list[str]:
    worth = f" ({quote_text(r.quote)})" if r.quote else ""
    lines = [f"request {r.id}: {format_coins(r.amount)}{worth}", f"  pay to   {r.address}"]
    if r.memo:
        lines.append(f"  memo     {printable(r.memo)!r}")
    lines.append(f"  expires  {when(r.expires)}")
    return lines


def request_doc(r: PaymentRequest) -> dict[str, Any]:
    doc = request_json(r)
    doc["quote"] = quote_json(r.quote)
    return doc


def status_lines(s: RequestStatus) -> list[str]:
    r = s.request
    lines = request_lines(r)
    state = {"paid": "PAID", "overpaid": f"PAID, over by {format_coins(s.excess)}",
             "partial": f"PARTLY PAID, {format_coins(s.missing)} missing"}.get(
        s.state, s.state.upper())
    lines.append(f"  state    {state}: {format_coins(s.received)} received, final and verified")
    if s.late:
        lines.append(f"  late     {format_coins(s.late)} in blocks after the expiry")
    if s.unconfirmed:
        lines.append(f"  seen     {format_coins(s.unconfirmed)} in the node's mempool, not final "
                     "(not counted)")
    for p in r.payments:
        lines.append(f"  payment  {format_coins(p.amount)} in tx {p.txid.hex()} at height "
                     f"{p.height} (block {p.block_hash.hex()[:16]}, {p.signers}/{p.set_size} "
                     "validators, verified by this wallet)")
    if r.truncated:
        lines.append("  (more payments arrived than the wallet records)")
    return lines


def status_doc(s: RequestStatus) -> dict[str, Any]:
    return {**request_doc(s.request), "state": s.state, "paid": s.paid, "received": s.received,
            "late": s.late, "unconfirmed": s.unconfirmed, "missing": s.missing,
            "excess": s.excess}


def converted_line(c: Converted) -> str:
    return f"  worth   {c.text()}"


def rate_line(currency: str, change: RateChange) -> str:
    return (f"1 coin = {format_currency(change.units_per_coin, currency, 8)}  since height "
            f"{change.since}")


def rate_json(currency: str, change: RateChange) -> dict[str, Any]:
    return {"currency": currency, "units_per_coin": change.units_per_coin,
            "price": _decimal(change.units_per_coin), "since": change.since,
            "nonce": change.nonce}
