"""The in-memory transport keeps the Transport contract without sockets."""

from __future__ import annotations

import pytest

from consensus.crypto import sha256
from consensus.types import BlockHash
from faircoop_node.net.envelope import MsgType, encode_txs
from faircoop_node.net.memory import MemoryNetwork, MemoryTransport
from faircoop_node.net.transport import ChainIdentity, NetError
from tests.net.net_helpers import CHAIN, TIP, Inbox


def _node(net: MemoryNetwork, n: int, chain: ChainIdentity = CHAIN
          ) -> tuple[MemoryTransport, Inbox]:
    t = net.transport(bytes([2]) + bytes([n]) * 32, chain, lambda: TIP, is_validator=n % 2 == 0)
    inbox = Inbox()
    t.set_handlers(inbox.on_message, inbox.on_peer)
    return t, inbox


async def test_messages_flow_in_order_only_over_links() -> None:
    net = MemoryNetwork()
    (a, ai), (b, bi), (c, ci) = (_node(net, i) for i in range(3))
    for t in (a, b, c):
        await t.start()
    await net.connect(a.node_id, b.node_id)
    assert [e.connected for e in ai.events] == [True] and bi.events[0].info.node_id == a.node_id
    for i in range(5):
        assert a.send(b.node_id, MsgType.VOTE, bytes([i]))
    assert not a.send(c.node_id, MsgType.VOTE, b"x")  # no link
    assert a.broadcast(MsgType.TXS, encode_txs((b"t",))) == 1
    await net.settle()
    assert [m[2] for m in bi.messages] == [bytes([i]) for i in range(5)] + [encode_txs((b"t",))]
    assert ci.messages == []
    assert {p.node_id for p in a.peers()} == {b.node_id}
    assert a.peers()[0].tip_height == TIP.height
    for t in (a, b, c):
        await t.stop()


async def test_connect_refuses_wrong_chain_and_genesis_and_self() -> None:
    net = MemoryNetwork()
    a, _ = _node(net, 1)
    b, _ = _node(net, 2, ChainIdentity("other", CHAIN.genesis_hash))
    c, _ = _node(net, 3, ChainIdentity(CHAIN.chain_id, BlockHash(sha256(b"g2"))))
    for t in (a, b, c):
        await t.start()
    with pytest.raises(NetError, match="wrong chain id"):
        await net.connect(a.node_id, b.node_id)
    with pytest.raises(NetError, match="wrong genesis"):
        await net.connect(a.node_id, c.node_id)
    with pytest.raises(NetError, match="self"):
        await net.connect(a.node_id, a.node_id)
    assert a.peers() == ()


async def test_punish_disconnects_and_bans() -> None:
    net = MemoryNetwork()
    (a, ai), (b, _) = _node(net, 1), _node(net, 2)
    await a.start()
    await b.start()
    await net.connect(a.node_id, b.node_id)
    a.punish(b.node_id, "bad vote")
    assert not net.linked(a.node_id, b.node_id)
    assert not b.send(a.node_id, MsgType.VOTE, b"v")
    await net.settle()
    assert ai.events[-1].connected is False and ai.events[-1].reason == "bad vote"
    with pytest.raises(NetError, match="banned: bad vote"):
        await net.connect(a.node_id, b.node_id)
    assert [(p.by, p.peer, p.reason) for p in net.punishments] == [(a.node_id, b.node_id,
                                                                   "bad vote")]


async def test_frame_limit_and_handshake_types_apply() -> None:
    net = MemoryNetwork(max_frame_bytes=1024)
    a, _ = _node(net, 1)
    await a.start()
    with pytest.raises(NetError, match="max_frame_bytes"):
        a.broadcast(MsgType.BLOCK, b"x" * 2000)
    with pytest.raises(NetError, match="handshake"):
        a.broadcast(MsgType.AUTH, b"")


async def test_stopped_node_disappears_for_its_peers() -> None:
    net = MemoryNetwork()
    (a, ai), (b, _), (c, _) = (_node(net, i) for i in range(3))
    for t in (a, b, c):
        await t.start()
    await net.connect_all()
    assert len(a.peers()) == 2
    await b.stop()
    assert {p.node_id for p in a.peers()} == {c.node_id}
    assert ai.events[-1].info.node_id == b.node_id and not ai.events[-1].connected
    assert a.broadcast(MsgType.VOTE, b"v") == 1


async def test_a_handler_bug_is_logged_with_its_traceback_and_delivery_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    net = MemoryNetwork()
    (a, _), (b, bi) = _node(net, 1), _node(net, 2)

    async def buggy(peer: bytes, msg_type: MsgType, payload: bytes) -> None:
        if payload == b"bad":
            raise ZeroDivisionError("a handler bug")
        await bi.on_message(peer, msg_type, payload)

    b.set_handlers(buggy, bi.on_peer)
    for t in (a, b):
        await t.start()
    await net.connect(a.node_id, b.node_id)
    with caplog.at_level("ERROR", logger="faircoop.net.memory"):
        a.send(b.node_id, MsgType.VOTE, b"bad")
        a.send(b.node_id, MsgType.VOTE, b"good")
        await net.settle()
    assert [m[2] for m in bi.messages] == [b"good"]
    (record,) = [r for r in caplog.records if r.name == "faircoop.net.memory"]
    assert record.getMessage() == "message_handler_failed"
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    for t in (a, b):
        await t.stop()
