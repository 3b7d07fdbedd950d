"""Transactions: lookup, status, finality receipts checked offline, submission, the mempool."""

from __future__ import annotations

import json

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.certificate import verify_certificate
from consensus.crypto import sha256
from consensus.merkle import verify_merkle_proof
from consensus.types import COIN, OutPoint, Tx, Witness
from tests.api.api_chain import ALICE, BOB, CAROL, CHAIN_ID, FEE, genesis_op, serve, standard_chain
from tests.builders import make_tx


def _txid(tx: Tx) -> str:
    return codec.txid(tx).hex()


async def test_committed_tx_has_its_fields_fee_and_final_status() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/tx/{_txid(scene.pay_bob)}")).json()
    assert codec.decode_tx(bytes.fromhex(body["hex"])) == scene.pay_bob
    assert body["inputs"] == [{"txid": scene.gid.hex(), "index": 0}]
    coin = {"campaign": None, "refund_address": None}  # coins, not pledges
    assert body["outputs"] == [
        {"amount": 5 * COIN, "address": encode_address(BOB.lock, "test"), "lock": BOB.lock.hex(),
         **coin},
        {"amount": 45 * COIN - FEE, "address": encode_address(ALICE.lock, "test"),
         "lock": ALICE.lock.hex(), **coin},
    ]
    assert body["campaign"] is None
    assert body["memo_hex"] == b"rent".hex()
    assert body["fee"] == FEE and body["size"] == codec.tx_size(scene.pay_bob)
    status = body["status"]
    assert status["final"] is True and status["in_mempool"] is False
    assert (status["height"], status["block_hash"], status["position"]) == (
        1, scene.blocks[0].hex(), 0)
    assert status["certificate_hex"] == scene.node.store.get_certificate(1).hex()


@pytest.mark.parametrize(
    ("which", "fee"),
    [("bob_to_carol", FEE), ("treasury_spend", 1_000), ("pending", FEE)],
)
async def test_fee_is_found_for_genesis_tx_fee_and_pooled_inputs(which: str, fee: int) -> None:
    scene = standard_chain()
    tx = getattr(scene, which)
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/tx/{_txid(tx)}")).json()
    assert body["fee"] == fee


async def test_pooled_tx_status_is_in_mempool_not_final() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/tx/{_txid(scene.pending)}/status")).json()
        proof = await client.get(f"/api/v1/tx/{_txid(scene.pending)}/proof")
        assert proof.status == 404 and "mempool" in (await proof.json())["error"]
    assert body == {"final": False, "in_mempool": True, "height": None, "block_hash": None,
                    "position": None, "certificate_hex": None}


@pytest.mark.parametrize("suffix", ["", "/status", "/proof"])
async def test_unknown_txid_is_404_and_malformed_is_400(suffix: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        unknown = await client.get(f"/api/v1/tx/{'42' * 32}{suffix}")
        assert unknown.status == 404 and "no" in (await unknown.json())["error"]
        for bad in ("42" * 31, "xyz", "4" * 65):
            resp = await client.get(f"/api/v1/tx/{bad}{suffix}")
            assert resp.status == 400 and "txid" in (await resp.json())["error"]


@pytest.mark.parametrize("which", ["pay_bob", "bob_to_carol", "treasury_spend"])
async def test_proof_is_a_finality_receipt_checkable_offline(which: str) -> None:
    """Everything a wallet checks comes from the proof alone, plus the chain id."""
    scene = standard_chain()
    tx = getattr(scene, which)
    async with serve(scene.node) as client:
        proof = await (await client.get(f"/api/v1/tx/{_txid(tx)}/proof")).json()
    header = codec.decode_header(bytes.fromhex(proof["header_hex"]))
    assert codec.block_hash(header).hex() == proof["block_hash"]
    path = tuple(bytes.fromhex(h) for h in proof["merkle_proof"])
    assert verify_merkle_proof(codec.txid(tx), proof["position"], proof["tx_count"], path,
                               header.tx_root)
    vset_bytes = bytes.fromhex(proof["validator_set_hex"])
    assert sha256(vset_bytes) == header.validators_hash
    keys = tuple(codec.validator_from(v).pubkey
                 for v in codec.expect_list(codec.unpack(vset_bytes, "set"), "set"))
    verify_certificate(bytes.fromhex(proof["certificate_hex"]), codec.block_hash(header), keys,
                       CHAIN_ID, header.height)


# -- submission --------------------------------------------------------------------------------


def _spend_alice_genesis(amount: int = 6 * COIN) -> Tx:
    scene_gid = standard_chain().gid
    return make_tx([(genesis_op(scene_gid, 2), ALICE.policy, [ALICE.key])],
                   [(CAROL.lock, amount)])


async def test_post_hex_body_admits_the_tx_and_returns_its_txid() -> None:
    scene = standard_chain()
    tx = _spend_alice_genesis()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/tx", data=codec.encode_tx(tx).hex())
        assert resp.status == 200
        assert await resp.json() == {"txid": _txid(tx)}
        pool = await (await client.get("/api/v1/mempool")).json()
    assert codec.txid(tx) in scene.node.mempool
    assert pool["count"] == 2 and _txid(tx) in pool["txids"]
    assert pool["bytes"] == scene.node.mempool.size_bytes


async def test_post_json_body_is_accepted_too() -> None:
    scene = standard_chain()
    tx = _spend_alice_genesis()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/tx", json={"hex": codec.encode_tx(tx).hex()})
        assert resp.status == 200 and (await resp.json())["txid"] == _txid(tx)


def _bad_signature(tx: Tx) -> Tx:
    wit = tx.witnesses[0]
    sig = bytes([wit.signatures[0][1][0] ^ 1]) + wit.signatures[0][1][1:]
    return Tx(tx.version, tx.chain_id, tx.inputs, tx.outputs, tx.memo,
              (Witness(wit.policy, ((0, sig),)),))


@pytest.mark.parametrize(
    ("make_body", "rule"),
    [
        (lambda s: codec.encode_tx(_bad_signature(_spend_alice_genesis())).hex(), "bad_signature"),
        (lambda s: codec.encode_tx(s.pay_bob).hex(), "unknown_input"),
        (lambda s: codec.encode_tx(_spend_alice_genesis(7 * COIN)).hex(), "fee_too_low"),
        (lambda s: codec.encode_tx(s.pending).hex(), "already_in_mempool"),
        (lambda s: codec.encode_tx(make_tx(
            [(OutPoint(codec.txid(s.pay_bob), 1), ALICE.policy, [ALICE.key])],
            [(CAROL.lock, COIN)])).hex(), "mempool_conflict"),
        (lambda s: codec.encode_tx(make_tx(
            [(genesis_op(s.gid, 2), ALICE.policy, [ALICE.key])], [(CAROL.lock, COIN)],
            chain_id="other-chain")).hex(), "wrong_chain"),
        (lambda s: "zz", "decode"),
        (lambda s: "abc", "decode"),
        (lambda s: "", "decode"),
        (lambda s: "90", "decode"),
        (lambda s: codec.encode_tx(s.pay_bob).hex() + "00", "decode"),
        (lambda s: '{"hex": 5}', "decode"),
        (lambda s: '{"hex": "00"', "decode"),
        (lambda s: "[1,2]", "decode"),
    ],
)
async def test_refused_tx_is_400_naming_the_rule(make_body: object, rule: str) -> None:
    scene = standard_chain()
    body = make_body(scene)  # type: ignore[operator]
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/tx", data=body)
        assert resp.status == 400
        answer = await resp.json()
    assert answer["rule"] == rule and answer["error"]
    assert len(scene.node.mempool) == 1  # nothing new admitted


@pytest.mark.parametrize("content_type", ["application/octet-stream", "multipart/form-data",
                                          "application/json", "text/html"])
async def test_binary_junk_under_any_content_type_is_a_decode_400(content_type: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/tx", data=b"\xff\x00\xfe" * 10,
                                 headers={"Content-Type": content_type})
        assert resp.status == 400 and (await resp.json())["rule"] == "decode"


async def test_json_nested_too_deep_is_a_decode_400() -> None:
    """json.loads raises RecursionError (not ValueError) past its depth: a 500 before."""
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/tx", data='{"hex": ' + "[" * 50_000,
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400 and (await resp.json())["rule"] == "decode"


async def test_body_over_the_limit_is_413_json() -> None:
    scene = standard_chain()
    async with serve(scene.node, max_body=1024) as client:
        resp = await client.post("/api/v1/tx", data="00" * 4096)
        assert resp.status == 413
        assert "1024" in (await resp.json())["error"]


async def test_wrong_method_is_405_json() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get("/api/v1/tx")
        assert resp.status == 405 and "GET" in (await resp.json())["error"]
        resp = await client.post("/api/v1/status", data=json.dumps({}))
        assert resp.status == 405
