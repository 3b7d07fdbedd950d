"""WsTransport over real sockets on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from consensus.crypto import PrivateKey, sha256
from consensus.types import BlockHash
from faircoop_node.config import load_config
from faircoop_node.keys import load_node_key
from faircoop_node.net.envelope import (
    WIRE_FRAME_BYTES,
    MsgType,
    Part,
    Status,
    decode_reject,
    encode_envelope,
    encode_part,
    encode_status,
    encode_txs,
)
from faircoop_node.net.parts import wire_frames
from faircoop_node.net.transport import ChainIdentity, NetError, PeerId
from faircoop_node.net.ws import WsTransport
from faircoop_node.nodedir import init_node_dir
from tests.net.net_helpers import (
    CHAIN,
    FAST,
    TIP,
    Inbox,
    RawPeer,
    free_port,
    make_transport,
    running,
    serving,
    until,
)

pytestmark = pytest.mark.timeout(30)


async def test_handshake_connects_both_sides_with_tip_and_ids() -> None:
    b, b_inbox = make_transport()
    async with running(b):
        a, a_inbox = make_transport((b.url,), is_validator=True)
        async with running(a):
            await until(lambda: len(a.peers()) == 1 and len(b.peers()) == 1)
            (pa,), (pb,) = a.peers(), b.peers()
            assert pa.node_id == b.node_id and pa.outbound and pa.url == b.url
            assert pb.node_id == a.node_id and not pb.outbound and pb.is_validator
            assert (pa.tip_height, pa.tip_hash) == (TIP.height, TIP.block_hash)
            assert [e.connected for e in a_inbox.events] == [True]
            assert [e.info.node_id for e in b_inbox.events] == [a.node_id]
            (status,) = a.dial_status()
            assert status.connected and status.node_id == b.node_id and status.last_error == ""
            # a STATUS message updates the peer's known tip and still reaches the node
            new_tip = Status(9, BlockHash(sha256(b"nine")), 2)
            assert a.send(b.node_id, MsgType.STATUS, encode_status(new_tip))
            await until(lambda: b.peers()[0].tip_height == 9)
            assert b_inbox.messages == [(a.node_id, MsgType.STATUS, encode_status(new_tip))]


@pytest.mark.parametrize(
    ("chain", "reason"),
    [
        (ChainIdentity("other-chain", CHAIN.genesis_hash), "wrong chain id"),
        (ChainIdentity(CHAIN.chain_id, BlockHash(sha256(b"other genesis"))), "wrong genesis"),
    ],
)
async def test_mismatched_chain_is_rejected_with_reason(chain: ChainIdentity, reason: str) -> None:
    server, _ = make_transport()
    async with serving(server) as session:
        peer = RawPeer(session, chain=chain)
        await peer.open(server.url)
        await peer.send_hello()
        frames = await peer.read_until_closed()
        kinds = [f.msg_type for f in frames]
        assert kinds == [MsgType.HELLO, MsgType.REJECT]
        assert reason in decode_reject(frames[-1].payload)
        assert server.peers() == ()
        # the claimed node id was never proven, so it is not banned
        assert server.bans.node_ban(peer.key.public_key) is None


async def test_dialer_records_the_reject_reason() -> None:
    server, _ = make_transport(chain=ChainIdentity("other-chain", CHAIN.genesis_hash))
    async with running(server):
        client, _ = make_transport((server.url,))
        async with running(client):
            await until(lambda: "wrong chain id" in client.dial_status()[0].last_error)
            assert client.peers() == () and server.peers() == ()


async def test_bad_challenge_signature_is_rejected() -> None:
    server, inbox = make_transport()
    async with serving(server) as session:
        peer = RawPeer(session)
        await peer.handshake(server.url, signer=PrivateKey.generate())
        frames = await peer.read_until_closed()
        assert [f.msg_type for f in frames] == [MsgType.AUTH, MsgType.REJECT]
        assert "bad handshake signature" in decode_reject(frames[-1].payload)
        assert server.peers() == () and inbox.events == []


async def _connected_raw_peer(session: aiohttp.ClientSession, url: str,
                              key: PrivateKey | None = None) -> RawPeer:
    peer = RawPeer(session, key=key)
    await peer.handshake(url)
    return peer


@pytest.mark.parametrize("how", ["one frame over the wire limit", "a message over the limit",
                                 "a message over the limit, in parts"])
async def test_oversize_frame_disconnects_and_bans(how: str) -> None:
    limit = 4096 if how == "a message over the limit" else 100_000
    server, inbox = make_transport(limits=replace(FAST, max_frame_bytes=limit))
    async with serving(server) as session:
        peer = await _connected_raw_peer(session, server.url)
        await until(lambda: len(server.peers()) == 1)
        assert peer.ws is not None
        if how == "one frame over the wire limit":
            await peer.ws.send_bytes(encode_envelope(MsgType.TXS, encode_txs(
                (b"x" * WIRE_FRAME_BYTES,))))
        elif how == "a message over the limit":  # fits a frame, but the node's limit is lower
            await peer.ws.send_bytes(encode_envelope(MsgType.TXS, encode_txs((b"x" * 5000,))))
        else:
            for frame in wire_frames(encode_envelope(MsgType.TXS, encode_txs((b"x" * 200_000,)))):
                await peer.ws.send_bytes(frame)
        await peer.read_until_closed()
        expected = aiohttp.WSCloseCode.MESSAGE_TOO_BIG if how.startswith("one frame") else \
            aiohttp.WSCloseCode.POLICY_VIOLATION
        assert peer.ws.close_code == expected
        await until(lambda: server.peers() == ())
        ban = server.bans.node_ban(peer.key.public_key)
        assert ban is not None and ("oversize" in ban.reason or "over the" in ban.reason)
        assert inbox.messages == []
        # the banned node id can't come back
        again = RawPeer(session, key=peer.key)
        await again.open(server.url)
        await again.send_hello()
        frames = await again.read_until_closed()
        assert "banned" in decode_reject(frames[-1].payload)


async def test_malformed_frame_bans_peer_and_server_keeps_serving_others() -> None:
    server, inbox = make_transport()
    async with serving(server) as session:
        good, _ = make_transport((server.url,))
        async with running(good):
            await until(lambda: len(server.peers()) == 1)
            bad = await _connected_raw_peer(session, server.url)
            await until(lambda: len(server.peers()) == 2)
            assert bad.ws is not None
            await bad.ws.send_bytes(b"\xc1 this is not msgpack")
            frames = await bad.read_until_closed()
            assert "malformed frame" in decode_reject(frames[-1].payload)
            await until(lambda: [p.node_id for p in server.peers()] == [good.node_id])
            assert server.bans.node_ban(bad.key.public_key) is not None
            assert server.bans.node_ban(good.node_id) is None
            payload = encode_txs((b"tx-1",))
            assert good.send(server.node_id, MsgType.TXS, payload) is True
            await until(lambda: inbox.messages == [(good.node_id, MsgType.TXS, payload)])


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x93\x01\xcc\x0a\xc4\x00", "malformed frame"),  # non-minimal integer: not canonical
        (encode_envelope(MsgType.STATUS, b"\x01\x02"), "malformed status"),
        (b"\x93\x01\x63\xc4\x00", "malformed frame"),  # unknown message type 99
        (b"\x93\x02\x0a\xc4\x00", "malformed frame"),  # envelope version 2
    ],
)
async def test_bad_envelopes_ban(frame: bytes, reason: str) -> None:
    server, _ = make_transport()
    async with serving(server) as session:
        peer = await _connected_raw_peer(session, server.url)
        await until(lambda: len(server.peers()) == 1)
        assert peer.ws is not None
        await peer.ws.send_bytes(frame)
        frames = await peer.read_until_closed()
        assert reason in decode_reject(frames[-1].payload)
        assert server.bans.node_ban(peer.key.public_key) is not None


async def test_text_frame_and_replayed_hello_ban() -> None:
    server, _ = make_transport()
    async with serving(server) as session:
        p1 = await _connected_raw_peer(session, server.url)
        assert p1.ws is not None
        await p1.ws.send_str("hello")
        assert "text frames" in decode_reject((await p1.read_until_closed())[-1].payload)
        p2 = await _connected_raw_peer(session, server.url)
        await p2.send_hello()
        assert "HELLO after the handshake" in decode_reject(
            (await p2.read_until_closed())[-1].payload)
        assert server.bans.node_ban(p1.key.public_key) is not None
        assert server.bans.node_ban(p2.key.public_key) is not None


async def test_rate_flood_bans() -> None:
    limits = replace(FAST, rate_per_s=5.0, rate_burst=20)
    server, inbox = make_transport(limits=limits)
    async with serving(server) as session:
        peer = await _connected_raw_peer(session, server.url)
        assert peer.ws is not None
        frame = encode_envelope(MsgType.TXS, encode_txs((b"spam",)))
        for _ in range(100):
            if peer.ws.closed:
                break
            await peer.ws.send_bytes(frame)
        frames = await peer.read_until_closed()
        assert "rate budget" in decode_reject(frames[-1].payload)
        ban = server.bans.node_ban(peer.key.public_key)
        assert ban is not None and "rate" in ban.reason
        assert 1 <= len(inbox.messages) <= 21  # the burst got through, the flood did not


async def test_address_ban_refuses_new_connections_from_that_host() -> None:
    server, _ = make_transport(address_exempt=lambda host: False)
    async with serving(server) as session:
        peer = await _connected_raw_peer(session, server.url)
        assert peer.ws is not None
        await peer.ws.send_bytes(b"\xff")
        await peer.read_until_closed()
        await until(lambda: server.bans.address_ban("127.0.0.1") is not None)
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await RawPeer(session).open(server.url)
        assert info.value.status == 403


async def test_node_can_punish_a_peer() -> None:
    b, _ = make_transport()
    async with running(b):
        a, _ = make_transport((b.url,))
        async with running(a):
            await until(lambda: len(b.peers()) == 1)
            b.punish(a.node_id, "invalid vote signature")
            await until(lambda: b.peers() == () and a.peers() == ())
            ban = b.bans.node_ban(a.node_id)
            assert ban is not None and ban.reason == "invalid vote signature"
            await until(lambda: "invalid vote signature" in a.dial_status()[0].last_error
                        or "banned" in a.dial_status()[0].last_error)


async def test_reconnects_after_the_remote_restarts() -> None:
    port = free_port()
    key = PrivateKey.generate()
    b, _ = make_transport(key=key, port=port)
    await b.start()
    a, a_inbox = make_transport((b.url,), rng=random.Random(7))
    await a.start()
    try:
        await until(lambda: len(a.peers()) == 1)
        await b.stop()
        await until(lambda: a.peers() == ())
        # a dial while b is down failed (attempts alone counts the ended connection too)
        await until(lambda: a.dial_status()[0].last_error.startswith("cannot connect"))
        assert a.dial_status()[0].attempts >= 1
        b2, _ = make_transport(key=key, port=port)
        await b2.start()
        try:
            await until(lambda: len(a.peers()) == 1 and len(b2.peers()) == 1)
            assert a.peers()[0].node_id == key.public_key
            assert [e.connected for e in a_inbox.events] == [True, False, True]
            assert a.dial_status()[0].attempts == 0
        finally:
            await b2.stop()
    finally:
        await a.stop()


async def test_broadcast_reaches_every_peer_and_send_reaches_one() -> None:
    hub, hub_inbox = make_transport()
    async with running(hub):
        spokes = [make_transport((hub.url,)) for _ in range(3)]
        async with running(*(t for t, _ in spokes)):
            await until(lambda: len(hub.peers()) == 3)
            payload = encode_txs((b"a", b"b"))
            assert hub.broadcast(MsgType.TXS, payload) == 3
            for _, inbox in spokes:
                await until(lambda inbox=inbox: len(inbox.messages) == 1)
                assert inbox.messages == [(hub.node_id, MsgType.TXS, payload)]
            first = spokes[0][0].node_id
            assert hub.broadcast(MsgType.VOTE, b"v", exclude=frozenset({first})) == 2
            assert hub.send(spokes[1][0].node_id, MsgType.EVIDENCE, b"e")
            assert not hub.send(PeerId(b"\x02" * 33), MsgType.EVIDENCE, b"e")
            await until(lambda: [m[1] for m in spokes[1][1].messages]
                        == [MsgType.TXS, MsgType.VOTE, MsgType.EVIDENCE])
            assert [m[1] for m in spokes[0][1].messages] == [MsgType.TXS]
            for t, _ in spokes:  # and the other way: every spoke's message reaches the hub
                t.broadcast(MsgType.STATUS, encode_status(Status(1, TIP.block_hash, 0)))
            await until(lambda: len(hub_inbox.messages) == 3)
            assert {m[0] for m in hub_inbox.messages} == {t.node_id for t, _ in spokes}


async def test_send_refuses_handshake_types_and_oversize_payloads() -> None:
    b, _ = make_transport(limits=replace(FAST, max_frame_bytes=2048))
    with pytest.raises(NetError, match="handshake"):
        b.broadcast(MsgType.HELLO, b"")
    with pytest.raises(NetError, match="max_frame_bytes"):
        b.broadcast(MsgType.TXS, b"x" * 4096)


async def test_self_connection_is_dropped_and_not_redialed() -> None:
    port = free_port()
    me, inbox = make_transport((f"ws://127.0.0.1:{port}/p2p",), port=port)
    async with running(me):
        await until(lambda: me.dial_status()[0].is_self)
        dialer = me._dialers[me.dial_status()[0].url]
        await until(lambda: dialer.done())  # the URL is never dialed again
        assert dialer.exception() is None
        assert me.peers() == () and inbox.events == []
        assert me.dial_status()[0].last_error == "self connection"


async def test_simultaneous_dials_settle_on_one_connection() -> None:
    pa, pb = free_port(), free_port()
    a, _ = make_transport((f"ws://127.0.0.1:{pb}",), port=pa)
    b, b_inbox = make_transport((f"ws://127.0.0.1:{pa}",), port=pb)
    await asyncio.gather(a.start(), b.start())
    try:
        def one_socket() -> bool:  # each end holds one connection: the same socket
            at_a, at_b = a.peers(), b.peers()
            return len(at_a) == len(at_b) == 1 and at_a[0].outbound != at_b[0].outbound

        await until(one_socket)  # the duplicate resolved
        (ia,) = a.peers()
        dialer = a.node_id if ia.outbound else b.node_id
        assert dialer == min(a.node_id, b.node_id)
        assert a.send(b.node_id, MsgType.VOTE, b"v1")
        await until(lambda: b_inbox.messages != [])
        assert b_inbox.messages == [(a.node_id, MsgType.VOTE, b"v1")]
    finally:
        await a.stop()
        await b.stop()


async def test_listen_port_taken_is_a_clear_error() -> None:
    a, _ = make_transport()
    async with running(a):
        b, _ = make_transport(port=a.port)
        with pytest.raises(NetError, match="cannot listen"):
            await b.start()


async def test_inbound_peers_beyond_max_peers_are_refused() -> None:
    server, _ = make_transport(limits=replace(FAST, max_peers=1))
    async with serving(server) as session:
        first, _ = make_transport((server.url,))
        async with running(first):
            await until(lambda: len(server.peers()) == 1)
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await RawPeer(session).open(server.url)
            assert info.value.status == 503


async def test_silent_peer_is_dropped_after_the_handshake_timeout() -> None:
    server, _ = make_transport(limits=replace(FAST, handshake_timeout_s=0.2))
    async with serving(server) as session:
        peer = RawPeer(session)
        await peer.open(server.url)  # and never says Hello
        frames = await peer.read_until_closed()
        assert [f.msg_type for f in frames] == [MsgType.HELLO, MsgType.REJECT]
        assert "timed out" in decode_reject(frames[-1].payload)
        assert server.peers() == ()


async def test_nodes_made_by_init_connect_from_their_config(tmp_path: Path) -> None:
    """The glue the node runner uses: init_node_dir -> load_config/load_node_key -> transport."""
    pa, pb = free_port(), free_port()
    init_node_dir(tmp_path / "a", validator=True, p2p_port=pa, api_port=0,
                  peers=(f"ws://127.0.0.1:{pb}/p2p",))
    init_node_dir(tmp_path / "b", p2p_port=pb, api_port=0)
    transports = []
    for name in ("a", "b"):
        cfg = load_config(tmp_path / name / "config.toml", env={},
                          overrides=["limits.reconnect_min_s=0.05"])
        t = WsTransport.from_config(cfg, load_node_key(cfg.key_file), CHAIN, lambda: TIP)
        await t.start()
        transports.append(t)
    a, b = transports
    try:
        await until(lambda: len(a.peers()) == 1 and len(b.peers()) == 1)
        assert b.peers()[0].is_validator and not a.peers()[0].is_validator
        assert a.port == pa and b.port == pb
    finally:
        await a.stop()
        await b.stop()


async def test_a_stopped_transport_does_not_restart() -> None:
    t, _ = make_transport()
    await t.start()
    await t.stop()
    await t.stop()  # idempotent
    with pytest.raises(NetError, match="create a new one"):
        await t.start()


async def test_a_message_larger_than_a_frame_arrives_whole_through_parts() -> None:
    a, _ = make_transport()
    async with running(a):
        b, inbox = make_transport((a.url,))
        async with running(b):
            await _send_in_parts(a, b, inbox)


async def _send_in_parts(a: WsTransport, b: WsTransport, inbox: Inbox) -> None:
    if True:
        await until(lambda: len(a.peers()) == 1 and len(b.peers()) == 1)
        payload = encode_txs(tuple(bytes([i % 251]) * 1000 for i in range(600)))  # ~600 KB
        assert len(wire_frames(encode_envelope(MsgType.TXS, payload))) > 5
        small = encode_txs((b"after",))
        assert a.send(PeerId(b.node_id), MsgType.TXS, payload)
        assert a.send(PeerId(b.node_id), MsgType.TXS, small)
        await until(lambda: len(inbox.messages) == 2)
        assert [m[2] for m in inbox.messages] == [payload, small]
        assert a.backlog(PeerId(b.node_id)) == 0


def _parts_of(message: bytes) -> list[Part]:
    from faircoop_node.net.envelope import decode_part
    return [decode_part(decode_envelope_payload(f)) for f in wire_frames(message)]


def decode_envelope_payload(frame: bytes) -> bytes:
    from faircoop_node.net.envelope import decode_envelope
    return decode_envelope(frame).payload


BIG = encode_envelope(MsgType.TXS, encode_txs((b"y" * 150_000,)))


@pytest.mark.parametrize("case", ["a small message split", "a short middle piece",
                                  "the total changes", "a PART inside parts",
                                  "a PART before the handshake"])
async def test_parts_that_break_the_canonical_split_ban(case: str) -> None:
    server, inbox = make_transport()
    async with serving(server) as session:
        parts = _parts_of(BIG)
        if case == "a small message split":
            small = encode_envelope(MsgType.TXS, encode_txs((b"z" * 100,)))
            frames = [encode_envelope(MsgType.PART, encode_part(Part(WIRE_FRAME_BYTES + 1,
                                                                     small)))]
        elif case == "a short middle piece":
            frames = [encode_envelope(MsgType.PART, encode_part(Part(parts[0].total,
                                                                     parts[0].piece[:-1])))]
        elif case == "the total changes":
            frames = [encode_envelope(MsgType.PART, encode_part(parts[0])),
                      encode_envelope(MsgType.PART, encode_part(Part(parts[1].total + 1,
                                                                     parts[1].piece)))]
        elif case == "a PART inside parts":
            inner = encode_envelope(MsgType.PART, encode_part(Part(len(BIG), BIG[:100]))) + \
                b"\x00" * 100_000
            frames = list(wire_frames(inner))
        else:
            frames = list(wire_frames(BIG))
        if case == "a PART before the handshake":
            peer = RawPeer(session)
            await peer.open(server.url)
            assert peer.ws is not None
            await peer.ws.send_bytes(frames[0])
        else:
            peer = await _connected_raw_peer(session, server.url)
            await until(lambda: len(server.peers()) == 1)
            assert peer.ws is not None
            for frame in frames:
                await peer.ws.send_bytes(frame)
        await peer.read_until_closed()
        assert peer.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        await until(lambda: server.peers() == ())
        assert inbox.messages == []


async def test_a_full_reassembly_budget_drops_the_oldest_unfinished_message() -> None:
    server, inbox = make_transport(limits=replace(FAST, reassembly_bytes=200_000))
    async with serving(server) as session:
        slow, fast = (await _connected_raw_peer(session, server.url),
                      await _connected_raw_peer(session, server.url))
        await until(lambda: len(server.peers()) == 2)
        assert slow.ws is not None and fast.ws is not None
        frames = wire_frames(BIG)  # 3 frames of a ~150 KB message
        await slow.ws.send_bytes(frames[0])  # and never the rest
        await slow.ws.send_bytes(frames[1])
        held = sum(len(part.piece) for part in _parts_of(BIG)[:2])
        await until(lambda: server._parts.used == held)  # the server holds both pieces
        for frame in frames:
            await fast.ws.send_bytes(frame)
        await until(lambda: len(inbox.messages) == 1)
        assert inbox.messages[0][0] == PeerId(fast.key.public_key)
        await slow.read_until_closed()
        await until(lambda: [p.node_id for p in server.peers()] == [PeerId(fast.key.public_key)])
        assert server.bans.node_ban(slow.key.public_key) is None  # dropped, not banned


async def test_handshakes_under_way_count_against_max_peers_and_frames_before_it_are_small(
) -> None:
    server, _ = make_transport(limits=replace(FAST, max_peers=3))
    async with serving(server) as session:
        idle = [RawPeer(session) for _ in range(3)]
        for peer in idle:
            await peer.open(server.url)  # sockets that never finish the handshake
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await RawPeer(session).open(server.url)
        assert info.value.status == 503
        # a frame over the wire limit before the handshake is refused at its header
        assert idle[0].ws is not None
        await idle[0].ws.send_bytes(b"\x00" * (WIRE_FRAME_BYTES + 1))
        await idle[0].read_until_closed()
        assert idle[0].ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await until(lambda: sum(server._handshaking.values()) == 2)
        late = RawPeer(session)
        await late.open(server.url)  # a slot came free


async def test_handshakes_from_one_address_are_capped() -> None:
    server, _ = make_transport(limits=replace(FAST, max_handshakes_per_host=2),
                               address_exempt=lambda host: False)
    async with serving(server) as session:
        held = [RawPeer(session) for _ in range(2)]
        for peer in held:
            await peer.open(server.url)
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await RawPeer(session).open(server.url)
        assert info.value.status == 503


async def test_a_dialer_gone_before_the_upgrade_is_answered_logs_no_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    # Seen in the combined soak (issue 20): a validator resumed from SIGSTOP found a dial that
    # had given up on it, and aiohttp logged "Error handling request" with a traceback (the
    # reset while writing the 101). Here the loop is held while the dialer sends its upgrade
    # and resets, so the node finds both at once, as a resumed process does.
    server, _ = make_transport()
    async with serving(server):
        host, port = server.url.removeprefix("ws://").split("/")[0].split(":")
        request = (f"GET /p2p HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        for _ in range(5):
            with socket.create_connection((host, int(port))) as dialer:
                await asyncio.sleep(0.05)  # accepted
                dialer.sendall(request)
                dialer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  struct.pack("ii", 1, 0))  # close with a reset
            time.sleep(0.05)  # the node's loop is busy (stopped) meanwhile
            await asyncio.sleep(0.1)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_a_peer_whose_queue_passes_its_byte_bound_is_dropped_not_banned() -> None:
    server, _ = make_transport(limits=replace(FAST, send_queue_bytes=300_000))
    async with serving(server) as session:
        peer = await _connected_raw_peer(session, server.url)  # and never reads
        await until(lambda: len(server.peers()) == 1)
        target = PeerId(peer.key.public_key)
        payload = encode_txs((b"q" * 100_000,))
        sent = [server.send(target, MsgType.TXS, payload) for _ in range(20)]
        assert sent[0] and not all(sent)
        await until(lambda: server.peers() == ())
        assert server.bans.node_ban(peer.key.public_key) is None
