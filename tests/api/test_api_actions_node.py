"""POST /api/v1/actions and the governance views over real nodes (an in-process cluster, the
API wired by `faircoop_node.service.NodeApi` as in the node process).

A flood of junk actions and copies of one good action, sent at once to a validator that is not
the next proposer: every junk request gets a 4xx, the good action is pooled once, the chain
keeps finalizing, the action is carried once, and the history shows it with its reference; sent
again, it is a 409. A recovery handed over HTTP to one survivor of a stalled chain is carried,
and the history shows it in force at its own height.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from consensus.crypto import sha256
from consensus.governance import (
    Reference,
    SetParam,
    encode_block_action,
    make_action,
    make_recovery,
)
from faircoop_node.api import create_app
from faircoop_node.node import Node
from faircoop_node.service import NodeApi
from tests.builders import CHAIN_ID, key
from tests.node_runtime.harness import VALIDATOR_KEYS, lose_quorum, start_cluster, wait_for

GOVERNOR = VALIDATOR_KEYS[0]  # the runtime genesis: governors = validators, threshold 1
REF = Reference("https://coop.example/assembly/2027-02#5", "Assembly of 2027-02-02, item 5")


@asynccontextmanager
async def api_of(node: Node) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(NodeApi(node)), host="127.0.0.1")) as client:
        yield client


async def _post(client: TestClient[Any, Any], body: bytes) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/v1/actions", data=body,
                             headers={"Content-Type": "application/json"})
    return resp.status, await resp.json()


def _wrapped(raw: bytes) -> bytes:
    return json.dumps({"action": raw.hex()}).encode()


def _junk(good: bytes) -> list[tuple[bytes, int, str]]:
    """(body, status, rule) of requests that must all be refused."""
    signed = make_action(CHAIN_ID, 3, SetParam("dust_limit", 2_000), (GOVERNOR,), REF)
    forged = replace(signed, signatures=((signed.signatures[0][0], bytes(64)),))
    return [
        (b"not json", 400, "decode"),
        (b'{"action": "zz"}', 400, "decode"),
        (_wrapped(b"\x93\x01\x02"), 400, "decode"),
        (_wrapped(good[:-5]), 400, "decode"),
        (_wrapped(encode_block_action(forged)), 400, "bad_governor_signature"),
        (_wrapped(encode_block_action(make_action(
            CHAIN_ID, 3, SetParam("dust_limit", 2_000), (key(80),), REF))), 400, "not_a_governor"),
        (_wrapped(encode_block_action(make_action(
            "another-chain", 3, SetParam("dust_limit", 2_000), (GOVERNOR,), REF))), 400,
         "wrong_chain"),
        (_wrapped(b"\x00" * 70_000), 413, "oversize"),
    ]


async def test_a_flood_over_the_api_pools_one_action_once_and_the_chain_goes_on() -> None:
    cluster = await start_cluster(4)
    try:
        nodes = cluster.nodes()
        await wait_for(lambda: nodes[0].state.height >= 1, 15, "a block")
        s = nodes[0].state
        node = next(n for n in nodes if n.pubkey != s.proposer(s.height + 1, 0))
        good = encode_block_action(make_action(CHAIN_ID, 0, SetParam("dust_limit", 2_500),
                                               (GOVERNOR,), REF))
        junk = _junk(good)
        async with api_of(node) as client:
            start = node.state.height
            bodies = [_wrapped(good) if i % 8 == 0 else junk[i % len(junk)][0]
                      for i in range(400)]
            answers = await asyncio.gather(*(_post(client, b) for b in bodies))
            outcomes: Counter[str] = Counter()
            for body, (status, answer) in zip(bodies, answers, strict=True):
                if body == _wrapped(good):
                    # a copy that comes after a block carried the action is a replay (on a
                    # busy machine the flood can outlast a block)
                    outcome = answer["status"] if status == 200 else answer["rule"]
                    assert (status, outcome) in {(200, "pooled"), (200, "already_pooled"),
                                                 (409, "replayed_action")}, answer
                    assert status == 409 or answer["id"] == sha256(good).hex()
                    outcomes[outcome] += 1
                else:
                    want = next((st, rule) for b, st, rule in junk if b == body)
                    assert (status, answer.get("rule")) == want, answer
            assert outcomes["pooled"] == 1 and sum(outcomes.values()) == 50, outcomes  # once
            await wait_for(lambda: node.state.height >= start + 3, 15, "the chain going on")
            await wait_for(lambda: all(n.state.params.dust_limit == 2_500 for n in nodes), 20,
                           "the action in force everywhere")
            history = await (await client.get("/api/v1/governance/history")).json()
            [entry] = [e for e in history["actions"] if e["hex"] == good.hex()]
            assert entry["reference"] == {"uri": REF.uri, "text": REF.text}
            assert entry["effective_height"] == entry["height"] + 2
            carried = node.store.get_block_at(entry["height"])
            assert carried is not None and carried.actions.count(good) == 1
            assert all(n.pooled_actions() == () for n in nodes)
            status, answer = await _post(client, _wrapped(good))
            assert (status, answer["rule"]) == (409, "replayed_action")
            body = await (await client.get("/api/v1/governance")).json()
            assert body["next_nonce"] == 1 and body["pooled"] == []
    finally:
        await cluster.stop_all()


async def test_a_recovery_posted_to_one_survivor_is_carried_and_in_the_history() -> None:
    cluster = await start_cluster(4)
    try:
        alive = await lose_quorum(cluster)
        async with api_of(alive[0]) as client:
            gov = await (await client.get("/api/v1/governance")).json()
            last = gov["last_final"]  # what a governor makes the recovery against
            assert last["height"] == alive[0].state.height
            keep = tuple(v for v in cluster.genesis.validators
                         if v.pubkey in {n.pubkey for n in alive})
            recovery = encode_block_action(make_recovery(
                CHAIN_ID, last["height"], bytes.fromhex(last["hash"]), keep, (GOVERNOR,), REF))
            status, answer = await _post(client, _wrapped(recovery))
            assert (status, answer["status"]) == (200, "pooled")
            held = (await (await client.get("/api/v1/governance")).json())["recoveries"]
            assert [r["hex"] for r in held] == [recovery.hex()]
            await wait_for(lambda: recovery in alive[1].held_recoveries(), 5,
                           "the recovery gossiped to the other survivor")
            cluster.clock_offset_ms = alive[0].state.params.recovery_after_ms + 1_000
            await wait_for(lambda: min(n.state.height for n in alive) >= last["height"] + 3, 20,
                           "blocks from the recovered set")
            history = await (await client.get("/api/v1/governance/history")).json()
        [entry] = [e for e in history["actions"] if e["kind"] == "recovery"]
        assert entry["hex"] == recovery.hex() and entry["position"] == 0
        assert entry["height"] == entry["effective_height"] == last["height"] + 1
        assert entry["reference"] == {"uri": REF.uri, "text": REF.text}
    finally:
        await cluster.stop_all()
