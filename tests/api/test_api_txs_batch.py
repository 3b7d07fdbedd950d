"""POST /api/v1/txs: many txs in one request, admitted in order, one answer per tx."""

from __future__ import annotations

import json

import pytest

from consensus import codec
from consensus.types import COIN, OutPoint
from faircoop_node.api.txs import MAX_BATCH_TXS
from tests.api.api_chain import ALICE, CAROL, genesis_op, serve, standard_chain
from tests.builders import make_tx


def _parent_and_child(gid: bytes) -> tuple:
    parent = make_tx([(genesis_op(gid, 2), ALICE.policy, [ALICE.key])],
                     [(CAROL.lock, 2 * COIN), (ALICE.lock, 4 * COIN)])  # of 7 coins
    child = make_tx([(OutPoint(codec.txid(parent), 1), ALICE.policy, [ALICE.key])],
                    [(CAROL.lock, 3 * COIN)])
    return parent, child


async def test_a_batch_is_admitted_in_order_so_a_child_may_follow_its_parent() -> None:
    scene = standard_chain()
    parent, child = _parent_and_child(scene.gid)
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/txs", json=[codec.encode_tx(t).hex()
                                                      for t in (parent, child)])
        assert resp.status == 200
        answer = await resp.json()
    assert answer == [{"txid": codec.txid(parent).hex()}, {"txid": codec.txid(child).hex()}]
    assert codec.txid(parent) in scene.node.mempool and codec.txid(child) in scene.node.mempool


async def test_each_refused_tx_gets_its_own_error_and_the_rest_are_admitted() -> None:
    scene = standard_chain()
    parent, child = _parent_and_child(scene.gid)
    items = [codec.encode_tx(child).hex(),   # before its parent: unknown input
             "zz",                            # not hex
             "",                              # empty
             codec.encode_tx(scene.pay_bob).hex(),  # already final: its input is spent
             codec.encode_tx(parent).hex()]
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/txs", json=items)
        assert resp.status == 200
        answer = await resp.json()
    assert [a.get("rule") for a in answer] == ["unknown_input", "decode", "decode",
                                               "unknown_input", None]
    assert all(a["error"] for a in answer[:4]) and answer[4] == {"txid": codec.txid(parent).hex()}
    assert len(scene.node.mempool) == 2  # the pending tx of the scene, and the parent


@pytest.mark.parametrize("body", [
    "", "not json", "{}", '{"hex": "00"}', "[1, 2]", '["00", null]', "[]", "5",
    json.dumps(["00"] * (MAX_BATCH_TXS + 1)),
    "[" * 50_000,  # deeper than json.loads follows: RecursionError, a 500 before
])
async def test_a_body_that_is_not_an_array_of_1_to_1000_strings_is_a_decode_400(
        body: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/txs", data=body,
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400
        answer = await resp.json()
    assert answer["rule"] == "decode" and answer["error"]
    assert len(scene.node.mempool) == 1
