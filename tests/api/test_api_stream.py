"""The new-block feed and its SSE stream: events, keep-alives, slow clients, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from aiohttp.test_utils import TestServer

from consensus.types import BlockHash
from faircoop_node.api import create_app
from faircoop_node.api.feed import BlockFeed, NewBlock
from tests.api.api_chain import fresh_node, serve


def _event(height: int, txs: int = 0) -> NewBlock:
    return NewBlock(height, BlockHash(bytes([height]) * 32), txs, 1000 * height)


async def _read_event(content: aiohttp.StreamReader) -> list[str]:
    """The lines of the next SSE event or comment block (up to the blank line)."""
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(content.readline(), 5)).decode()
        if line in ("\n", ""):
            return lines
        lines.append(line.rstrip("\n"))


async def test_stream_sends_one_block_event_per_commit_in_order() -> None:
    node = fresh_node()
    async with serve(node, keepalive_s=30.0) as client:
        resp = await client.get("/api/v1/blocks/stream")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert await _read_event(resp.content) == [": connected at height 0"]
        ids = [node.commit(), node.commit()]
        for height, block_id in enumerate(ids, start=1):
            lines = await _read_event(resp.content)
            assert lines[:2] == [f"id: {height}", "event: block"]
            data = json.loads(lines[2].removeprefix("data: "))
            assert data == {"height": height, "hash": block_id.hex(), "tx_count": 0,
                            "time_ms": node.store.get_header(block_id).time_ms}  # type: ignore[union-attr]
        resp.close()


async def test_stream_sends_keep_alive_comments_while_idle() -> None:
    node = fresh_node()
    async with serve(node, keepalive_s=0.05) as client:
        resp = await client.get("/api/v1/blocks/stream")
        await _read_event(resp.content)
        assert await _read_event(resp.content) == [": keep-alive"]
        assert await _read_event(resp.content) == [": keep-alive"]
        resp.close()


async def test_server_shutdown_ends_open_streams_promptly() -> None:
    node = fresh_node()
    server = TestServer(create_app(node, keepalive_s=30.0), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        resp = await session.get(server.make_url("/api/v1/blocks/stream"))
        await _read_event(resp.content)
        assert node.feed.subscriber_count == 1
        started = time.monotonic()
        await server.close()
        elapsed = time.monotonic() - started
        assert await asyncio.wait_for(resp.content.read(), 5) == b""  # the stream ended
    assert elapsed < 2.0, f"shutdown waited {elapsed:.1f}s for an open stream"
    assert node.feed.subscriber_count == 0


async def test_client_disconnect_releases_its_subscription() -> None:
    node = fresh_node()
    async with serve(node, keepalive_s=0.02) as client:
        resp = await client.get("/api/v1/blocks/stream")
        await _read_event(resp.content)
        assert node.feed.subscriber_count == 1
        resp.close()
        for _ in range(200):
            if node.feed.subscriber_count == 0:
                break
            await asyncio.sleep(0.01)
        assert node.feed.subscriber_count == 0


# -- the feed itself ---------------------------------------------------------------------------


async def test_feed_delivers_to_every_subscriber_and_ends_on_close() -> None:
    feed = BlockFeed()
    a, b = feed.subscribe(), feed.subscribe()
    feed.publish(_event(1))
    feed.publish(_event(2))
    feed.close_all()
    got_a = [e.height async for e in a]
    got_b = [e.height async for e in b]
    assert got_a == got_b == [1, 2]
    assert feed.subscriber_count == 0
    assert await a.next_event() is None  # stays closed


async def test_slow_subscriber_is_dropped_not_buffered_forever() -> None:
    feed = BlockFeed(max_backlog=3)
    slow, fast = feed.subscribe(), feed.subscribe()
    for h in range(1, 6):
        feed.publish(_event(h))
        assert (await fast.next_event(timeout=1)).height == h  # type: ignore[union-attr]
    assert slow.closed and feed.subscriber_count == 1
    assert [e.height async for e in slow] == [1, 2, 3]  # what it had, then the end


def test_tx_rate_is_committed_txs_over_the_sliding_window() -> None:
    now = [100.0]
    feed = BlockFeed(window_s=10.0, clock=lambda: now[0])
    assert feed.tx_rate() == 0.0
    now[0] = 102.0
    feed.publish(_event(1, txs=10))
    assert feed.tx_rate() == 10 / 2.0  # younger than the window: over the time since start
    now[0] = 108.0
    feed.publish(_event(2, txs=30))
    now[0] = 110.0
    assert feed.tx_rate() == 40 / 10.0
    now[0] = 112.5  # the first commit (t=102) has left the window
    assert feed.tx_rate() == 30 / 10.0
    now[0] = 130.0
    assert feed.tx_rate() == 0.0
    assert (feed.blocks_total, feed.txs_total) == (2, 40)
