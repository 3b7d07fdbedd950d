"""Governance actions and recoveries travel between nodes: submitted to one, carried by any.

An action submitted to a node that is not the next proposer must still be carried (the pool
is gossiped), a recovery handed to one surviving validator must reach the others, and junk sent
as actions must cost its sender, never be pooled twice, and never stop the chain.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

import pytest

from consensus.chainstate import genesis_state
from consensus.errors import ValidationError
from consensus.governance import (
    Reference,
    SetParam,
    encode_block_action,
    make_action,
    make_recovery,
)
from consensus.types import BlockHash
from faircoop_node.net.envelope import MsgType, encode_actions
from faircoop_node.node.admission import MAX_ACTION_BYTES, Verdict, judge_action
from tests.builders import CHAIN_ID, key
from tests.node_runtime.harness import (
    VALIDATOR_KEYS,
    runtime_genesis,
    start_cluster,
    wait_for,
)
from tests.node_runtime.test_outsiders import _outsider, _punished

REF = Reference("https://coop.example/assembly/2026-12#3", "Assembly of 2026-12-01, item 3")
GOVERNOR = VALIDATOR_KEYS[0]  # the test genesis: governors = validators, threshold 1


def _param(nonce: int, value: int = 2_000, signer=GOVERNOR) -> bytes:
    return encode_block_action(make_action(CHAIN_ID, nonce, SetParam("dust_limit", value),
                                           (signer,), REF))


async def test_an_action_submitted_to_one_node_is_carried_by_whoever_proposes() -> None:
    cluster = await start_cluster(4)
    try:
        nodes = cluster.nodes()
        await wait_for(lambda: nodes[0].state.height >= 1, 15, "a block")
        s = nodes[0].state
        next_proposer = s.proposer(s.height + 1, 0)
        submit_to = next(n for n in nodes if n.pubkey != next_proposer)
        raw = _param(5)
        assert await submit_to.submit_action(raw) == "pooled"
        assert await submit_to.submit_action(raw) == "already_pooled"  # not pooled twice
        await wait_for(lambda: all(raw in n.driver.actions or n.state.params.dust_limit == 2_000
                                   for n in nodes), 5, "the action in every pool")
        await wait_for(lambda: all(n.state.params.dust_limit == 2_000 for n in nodes), 20,
                       "the new parameter in force everywhere")
        included = [b for h in range(1, nodes[0].state.height + 1)
                    if (b := nodes[0].store.get_block_at(h)) is not None and raw in b.actions]
        assert len(included) == 1  # carried once
        assert all(raw not in n.driver.actions for n in nodes)  # and gone from every pool
        with pytest.raises(ValidationError, match="replayed"):
            await submit_to.submit_action(raw)  # its nonce is used now
    finally:
        await cluster.stop_all()


async def test_a_recovery_handed_to_one_survivor_reaches_the_others() -> None:
    cluster = await start_cluster(4)
    try:
        alive = cluster.nodes()[:2]
        await wait_for(lambda: min(n.state.height for n in alive) >= 2, 15, "two blocks")
        for slot in cluster.slots[2:]:
            await cluster.stop(slot)  # half the validators gone: no quorum any more
        await wait_for(lambda: alive[0].state.height == alive[1].state.height, 5, "the stall")
        stalled = alive[0].state
        keep = tuple(v for v in cluster.genesis.validators
                     if v.pubkey in {n.pubkey for n in alive})
        recovery = encode_block_action(make_recovery(
            CHAIN_ID, stalled.height, stalled.last_block_id, keep, (GOVERNOR,), REF))
        assert await alive[0].submit_action(recovery) == "pooled"  # one survivor only
        await wait_for(lambda: recovery in alive[1].driver.recoveries, 5,
                       "the recovery gossiped to the other survivor")
        await asyncio.sleep(0.3)
        assert alive[0].state.height == stalled.height  # too early: its wait is not over
        cluster.clock_offset_ms = stalled.params.recovery_after_ms + 1_000  # time passes
        await wait_for(lambda: min(n.state.height for n in alive) >= stalled.height + 3, 20,
                       "blocks from the recovered set")
        first = alive[1].store.get_block_at(stalled.height + 1)
        assert first is not None and first.actions[0] == recovery
    finally:
        await cluster.stop_all()


async def test_junk_actions_cost_their_sender_and_never_stop_the_chain() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 1, 15, "a block")
        real = make_action(CHAIN_ID, 9, SetParam("dust_limit", 3_000), (GOVERNOR,), REF)
        forged = encode_block_action(replace(real, signatures=((real.signatures[0][0],
                                                                 os.urandom(64)),)))
        liar = await _outsider(cluster, seed=571)
        liar.broadcast(MsgType.ACTIONS, encode_actions((forged,)))
        await wait_for(lambda: _punished(cluster, liar.node_id), 5, "the forger punished")
        other_chain = await _outsider(cluster, seed=572)
        wrong = encode_block_action(make_action("another-chain", 1, SetParam("dust_limit", 3_000),
                                                (GOVERNOR,), REF))
        other_chain.broadcast(MsgType.ACTIONS, encode_actions((wrong,)))
        await wait_for(lambda: _punished(cluster, other_chain.node_id), 5, "wrong chain punished")
        # a stranger's well-formed action proves nothing: dropped, no signature costs a ban
        stranger = await _outsider(cluster, seed=573)
        not_governor = _param(11, signer=key(574))
        stranger.broadcast(MsgType.ACTIONS, encode_actions((not_governor,)))
        await cluster.network.settle()
        assert not _punished(cluster, stranger.node_id)
        assert all(not_governor not in n.driver.actions for n in cluster.nodes())
        height = node.state.height
        await wait_for(lambda: node.state.height >= height + 2, 10, "the chain going on")
        assert all(forged not in n.driver.actions for n in cluster.nodes())
    finally:
        await cluster.stop_all()


def test_what_admission_does_with_each_kind_of_action() -> None:
    genesis = runtime_genesis()
    state = genesis_state(genesis)
    good = _param(0)
    other = replace(make_action(CHAIN_ID, 0, SetParam("dust_limit", 9_999), (GOVERNOR,), REF))
    stale_recovery = encode_block_action(make_recovery(
        CHAIN_ID, 5, BlockHash(bytes(32)), genesis.validators, (GOVERNOR,), REF))
    tip_recovery = encode_block_action(make_recovery(
        CHAIN_ID, 0, state.last_block_id, genesis.validators, (GOVERNOR,), REF))
    cases = [
        ("a governor's action", good, (), Verdict.ACCEPT, ""),
        ("held already", good, (good,), Verdict.DROP, ""),
        ("a stranger's", _param(1, signer=key(575)), (), Verdict.DROP, "not_a_governor"),
        ("a nonce far ahead", _param(5_000), (), Verdict.DROP, "nonce_too_far"),
        ("a forged signature", encode_block_action(replace(other, signatures=(
            (other.signatures[0][0], bytes(64)),))), (), Verdict.PUNISH,
         "bad_governor_signature"),
        ("junk bytes", b"\x93\x01\x02", (), Verdict.PUNISH, "decode"),
        ("oversize", b"\x00" * (MAX_ACTION_BYTES + 1), (), Verdict.PUNISH, ""),
        ("a recovery at another tip", stale_recovery, (), Verdict.DROP, "recovery_not_at_tip"),
        ("a recovery at our tip", tip_recovery, (), Verdict.ACCEPT, ""),
    ]
    for name, raw, held, verdict, rule in cases:
        judgement, _ = judge_action(state, raw, held)
        assert (judgement.verdict, judgement.rule) == (verdict, rule), (name, judgement)
