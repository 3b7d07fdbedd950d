"""BlockServer's per-peer bound: one answer in hand, and no new one while an answer's worth
is still queued to the peer; anything less queued (gossip) does not hold a request back."""

from __future__ import annotations

import asyncio

import pytest

from faircoop_node.net.envelope import GetBlocks, MsgType, encode_get_blocks
from faircoop_node.net.transport import PeerId
from faircoop_node.node.serve import BlockServer
from faircoop_node.node.sync import MAX_RESPONSE_BYTES

PEER = PeerId(b"p" * 33)


class QueuedTransport:
    """A transport with `queued` bytes waiting to go to every peer; records what is sent."""

    def __init__(self, queued: int) -> None:
        self.queued = queued
        self.sent: list[tuple[PeerId, MsgType]] = []

    def backlog(self, peer: PeerId) -> int:
        return self.queued

    def send(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> bool:
        self.sent.append((peer, msg_type))
        return True


# Before issue 20 any backlog refused the request: a peer behind a slow link under load always
# has votes and txs queued to it, so it was never served and could not sync.
@pytest.mark.parametrize(("queued", "served"), [
    (0, True),
    (20_000, True),  # votes and txs gossiped to a slow peer
    (MAX_RESPONSE_BYTES, True),
    (MAX_RESPONSE_BYTES + 1, False),  # an answer's worth still waits: it is refused
])
async def test_a_request_is_refused_only_while_an_answers_worth_is_queued(
        queued: int, served: bool) -> None:
    transport = QueuedTransport(queued)
    server = BlockServer(store=None, transport=lambda: transport,  # type: ignore[arg-type]
                         tip=lambda: 0)  # nothing to read: the answer is an empty range
    server.request(PEER, encode_get_blocks(GetBlocks(1, 10)))
    await asyncio.sleep(0.05)
    assert (server.served, server.refused) == ((1, 0) if served else (0, 1))
    assert transport.sent == ([(PEER, MsgType.BLOCKS)] if served else [])
    await server.close()


async def test_one_answer_in_hand_per_peer() -> None:
    transport = QueuedTransport(0)
    server = BlockServer(store=None, transport=lambda: transport,  # type: ignore[arg-type]
                         tip=lambda: 0)
    server.request(PEER, encode_get_blocks(GetBlocks(1, 10)))
    server.request(PEER, encode_get_blocks(GetBlocks(1, 10)))  # before the first is answered
    await asyncio.sleep(0.05)
    assert (server.served, server.refused) == (1, 1)
    await server.close()
