"""`blocks/stream`: Server-Sent Events, one `block` event per committed block.

Each event's data is `{"height","hash","tx_count","time_ms"}` and its SSE `id` is the height, so a
client that reconnects can see what it missed (and fetch it with `headers?from=`). A comment
line (`: keep-alive`) goes out when no block has for `KEEPALIVE_S` seconds, so proxies keep
the connection open and a dead client is noticed.

On shutdown the app closes every subscription (see `close_streams`), so each handler returns at
once and a SIGTERM is not held up by open streams.
"""

from __future__ import annotations

import json

from aiohttp import web

from faircoop_node.api.view import KEEPALIVE_S, VIEW

routes = web.RouteTableDef()


@routes.get("/api/v1/blocks/stream", allow_head=False)  # a HEAD would hold a stream open
async def blocks_stream(request: web.Request) -> web.StreamResponse:
    view = request.app[VIEW]
    keepalive = request.app[KEEPALIVE_S]
    subscription = view.feed.subscribe()
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    try:
        await response.prepare(request)
        tip = view.store.tip()
        await response.write(f": connected at height {tip.height}\n\n".encode())
        while True:
            try:
                event = await subscription.next_event(timeout=keepalive)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:
                break  # closed: shutdown, or this client fell too far behind
            data = json.dumps(event.as_json(), separators=(",", ":"))
            await response.write(f"id: {event.height}\nevent: block\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the client went away: nothing to tell anyone
    finally:
        subscription.close()
    return response


async def close_streams(app: web.Application) -> None:
    """on_shutdown hook: end every open stream so the server can stop promptly."""
    app[VIEW].feed.close_all()
