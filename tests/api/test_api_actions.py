"""POST /api/v1/actions: a governance action or recovery, checked as the node checks a peer's,
pooled once and shown by GET /governance; every refusal a 4xx (or 503 for a full pool) naming
its rule, and nothing refused is pooled.

The node here is the API tests' `FakeNode` (the node's own admission over the standard chain);
`test_api_actions_node.py` runs the same requests against real nodes.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from consensus.crypto import sha256
from consensus.governance import (
    ActionBody,
    Reference,
    RemoveValidator,
    SetParam,
    SetTreasury,
    encode_block_action,
    make_action,
    make_recovery,
)
from consensus.types import BlockHash, PublicKey
from faircoop_node.api.actions import MAX_ACTION_BYTES, MAX_BODY
from faircoop_node.node import admission
from tests.api.api_chain import CAROL, VALIDATOR_KEYS, serve, standard_chain
from tests.builders import CHAIN_ID, key

GOVERNOR = VALIDATOR_KEYS[0]  # the standard chain: governors = validators, threshold 1
REF = Reference("https://coop.example/assembly/2026-12#4", "Assembly of 2026-12-01, item 4")
DUST = SetParam("dust_limit", 2_000)


def action(nonce: int = 1, body: ActionBody = DUST,
           keys: tuple = (GOVERNOR,), chain: str = CHAIN_ID,
           reference: Reference | None = REF) -> bytes:
    return encode_block_action(make_action(chain, nonce, body, keys, reference))


def forged() -> bytes:
    good = make_action(CHAIN_ID, 1, DUST, (GOVERNOR,), REF)
    return encode_block_action(replace(good, signatures=((good.signatures[0][0], bytes(64)),)))


def post(client, raw: bytes):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/actions", json={"action": raw.hex()})


def test_the_apis_bound_is_the_nodes() -> None:
    assert MAX_ACTION_BYTES == admission.MAX_ACTION_BYTES


async def test_a_governors_action_is_pooled_once_and_shown_in_words() -> None:
    scene = standard_chain()
    raw = action()
    async with serve(scene.node) as client:
        first = await post(client, raw)
        assert first.status == 200
        assert await first.json() == {"status": "pooled", "id": sha256(raw).hex()}
        again = await post(client, raw)
        assert again.status == 200
        assert await again.json() == {"status": "already_pooled", "id": sha256(raw).hex()}
        body = await (await client.get("/api/v1/governance")).json()
    assert scene.node.pooled_actions() == (raw,)
    assert body["pooled"] == [{
        "id": sha256(raw).hex(), "kind": "set_param", "summary": "set dust_limit = 2000",
        "nonce": 1, "signers": [GOVERNOR.public_key.hex()],
        "reference": {"uri": REF.uri, "text": REF.text}, "hex": raw.hex(),
    }]
    assert body["next_nonce"] == 2  # 0 is used on chain, 1 by the pooled action


def _recovery_at(height: int, block_id: bytes) -> bytes:
    return encode_block_action(make_recovery(CHAIN_ID, height, BlockHash(block_id),
                                             tuple(standard_chain().node.state.validators),
                                             (GOVERNOR,), REF))


async def test_a_recovery_at_the_tip_is_held_and_shown_with_its_height() -> None:
    scene = standard_chain()
    raw = _recovery_at(3, scene.blocks[2])
    async with serve(scene.node) as client:
        assert (await (await post(client, raw)).json())["status"] == "pooled"
        body = await (await client.get("/api/v1/governance")).json()
    assert scene.node.held_recoveries() == (raw,) and body["pooled"] == []
    [held] = body["recoveries"]
    assert held["kind"] == "recovery" and held["last_final_height"] == 3
    assert held["nonce"] is None and held["reference"] == {"uri": REF.uri, "text": REF.text}
    assert body["next_nonce"] == 1  # a recovery uses no nonce


NOT_A_VALIDATOR = PublicKey(key(77).public_key)
# (name, the action's bytes, status, rule)
REFUSED = [
    ("a stranger signed", lambda s: action(keys=(key(76),)), 400, "not_a_governor"),
    ("nobody signed", lambda s: action(keys=()), 400, "below_threshold"),
    ("a forged signature", lambda s: forged(), 400, "bad_governor_signature"),
    ("another chain", lambda s: action(chain="another-chain"), 400, "wrong_chain"),
    ("a used nonce", lambda s: action(nonce=0), 409, "replayed_action"),
    ("a nonce far ahead", lambda s: action(nonce=5_000), 400, "nonce_too_far"),
    ("a change that can't apply", lambda s: action(body=RemoveValidator(NOT_A_VALIDATOR)), 400,
     "does_not_apply"),
    ("a parameter out of range", lambda s: action(body=SetParam("dust_limit", 0)), 400,
     "does_not_apply"),
    ("a recovery against an old block", lambda s: _recovery_at(2, s.blocks[1]), 400,
     "recovery_not_at_tip"),
    ("bytes that are not an action", lambda s: b"\x93\x01\x02\x03", 400, "decode"),
    ("a version 1 action cut short", lambda s: action(reference=None)[:-3], 400, "decode"),
]


@pytest.mark.parametrize(("name", "make", "status", "rule"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_each_refusal_names_its_rule_and_pools_nothing(name, make, status, rule) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await post(client, make(scene))
        assert resp.status == status, await resp.text()
        answer = await resp.json()
    assert answer["rule"] == rule and answer["error"].startswith(f"{rule}: ")
    assert answer["error"].count(rule) == 1  # said once, though the node's reason names it
    assert scene.node.pooled_actions() == () and scene.node.held_recoveries() == ()


JUNK_BODIES = [
    "", "not json", "[]", "{}", "null", '"00"', '{"hex": "00"}', '{"action": 5}',
    '{"action": null}', '{"action": "zz"}', '{"action": "0"}', '{"action": ""}',
    '{"action": "  "}', '{"action": ' + "[" * 50_000, "\xff\xfe",
]


@pytest.mark.parametrize("body", JUNK_BODIES, ids=range(len(JUNK_BODIES)))
async def test_junk_bodies_are_decode_400s(body: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.post("/api/v1/actions", data=body.encode("utf-8", "surrogateescape"),
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400
        answer = await resp.json()
    assert answer["rule"] == "decode" and answer["error"]
    assert scene.node.pooled_actions() == ()


async def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    for start in range(0, len(data), 8192):
        yield data[start:start + 8192]


async def test_oversize_bodies_and_actions_are_413s_read_no_further() -> None:
    scene = standard_chain()
    too_long = json.dumps({"action": "00" * (MAX_ACTION_BYTES + 1)}).encode()
    assert len(too_long) <= MAX_BODY  # the action is over its bound, the body is not
    huge = b'{"action": "' + b"00" * MAX_BODY + b'"}'
    async with serve(scene.node) as client:
        for data in (too_long, huge, _chunks(huge)):  # the last without a Content-Length
            resp = await client.post("/api/v1/actions", data=data)
            assert resp.status == 413
            assert (await resp.json())["rule"] == "oversize"
    assert scene.node.pooled_actions() == ()


async def test_a_full_pool_is_a_503_with_retry_after() -> None:
    scene = standard_chain()
    scene.node.max_actions = 1
    async with serve(scene.node) as client:
        assert (await post(client, action(nonce=1))).status == 200
        resp = await post(client, action(nonce=2))
        assert resp.status == 503 and int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["rule"] == "pool_full"
    assert scene.node.pooled_actions() == (action(nonce=1),)


async def test_an_action_the_chain_included_is_a_409_replay_and_leaves_the_pool() -> None:
    scene = standard_chain()
    raw = action(body=SetTreasury(CAROL.lock))
    async with serve(scene.node) as client:
        assert (await post(client, raw)).status == 200
        scene.node.commit(actions=scene.node.pooled_actions())  # a proposer carries it
        assert scene.node.pooled_actions() == ()
        resp = await post(client, raw)
        assert resp.status == 409
        assert (await resp.json())["rule"] == "replayed_action"
        body = await (await client.get("/api/v1/governance")).json()
        history = await (await client.get("/api/v1/governance/history")).json()
    assert [p["hex"] for p in body["pending"]] == [raw.hex()] and body["pooled"] == []
    assert [e["hex"] for e in history["actions"]].count(raw.hex()) == 1


async def test_a_flood_of_junk_pools_nothing_and_the_good_action_once() -> None:
    scene = standard_chain()
    good = action()
    junk = [make(scene) for _, make, _, _ in REFUSED]
    async with serve(scene.node) as client:
        statuses = []
        for i in range(300):
            raw = good if i % 10 == 0 else junk[i % len(junk)]
            statuses.append((await post(client, raw)).status)
    assert set(statuses) <= {200, 400, 409} and statuses.count(200) == 30
    assert scene.node.pooled_actions() == (good,)


async def test_the_route_is_post_only() -> None:
    async with serve(standard_chain().node) as client:
        resp = await client.get("/api/v1/actions")
        assert resp.status == 405 and (await resp.json())["error"]
