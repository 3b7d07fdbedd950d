"""The wallet's client, light client and builder against the node's real HTTP API app.

The app is `faircoop_node.api.create_app` over the API tests' real chain (blocks made by
`consensus.chain`, real certificates, a real store), served in-process on 127.0.0.1. This checks
that the wallet and the node agree on the API, not only the wallet and its own fake. Skipped if
the node's API test scene is not importable.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from consensus import codec
from consensus.address import encode_address
from consensus.types import COIN
from wallet import ops
from wallet.builder import Payment, build_transaction, sign_transaction
from wallet.client import NodeClient, RetryPolicy
from wallet.errors import TxRejected
from wallet.receipts import (
    Receipt,
    fetch_receipt,
    genesis_light_state,
    sync_headers,
    verify_receipt,
)

api_chain = pytest.importorskip("tests.api.api_chain",
                                reason="the node API test scene is not available")

FAST = RetryPolicy(attempts=2, base_delay=0.01)


async def _server():  # type: ignore[no-untyped-def]
    from faircoop_node.api import create_app

    scene = api_chain.standard_chain()
    server = TestServer(create_app(scene.node), host="127.0.0.1")
    await server.start_server()
    return scene, server


async def test_follow_headers_and_verify_a_receipt_from_the_real_api() -> None:
    scene, server = await _server()
    try:
        async with NodeClient(str(server.make_url("")), retry=FAST) as client:
            info = await ops.chain_info(client)
            genesis = await ops.fetch_genesis(client, info.genesis_hash)
            state = await sync_headers(client, genesis_light_state(genesis))
            assert state.height == 3 and state.header_hash == scene.blocks[-1]
            tid = codec.txid(scene.pay_bob).hex()
            receipt, state, verified = await fetch_receipt(client, state, tid, genesis.network)
            assert verified.height == 1 and verified.block_hash == scene.blocks[0]
            again = Receipt.from_json(receipt.to_json())
            verify_receipt(again, chain_id=info.chain_id, network=info.network,
                           genesis_hash=info.genesis_hash,
                           trusted_validators_hash=state.set_hash_at(1))
            params = await ops.chain_params(client)
            assert params == scene.node.state.params
    finally:
        await server.close()


async def test_build_sign_and_broadcast_through_the_real_api() -> None:
    scene, server = await _server()
    alice = api_chain.ALICE
    try:
        async with NodeClient(str(server.make_url("")), retry=FAST) as client:
            info = await ops.chain_info(client)
            params = await ops.chain_params(client)
            coins = await ops.fetch_policy_coins(client, alice.policy, info.network)
            assert sum(c.amount for c in coins) > COIN
            taken = {i.prevout for i in scene.pending.inputs}  # alice's change is in the mempool
            coins = [c for c in coins if c.outpoint not in taken]
            unsigned = build_transaction(coins, [Payment(api_chain.CAROL.lock, COIN)],
                                         fee_rate=params.min_fee_rate, params=params,
                                         chain_id=info.chain_id, change_policy=alice.policy,
                                         memo=b"wallet")
            tx = sign_transaction(unsigned, {alice.key.public_key: alice.key})
            sent = await client.broadcast(codec.encode_tx(tx).hex())
            assert sent == codec.txid(tx).hex()
            with pytest.raises(TxRejected) as info_:
                await client.broadcast(codec.encode_tx(tx).hex()[:-2])
            assert info_.value.rule
            address = encode_address(alice.lock, info.network)
            assert (await client.address(address))["address"] == address
    finally:
        await server.close()
