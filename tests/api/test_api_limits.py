"""What API clients can make a node hold is bounded (issue 12, finding 11 and the audit after it).

Open streams past the cap get a 503 with Retry-After; a stream client that stops reading is
dropped with small buffers; connections past the cap get a 503 before aiohttp sees them;
heavy reads past the pool's queue, and answers past the byte budget, get a 503; and the other
endpoints keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from consensus.types import BlockHash
from faircoop_node.api import create_app
from faircoop_node.api.feed import BlockFeed, NewBlock
from faircoop_node.api.limits import ApiLimits
from faircoop_node.api.offload import CHUNK, POOL
from faircoop_node.api.site import ConnectionCap, make_runner, serve_capped
from faircoop_node.api.stream import SLOTS
from tests.api.api_chain import FakeNode, fresh_node, serve, standard_chain

STREAM = "/api/v1/blocks/stream"


def _event(height: int) -> NewBlock:
    return NewBlock(height, BlockHash(height.to_bytes(32, "big")), 0, 1000 * height)


async def _first_line(resp: aiohttp.ClientResponse) -> bytes:
    return await asyncio.wait_for(resp.content.readline(), 5)


def _assert_retry_later(status: int, headers: object, body: dict[str, object]) -> None:
    assert status == 503
    assert headers["Retry-After"] == "5"  # type: ignore[index]
    assert isinstance(body["error"], str) and "retry later" in body["error"]


# -- streams -----------------------------------------------------------------------------------


async def test_stream_past_the_cap_is_503_with_retry_after_and_other_calls_still_answer() -> None:
    node = fresh_node()
    async with serve(node, limits=ApiLimits(max_streams=3), keepalive_s=30.0) as client:
        streams = [await client.get(STREAM) for _ in range(3)]
        for resp in streams:
            assert resp.status == 200 and (await _first_line(resp)).startswith(b": connected")
        refused = await client.get(STREAM)
        _assert_retry_later(refused.status, refused.headers, await refused.json())
        assert "3 streams are open" in (await refused.json())["error"]
        assert (await client.get("/api/v1/status")).status == 200
        streams[0].close()
        for _ in range(200):  # the server notices the close and frees the slot
            if client.app[SLOTS].open < 3:
                break
            await asyncio.sleep(0.01)
        again = await client.get(STREAM)
        assert again.status == 200
        for resp in (*streams[1:], again):
            resp.close()


@asynccontextmanager
async def _served(node: FakeNode, limits: ApiLimits) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(node, keepalive_s=30.0, limits=limits), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("pace_s", "backlog", "dropped_by"),
    [(0.0, 16, "backlog"),  # blocks come faster than the handler can even queue them
     # the handler keeps up until the client's socket is full, then a write can't finish: the
     # write timeout ends it (or, on Linux, the kernel's TCP_USER_TIMEOUT, as the client's
     # window stays shut)
     (0.001, 4096, "write timeout")],
)
async def test_a_stream_client_that_stops_reading_is_dropped_and_its_buffers_stay_small(
        pace_s: float, backlog: int, dropped_by: str) -> None:
    feed = BlockFeed(max_backlog=backlog)
    node = fresh_node(feed)
    async with _served(node, ApiLimits(max_streams=4, write_timeout_s=0.3)) as server:
        slots = server.app[SLOTS]
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.setblocking(False)
        await loop.sock_connect(sock, (server.host, server.port))
        await loop.sock_sendall(sock, f"GET {STREAM} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        for _ in range(500):
            if slots.open == 1:
                break
            await asyncio.sleep(0.01)
        (conn,) = server.runner.server.connections  # type: ignore[union-attr]
        transport = conn.transport
        assert transport is not None
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        peak, height, deadline = 0, 0, loop.time() + 20
        while slots.open and loop.time() < deadline:  # the client reads nothing
            height += 1
            feed.publish(_event(height))
            peak = max(peak, transport.get_write_buffer_size())
            await asyncio.sleep(pace_s)
        assert slots.open == 0 and feed.subscriber_count == 0, "the stuck stream is still open"
        # aiohttp waits for the client after each 64 KiB written, once its transport holds more
        # than 64 KiB: so at most ~128 KiB per connection, whatever is published
        assert peak <= 2 * CHUNK + 1024, f"the server buffered {peak} bytes for a slow client"
        if dropped_by == "write timeout":  # not the backlog: it never filled
            assert height < backlog
        try:  # the server ended the connection: what was sent, then EOF (or a reset)
            while await asyncio.wait_for(loop.sock_recv(sock, 65536), 5):
                pass
        except ConnectionResetError:
            pass
        finally:
            sock.close()


# -- connections -------------------------------------------------------------------------------


@asynccontextmanager
async def _capped(node: FakeNode, limits: ApiLimits) -> AsyncIterator[tuple[int, ConnectionCap]]:
    runner = make_runner(create_app(node, limits=limits), limits)
    await runner.setup()
    server = await serve_capped(runner, "127.0.0.1", 0, limits)
    try:
        yield server.sockets[0].getsockname()[1], server._protocol_factory  # type: ignore[attr-defined]
    finally:
        server.close()
        await runner.cleanup()


async def _raw_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


async def test_connections_past_the_cap_get_503_and_a_freed_slot_serves_again() -> None:
    node = standard_chain().node
    async with _capped(node, ApiLimits(max_connections=4, max_streams=2)) as (port, cap):
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        for _ in range(200):
            if cap.open == 4:
                break
            await asyncio.sleep(0.01)
        status, headers, body = await _raw_get(port, "/api/v1/status")
        assert status == 503 and headers["Retry-After"] == "5" and b"retry later" in body
        assert headers["Content-Type"].startswith("application/json")
        assert cap.refused == 1
        _, writer = idle.pop()
        writer.close()
        for _ in range(200):
            if cap.open < 4:
                break
            await asyncio.sleep(0.01)
        status, _, _ = await _raw_get(port, "/api/v1/status")
        assert status == 200
        for _, w in idle:
            w.close()


async def test_a_connection_that_sends_no_request_is_closed_when_idle() -> None:
    node = standard_chain().node
    limits = ApiLimits(max_connections=4, max_streams=2, idle_timeout_s=0.3)
    async with _capped(node, limits) as (port, cap):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        assert asyncio.get_running_loop().time() - started < 3
        writer.close()
        for _ in range(200):
            if cap.open == 0:
                break
            await asyncio.sleep(0.01)
        assert cap.open == 0


async def test_an_unparseable_request_is_a_400_logged_without_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    node = standard_chain().node
    async with _capped(node, ApiLimits()) as (port, _):
        with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
            status, _, body = await _raw_get(port, "/api/v1/tx/" + "ab" * 5000)
    assert status == 400 and b"8190" in body
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records and all(r.levelno == logging.DEBUG and r.exc_info is None for r in records)


# -- heavy reads and answer bytes --------------------------------------------------------------


async def test_heavy_reads_past_the_pool_queue_get_503_until_the_pool_frees() -> None:
    scene = standard_chain()
    limits = ApiLimits(read_threads=1, max_reads=1)
    async with serve(scene.node, limits=limits) as client:
        release = threading.Event()
        busy = asyncio.ensure_future(client.app[POOL].run(release.wait, 10))
        await asyncio.sleep(0.05)
        path = f"/api/v1/block/{scene.blocks[0].hex()}"
        refused = await client.get(path)
        _assert_retry_later(refused.status, refused.headers, await refused.json())
        assert (await client.get("/api/v1/status")).status == 200  # light calls don't queue
        release.set()
        await busy
        assert (await client.get(path)).status == 200


async def test_answers_past_the_byte_budget_get_503() -> None:
    scene = standard_chain()
    async with serve(scene.node, limits=ApiLimits(max_response_bytes=200)) as client:
        raw = await client.get(f"/api/v1/block/{scene.blocks[0].hex()}/raw")
        _assert_retry_later(raw.status, raw.headers, await raw.json())
        small = await client.get("/api/v1/block/" + scene.blocks[0].hex() + "/txids")
        assert small.status == 200


# -- values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_connections", "max_streams", "read_threads",
                                   "max_reads", "max_response_bytes", "retry_after_s",
                                   "write_timeout_s", "idle_timeout_s"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        ApiLimits(**{field: 0})
