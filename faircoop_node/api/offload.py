"""Heavy reads off the event loop, and their answers sent within a byte budget.

The node's event loop runs consensus; a request that decodes a whole block or reads thousands
of keys must not hold it. Such handlers build their whole answer (reads and JSON encoding) in
`ReadPool`, the API's own few threads: not asyncio's default executor, where the node's commits
and its last-signed record go, so a burst of API reads can't queue ahead of a vote. At most
`max_reads` such reads wait or run; past that the answer is 503.

The answers can be large (a block's raw hex is twice its size), and a client that doesn't read
would hold one in memory for as long as it likes. So they are sent in chunks, each of which
must leave within `write_timeout_s` (else the connection is dropped), and the bytes being sent
at once are bounded by `max_response_bytes` (past it, 503).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from aiohttp import web

from faircoop_node.api.errors import Unavailable
from faircoop_node.api.limits import ApiLimits

P = ParamSpec("P")
T = TypeVar("T")

# aiohttp waits for the client after each 64 KiB written, once more than 64 KiB are buffered,
# so a connection buffers at most about two chunks
CHUNK = 64 * 1024


class ReadPool:
    """A few worker threads for heavy reads, with a bound on the reads waiting for them."""

    def __init__(self, limits: ApiLimits) -> None:
        self._executor = ThreadPoolExecutor(limits.read_threads, thread_name_prefix="api-read")
        self._max = limits.max_reads
        self._retry_after_s = limits.retry_after_s
        self._lock = threading.Lock()  # the count drops in the worker that finishes a read
        self._jobs = 0

    @property
    def jobs(self) -> int:
        """Reads queued or running."""
        return self._jobs

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in a worker thread; Unavailable when too many are waiting.

        A read whose request is cancelled (the client left) is dropped if it has not started.
        """
        with self._lock:
            if self._jobs >= self._max:
                raise Unavailable(f"the node is busy with {self._jobs} heavy reads; retry later",
                                  self._retry_after_s)
            self._jobs += 1
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except RuntimeError:  # shut down
            self._release(None)
            raise Unavailable("the API is shutting down", self._retry_after_s) from None
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[T] | None) -> None:
        with self._lock:
            self._jobs -= 1

    def close(self) -> None:
        """Drop the waiting reads; the running ones finish in their threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class ByteBudget:
    """Bytes of answers being sent at once (touched from the event loop only)."""

    def __init__(self, limits: ApiLimits) -> None:
        self._limit = limits.max_response_bytes
        self._retry_after_s = limits.retry_after_s
        self.used = 0

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        if self.used + size > self._limit:
            raise Unavailable(f"the node is sending {self.used} bytes of answers already (at"
                              f" most {self._limit}); retry later", self._retry_after_s)
        self.used += size
        try:
            yield
        finally:
            self.used -= size


POOL = web.AppKey("faircoop.read_pool", ReadPool)
BUDGET = web.AppKey("faircoop.byte_budget", ByteBudget)
LIMITS = web.AppKey("faircoop.limits", ApiLimits)


def install(app: web.Application, limits: ApiLimits) -> None:
    """Give `app` its read pool and byte budget; the pool is shut down with the app."""
    app[LIMITS] = limits
    app[POOL] = ReadPool(limits)
    app[BUDGET] = ByteBudget(limits)

    async def close_pool(app: web.Application) -> None:
        app[POOL].close()

    app.on_cleanup.append(close_pool)


def encode_json(data: object) -> bytes:
    """JSON as `web.json_response` writes it."""
    return json.dumps(data).encode()


async def json_from_pool(request: web.Request, fn: Callable[P, object], *args: P.args,
                         **kwargs: P.kwargs) -> web.StreamResponse:
    """Answer with `fn(*args, **kwargs)` as JSON, read and encoded in the read pool."""

    def build() -> bytes:
        return encode_json(fn(*args, **kwargs))

    body = await request.app[POOL].run(build)
    return await send_body(request, body, "application/json")


async def send_body(request: web.Request, body: bytes, content_type: str) -> web.StreamResponse:
    """Send `body` within the byte budget, chunk by chunk, each within the write timeout."""
    with request.app[BUDGET].hold(len(body)):
        response = web.StreamResponse()
        response.content_type = content_type
        if content_type == "application/json":
            response.charset = "utf-8"
        response.content_length = len(body)
        await response.prepare(request)
        view = memoryview(body)
        for start in range(0, len(body), CHUNK):
            if not await write_within(request, response, view[start:start + CHUNK]):
                return response
        await response.write_eof()
    return response


async def write_within(request: web.Request, response: web.StreamResponse,
                       data: bytes | memoryview) -> bool:
    """Write `data`; False (and the connection dropped) if the client takes no bytes for the
    write timeout, or has gone."""
    try:
        await asyncio.wait_for(response.write(data), request.app[LIMITS].write_timeout_s)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()  # frees what it buffered at once
        return False
    except ConnectionResetError:
        return False
    return True
