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


async def test_governance_as_the_real_api_serves_it() -> None:
    """The wallet reads the node's governors, threshold, voting set, parameters and next
    nonce, proposes under that nonce, and judges completeness as the node would."""
    from consensus.governance import AddValidator, Reference
    from wallet import governors, proposals

    scene, server = await _server()
    keys = api_chain.VALIDATOR_KEYS  # the standard chain's governors (1 of 4 must sign)
    try:
        async with NodeClient(str(server.make_url("")), retry=FAST) as client:
            found = await governors.node_governance(client)
            state = scene.node.state
            assert found.view.governors == tuple(sorted(state.governors))
            assert found.view.threshold == state.governor_threshold
            assert found.view.validators == state.validators
            assert found.view.params == state.params
            assert (found.tip.height, found.tip.tip_hash) == (3, scene.blocks[-1])
            assert found.next_nonce == 1  # nonce 0 is the pending SetParam of height 3
            newcomer = api_chain.CAROL.key.public_key
            made = await governors.propose(client, AddValidator("Coop Carol", newcomer),
                                           Reference("https://assembly.example/1", "item 1"))
            assert made.proposal.nonce == 1
            with pytest.raises(proposals.ProposalIncomplete):
                proposals.check_complete(made.proposal, found.view.governors, 1)
            signed, _ = proposals.sign(made.proposal, keys[0])
            proposals.check_complete(signed, found.view.governors, found.view.threshold)
    finally:
        await server.close()


async def test_a_proposal_submitted_to_the_real_api_is_pooled_included_and_in_history() -> None:
    """`POST /api/v1/actions` and `GET /api/v1/governance/history` as the node serves them
    (runs once the node has them)."""
    pytest.importorskip("faircoop_node.api.actions", reason="the node takes no actions yet")
    from consensus.governance import Reference, SetParam
    from wallet import governors, proposals
    from wallet.errors import ActionRejected

    scene, server = await _server()
    try:
        async with NodeClient(str(server.make_url("")), retry=FAST) as client:
            made = await governors.propose(client, SetParam("dust_limit", 2_000),
                                           Reference("https://assembly.example/2", "item 2"))
            signed, _ = proposals.sign(made.proposal, api_chain.VALIDATOR_KEYS[0])
            sent = await governors.submit_checked(client, signed)
            assert sent.status == "pooled" and sent.id
            again = await governors.submit_checked(client, signed)
            assert again.status == "already_pooled"
            scene.node.commit(actions=scene.node.pooled_actions())
            history = await governors.history(client, "test", limit=10)
            assert history[0].kind == "set_param" and history[0].nonce == 1
            assert history[0].reference == Reference("https://assembly.example/2", "item 2")
            assert history[0].effective_height == history[0].height + 2
            with pytest.raises(ActionRejected) as refused:
                await governors.submit(client, signed)
            assert refused.value.rule == "replayed_action"
    finally:
        await server.close()
