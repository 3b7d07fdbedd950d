"""The node's duties beyond agreeing on blocks: the production gate, evidence, governance."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from consensus import codec
from consensus.crypto import sha256
from consensus.engine import Step
from consensus.governance import (
    SetParam,
    encode_action,
    encode_recovery,
    make_action,
    make_recovery,
)
from consensus.types import COIN, OutPoint
from consensus.votes import NIL, VoteType, decode_certificate, encode_vote, sign_vote
from faircoop_node.logs import record_fields
from faircoop_node.net.envelope import MsgType
from faircoop_node.net.transport import ChainIdentity, Tip
from faircoop_node.node import Node
from tests.builders import CHAIN_ID, key, make_tx, single
from tests.node_runtime.harness import (
    FAST_OPTIONS,
    FAST_PARAMS,
    VALIDATOR_KEYS,
    inbox_options,
    lose_quorum,
    payments,
    start_cluster,
    wait_for,
)


async def test_the_gate_is_timed_not_polled() -> None:
    """With a tick once a minute, heartbeat blocks still come on time, and a tx wakes an
    idle gate at once: the node computes when its gate opens, and a commit or a tx entering
    an empty pool re-times it (polling it every 20 ms cost an idle validator a quarter of
    its CPU)."""
    cluster = await start_cluster(4, params=replace(FAST_PARAMS, heartbeat_ms=3_000))
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 1, 20, "the first block")
        for running in cluster.nodes():  # started (joining takes ticks): now a minute apart
            running.options = replace(running.options, tick_s=60.0)
        await wait_for(lambda: node.state.height >= 3, 20, "heartbeat blocks")
        height = node.state.height
        await wait_for(lambda: node.state.height > height, 10, "the next heartbeat block")
        since_block = time.monotonic()  # the next heartbeat is about 3 s away
        tx = payments(cluster.genesis, 1)[0]
        await node.submit_tx(tx)
        await wait_for(lambda: node.store.get_tx_location(codec.txid(tx)) is not None, 10,
                       "the tx to be final")
        took = time.monotonic() - since_block
        assert took < 1.5, f"the tx waited {took:.2f} s: for the heartbeat, not for a block"
        where = node.store.get_tx_location(codec.txid(tx))
        assert where is not None and where.height == height + 2
    finally:
        await cluster.stop_all()


async def test_idle_chain_makes_blocks_at_the_heartbeat_busy_chain_at_once() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 5, 15, "five idle blocks")
        blocks = [node.store.get_block_at(h) for h in range(2, 6)]
        times = [b.header.time_ms for b in blocks if b is not None]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # idle: a block only after heartbeat_ms without txs (a little clock slack allowed)
        assert all(g >= FAST_PARAMS.heartbeat_ms - 50 for g in gaps), gaps
        # busy: a tx is final long before the next heartbeat would have come
        tx = payments(cluster.genesis, 1)[0]
        start = node.state.height
        await node.submit_tx(tx)
        await wait_for(lambda: node.store.get_tx_location(codec.txid(tx)) is not None, 10,
                       "the tx to be final")
        where = node.store.get_tx_location(codec.txid(tx))
        assert where is not None and where.height <= start + 2
    finally:
        await cluster.stop_all()


async def test_equivocation_is_caught_pooled_and_punished_on_chain() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 2, 15, "two blocks")
        offender = VALIDATOR_KEYS[3]
        # a peer relays two different prevotes the offender signed for one (height, round)
        chain = ChainIdentity(CHAIN_ID, codec.genesis_hash(cluster.genesis))
        relay = cluster.network.transport(key(555).public_key, chain,
                                          lambda: Tip(0, codec.genesis_hash(cluster.genesis)))
        await relay.start()
        await cluster.network.connect(relay.node_id, node.pubkey)
        h = node.state.height + 1
        a = sign_vote(offender, CHAIN_ID, VoteType.PREVOTE, h, 0, NIL)
        b = sign_vote(offender, CHAIN_ID, VoteType.PREVOTE, h, 0, sha256(b"phantom"))
        for v in (a, b):
            relay.broadcast(MsgType.VOTE, encode_vote(v))
        pub = offender.public_key

        def suspended_everywhere() -> bool:
            return all(any(v.pubkey == pub for v in n.state.suspended) for n in cluster.nodes())

        await wait_for(suspended_everywhere, 15, "the offender suspended on every node")
        blocks = [node.store.get_block_at(h) for h in range(1, node.state.height + 1)]
        carried = [b for b in blocks if b is not None and b.evidence]
        assert len(carried) == 1
        assert pub not in node.state.proposer_rotation()
        await relay.stop()
    finally:
        await cluster.stop_all()


async def test_governance_action_from_the_inbox_is_carried_and_takes_effect(
        tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cluster = await start_cluster(4, {0: replace(FAST_OPTIONS, inbox=inbox, inbox_s=0.05)})
    try:
        governor = VALIDATOR_KEYS[0]  # the test genesis: governors = validators, threshold 1
        action = make_action(CHAIN_ID, 7, SetParam("dust_limit", 2_000), (governor,))
        (inbox / "dust.action").write_text(encode_action(action).hex() + "\n")
        await wait_for(lambda: all(n.state.params.dust_limit == 2_000 for n in cluster.nodes()),
                       20, "the new parameter in force everywhere")
        assert (inbox / "dust.action.included").exists()
        assert not (inbox / "dust.action").exists()
        # an unreadable file is logged and skipped; the node keeps committing
        (inbox / "junk.action").write_text("not hex\n")
        node = cluster.nodes()[0]
        later = node.state.height + 2
        await wait_for(lambda: node.state.height >= later, 10, "blocks after a junk file")
        assert (inbox / "junk.action").exists()
    finally:
        await cluster.stop_all()


async def test_a_peer_sending_garbage_is_punished_and_the_chain_goes_on() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        chain = ChainIdentity(CHAIN_ID, codec.genesis_hash(cluster.genesis))
        liar = cluster.network.transport(key(556).public_key, chain,
                                         lambda: Tip(0, codec.genesis_hash(cluster.genesis)))
        await liar.start()
        await cluster.network.connect(liar.node_id, node.pubkey)
        liar.broadcast(MsgType.VOTE, b"\x93\x01\x02\x03")
        await wait_for(lambda: any(p.peer == liar.node_id
                                   for p in cluster.network.punishments), 5,
                       "the garbage sender punished")
        assert not cluster.network.linked(liar.node_id, node.pubkey)
        height = node.state.height
        await wait_for(lambda: node.state.height >= height + 2, 10, "more blocks")
        await liar.stop()
    finally:
        await cluster.stop_all()


async def test_late_precommits_make_it_into_the_carried_certificate() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 6, 15, "six blocks")
        blocks = [node.store.get_block_at(h) for h in range(2, 7)]
        sizes = [len(decode_certificate(b.last_commit).signatures) for b in blocks if b]
        # the engine decides on 3 of 4; the proposer of the next block adds the 4th it heard
        assert max(sizes) == 4 and min(sizes) >= 3, sizes
        voted = [node.state.participation_of(k.public_key).voted for k in VALIDATOR_KEYS]
        assert all(v >= 1 for v in voted), voted
    finally:
        await cluster.stop_all()


async def test_a_pooled_tx_gone_bad_is_dropped_and_the_rest_still_gets_in() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        good = payments(cluster.genesis, 1, fee=5_000)[0]
        # a zero-fee tx slipped into one node's pool under looser rules (as after a fee rise)
        free = make_tx([(OutPoint(codec.txid(good), 0), single(key(1000)), [key(1000)])],
                       [(codec.policy_lock(single(key(1))), 10 * COIN)], chain_id=CHAIN_ID)
        await node.submit_tx(good)
        node.mempool.add(free, node.store, replace(node.state.params, min_fee_rate=0))
        assert codec.txid(free) in node.mempool
        await wait_for(lambda: node.store.get_tx_location(codec.txid(good)) is not None, 15,
                       "the good tx final")
        await wait_for(lambda: codec.txid(free) not in node.mempool, 15,
                       "the bad tx dropped when its proposer rebuilt the block")
        later = node.state.height + 2
        await wait_for(lambda: node.state.height >= later, 10, "blocks after the drop")
        assert node.store.get_tx_location(codec.txid(free)) is None
    finally:
        await cluster.stop_all()



async def test_relay_carries_consensus_along_a_line_of_peers() -> None:
    # 0 - 1 - 2 - 3: nobody hears every validator directly; relays make up the mesh
    cluster = await start_cluster(4, links=[(0, 1), (1, 2), (2, 3)])
    try:
        ends = cluster.nodes()[0], cluster.nodes()[3]
        tx = payments(cluster.genesis, 1)[0]
        await ends[0].submit_tx(tx)
        await wait_for(lambda: all(n.store.get_tx_location(codec.txid(tx)) is not None
                                   for n in cluster.nodes()), 15, "the tx final at both ends")
        await wait_for(lambda: min(n.state.height for n in cluster.nodes()) >= 3, 15,
                       "three blocks everywhere")
        top = min(n.state.height for n in cluster.nodes())
        assert len({n.store.get_hash_at(top) for n in cluster.nodes()}) == 1
        # a vote signed by a non-validator is not passed on
        chain = ChainIdentity(CHAIN_ID, codec.genesis_hash(cluster.genesis))
        outsider = cluster.network.transport(key(557).public_key, chain,
                                             lambda: Tip(0, codec.genesis_hash(cluster.genesis)))
        await outsider.start()
        await cluster.network.connect(outsider.node_id, ends[0].pubkey)
        fake = sign_vote(key(557), CHAIN_ID, VoteType.PREVOTE, ends[0].state.height + 1, 0, NIL)
        outsider.broadcast(MsgType.VOTE, encode_vote(fake))
        real = sign_vote(VALIDATOR_KEYS[1], CHAIN_ID, VoteType.PREVOTE,
                         ends[0].state.height + 1, 7, NIL)
        outsider.broadcast(MsgType.VOTE, encode_vote(real))
        await wait_for(lambda: real.signature in ends[0].seen, 5, "the real vote relayed")
        assert fake.signature not in ends[0].seen
        await outsider.stop()
    finally:
        await cluster.stop_all()


def _waits_for_votes(node: Node) -> bool:
    """The node has voted at the height after its tip and waits for votes (no decision)."""
    engine = node.driver.engine
    return engine is not None and engine.height == node.state.height + 1 and \
        engine.step >= Step.PREVOTE and not engine.decided


def _nodes_that_refused(caplog: pytest.LogCaptureFixture, rule: str) -> set[str]:
    return {f["node"] for f in map(record_fields, caplog.records)
            if f["event"] == "recovery_refused" and f.get("rule") == rule}


async def test_lost_quorum_is_recovered_by_a_governors_recovery_in_the_inbox(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    options = inbox_options(tmp_path)
    inboxes = [o.inbox for o in options.values()]
    cluster = await start_cluster(4, options)
    try:
        alive = await lose_quorum(cluster)  # half the validators gone
        # the stall: both have voted at the next height and wait for votes that cannot come
        await wait_for(lambda: alive[0].state.height == alive[1].state.height and
                       all(_waits_for_votes(n) for n in alive), 5, "the stall")
        stalled = alive[0].state
        # the governors (here: validator 0 alone, threshold 1) name the two that remain
        keep = tuple(v for v in cluster.genesis.validators
                     if v.pubkey in {n.pubkey for n in alive})
        recovery = make_recovery(CHAIN_ID, stalled.height, stalled.last_block_id, keep,
                                 (VALIDATOR_KEYS[0],))
        for d in inboxes:
            (d / f"recovery-{stalled.height}.action").write_text(
                encode_recovery(recovery).hex())
        await wait_for(lambda: len(_nodes_that_refused(caplog, "recovery_too_early")) == 2, 5,
                       "both nodes reading the recovery and refusing it as too early")
        assert alive[0].state.height == stalled.height  # recovery_after_ms is not over
        cluster.clock_offset_ms = stalled.params.recovery_after_ms + 1_000  # time passes
        await wait_for(lambda: min(n.state.height for n in alive) >= stalled.height + 3, 20,
                       "blocks from the recovered set")
        first = alive[0].store.get_block_at(stalled.height + 1)  # nothing was final between
        assert first is not None and first.actions[0] == encode_recovery(recovery)
        assert set(alive[1].state.voting_set()) == {n.pubkey for n in alive}
        assert alive[0].store.get_hash_at(stalled.height + 2) == \
            alive[1].store.get_hash_at(stalled.height + 2)
    finally:
        await cluster.stop_all()
