"""A tx a node admitted while no proposer could hear it still becomes final once peers connect.

Found by the all-validators-down fault test (issue 20, item 4): txs are relayed only when they
are admitted, so a tx the observer took while every validator was down sat in its mempool
forever (`in_mempool`, never final). A node now offers a peer that connects what its pool
holds (`PeerDuties.offer_pool`, bounded). Failed before the fix (timed out).
"""

from __future__ import annotations

import asyncio

from consensus import codec
from tests.builders import key
from tests.node_runtime.harness import payments, start_cluster, wait_for


async def test_a_tx_an_unconnected_observer_admitted_is_final_once_it_connects() -> None:
    cluster = await start_cluster(4)
    try:
        observer = cluster.add(key(77), validator=False)
        await cluster.start(observer, connect=False)  # no peer: relaying reaches nobody
        node = observer.node
        assert node is not None
        tx = payments(cluster.genesis, 1)[0]
        await node.submit_tx(tx)
        await asyncio.sleep(1.0)  # the relay has sent it (to nobody)
        for slot in cluster.slots[:4]:
            await cluster.network.connect(observer.key.public_key, slot.key.public_key)
        await wait_for(lambda: node.store.get_tx_location(codec.txid(tx)) is not None, 10,
                       "the observer's tx final")
    finally:
        await cluster.stop_all()


async def test_a_peer_outside_the_voting_set_is_offered_nothing() -> None:
    """The offer goes to validators only: a pool's worth of bytes to every peer that connects
    would make each handshake an outsider's amplifier."""
    cluster = await start_cluster(4)
    try:
        observer = cluster.add(key(77), validator=False)
        outsider = cluster.add(key(78), validator=False)
        await cluster.start(observer, connect=False)
        await cluster.start(outsider, connect=False)
        node, other = observer.node, outsider.node
        assert node is not None and other is not None
        tx = payments(cluster.genesis, 1)[0]
        await node.submit_tx(tx)
        await asyncio.sleep(1.0)
        await cluster.network.connect(observer.key.public_key, outsider.key.public_key)
        await asyncio.sleep(1.0)
        assert codec.txid(tx) not in other.mempool, "a non-validator peer was offered the pool"
        await cluster.network.connect(observer.key.public_key, cluster.slots[0].key.public_key)
        await wait_for(lambda: node.store.get_tx_location(codec.txid(tx)) is not None, 10,
                       "the observer's tx final once a validator connects")
    finally:
        await cluster.stop_all()
