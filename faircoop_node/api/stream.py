"""`blocks/stream`: Server-Sent Events, one `block` event per committed block.

Each event's data is `{"height","hash","tx_count","time_ms"}` and its SSE `id` is the height, so a
client that reconnects can see what it missed (and fetch it with `headers?from=`). A comment
line (`: keep-alive`) goes out when no block has for `KEEPALIVE_S` seconds, so proxies keep
the connection open and a dead client is noticed.

What one stream may cost is bounded (`ApiLimits`): at most `max_streams` are open (past that,
503 with `Retry-After`), each holds one descriptor, a queue of at most the feed's backlog of
fixed-size events (`feed.py`), and at most ~128 KiB in its transport's buffer (aiohttp waits
for the client after each 64 KiB once 64 KiB are buffered). A client that
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

from aiohttp import web

from faircoop_node.api.errors import Unavailable
from faircoop_node.api.offload import LIMITS, write_within
from faircoop_node.api.view import KEEPALIVE_S, VIEW


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
    keepalive = request.app[KEEPALIVE_S]
    slots = request.app[SLOTS]
    if slots.open >= slots.limit:
        raise Unavailable(f"{slots.open} block streams are open, as many as this node serves;"
                          " retry later", request.app[LIMITS].retry_after_s)
    slots.open += 1
    subscription = view.feed.subscribe()
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    response.force_close()  # a stream that ends, ends its connection (and frees its descriptor)
    try:
        await response.prepare(request)
        _reap_when_unacknowledged(request, request.app[LIMITS].write_timeout_s)
        line = f": connected at height {view.store.tip().height}\n\n".encode()
        while await write_within(request, response, line):
            try:
                event = await subscription.next_event(timeout=keepalive)
            except TimeoutError:
                line = b": keep-alive\n\n"
                continue
            if event is None:
                break  # closed: shutdown, or this client fell too far behind
            data = json.dumps(event.as_json(), separators=(",", ":"))
            line = f"id: {event.height}\nevent: block\ndata: {data}\n\n".encode()
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
