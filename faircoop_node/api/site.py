"""Serving the API with a cap on open connections (aiohttp has no such setting), and an idle
timeout (aiohttp's `keepalive_timeout`, which also closes a connection that never sends a
request: its default is an hour).

aiohttp accepts every connection it is offered, and each holds a file descriptor; a client that
opens thousands (idle, or streaming blocks) would leave none for the node's peers and store.
`serve_capped` listens with a protocol factory that hands a connection to aiohttp only while
fewer than `max_connections` are open; past that, the connection gets a 503 with `Retry-After`
and is closed. It uses aiohttp's public pieces only (the runner's `Server` is the protocol
factory, and its `connections` are the open ones).

A refused connection is kept just long enough for the client to read the 503 (the write side is
shut, the rest of its request discarded) and at most `LINGER_S`; at most `MAX_LINGERING` are
kept at once, and past that a refused connection is closed straight away.

`ClientErrorLog` keeps aiohttp from logging a traceback at ERROR for each request it can't
parse (a request line or header over 8,190 bytes, a malformed line): those are the client's
mistakes, answered 400 by aiohttp itself, and one line at DEBUG is enough. Anything else it
logs (a handler bug) keeps its traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import MutableMapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from faircoop_node.api.limits import ApiLimits

LINGER_S = 1.0
MAX_LINGERING = 64


class ConnectionCap:
    """A protocol factory for `loop.create_server`: aiohttp's, while under the cap."""

    def __init__(self, server: web.Server, limits: ApiLimits) -> None:
        self._server = server
        self._limit = limits.max_connections
        body = json.dumps({"error": f"the node has {limits.max_connections} API connections"
                                    " open, as many as it serves; retry later"}).encode()
        self._refusal = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Retry-After: {limits.retry_after_s}\r\n"
            "Connection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.lingering = 0
        self.refused = 0

    @property
    def open(self) -> int:
        return len(self._server.connections)

    def __call__(self) -> asyncio.BaseProtocol:
        if self.open < self._limit:
            return self._server()
        self.refused += 1
        return _Refusal(self)


class _Refusal(asyncio.Protocol):
    """Answers 503, then closes: once the client has closed its side, or after LINGER_S."""

    def __init__(self, cap: ConnectionCap) -> None:
        self._cap = cap
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._cap._refusal)
        if self._cap.lingering >= MAX_LINGERING or not transport.can_write_eof():
            transport.close()
            return
        self._cap.lingering += 1
        transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(LINGER_S, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass  # the request we won't serve

    def eof_received(self) -> bool:
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._cap.lingering -= 1


def make_runner(app: web.Application, limits: ApiLimits) -> web.AppRunner:
    """The runner the node serves the API with: idle connections closed after
    `idle_timeout_s`, unparseable requests logged quietly, no access log."""
    return web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0,
                         keepalive_timeout=limits.idle_timeout_s, logger=ClientErrorLog())


async def serve_capped(runner: web.AppRunner, host: str, port: int,
                       limits: ApiLimits) -> asyncio.Server:
    """Listen on host:port for `runner`'s app (set up already), capping open connections.

    Close the returned server before `runner.cleanup()`.
    """
    server = runner.server
    if server is None:
        raise RuntimeError("set the runner up before serving it")
    loop = asyncio.get_running_loop()
    return await loop.create_server(ConnectionCap(server, limits), host, port,
                                    reuse_address=True)


class ClientErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, with unparseable requests logged at DEBUG, one line each.

    Pass as `web.AppRunner(app, logger=ClientErrorLog())`."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        super().__init__(logger or logging.getLogger("aiohttp.server"), {})

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.debug(f"{msg}: %s", *args, exc_info.message)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]
                ) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs
