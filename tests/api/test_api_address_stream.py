"""GET /address/{address}/stream: payments to one address as Server-Sent Events, read by a real
HTTP client: an event when a tx paying it enters the mempool, another (with the block) when it
is final; bounded by the stream cap (503 with Retry-After); bad addresses are 400s."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.credit import new_transfer, sign_credit_transfer
from consensus.types import COIN, BlockHash, TxId
from faircoop_node.api.limits import ApiLimits
from faircoop_node.api.watch import AddressEvent, AddressWatch
from tests.api.api_chain import ALICE, BOB, CAROL, CHAIN_ID, FEE, fresh_node, genesis_op, serve
from tests.api.test_api_stream import _read_event
from tests.builders import make_block, make_tx

BOB_ADDRESS = encode_address(BOB.lock, "test")


def _data(lines: list[str]) -> tuple[str, dict[str, object]]:
    event = lines[0].removeprefix("event: ")
    return event, json.loads(lines[1].removeprefix("data: "))


async def test_a_payment_is_announced_when_pooled_then_when_final_with_its_block() -> None:
    node = fresh_node()
    gid = node.store.genesis_hash
    pay = make_tx([(genesis_op(gid, 0), ALICE.policy, [ALICE.key])],
                  [(CAROL.lock, COIN), (BOB.lock, 2 * COIN), (BOB.lock, 3 * COIN),
                   (ALICE.lock, 44 * COIN - FEE)])
    other = make_tx([(genesis_op(gid, 1), BOB.policy, [BOB.key])],
                    [(CAROL.lock, 20 * COIN - FEE)])  # spends from bob, pays him nothing
    tid = codec.txid(pay).hex()
    async with serve(node, keepalive_s=30.0) as client:
        resp = await client.get(f"/api/v1/address/{BOB_ADDRESS}/stream")
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
        assert await _read_event(resp.content) == [f": watching {BOB_ADDRESS} at height 0"]
        for tx in (other, pay):
            posted = await client.post("/api/v1/tx", data=codec.encode_tx(tx).hex())
            assert posted.status == 200
        assert _data(await _read_event(resp.content)) == ("mempool", {
            "address": BOB_ADDRESS, "txid": tid, "amount": 5 * COIN})
        block_id = node.commit((other, pay))
        assert _data(await _read_event(resp.content)) == ("final", {
            "address": BOB_ADDRESS, "txid": tid, "amount": 5 * COIN, "height": 1,
            "block_hash": block_id.hex(), "position": 1})
        proof = await (await client.get(f"/api/v1/tx/{tid}/proof")).json()
        assert proof["block_hash"] == block_id.hex()  # the event names what to fetch
        resp.close()


async def test_keep_alives_flow_while_nothing_pays_the_address() -> None:
    node = fresh_node()
    async with serve(node, keepalive_s=0.05) as client:
        resp = await client.get(f"/api/v1/address/{BOB_ADDRESS.upper()}/stream")
        assert await _read_event(resp.content) == [f": watching {BOB_ADDRESS} at height 0"]
        node.commit()
        assert await _read_event(resp.content) == [": keep-alive"]
        resp.close()


@pytest.mark.parametrize("address", [
    "typo", BOB_ADDRESS[:-1] + ("q" if BOB_ADDRESS[-1] != "q" else "p"),
    encode_address(BOB.lock, "main"), "tfair1" + "q" * 200, "%00", "x" * 3000,
])
async def test_a_bad_address_is_a_400_with_a_reason_never_a_500(address: str) -> None:
    async with serve(fresh_node()) as client:
        resp = await client.get(f"/api/v1/address/{address}/stream")
        assert resp.status == 400
        assert (await resp.json())["error"]


async def test_streams_past_the_cap_get_503_with_retry_after_and_a_slot_frees_on_close() -> None:
    node = fresh_node()
    limits = ApiLimits(max_connections=8, max_streams=2)
    async with serve(node, limits=limits, keepalive_s=30.0) as client:
        held = [await client.get(f"/api/v1/address/{BOB_ADDRESS}/stream"),
                await client.get("/api/v1/blocks/stream")]
        for resp in held:
            await _read_event(resp.content)
        for path in (f"/api/v1/address/{BOB_ADDRESS}/stream", "/api/v1/blocks/stream"):
            refused = await client.get(path)
            assert refused.status == 503
            assert refused.headers["Retry-After"] == "5"
            assert "streams are open" in (await refused.json())["error"]
        held[0].close()
        for _ in range(200):
            again = await client.get(f"/api/v1/address/{BOB_ADDRESS}/stream")
            if again.status == 200:
                break
            await asyncio.sleep(0.01)
        assert again.status == 200
        assert node.watch.subscriber_count == 1
        again.close()
        held[1].close()


async def test_a_client_that_leaves_releases_its_watch() -> None:
    node = fresh_node()
    async with serve(node, keepalive_s=0.02) as client:
        resp = await client.get(f"/api/v1/address/{BOB_ADDRESS}/stream")
        await _read_event(resp.content)
        assert node.watch.subscriber_count == 1
        resp.close()
        for _ in range(200):
            if node.watch.subscriber_count == 0:
                break
            await asyncio.sleep(0.01)
    assert node.watch.subscriber_count == 0


async def test_a_real_client_session_reads_the_stream_over_tcp() -> None:
    """Outside the aiohttp test client: a plain ClientSession, as a shop server would."""
    from aiohttp.test_utils import TestServer

    from faircoop_node.api import create_app

    node = fresh_node()
    server = TestServer(create_app(node, keepalive_s=30.0), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = server.make_url(f"/api/v1/address/{BOB_ADDRESS}/stream")
            async with session.get(url) as resp:
                await _read_event(resp.content)
                gid = node.store.genesis_hash
                pay = make_tx([(genesis_op(gid, 0), ALICE.policy, [ALICE.key])],
                              [(BOB.lock, COIN), (ALICE.lock, 49 * COIN - FEE)])
                await node.submit_tx(pay)
                kind, data = _data(await _read_event(resp.content))
                assert kind == "mempool" and data["amount"] == COIN
    finally:
        await server.close()
    assert node.watch.subscriber_count == 0


# -- the watch itself --------------------------------------------------------------------------


async def test_a_watcher_that_falls_behind_is_dropped_not_buffered_forever() -> None:
    watch = AddressWatch(max_backlog=3)
    slow, fast = watch.subscribe(BOB.lock), watch.subscribe(BOB.lock)
    tx = make_tx([(genesis_op(b"\x00" * 32, 0), ALICE.policy, [ALICE.key])], [(BOB.lock, 7)])
    for n in range(5):
        watch.pooled(tx, TxId(bytes([n]) * 32))
        event = await fast.next_event(timeout=1)
        assert event == AddressEvent(False, TxId(bytes([n]) * 32), 7)
    assert slow.closed and watch.subscriber_count == 1
    assert [e.txid[0] async for e in slow] == [0, 1, 2]
    fast.close()
    assert watch.subscriber_count == 0 and not watch._watched


def test_an_unwatched_payment_costs_no_event() -> None:
    watch = AddressWatch()
    sub = watch.subscribe(CAROL.lock)
    tx = make_tx([(genesis_op(b"\x00" * 32, 0), ALICE.policy, [ALICE.key])], [(BOB.lock, 7)])
    watch.pooled(tx, TxId(bytes(32)))
    assert sub._queue.empty()
    assert AddressEvent(True, TxId(bytes(32)), 7, 1, BlockHash(bytes(32)), 0).kind == "final"


async def test_a_block_with_a_credit_transfer_announces_only_its_coin_payments() -> None:
    """A credit transfer in Block.txs pays no coins: it has no outputs to read (the watch once
    read them: an AttributeError in the node's commit path while anyone watched)."""
    watch = AddressWatch()
    sub = watch.subscribe(BOB.lock)
    pay = make_tx([(genesis_op(b"\x00" * 32, 0), ALICE.policy, [ALICE.key])], [(BOB.lock, 7)])
    credit = sign_credit_transfer(new_transfer(CHAIN_ID, ALICE.lock, 0, [(BOB.lock, 9)]),
                                  ALICE.policy, [ALICE.key])
    block = make_block([credit, pay], height=4)
    watch.committed(block, BlockHash(bytes(32)))
    event = await sub.next_event(timeout=1)
    assert event == AddressEvent(True, codec.txid(pay), 7, 4, BlockHash(bytes(32)), 1)
    assert sub._queue.empty()
