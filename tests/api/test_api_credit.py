"""The credit endpoints over a real chain with mutual credit (`tests/credit/credit_chain.py`):
an account, its history, the totals; credit transfers through POST /tx, GET /tx and the
finality proof; each answer checked against its OpenAPI schema."""

from __future__ import annotations

from typing import Any

from consensus import codec
from consensus.address import encode_address
from consensus.codec import decode_header
from consensus.credit import new_transfer, sign_credit_transfer
from consensus.crypto import sha256
from consensus.merkle import verify_merkle_proof
from consensus.types import CreditTransfer
from faircoop_node.api.openapi import DOCUMENT
from tests.api.api_chain import serve
from tests.api.test_api_openapi import conforms
from tests.builders import CHAIN_ID
from tests.credit.credit_chain import (
    C_KEY,
    C_POLICY,
    UNIT,
    A,
    B,
    C,
    a_transfer,
    b_transfer,
    credit_chain,
    limit_action,
)


def schema(path: str, method: str = "get", status: int = 200) -> Any:
    op = DOCUMENT["paths"][path][method]["responses"][str(status)]
    return op["content"]["application/json"]["schema"]


def addr(lock: bytes) -> str:
    return encode_address(lock, "test")


async def test_an_account_shows_balance_limit_available_and_sequence() -> None:
    scene = credit_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/credit/{addr(A)}")).json()
        conforms(body, schema("/api/v1/credit/{address}"))
        assert body == {
            "address": addr(A), "lock": A.hex(), "balance": -30 * UNIT, "limit": 20 * UNIT,
            "available": 0, "sequence": 1, "history_count": 3, "mempool_pending": 0,
            "mempool_debit": 0, "next_sequence": 1, "pending_limits": [],
        }
        b = await (await client.get(f"/api/v1/credit/{addr(B)}")).json()
        assert (b["balance"], b["limit"], b["available"], b["sequence"]) == \
            (20 * UNIT, 50 * UNIT, 70 * UNIT, 1)
        untouched = await (await client.get(f"/api/v1/credit/{addr(sha256(b'x'))}")).json()
        assert (untouched["balance"], untouched["limit"], untouched["sequence"]) == (0, 0, 0)


async def test_a_limit_set_in_the_last_block_shows_as_pending() -> None:
    scene = credit_chain()
    scene.node.commit(actions=(limit_action(3, C, 5 * UNIT),))
    height = scene.node.state.height
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/credit/{addr(C)}")).json()
        assert body["limit"] == 0
        assert body["pending_limits"] == [{"limit": 5 * UNIT, "effective_height": height + 2}]


async def test_history_is_newest_first_and_pages() -> None:
    scene = credit_chain()
    async with serve(scene.node) as client:
        lines = await (await client.get(f"/api/v1/credit/{addr(A)}/history")).json()
        conforms(lines, schema("/api/v1/credit/{address}/history"))
        assert [(x["height"], x["kind"], x["amount"], x["balance"]) for x in lines] == [
            (5, "limit", 20 * UNIT, -30 * UNIT),
            (3, "sent", 30 * UNIT, -30 * UNIT),
            (2, "limit", 100 * UNIT, 0),
        ]
        sent = lines[1]
        assert sent["txid"] == codec.txid(scene.a_to_b).hex()
        assert sent["counterparty"] == addr(B)
        assert bytes.fromhex(sent["memo_hex"]) == b"bread, November"
        assert lines[0]["action_id"] == sha256(scene.lower_a).hex()
        assert lines[0]["txid"] is None and lines[0]["counterparty"] is None
        page = await (await client.get(
            f"/api/v1/credit/{addr(A)}/history?limit=1&before_height=3&before_position=0"
        )).json()
        assert [(x["height"], x["kind"]) for x in page] == [(2, "limit")]
        got = await (await client.get(f"/api/v1/credit/{addr(C)}/history")).json()
        assert [(x["kind"], x["amount"], x["counterparty"]) for x in got] == \
            [("received", 10 * UNIT, addr(B))]


async def test_totals_add_up_to_zero() -> None:
    scene = credit_chain()
    async with serve(scene.node) as client:
        body = await (await client.get("/api/v1/credit")).json()
        conforms(body, schema("/api/v1/credit"))
        assert body["accounts"] == 3 and body["credit_lines"] == 2
        assert body["outstanding"] == body["positive"] == 30 * UNIT
        assert body["granted"] == 70 * UNIT
        assert body["balance_sum"] == 0
        assert (body["block_cap"], body["pool_cap"], body["sender_min_balance"]) == (16, 64, 1)


async def test_a_credit_transfer_goes_through_post_tx_and_comes_back_with_a_proof() -> None:
    scene = credit_chain()
    t = b_transfer(1, A, 5 * UNIT, b"repay")
    tid = codec.txid(t).hex()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/tx", data=codec.encode_tx(t).hex())
        assert resp.status == 200, await resp.text()
        assert (await resp.json()) == {"txid": tid}
        pooled = await (await client.get(f"/api/v1/tx/{tid}")).json()
        conforms(pooled, schema("/api/v1/tx/{txid}"))
        assert pooled["kind"] == "credit_transfer" and pooled["status"]["in_mempool"]
        assert pooled["sender"] == addr(B) and pooled["total"] == 5 * UNIT
        account = await (await client.get(f"/api/v1/credit/{addr(B)}")).json()
        assert (account["mempool_pending"], account["mempool_debit"],
                account["next_sequence"]) == (1, 5 * UNIT, 2)
        mempool = await (await client.get("/api/v1/mempool")).json()
        assert tid in mempool["txids"]
        scene.node.commit(tuple(scene.node.mempool.select(100, 10**6)))
        final = await (await client.get(f"/api/v1/tx/{tid}")).json()
        assert final["status"]["final"] and final["hex"] == codec.encode_tx(t).hex()
        proof = await (await client.get(f"/api/v1/tx/{tid}/proof")).json()
        header = decode_header(bytes.fromhex(proof["header_hex"]))
        assert verify_merkle_proof(codec.txid(t), proof["position"], proof["tx_count"],
                                   [bytes.fromhex(p) for p in proof["merkle_proof"]],
                                   header.tx_root)
        a = await (await client.get(f"/api/v1/credit/{addr(A)}")).json()
        assert a["balance"] == -25 * UNIT


async def test_refusals_name_their_rule() -> None:
    scene = credit_chain()
    async with serve(scene.node) as client:
        cases = [
            (a_transfer(1, C, 1), "credit_limit_exceeded"),  # A's limit is below its debt
            (b_transfer(0, A, 1), "credit_sequence"),  # replayed
            (b_transfer(1, A, 71 * UNIT), "credit_limit_exceeded"),
            (b_transfer(1, B, 1), "credit_self_payment"),
        ]
        for t, rule in cases:
            resp = await client.post("/api/v1/tx", data=codec.encode_tx(t).hex())
            assert resp.status == 400
            body = await resp.json()
            conforms(body, schema("/api/v1/tx", "post", 400))
            assert body["rule"] == rule, body
        c_sends = codec.encode_tx(_c_sends_with_no_limit())
        resp = await client.post("/api/v1/tx", data=c_sends.hex())
        assert (await resp.json())["rule"] == "credit_limit_exceeded"  # balance 10, sends 11
        bad = await client.get("/api/v1/credit/tfair1notanaddress")
        assert bad.status == 400


def _c_sends_with_no_limit() -> CreditTransfer:
    return sign_credit_transfer(new_transfer(CHAIN_ID, C, 0, [(A, 11 * UNIT)]), C_POLICY,
                                [C_KEY])
