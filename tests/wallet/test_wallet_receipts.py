"""Finality receipts and header following, against real certificates from a fake chain."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import COIN, SpendPolicy
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet.builder import Coin, Payment, build_transaction, sign_transaction
from wallet.client import NodeClient, RetryPolicy
from wallet.errors import ChainMismatch, ReceiptInvalid
from wallet.receipts import (
    LightState,
    Receipt,
    fetch_receipt,
    follow_header,
    genesis_light_state,
    sync_headers,
    verify_receipt,
)

FAST = RetryPolicy(attempts=2, base_delay=0.01)
KEY = PrivateKey((11).to_bytes(32, "big"))
POLICY = SpendPolicy.single(KEY.public_key)
LOCK = codec.policy_lock(POLICY)
PAYEE = codec.policy_lock(SpendPolicy.single(PrivateKey((12).to_bytes(32, "big")).public_key))


def pay(chain, amount: int):  # type: ignore[no-untyped-def]
    """Spend the key's coins on `chain`: a real signed tx, submitted and mined."""
    coins = [Coin(op, o.amount, POLICY) for op, o in chain.utxos_of(LOCK)]
    unsigned = build_transaction(coins, [Payment(PAYEE, amount)], fee_rate=1,
                                 params=ChainParams(), chain_id=chain.genesis.chain_id,
                                 change_policy=POLICY)
    tx = sign_transaction(unsigned, {KEY.public_key: KEY})
    chain.submit(tx)
    return codec.txid(tx)


@pytest.fixture()
def chain():  # type: ignore[no-untyped-def]
    c = funded_chain([LOCK], [50 * COIN])
    c.mine()
    c.mine()
    return c


async def test_follow_from_genesis_across_a_validator_set_change(chain) -> None:  # type: ignore[no-untyped-def]
    chain.rotate_validators(5, seed=2)
    chain.mine()  # carries the governors' actions (height 3)
    chain.mine()  # commits to the new set (4)
    tid = pay(chain, COIN)  # certified by the new set (5)
    fake = FakeNode(chain)
    with serve(fake) as url:
        async with NodeClient(url, retry=FAST) as client:
            state = genesis_light_state(chain.genesis)
            state = await sync_headers(client, state)
            assert state.height == chain.height and state.header_hash == chain.tip_id
            assert len(state.epochs) == 2 and state.epochs[1][0] == 5
            receipt, state, verified = await fetch_receipt(client, state, tid.hex(), "test")
    assert verified.height == chain.tx_index[tid][0] and verified.signers == 5
    assert LightState.from_json(json.loads(json.dumps(state.to_json()))) == state
    # Offline, from the exported file, with only the chain id, genesis and trusted set:
    again = Receipt.from_json(receipt.to_json())
    assert again == receipt
    ok = verify_receipt(again, chain_id=chain.genesis.chain_id, network="test",
                        genesis_hash=chain.genesis_id,
                        trusted_validators_hash=state.set_hash_at(verified.height))
    assert ok.txid == tid


async def _receipt(chain):  # type: ignore[no-untyped-def]
    tid = pay(chain, 2 * COIN)
    with serve(FakeNode(chain)) as url:
        async with NodeClient(url, retry=FAST) as client:
            return await fetch_receipt(client, genesis_light_state(chain.genesis), tid.hex(),
                                       "test")


def _tamper(receipt: Receipt, what: str) -> Receipt:
    if what == "proof":
        return replace(receipt, merkle_proof=(bytes(32),) + receipt.merkle_proof)
    if what == "position":
        return replace(receipt, position=receipt.position + 1, tx_count=receipt.tx_count + 1)
    if what == "header":
        return replace(receipt, header=replace(receipt.header, time_ms=receipt.header.time_ms + 1))
    if what == "certificate":
        cert = bytearray(receipt.certificate)
        cert[-5] ^= 1
        return replace(receipt, certificate=bytes(cert))
    if what == "tx":
        other = replace(receipt.tx, memo=b"not the paid tx")
        return replace(receipt, tx=other)
    if what == "validator_set":
        return replace(receipt, validator_set=receipt.validator_set[:-1])
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["proof", "position", "header", "certificate", "tx",
                                  "validator_set"])
async def test_a_tampered_receipt_fails_offline(chain, what: str) -> None:  # type: ignore[no-untyped-def]
    receipt, state, _ = await _receipt(chain)
    trusted = state.set_hash_at(receipt.height)
    bad = _tamper(receipt, what)
    with pytest.raises(ReceiptInvalid):
        verify_receipt(bad, chain_id=receipt.chain_id, network="test",
                       genesis_hash=receipt.genesis_hash,
                       trusted_validators_hash=trusted)


async def test_receipt_for_another_set_or_chain_is_refused(chain) -> None:  # type: ignore[no-untyped-def]
    receipt, state, _ = await _receipt(chain)
    with pytest.raises(ReceiptInvalid, match="trusted set"):
        verify_receipt(receipt, chain_id=receipt.chain_id, network="test",
                       genesis_hash=receipt.genesis_hash,
                       trusted_validators_hash=bytes(32))
    with pytest.raises(ChainMismatch):
        verify_receipt(receipt, chain_id=receipt.chain_id, network="test", genesis_hash=bytes(32),
                       trusted_validators_hash=state.set_hash_at(receipt.height))


async def test_a_node_forging_certificates_is_caught(chain) -> None:  # type: ignore[no-untyped-def]
    chain.forge_certificates = True
    chain.mine()
    with serve(FakeNode(chain)) as url:
        async with NodeClient(url, retry=FAST) as client:
            with pytest.raises(ReceiptInvalid, match="not final"):
                await sync_headers(client, genesis_light_state(chain.genesis))


async def test_a_node_serving_a_wrong_validator_set_is_caught(chain) -> None:  # type: ignore[no-untyped-def]
    chain.rotate_validators(4, seed=3)
    chain.mine()  # carries the actions
    chain.mine()  # commits to the new set: the wallet fetches it
    fake = FakeNode(chain)
    fake.bad_validator_set = True
    with serve(fake) as url:
        async with NodeClient(url, retry=FAST) as client:
            with pytest.raises(ReceiptInvalid, match="does not hash"):
                await sync_headers(client, genesis_light_state(chain.genesis))


async def test_following_stops_before_a_header_without_its_certificate(chain) -> None:  # type: ignore[no-untyped-def]
    fake = FakeNode(chain)
    fake.uncertified_tip = True
    with serve(fake) as url:
        async with NodeClient(url, retry=FAST) as client:
            state = await sync_headers(client, genesis_light_state(chain.genesis))
            assert state.height == chain.height - 1
            with pytest.raises(ReceiptInvalid, match="only up to"):
                await sync_headers(client, state, upto=chain.height)


def test_headers_must_link_and_name_the_committed_set(chain) -> None:  # type: ignore[no-untyped-def]
    state = genesis_light_state(chain.genesis)
    first, second = chain.blocks[0], chain.blocks[1]
    with pytest.raises(ReceiptInvalid, match="expected header 1"):
        follow_header(state, second.header, second.certificate)
    with pytest.raises(ReceiptInvalid, match="does not link"):
        follow_header(state, replace(first.header, prev_hash=codec.BlockHash(bytes(32))),
                      first.certificate)
    with pytest.raises(ReceiptInvalid, match="did not commit"):
        follow_header(state, replace(first.header, validators_hash=codec.Hash32(bytes(32))),
                      first.certificate)
    state = follow_header(state, first.header, first.certificate)
    with pytest.raises(ReceiptInvalid, match="not final"):  # certificate of another block
        follow_header(state, second.header, first.certificate)


def test_receipt_file_errors() -> None:
    with pytest.raises(ReceiptInvalid, match="invalid JSON"):
        Receipt.from_json("nope")
    with pytest.raises(ReceiptInvalid, match="not a faircoop receipt"):
        Receipt.from_json("{}")
    with pytest.raises(ReceiptInvalid, match="missing"):
        Receipt.from_json('{"format": "faircoop-receipt", "version": 1}')




async def test_a_receipt_verifies_only_for_its_own_network(chain) -> None:  # type: ignore[no-untyped-def]
    receipt, state, _ = await _receipt(chain)
    trusted = state.set_hash_at(receipt.height)
    ok = verify_receipt(receipt, chain_id=receipt.chain_id, network="test",
                        genesis_hash=receipt.genesis_hash, trusted_validators_hash=trusted)
    assert ok.txid == receipt.txid
    relabelled = replace(receipt, network="main")  # the same proof, shown as main-net addresses
    for bad, verifier_network in ((receipt, "main"), (relabelled, "test")):
        with pytest.raises(ChainMismatch, match="network"):
            verify_receipt(bad, chain_id=receipt.chain_id, network=verifier_network,
                           genesis_hash=receipt.genesis_hash, trusted_validators_hash=trusted)
    doc = json.loads(receipt.to_json())
    doc["network"] = "moon"
    with pytest.raises(ReceiptInvalid, match="neither main nor test"):
        Receipt.from_json(json.dumps(doc))
    tid = receipt.txid.hex()
    with serve(FakeNode(chain)) as url:
        async with NodeClient(url, retry=FAST) as client:
            with pytest.raises(ChainMismatch, match="network"):
                await fetch_receipt(client, state, tid, "main")
