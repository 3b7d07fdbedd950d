"""The Transport protocol the node talks to, and what both implementations share.

A transport connects this node to its peers and moves opaque payloads between them. Above
the handshake it is content-agnostic: it hands the node `(peer_id, msg_type, payload)` and
sends what the node gives it. It enforces only what can be judged without understanding a
payload: the chain and genesis, the peer's proof of its key, frame size, message rate, and
envelope well-formedness. What a payload means (a bad vote signature, an invalid block) is the
node's to judge; it reports such a peer with `punish`.

Delivery: frames from one peer reach the handler in the order sent, one at a time (the
handler is awaited before that peer's next frame is read, which is the backpressure), so a
handler should be quick: hand the message to the node's own queue rather than validate a
block inline (a handler stuck for longer than the heartbeat can cost the connection). `send`
and `broadcast` only queue: they never block the node's loop on a slow peer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NewType, Protocol

from consensus.codec import pack
from consensus.crypto import tagged_hash
from consensus.errors import FaircoopError
from consensus.types import BlockHash
from faircoop_node.net.envelope import MsgType, encode_envelope

PeerId = NewType("PeerId", bytes)  # a peer's node id: its 33-byte compressed node public key

AUTH_TAG = "faircoop/p2p-auth/v1"


class NetError(FaircoopError):
    """A transport that can't start (port taken) or is used wrongly."""


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """What a peer must share with us to be let in."""

    chain_id: str
    genesis_hash: BlockHash


@dataclass(frozen=True, slots=True)
class Tip:
    height: int
    block_hash: BlockHash


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A connected, authenticated peer, as last seen (tip from its Hello or latest STATUS)."""

    node_id: PeerId
    address: str  # "host:port" of the remote end of the socket
    outbound: bool  # we dialed it
    url: str | None  # the configured URL we dialed, for outbound peers
    is_validator: bool  # what it claims; consensus messages are judged by their signatures
    tip_height: int
    tip_hash: BlockHash
    connected_at: float  # monotonic clock


@dataclass(frozen=True, slots=True)
class PeerEvent:
    info: PeerInfo
    connected: bool  # False: it went away
    reason: str = ""  # why it went away


MessageHandler = Callable[[PeerId, MsgType, bytes], Awaitable[None]]
PeerHandler = Callable[[PeerEvent], Awaitable[None]]
TipSource = Callable[[], Tip]


class Transport(Protocol):
    """What the node needs from a network. `WsTransport` and `MemoryTransport` provide it."""

    @property
    def node_id(self) -> PeerId: ...

    def set_handlers(self, on_message: MessageHandler,
                     on_peer: PeerHandler | None = None) -> None:
        """Where inbound messages and peer up/down events go. Set before `start`."""
        ...

    async def start(self) -> None:
        """Begin listening and dialing the configured peers."""
        ...

    async def stop(self) -> None:
        """Close every connection and stop dialing; idempotent."""
        ...

    def send(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> bool:
        """Queue one message to one peer; False if it is not connected."""
        ...

    def broadcast(self, msg_type: MsgType, payload: bytes,
                  exclude: frozenset[PeerId] = frozenset()) -> int:
        """Queue one message to every connected peer but `exclude`; how many it went to."""
        ...

    def peers(self) -> tuple[PeerInfo, ...]:
        """The connected, authenticated peers."""
        ...

    def punish(self, peer: PeerId, reason: str) -> None:
        """Disconnect and ban a peer that sent something invalid (for `limits.ban_seconds`)."""
        ...

    def backlog(self, peer: PeerId) -> int:
        """Bytes queued to `peer` and not yet written (0 if it is not connected)."""
        ...


def outgoing_frame(msg_type: MsgType, payload: bytes, max_frame_bytes: int) -> bytes:
    """The frame `send`/`broadcast` put on the wire; NetError for a handshake type (only the
    transport sends those) or a frame over `max_frame_bytes`, which the peer would ban us for."""
    if msg_type.is_transport:
        raise NetError(f"{msg_type.name} is for the handshake or framing; the transport sends it")
    frame = encode_envelope(msg_type, payload)
    if len(frame) > max_frame_bytes:
        raise NetError(f"a {msg_type.name} frame of {len(frame)} bytes is over "
                       f"limits.max_frame_bytes ({max_frame_bytes})")
    return frame


def auth_digest(chain: ChainIdentity, challenge: bytes, responder_nonce: bytes,
                responder: bytes, challenger: bytes) -> bytes:
    """What a node signs to prove it holds its key: the challenger's nonce, bound to the chain,
    its own nonce (so the proof is for this one session) and both node ids."""
    return tagged_hash(AUTH_TAG, pack((chain.chain_id, chain.genesis_hash, challenge,
                                       responder_nonce, responder, challenger)))
