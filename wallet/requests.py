"""Payment requests: one fresh receive address per order, a `faircoop:` URI, and paid only
when proven final.

A shop (a watch-only wallet will do: it holds no signing key) makes a request for an amount,
with a memo and an expiry. It gets the next receive address and a URI (`wallet.uri`) for the
payer. A request is **paid** only when payments to its address are final and the wallet has
verified each with a finality receipt against the chain it follows (`Wallet.check_request`):
a tx seen in the mempool is shown as unconfirmed and never counts. Payments count when their
block's certified time is before the expiry; later ones are shown as late. The states:

| state | when |
|---|---|
| `pending` | nothing final has arrived yet (unconfirmed amounts are shown) |
| `partial` | final payments cover part of the amount, and it has not expired |
| `paid` / `overpaid` | final payments in time cover the amount exactly / more than it |
| `expired` | the expiry passed before the amount was covered (what arrived is shown) |
| `cancelled` | the shop cancelled it (refused once paid) |

Requests live in the wallet data file (public data, like the pending txs). Bounds:
`MAX_REQUESTS` requests per wallet file and `MAX_REQUEST_PAYMENTS` payments recorded per
request (more are left out, and the request says so).

`wait_for_payment` is the loop behind `Wallet.wait_paid`: it listens to the node's address
stream (`GET address/{addr}/stream`), checks the request whenever a payment becomes final,
reconnects a stream that ends, and polls where the node has no stream or no slot free.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from wallet.errors import NodeError, NodeUnreachable, WalletError
from wallet.pricing import Converted

MAX_REQUESTS = 10_000
MAX_REQUEST_PAYMENTS = 64
POLL_S = 2.0  # how often to check when the node offers no stream
STREAM_IDLE_S = 45.0  # no byte (not even a keep-alive) for this long: the stream is dead


@dataclass(frozen=True, slots=True)
class Quote:
    """The currency amount a request was made for, at the rate it was converted with."""

    currency: str
    currency_units: int  # 10^-8 of the currency
    units_per_coin: int
    since: int  # the rate's first height

    @classmethod
    def of(cls, c: Converted) -> Quote:
        return cls(c.currency, c.currency_units, c.units_per_coin, c.since)


@dataclass(frozen=True, slots=True)
class RequestPayment:
    """A final payment to a request's address, verified by this wallet with a receipt."""

    txid: bytes
    amount: int  # what the tx pays the request's address
    height: int
    block_hash: bytes
    time_ms: int  # the block's time, as its certified header says
    signers: int  # validators whose precommits made its certificate
    set_size: int


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    id: int  # 1, 2, ... within the wallet
    index: int  # the receive address's index (m/.../0/index)
    address: str
    amount: int  # base units
    memo: str
    created: int  # Unix seconds
    expires: int | None  # Unix seconds; None: never
    uri: str
    quote: Quote | None = None  # made from a currency amount
    cancelled: bool = False
    payments: tuple[RequestPayment, ...] = ()
    truncated: bool = False  # more payments arrived than are recorded

    def paid_txids(self) -> frozenset[bytes]:
        return frozenset(p.txid for p in self.payments)


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """Where a request stands, as this wallet proved it (`received` counts only final,
    verified payments in time)."""

    request: PaymentRequest
    state: str
    received: int  # final, verified, before the expiry
    late: int  # final, verified, after the expiry
    unconfirmed: int  # in the node's mempool, not final: never counted

    @property
    def paid(self) -> bool:
        return self.state in ("paid", "overpaid")

    @property
    def settled(self) -> bool:
        """Nothing more to wait for: paid, expired or cancelled."""
        return self.state in ("paid", "overpaid", "expired", "cancelled")

    @property
    def missing(self) -> int:
        return max(0, self.request.amount - self.received)

    @property
    def excess(self) -> int:
        return max(0, self.received - self.request.amount)


def status_of(request: PaymentRequest, now_s: float, unconfirmed: int = 0) -> RequestStatus:
    deadline_ms = None if request.expires is None else request.expires * 1000
    in_time = sum(p.amount for p in request.payments
                  if deadline_ms is None or p.time_ms < deadline_ms)
    late = sum(p.amount for p in request.payments) - in_time
    if request.cancelled:
        state = "cancelled"
    elif in_time >= request.amount:
        state = "paid" if in_time == request.amount else "overpaid"
    elif request.expires is not None and now_s >= request.expires:
        state = "expired"
    elif in_time:
        state = "partial"
    else:
        state = "pending"
    return RequestStatus(request, state, in_time, late, max(0, unconfirmed))


def find(requests: tuple[PaymentRequest, ...], request_id: int) -> PaymentRequest:
    for r in requests:
        if r.id == request_id:
            return r
    raise WalletError(f"no payment request {request_id} in this wallet (`request list`)")


def add(requests: tuple[PaymentRequest, ...], request: PaymentRequest
        ) -> tuple[PaymentRequest, ...]:
    if len(requests) >= MAX_REQUESTS:
        raise WalletError(f"the wallet holds {MAX_REQUESTS} payment requests, as many as it "
                          "keeps")
    return (*requests, request)


def updated(requests: tuple[PaymentRequest, ...], request: PaymentRequest
            ) -> tuple[PaymentRequest, ...]:
    return tuple(request if r.id == request.id else r for r in requests)


def with_payment(request: PaymentRequest, payment: RequestPayment) -> PaymentRequest:
    if payment.txid in request.paid_txids():
        return request
    if len(request.payments) >= MAX_REQUEST_PAYMENTS:
        return replace(request, truncated=True)
    return replace(request, payments=(*request.payments, payment))


def committed_txids(listed: object) -> list[str]:
    """The txids of committed txs in a node's `address/{addr}/txs` answer, newest first;
    NodeError if it is malformed (a hostile node's junk is refused, not half-read)."""
    if not isinstance(listed, list):
        raise NodeError(200, "address txs: malformed answer")
    out = []
    for e in listed:
        txid = e.get("txid") if isinstance(e, dict) else None
        if not isinstance(txid, str) or len(txid) != 64 or \
                any(c not in "0123456789abcdef" for c in txid):
            raise NodeError(200, "address txs: a malformed entry")
        if e.get("height") is not None:
            out.append(txid)
    return out


def cancelled(request: PaymentRequest, now_s: float) -> PaymentRequest:
    if status_of(request, now_s).paid:
        raise WalletError(f"request {request.id} is paid: it can't be cancelled")
    return replace(request, cancelled=True)


# -- the wallet file's JSON -------------------------------------------------------------------


def request_json(r: PaymentRequest) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": r.id, "index": r.index, "address": r.address, "amount": r.amount,
        "memo": r.memo, "created": r.created, "expires": r.expires, "uri": r.uri,
        "cancelled": r.cancelled, "truncated": r.truncated,
        "payments": [{"txid": p.txid.hex(), "amount": p.amount, "height": p.height,
                      "block_hash": p.block_hash.hex(), "time_ms": p.time_ms,
                      "signers": p.signers, "validators": p.set_size} for p in r.payments],
    }
    if r.quote is not None:
        q = r.quote
        doc["quote"] = {"currency": q.currency, "currency_units": q.currency_units,
                        "units_per_coin": q.units_per_coin, "since": q.since}
    return doc


def request_from(doc: Any) -> PaymentRequest:
    """KeyError/TypeError/ValueError if malformed (the wallet file reports it)."""
    q = doc.get("quote")
    payments = doc.get("payments", [])
    if len(payments) > MAX_REQUEST_PAYMENTS:
        raise ValueError("too many payments recorded")
    return PaymentRequest(
        id=int(doc["id"]), index=int(doc["index"]), address=str(doc["address"]),
        amount=int(doc["amount"]), memo=str(doc["memo"]), created=int(doc["created"]),
        expires=None if doc.get("expires") is None else int(doc["expires"]),
        uri=str(doc["uri"]),
        quote=None if q is None else Quote(str(q["currency"]), int(q["currency_units"]),
                                           int(q["units_per_coin"]), int(q["since"])),
        cancelled=bool(doc.get("cancelled", False)),
        payments=tuple(RequestPayment(bytes.fromhex(p["txid"]), int(p["amount"]),
                                      int(p["height"]), bytes.fromhex(p["block_hash"]),
                                      int(p["time_ms"]), int(p["signers"]),
                                      int(p["validators"])) for p in payments),
        truncated=bool(doc.get("truncated", False)))


# -- waiting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of the node's address stream."""

    final: bool
    txid: str
    amount: int
    height: int | None = None


class EventStream(Protocol):
    """What `wait_for_payment` reads: `NodeClient.watch_address` gives one."""

    async def next_event(self, timeout: float) -> StreamEvent | None:
        """The next payment event; None when the stream ended; TimeoutError if idle."""
        ...

    async def close(self) -> None: ...


Check = Callable[[], Awaitable[RequestStatus]]
OpenStream = Callable[[], Awaitable[EventStream]]
Report = Callable[[str], None]


async def wait_for_payment(check: Check, open_stream: OpenStream, *,
                           deadline: float | None, progress: Report | None = None,
                           clock: Callable[[], float] = time.monotonic,
                           poll_s: float = POLL_S) -> RequestStatus:
    """Check until the request is settled or `deadline` (the clock's) passes.

    The stream is opened before each check, so a payment that becomes final between the check
    and the first event is still heard of. A `final` event triggers a check (which fetches and
    verifies the receipt); a `mempool` event is only reported. Without a stream (an older
    node, or none free: 404 or 503) the request is checked every `poll_s` seconds.
    """
    def left() -> float | None:
        return None if deadline is None else deadline - clock()

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    while True:
        stream: EventStream | None = None
        try:
            stream = await open_stream()
            say("watching the address stream")
        except (NodeError, NodeUnreachable) as exc:
            say(f"no address stream ({exc}): checking every {poll_s:.0f} s")
        try:
            status = await check()
            if status.settled:
                return status
            say(f"{status.state}: {status.received} of {status.request.amount} received"
                + (f", {status.unconfirmed} unconfirmed" if status.unconfirmed else ""))
            while stream is not None:
                remaining = left()
                if remaining is not None and remaining <= 0:
                    return status
                wait = STREAM_IDLE_S if remaining is None else min(STREAM_IDLE_S, remaining)
                try:
                    event = await stream.next_event(wait)
                except TimeoutError:
                    if remaining is not None and wait >= remaining:
                        return await check()
                    event = None  # idle past the keep-alives: reconnect
                if event is None:
                    break
                if not event.final:
                    say(f"seen in the mempool: {event.amount} base units (tx {event.txid[:16]}),"
                        " not final yet")
                    continue
                say(f"final at height {event.height}: {event.amount} base units (tx "
                    f"{event.txid[:16]}); verifying its receipt")
                status = await check()
                if status.settled:
                    return status
            if stream is None:
                remaining = left()
                if remaining is not None and remaining <= 0:
                    return status
                await asyncio.sleep(poll_s if remaining is None else min(poll_s, remaining))
        finally:
            if stream is not None:
                await stream.close()
        remaining = left()
        if remaining is not None and remaining <= 0:
            return await check()
