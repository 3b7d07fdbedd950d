"""Server-Sent Events: `blocks/stream`, one `block` event per committed block, and
`address/{address}/stream`, one event per payment to the address (`watch.py`).

A block event's data is `{"height","hash","tx_count","time_ms"}` and its SSE `id` is the
height, so a client that reconnects can see what it missed (and fetch it with `headers?from=`).
An address event is `mempool` or `final` (with the block). A comment line (`: keep-alive`) goes
out when no event has for `KEEPALIVE_S` seconds, so proxies keep the connection open and a dead
client is noticed.

What one stream may cost is bounded (`ApiLimits`): at most `max_streams` are open, block and
address streams together (past that, 503 with `Retry-After`), each holds one descriptor, a
queue of at most its feed's backlog of fixed-size events (`feed.py`, `watch.py`), and at most
~128 KiB in its transport's buffer (aiohttp waits for the client after each 64 KiB once 64 KiB
are buffered). A client that
takes no bytes for `write_timeout_s` (dead, or not reading) is dropped, and one that falls a
backlog behind loses its subscription; either way its stream ends and its descriptor is freed.
A client whose host vanished is reaped by the kernel once a keep-alive stays unacknowledged for
`write_timeout_s` (TCP_USER_TIMEOUT, on Linux).

On shutdown the app closes every subscription (see `close_streams`), so each handler returns at
once and a SIGTERM is not held up by open streams.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from consensus.address import decode_address, encode_address
from faircoop_node.api.errors import Unavailable
from faircoop_node.api.feed import NewBlock, Subscription
from faircoop_node.api.offload import LIMITS, write_within
from faircoop_node.api.view import KEEPALIVE_S, VIEW
from faircoop_node.api.watch import AddressEvent

E = TypeVar("E")


class StreamSlots:
    """How many streams are open, against the cap (touched from the event loop only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0


SLOTS = web.AppKey("faircoop.stream_slots", StreamSlots)

routes = web.RouteTableDef()


@routes.get("/api/v1/blocks/stream", allow_head=False)  # a HEAD would hold a stream open
async def blocks_stream(request: web.Request) -> web.StreamResponse:
    view = request.app[VIEW]

    def render(event: NewBlock) -> bytes:
        data = json.dumps(event.as_json(), separators=(",", ":"))
        return f"id: {event.height}\nevent: block\ndata: {data}\n\n".encode()

    return await _serve(request, view.feed.subscribe,
                        f": connected at height {view.store.tip().height}", render)


@routes.get("/api/v1/address/{address}/stream", allow_head=False)
async def address_stream(request: web.Request) -> web.StreamResponse:
    """Payments to one address: a `mempool` event when a tx paying it is pooled here, a
    `final` event (with the block) when a block holding one is committed (`watch.py`)."""
    view = request.app[VIEW]
    network = view.store.genesis.network
    lock = decode_address(request.match_info["address"], network)  # a 400 if it is not one
    address = encode_address(lock, network)

    def render(event: AddressEvent) -> bytes:
        data = json.dumps(event.as_json(address), separators=(",", ":"))
        return f"event: {event.kind}\ndata: {data}\n\n".encode()

    return await _serve(request, lambda: view.watch.subscribe(lock),
                        f": watching {address} at height {view.store.tip().height}", render)


async def _serve(request: web.Request, subscribe: Callable[[], Subscription[E]], opening: str,
                 render: Callable[[E], bytes]) -> web.StreamResponse:
    """Serve one subscription as Server-Sent Events, within the stream slots: the opening
    comment (sent once subscribed: what happens after it, the client hears of), one rendered
    event each, a keep-alive comment when idle, until the subscription or the client ends."""
    keepalive = request.app[KEEPALIVE_S]
    slots = request.app[SLOTS]
    if slots.open >= slots.limit:
        raise Unavailable(f"{slots.open} streams are open, as many as this node serves;"
                          " retry later", request.app[LIMITS].retry_after_s)
    slots.open += 1
    subscription = subscribe()
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    response.force_close()  # a stream that ends, ends its connection (and frees its descriptor)
    try:
        await response.prepare(request)
        _reap_when_unacknowledged(request, request.app[LIMITS].write_timeout_s)
        line = f"{opening}\n\n".encode()
        while await write_within(request, response, line):
            try:
                event = await subscription.next_event(timeout=keepalive)
            except TimeoutError:
                line = b": keep-alive\n\n"
                continue
            if event is None:
                break  # closed: shutdown, or this client fell too far behind
            line = render(event)
    except ConnectionResetError:
        pass  # the client went away: nothing to tell anyone
    finally:
        subscription.close()
        slots.open -= 1
    return response


def _reap_when_unacknowledged(request: web.Request, seconds: float) -> None:
    """Have the kernel end the connection once sent bytes stay unacknowledged for `seconds`
    (Linux's TCP_USER_TIMEOUT): with a keep-alive every KEEPALIVE_S, a client whose host
    vanished is reaped in about that long, not after TCP's ~15 minutes of retries."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if option is not None and sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, int(seconds * 1000))


async def close_streams(app: web.Application) -> None:
    """on_shutdown hook: end every open stream so the server can stop promptly."""
    app[VIEW].feed.close_all()
    app[VIEW].watch.close_all()
