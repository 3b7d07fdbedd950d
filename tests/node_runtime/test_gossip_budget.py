"""What a node sends besides its own votes, kept to what peers need: what we signed goes again
to a peer that just connected (and not to everyone every second), and STATUS goes out when
peers have not heard from us, not on every block."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import replace

from faircoop_node.net.envelope import MsgType
from faircoop_node.net.transport import PeerId
from tests.builders import key
from tests.node_runtime.harness import (
    FAST_OPTIONS,
    FAST_PARAMS,
    VALIDATOR_KEYS,
    Cluster,
    runtime_genesis,
    start_cluster,
    wait_for,
)

SLOW_ROUNDS = replace(FAST_PARAMS, timeout_propose_ms=60_000, timeout_vote_ms=60_000)
NO_STALL_RESEND = replace(FAST_OPTIONS, gossip_s=60.0)


async def test_peers_that_reconnect_get_what_was_signed_while_they_were_cut_off() -> None:
    """Two of four validators are cut off: the other two stall (no quorum) with their votes
    for the height sent into the void. Round timeouts and the stall re-send are a minute
    away, so only the re-send to each peer that connects can finish the height."""
    genesis = replace(runtime_genesis(), params=SLOW_ROUNDS)
    cluster = Cluster(genesis)
    for k in VALIDATOR_KEYS:
        cluster.add(k, validator=True, options=NO_STALL_RESEND)
    for slot in cluster.slots:
        await cluster.start(slot)
    try:
        nodes = cluster.nodes()
        await wait_for(lambda: min(n.state.height for n in nodes) >= 2, 20, "height 2")
        cut = cluster.slots[2:]
        for slot in cut:
            for other in cluster.slots:
                if other is not slot:
                    await cluster.network.disconnect(slot.key.public_key, other.key.public_key)
        stalled = max(n.state.height for n in nodes)
        await asyncio.sleep(1.5)  # everyone signs what it can at the next height, then waits
        assert max(n.state.height for n in nodes) <= stalled + 1, "no quorum, no progress"
        before = max(n.state.height for n in nodes)
        started = time.monotonic()
        await cluster.network.connect_all()
        await wait_for(lambda: min(n.state.height for n in nodes) >= before + 2, 10,
                       "two more heights after the reconnect")
        assert time.monotonic() - started < 10
        assert all(n.counters.regossips == 0 for n in nodes), "no stall re-send was needed"
    finally:
        await cluster.stop_all()


async def test_a_validator_deciding_blocks_sends_no_status_and_an_observer_does() -> None:
    """Validators' votes tell every peer their height, so while blocks are decided they send
    no STATUS; an observer signs nothing, so it says where it is every `status_s`."""
    cluster = await start_cluster(4)
    observer = cluster.add(key(77), validator=False)
    await cluster.start(observer)
    sent: Counter[bytes] = Counter()  # sender -> STATUS broadcasts
    try:
        for slot in cluster.slots:
            inner = slot.transport.broadcast

            def counting(msg_type: MsgType, payload: bytes,
                         exclude: frozenset[PeerId] = frozenset(), inner=inner,
                         me: bytes = slot.key.public_key) -> int:
                if msg_type == MsgType.STATUS:
                    sent[me] += 1
                return inner(msg_type, payload, exclude)

            slot.transport.broadcast = counting  # type: ignore[method-assign]
        first = cluster.nodes()[0]
        await wait_for(lambda: first.state.height >= 3, 15, "height 3")
        await asyncio.sleep(2 * FAST_OPTIONS.status_s)  # the start's neighbor news is told
        sent.clear()
        start, began = first.state.height, time.monotonic()
        await wait_for(lambda: min(n.state.height for n in cluster.nodes()) >= start + 8, 20,
                       "eight more blocks")
        elapsed = time.monotonic() - began
        validators = [s.key.public_key for s in cluster.slots if s.validator]
        assert all(sent[v] == 0 for v in validators), sent
        expected = int(elapsed / FAST_OPTIONS.status_s)
        assert expected - 2 <= sent[observer.key.public_key] <= expected + 1, (sent, elapsed)
    finally:
        await cluster.stop_all()


async def test_a_peer_seen_to_leave_and_return_on_our_side_only_still_gets_no_relayed_votes(
) -> None:
    """Two connections to one peer race: our side sees the peer leave and come back, the
    peer sees nothing and says nothing new. What it last said of its neighbors still holds,
    so we relay it no vote it got first-hand (forgetting that meant relaying it every vote,
    for good, since a deciding validator sends no periodic STATUS)."""
    from consensus.votes import decode_vote

    cluster = await start_cluster(4)
    relayed: list[bytes] = []  # signatures of votes b got from a that a did not sign
    a, b = cluster.slots[0], cluster.slots[1]
    try:
        assert b.node is not None
        inner = b.node._on_message

        async def counting(peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
            if msg_type == MsgType.VOTE and peer == a.key.public_key:
                vote = decode_vote(payload)
                if vote.validator != peer:
                    relayed.append(vote.signature)
            await inner(peer, msg_type, payload)

        b.transport.set_handlers(counting, b.node._on_peer)
        first = cluster.nodes()[0]
        await wait_for(lambda: first.state.height >= 3, 15, "height 3")
        await asyncio.sleep(2 * FAST_OPTIONS.status_s)  # everyone's neighbor news is told
        await a.transport.peer_event(b.transport, False, "duplicate connection")
        await a.transport.peer_event(b.transport, True, "")
        relayed.clear()
        start = first.state.height
        await wait_for(lambda: min(n.state.height for n in cluster.nodes()) >= start + 5, 20,
                       "five more blocks")
        assert relayed == [], f"{len(relayed)} votes relayed to a peer that had them"
    finally:
        await cluster.stop_all()


async def test_what_disconnected_peers_said_is_kept_for_the_newest_few_only() -> None:
    from faircoop_node.net.envelope import Status, encode_status
    from faircoop_node.node.peers import GONE_KEPT

    cluster = await start_cluster(1)
    try:
        node = cluster.nodes()[0]
        status = encode_status(Status(0, node.state.last_block_id, 0, b"\x01"))
        ids = [PeerId(bytes([2]) + i.to_bytes(32, "big")) for i in range(GONE_KEPT + 40)]
        for peer in ids:
            await node.peers.admit(peer, MsgType.STATUS, status)
            node.peers.forget(peer)
        kept = set(node.peers._neighbors)
        assert kept == set(ids[-GONE_KEPT:]), (len(kept), GONE_KEPT)
        await node.peers.admit(ids[0], MsgType.STATUS, status)  # back, and says so
        assert ids[0] in node.peers._neighbors and ids[0] not in node.peers._gone
    finally:
        await cluster.stop_all()


async def test_a_status_from_ahead_of_us_is_read_once_we_get_there() -> None:
    """A peer's STATUS may name its neighbors over a height we have not reached (it is ahead,
    as at start-up). Once we get there its bits are read; until then we relay to it. (The
    old decode kept 'no neighbors' for good: every vote relayed to that peer.)"""
    from consensus.votes import decode_vote
    from faircoop_node.net.envelope import Status, encode_status, neighbor_bits

    cluster = await start_cluster(4)
    a, b = cluster.slots[0], cluster.slots[1]
    relayed: list[bytes] = []
    try:
        assert a.node is not None and b.node is not None
        inner = b.node._on_message

        async def counting(peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
            if msg_type == MsgType.VOTE and peer == a.key.public_key and \
                    decode_vote(payload).validator != peer:
                relayed.append(payload)
            await inner(peer, msg_type, payload)

        b.transport.set_handlers(counting, b.node._on_peer)
        node_a = a.node
        await wait_for(lambda: node_a.state.height >= 2, 15, "height 2")
        await asyncio.sleep(2 * FAST_OPTIONS.status_s)
        ahead = node_a.state.height + 3
        others = [s.key.public_key for s in cluster.slots if s is not b]
        bits = neighbor_bits(node_a.state.voting_set(), others)
        await node_a.peers.admit(PeerId(b.key.public_key), MsgType.STATUS, encode_status(
            Status(ahead, node_a.state.last_block_id, 0, bits)))
        await wait_for(lambda: node_a.state.height >= ahead + 1, 15, "past the peer's height")
        relayed.clear()
        start = node_a.state.height
        await wait_for(lambda: min(n.state.height for n in cluster.nodes()) >= start + 5, 20,
                       "five more blocks")
        assert relayed == [], f"{len(relayed)} votes relayed to a peer that had them"
    finally:
        await cluster.stop_all()
