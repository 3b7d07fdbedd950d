"""The runtime publishes its commits through `Node.on_commit`, and the process's `NodeApi`
adapts a node to the API (`create_app(view)`): every committed block reaches the API's feed,
in order, and a listener that raises neither stops the others nor the node."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from consensus import codec
from consensus.types import COIN
from faircoop_node.api import create_app
from faircoop_node.api.feed import NewBlock
from faircoop_node.api.watch import AddressEvent
from faircoop_node.node.driver import Committed
from faircoop_node.service import NodeApi
from tests.node_runtime.harness import (
    VALIDATOR_KEYS,
    Cluster,
    payments,
    runtime_genesis,
    wait_for,
)

TXS = 5
HEIGHT = 4


async def test_every_commit_reaches_the_listeners_and_the_api_feed_in_order() -> None:
    cluster = Cluster(runtime_genesis(VALIDATOR_KEYS))
    for k in VALIDATOR_KEYS:
        cluster.add(k, validator=True)
    node = cluster.slots[0].node
    assert node is not None
    failures: list[int] = []
    seen: list[Committed] = []

    def broken(c: Committed) -> None:
        failures.append(c.block.header.height)
        raise RuntimeError("a watcher's bug")

    node.on_commit(broken)  # first, so the others run after it raised
    api = NodeApi(node)
    node.on_commit(seen.append)
    stream = api.feed.subscribe()
    try:
        for slot in cluster.slots:
            await cluster.start(slot)
        for tx in payments(cluster.genesis, TXS):
            await api.submit_tx(tx)
        await wait_for(lambda: node.state.height >= HEIGHT and api.feed.txs_total == TXS, 20,
                       f"height {HEIGHT} with every tx committed")
        heights = [c.block.header.height for c in seen]
        assert heights == list(range(1, len(seen) + 1))
        assert failures == heights
        assert [c.block_id for c in seen] == [node.store.get_hash_at(h) for h in heights]
        announced = [await stream.next_event(timeout=1) for _ in seen]
        assert announced == [NewBlock(c.block.header.height, c.block_id, len(c.block.txs),
                                      c.block.header.time_ms) for c in seen]
        assert api.feed.blocks_total >= len(seen)

        async with TestClient(TestServer(create_app(api), host="127.0.0.1")) as client:
            status = await (await client.get("/api/v1/status")).json()
        assert (status["node_id"], status["validator"], status["peers"]) == (
            node.pubkey.hex(), True, 3)
        assert status["height"] >= HEIGHT
    finally:
        stream.close()
        await cluster.stop_all()


async def test_the_node_tells_the_address_watch_of_pooled_and_committed_payments() -> None:
    """A running node's mempool and commits feed `NodeApi.watch`: a payment to a watched
    address is announced when pooled (from the API, or relayed by a peer) and when final."""
    cluster = Cluster(runtime_genesis(VALIDATOR_KEYS))
    for k in VALIDATOR_KEYS:
        cluster.add(k, validator=True)
    entry, relay = cluster.slots[0].node, cluster.slots[1].node
    assert entry is not None and relay is not None
    api, relayed = NodeApi(entry), NodeApi(relay)
    txs = payments(cluster.genesis, 2)
    payee = txs[1].outputs[0].lock
    watches = [api.watch.subscribe(payee), relayed.watch.subscribe(payee)]
    try:
        for slot in cluster.slots:
            await cluster.start(slot)
        for tx in txs:
            await api.submit_tx(tx)
        tid = codec.txid(txs[1])
        for watch in watches:  # the entry node's pool, and its peer's (relayed)
            seen = await watch.next_event(timeout=20)
            assert seen == AddressEvent(False, tid, 10 * COIN)
            final = await watch.next_event(timeout=20)
            assert final is not None and (final.final, final.txid, final.amount) == (
                True, tid, 10 * COIN)
            assert final.block_hash == entry.store.get_hash_at(final.height or 0)
    finally:
        for watch in watches:
            watch.close()
        await cluster.stop_all()
