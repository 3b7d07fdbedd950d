"""The P2P network: who the node talks to, and how frames get there.

- `transport`: the `Transport` protocol the node codes against, `PeerInfo`, `PeerEvent`.
- `envelope`: the wire format (`[version, type, payload]`) and the gossip/sync payloads.
- `ws`: `WsTransport`, aiohttp WebSockets with handshake, budgets, bans and redialing.
- `memory`: `MemoryNetwork`/`MemoryTransport`, the same contract in one process, for tests.
- `limits`: token buckets, the ban list and the reconnect backoff.

What the network leaves to the node: the meaning of payloads. It never decodes a vote or a
block; the node does, and calls `Transport.punish` on a peer that sent garbage.
"""

from faircoop_node.net.envelope import MsgType
from faircoop_node.net.memory import MemoryNetwork, MemoryTransport
from faircoop_node.net.transport import (
    ChainIdentity,
    NetError,
    PeerEvent,
    PeerId,
    PeerInfo,
    Tip,
    Transport,
)
from faircoop_node.net.ws import WsTransport

__all__ = [
    "ChainIdentity", "MemoryNetwork", "MemoryTransport", "MsgType", "NetError", "PeerEvent",
    "PeerId", "PeerInfo", "Tip", "Transport", "WsTransport",
]


def _conforms(ws: WsTransport, memory: MemoryTransport) -> tuple[Transport, Transport]:
    """Never called: mypy checks here that both transports implement the protocol."""
    return ws, memory
