"""A raw P2P peer for attack and fuzz tools: the real handshake, then any frames at all.

`connect(session, url, chain, key)` dials a node's `/p2p` endpoint, sends HELLO, answers the
node's challenge with `key` (AUTH, signed over `transport.auth_digest` exactly as the node's own
transport does) and returns a `Link` that can send well-formed messages (`send`) or arbitrary
bytes and text (`send_raw`, `ws`). Nothing stops it from breaking the protocol: that is its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

import aiohttp

from consensus.crypto import PrivateKey
from consensus.errors import FaircoopError
from consensus.types import BlockHash, PublicKey
from faircoop_node.net.envelope import (
    NONCE_SIZE,
    Hello,
    MsgType,
    decode_envelope,
    decode_hello,
    encode_auth,
    encode_envelope,
    encode_hello,
)
from faircoop_node.net.transport import ChainIdentity, auth_digest


class HandshakeFailed(FaircoopError):
    """The node refused us (banned, wrong chain, ...) or did not answer in time."""


class Link:
    """One WebSocket connection to a node, authenticated with some key."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, peer: Hello) -> None:
        self.ws = ws
        self.peer = peer

    async def send(self, msg_type: MsgType, payload: bytes) -> bool:
        return await self.send_raw(encode_envelope(msg_type, payload))

    async def send_raw(self, frame: bytes) -> bool:
        """Send one binary frame; False if the connection is gone."""
        if self.ws.closed:
            return False
        try:
            await self.ws.send_bytes(frame)
            return True
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            return False

    async def cut_within(self, seconds: float) -> bool:
        """Did the node end the connection (a REJECT or a close) within `seconds`?"""
        return await ended_within(self.ws, seconds)


async def ended_within(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> bool:
    """Read (and drop) what the node sends until it ends the connection with a REJECT or a
    close (True), or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(Exception):
        while time.monotonic() < deadline:
            msg = await asyncio.wait_for(ws.receive(), deadline - time.monotonic())
            if msg.type != aiohttp.WSMsgType.BINARY or \
                    decode_envelope(msg.data).msg_type == MsgType.REJECT:
                return True
    return ws.closed


async def _handshake_frame(ws: aiohttp.ClientWebSocketResponse, want: MsgType) -> bytes:
    try:
        msg = await asyncio.wait_for(ws.receive(), 5)
    except TimeoutError:
        raise HandshakeFailed(f"no {want.name} within 5 s") from None
    if msg.type != aiohttp.WSMsgType.BINARY:
        raise HandshakeFailed(f"expected {want.name}, got {msg.type!r}")
    env = decode_envelope(msg.data)
    if env.msg_type != want:
        raise HandshakeFailed(f"expected {want.name}, got {env.msg_type.name}")
    return env.payload


async def connect(session: aiohttp.ClientSession, url: str, chain: ChainIdentity,
                  key: PrivateKey, *, tip_height: int = 0) -> Link:
    """Dial `url` and complete the handshake as the holder of `key`, claiming `tip_height`
    (anything: the node can't check it) in our HELLO."""
    ws = await session.ws_connect(url, max_msg_size=0, compress=0)
    try:
        nonce = secrets.token_bytes(NONCE_SIZE)
        mine = Hello(chain.chain_id, chain.genesis_hash, tip_height, BlockHash(bytes(32)),
                     PublicKey(key.public_key), True, nonce)
        await ws.send_bytes(encode_envelope(MsgType.HELLO, encode_hello(mine)))
        theirs = decode_hello(await _handshake_frame(ws, MsgType.HELLO))
        digest = auth_digest(chain, theirs.nonce, nonce, key.public_key, theirs.node_id)
        await ws.send_bytes(encode_envelope(MsgType.AUTH, encode_auth(key.sign(digest))))
        await _handshake_frame(ws, MsgType.AUTH)
    except BaseException:
        await ws.close()
        raise
    return Link(ws, theirs)
