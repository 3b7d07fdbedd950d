"""Builders shared by the P2P tests: transports on 127.0.0.1 ephemeral ports, a raw peer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from consensus.crypto import PrivateKey, sha256
from consensus.types import BlockHash
from faircoop_node.config import Limits
from faircoop_node.net.envelope import (
    Envelope,
    Hello,
    MsgType,
    decode_envelope,
    decode_hello,
    encode_auth,
    encode_envelope,
    encode_hello,
)
from faircoop_node.net.transport import ChainIdentity, PeerEvent, PeerId, Tip, auth_digest
from faircoop_node.net.ws import WsTransport

CHAIN = ChainIdentity("faircoop-test", BlockHash(sha256(b"genesis")))
TIP = Tip(7, BlockHash(sha256(b"tip")))
FAST = Limits(handshake_timeout_s=2.0, reconnect_min_s=0.05, reconnect_max_s=0.2,
              ban_seconds=60.0, heartbeat_s=5.0)


@dataclass
class Inbox:
    """Records what a transport delivers to its node."""

    messages: list[tuple[PeerId, MsgType, bytes]] = field(default_factory=list)
    events: list[PeerEvent] = field(default_factory=list)

    async def on_message(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
        self.messages.append((peer, msg_type, payload))

    async def on_peer(self, event: PeerEvent) -> None:
        self.events.append(event)


def make_transport(peers: tuple[str, ...] = (), *, key: PrivateKey | None = None,
                   chain: ChainIdentity = CHAIN, limits: Limits = FAST, port: int = 0,
                   **kwargs: Any) -> tuple[WsTransport, Inbox]:
    t = WsTransport(key or PrivateKey.generate(), chain, lambda: TIP, host="127.0.0.1",
                    port=port, peers=peers, limits=limits, **kwargs)
    inbox = Inbox()
    t.set_handlers(inbox.on_message, inbox.on_peer)
    return t, inbox


@asynccontextmanager
async def running(*transports: WsTransport) -> AsyncIterator[None]:
    """Start the transports in order; stop every started one, last first, however the block ends."""
    started: list[WsTransport] = []
    try:
        for t in transports:
            await t.start()
            started.append(t)
        yield
    finally:
        for t in reversed(started):
            await t.stop()


@asynccontextmanager
async def serving(server: WsTransport) -> AsyncIterator[aiohttp.ClientSession]:
    """`server` running, and a client session for RawPeers to dial it with."""
    async with aiohttp.ClientSession() as session, running(server):
        yield session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


class RawPeer:
    """A hand-driven peer speaking the wire protocol, to misbehave on purpose."""

    def __init__(self, session: aiohttp.ClientSession, key: PrivateKey | None = None,
                 chain: ChainIdentity = CHAIN) -> None:
        self.session = session
        self.key = key or PrivateKey.generate()
        self.chain = chain
        self.nonce = b"\x42" * 32
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.server_hello: Hello | None = None

    async def open(self, url: str) -> aiohttp.ClientWebSocketResponse:
        self.ws = await self.session.ws_connect(url, max_msg_size=0)
        return self.ws

    async def send_hello(self) -> None:
        assert self.ws is not None
        hello = Hello(self.chain.chain_id, self.chain.genesis_hash, 1, TIP.block_hash,
                      self.key.public_key, False, self.nonce)  # type: ignore[arg-type]
        await self.ws.send_bytes(encode_envelope(MsgType.HELLO, encode_hello(hello)))

    async def read(self, timeout: float = 3.0) -> Envelope | None:
        """The next frame as an envelope, or None once the connection closes."""
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            return None
        return decode_envelope(msg.data)

    async def handshake(self, url: str, signer: PrivateKey | None = None) -> None:
        """Open, exchange Hello, and sign the server's challenge (with `signer` if given)."""
        await self.open(url)
        await self.send_hello()
        env = await self.read()
        assert env is not None and env.msg_type == MsgType.HELLO
        self.server_hello = decode_hello(env.payload)
        digest = auth_digest(self.chain, self.server_hello.nonce, self.nonce,
                             self.key.public_key, self.server_hello.node_id)
        sig = (signer or self.key).sign(digest)
        assert self.ws is not None
        await self.ws.send_bytes(encode_envelope(MsgType.AUTH, encode_auth(sig)))

    async def read_until_closed(self, timeout: float = 3.0) -> list[Envelope]:
        frames: list[Envelope] = []
        async with asyncio.timeout(timeout):
            while True:
                env = await self.read(timeout)
                if env is None:
                    return frames
                frames.append(env)
