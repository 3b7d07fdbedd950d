"""An in-process `Transport` for tests and simulations: the same contract, no sockets.

A `MemoryNetwork` holds the transports and the links between them; tests connect, cut and
heal links by hand. Messages are delivered asynchronously through a per-node inbox, in order
per sender, to the same handlers the WebSocket transport calls, and each one still goes
through the envelope codec and the frame-size limit, so a message too large for the real
network fails here too. The handshake is reduced to its checks: linking two nodes of
different chains or genesis raises `NetError` with the same reason a real peer would get.

`await network.settle()` returns once every inbox is empty and every handler has returned,
which makes multi-node tests deterministic without sleeps.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from faircoop_node.config import Limits
from faircoop_node.logs import event_logger
from faircoop_node.net.envelope import MsgType, decode_envelope
from faircoop_node.net.transport import (
    ChainIdentity,
    MessageHandler,
    NetError,
    PeerEvent,
    PeerHandler,
    PeerId,
    PeerInfo,
    TipSource,
    outgoing_frame,
)

_log = event_logger("faircoop.net.memory")


@dataclass(frozen=True, slots=True)
class Punishment:
    by: PeerId
    peer: PeerId
    reason: str


class MemoryNetwork:
    def __init__(self, max_frame_bytes: int = Limits().max_frame_bytes) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._nodes: dict[PeerId, MemoryTransport] = {}
        self._links: set[frozenset[PeerId]] = set()
        self.punishments: list[Punishment] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def transport(self, node_id: bytes, chain: ChainIdentity, tip: TipSource,
                  is_validator: bool = False) -> MemoryTransport:
        peer = PeerId(bytes(node_id))
        if peer in self._nodes:
            raise NetError(f"node {peer.hex()[:16]} is already on this network")
        t = MemoryTransport(self, peer, chain, tip, is_validator)
        self._nodes[peer] = t
        return t

    def linked(self, a: PeerId, b: PeerId) -> bool:
        return frozenset((a, b)) in self._links

    def neighbours(self, a: PeerId) -> tuple[PeerId, ...]:
        return tuple(b for b in self._nodes if b != a and self.linked(a, b))

    async def connect(self, a: bytes, b: bytes) -> None:
        """Link two started nodes, as a successful handshake would; NetError says why not."""
        ta, tb = self._node(a), self._node(b)
        if ta.node_id == tb.node_id:
            raise NetError("self connection")
        for x, y in ((ta, tb), (tb, ta)):
            if not x.running:
                raise NetError(f"node {x.node_id.hex()[:16]} is not started")
            if x.chain.chain_id != y.chain.chain_id:
                raise NetError(f"wrong chain id: this node is on {x.chain.chain_id!r}, "
                               f"the peer on {y.chain.chain_id!r}")
            if x.chain.genesis_hash != y.chain.genesis_hash:
                raise NetError(f"wrong genesis: this node has {x.chain.genesis_hash.hex()}, "
                               f"the peer {y.chain.genesis_hash.hex()}")
            if y.node_id in x.banned:
                raise NetError(f"banned: {x.banned[y.node_id]}")
        key = frozenset((ta.node_id, tb.node_id))
        if key in self._links:
            return
        self._links.add(key)
        await ta.peer_event(tb, True, "")
        await tb.peer_event(ta, True, "")

    async def disconnect(self, a: bytes, b: bytes, reason: str = "disconnected") -> None:
        ta, tb = self._node(a), self._node(b)
        if self._unlink(ta, tb):
            await self._down_events(ta, tb, reason)

    def cut(self, a: bytes, b: bytes, reason: str) -> None:
        """`disconnect` from synchronous code: the link goes now, the events follow."""
        ta, tb = self._node(a), self._node(b)
        if self._unlink(ta, tb):
            task = asyncio.get_running_loop().create_task(self._down_events(ta, tb, reason))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _unlink(self, ta: MemoryTransport, tb: MemoryTransport) -> bool:
        key = frozenset((ta.node_id, tb.node_id))
        if key not in self._links:
            return False
        self._links.discard(key)
        return True

    @staticmethod
    async def _down_events(ta: MemoryTransport, tb: MemoryTransport, reason: str) -> None:
        await ta.peer_event(tb, False, reason)
        await tb.peer_event(ta, False, reason)

    async def connect_all(self) -> None:
        ids = [p for p, t in self._nodes.items() if t.running]
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                await self.connect(a, b)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until no message is queued or being handled anywhere."""
        async with asyncio.timeout(timeout):
            while True:
                if self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                for t in list(self._nodes.values()):
                    await t.inbox.join()
                if not self._tasks and all(t.inbox.empty() for t in self._nodes.values()):
                    return

    def _node(self, node_id: bytes) -> MemoryTransport:
        try:
            return self._nodes[PeerId(bytes(node_id))]
        except KeyError:
            raise NetError(f"no node {bytes(node_id).hex()[:16]} on this network") from None


class MemoryTransport:
    """One node's end of a `MemoryNetwork`; implements `Transport`."""

    def __init__(self, network: MemoryNetwork, node_id: PeerId, chain: ChainIdentity,
                 tip: TipSource, is_validator: bool) -> None:
        self._net = network
        self._id = node_id
        self.chain = chain
        self._tip = tip
        self.is_validator = is_validator
        self.inbox: asyncio.Queue[tuple[PeerId, MsgType, bytes]] = asyncio.Queue()
        self.banned: dict[PeerId, str] = {}
        self.running = False
        self._on_message: MessageHandler | None = None
        self._on_peer: PeerHandler | None = None
        self._pump: asyncio.Task[None] | None = None
        self._since: dict[PeerId, float] = {}

    @property
    def node_id(self) -> PeerId:
        return self._id

    def set_handlers(self, on_message: MessageHandler, on_peer: PeerHandler | None = None) -> None:
        self._on_message = on_message
        self._on_peer = on_peer

    async def start(self) -> None:
        if not self.running:
            self.running = True
            self._pump = asyncio.create_task(self._deliver())

    async def stop(self) -> None:
        if not self.running:
            return
        for peer in self._net.neighbours(self._id):
            await self._net.disconnect(self._id, peer, "shutting down")
        self.running = False
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        while not self.inbox.empty():  # what was in flight is lost, as on a real socket
            self.inbox.get_nowait()
            self.inbox.task_done()

    def send(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> bool:
        frame = self._frame(msg_type, payload)
        target = self._net._nodes.get(peer)
        if target is None or not target.running or not self._net.linked(self._id, peer):
            return False
        env = decode_envelope(frame)  # what the far end would read off the wire
        target.inbox.put_nowait((self._id, env.msg_type, env.payload))
        return True

    def broadcast(self, msg_type: MsgType, payload: bytes,
                  exclude: frozenset[PeerId] = frozenset()) -> int:
        self._frame(msg_type, payload)  # the same checks even with no one to send to
        return sum(self.send(p, msg_type, payload) for p in self._net.neighbours(self._id)
                   if p not in exclude)

    def peers(self) -> tuple[PeerInfo, ...]:
        out = []
        for p in self._net.neighbours(self._id):
            other = self._net._nodes[p]
            tip = other._tip()
            out.append(PeerInfo(p, f"memory:{p.hex()[:16]}", False, None, other.is_validator,
                                tip.height, tip.block_hash, self._since.get(p, 0.0)))
        return tuple(out)

    def punish(self, peer: PeerId, reason: str) -> None:
        self.banned[peer] = reason
        self._net.punishments.append(Punishment(self._id, peer, reason))
        if self._net.linked(self._id, peer):
            self._net.cut(self._id, peer, reason)

    def backlog(self, peer: PeerId) -> int:
        return 0  # delivery is immediate: nothing waits to be written

    def _frame(self, msg_type: MsgType, payload: bytes) -> bytes:
        return outgoing_frame(msg_type, payload, self._net.max_frame_bytes)

    async def peer_event(self, other: MemoryTransport, connected: bool, reason: str) -> None:
        if connected:
            self._since[other.node_id] = time.monotonic()
        else:
            self._since.pop(other.node_id, None)
        if self._on_peer is None:
            return
        tip = other._tip()
        info = PeerInfo(other.node_id, f"memory:{other.node_id.hex()[:16]}", False, None,
                        other.is_validator, tip.height, tip.block_hash, time.monotonic())
        await self._on_peer(PeerEvent(info, connected, reason))

    async def _deliver(self) -> None:
        while True:
            sender, msg_type, payload = await self.inbox.get()
            try:
                if self._on_message is not None and self._net.linked(self._id, sender):
                    await self._on_message(sender, msg_type, payload)
            except Exception as exc:  # as in WsTransport: a handler's bug does not stop delivery
                _log.error("message_handler_failed", peer=sender, type=msg_type.name,
                           error=repr(exc), exc_info=exc)
            finally:
                self.inbox.task_done()
