"""The aiohttp WebSocket transport: a `/p2p` endpoint on the P2P port, and dialers.

Each connection, inbound or outbound, runs the same steps:

1. Handshake (within `limits.handshake_timeout_s`). Both sides send `Hello` at once. Each
   checks the other's chain id and genesis hash (a mismatch gets a REJECT naming both values,
   then the close), refuses a connection to itself, then signs the other's nonce
   (`auth_digest`) with its node key and sends it as AUTH. A wrong signature is rejected.
2. Registration. One live connection per node id: if two nodes dial each other at once, both
   keep the connection dialed by the smaller node id, so they agree without talking.
3. Reading. Every frame must be binary, at most `WIRE_FRAME_BYTES` (aiohttp's `max_msg_size`
   enforces it from the first byte, the handshake included), within the peer's token-bucket
   budgets of frames and of bytes, and a well-formed envelope. A message larger than one frame
   arrives as PART frames and is reassembled (`parts.py`), up to `limits.max_frame_bytes`.
   Any breach disconnects the peer and bans it for `limits.ban_seconds`, by node id (once
   proven by the handshake) and by address (loopback addresses excepted, see `BanList`). The
   payload goes to the node's handler untouched, except that STATUS payloads also update the
   peer's known tip. The handler is awaited before the peer's next frame is read: a node that
   is behind slows that peer down, not everyone.
4. Writing. A per-connection queue drained by one task; a peer whose queue overflows in frames
   or bytes (it can't keep up) is dropped without a ban.

Connections still in their handshake count against `limits.max_peers`, at most
`limits.max_handshakes_per_host` from one (non-loopback) address, and a handshake that fails
or times out bans the address.

Outbound peers come from the config and are redialed forever with exponential backoff and
jitter (`backoff_delay`, from an injected `random.Random`); a URL that turns out to be this
node itself is dropped.

Left out: peer exchange (peers come from the config only), TLS configuration beyond what
`wss://` URLs get from aiohttp's defaults, and NAT traversal.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from consensus.crypto import PrivateKey, pubkey_valid, verify
from consensus.errors import DecodeError
from consensus.types import BlockHash, PublicKey
from faircoop_node.config import P2P_PATH, Limits, NodeConfig, normalize_peer_url
from faircoop_node.logs import EventLogger, LogContext, event_logger
from faircoop_node.net.envelope import (
    NONCE_SIZE,
    WIRE_FRAME_BYTES,
    Envelope,
    Hello,
    MsgType,
    decode_auth,
    decode_envelope,
    decode_hello,
    decode_part,
    decode_reject,
    decode_status,
    encode_auth,
    encode_envelope,
    encode_hello,
    encode_reject,
)
from faircoop_node.net.limits import BanList, TokenBucket, backoff_delay, is_loopback
from faircoop_node.net.parts import BudgetFull, PartBudget, Reassembly, wire_frames
from faircoop_node.net.transport import (
    ChainIdentity,
    MessageHandler,
    NetError,
    PeerEvent,
    PeerHandler,
    PeerId,
    PeerInfo,
    TipSource,
    auth_digest,
    outgoing_frame,
)

WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
CLOSE_REASON_BYTES = 120  # a WebSocket close reason must fit in a control frame
WS_MAX_MSG = WIRE_FRAME_BYTES + 1  # aiohttp refuses a frame of max_msg_size bytes or more


class _Drop(Exception):
    """End a connection: `reason` goes to the peer (REJECT) and the log; `ban` bans it."""

    def __init__(self, reason: str, ban: bool = False, tell_peer: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ban = ban
        self.tell_peer = tell_peer


class _Rejected(Exception):
    """The peer sent REJECT: its reason, for the log and the dial status."""


@dataclass(frozen=True, slots=True)
class DialStatus:
    """How dialing one configured peer URL is going, for `status` and operators."""

    url: str
    connected: bool
    node_id: PeerId | None  # learnt from its Hello
    attempts: int  # failed attempts since the last successful handshake
    last_error: str  # why the last attempt failed or ended ("" if none yet)
    is_self: bool  # the URL is this node: no longer dialed


class _Conn:
    """One authenticated connection's mutable state (owned by its reader task)."""

    __slots__ = ("bucket", "byte_bucket", "closed", "drop_reason", "host", "info", "parts",
                 "queue", "queued_bytes", "writer", "ws")

    def __init__(self, ws: WebSocket, host: str, info: PeerInfo, limits: Limits,
                 clock: Callable[[], float], budget: PartBudget) -> None:
        self.ws = ws
        self.host = host
        self.info = info
        self.bucket = TokenBucket(limits.rate_per_s, limits.rate_burst, clock)
        self.byte_bucket = TokenBucket(limits.rate_bytes_per_s, limits.rate_bytes_burst, clock)
        self.parts = Reassembly(limits.max_frame_bytes, budget)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=limits.send_queue)
        self.queued_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.drop_reason: tuple[str, bool] | None = None  # (reason, ban) asked by another task


@dataclass
class Traffic:
    """Frames and bytes sent and received, by message type (PART frames under their own type):
    what `/metrics` and the scaling benchmark read."""

    frames_in: Counter[str] = field(default_factory=Counter)
    frames_out: Counter[str] = field(default_factory=Counter)
    bytes_in: Counter[str] = field(default_factory=Counter)
    bytes_out: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"frames_in": dict(self.frames_in), "frames_out": dict(self.frames_out),
                "bytes_in": dict(self.bytes_in), "bytes_out": dict(self.bytes_out)}


class WsTransport:
    """The production `Transport` (see `faircoop_node.net.transport`)."""

    def __init__(
        self,
        key: PrivateKey,
        chain: ChainIdentity,
        tip: TipSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        peers: Sequence[str] = (),
        limits: Limits | None = None,
        is_validator: bool = False,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: EventLogger | None = None,
        address_exempt: Callable[[str], bool] = is_loopback,
    ) -> None:
        self._key = key
        self._id = PeerId(key.public_key)
        self._chain = chain
        self._tip = tip
        self._host = host
        self._port = port
        self._urls = tuple(normalize_peer_url(u) for u in peers)
        self._limits = limits if limits is not None else Limits()
        self._is_validator = is_validator
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._log = log if log is not None else event_logger(
            "faircoop.net", LogContext.for_node(self._id))
        self.bans = BanList(clock, address_exempt)
        self._exempt = address_exempt
        self._conns: dict[PeerId, _Conn] = {}
        self._handshaking: dict[str, int] = {}  # inbound handshakes under way, per host
        self._part_owner: dict[Reassembly, _Conn] = {}
        self._parts = PartBudget(self._limits.reassembly_bytes, self._evict_parts)
        self.traffic = Traffic()
        self._on_message: MessageHandler | None = None
        self._on_peer: PeerHandler | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._dialers: dict[str, asyncio.Task[None]] = {}
        self._dial: dict[str, DialStatus] = {
            u: DialStatus(u, False, None, 0, "", False) for u in self._urls}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running = False
        self._stopped = False
        self.app = web.Application()
        self.app.router.add_get(P2P_PATH, self._serve)

    @classmethod
    def from_config(cls, config: NodeConfig, key: PrivateKey, chain: ChainIdentity,
                    tip: TipSource, **kwargs: Any) -> WsTransport:
        return cls(key, chain, tip, host=config.p2p.host, port=config.p2p.port,
                   peers=config.p2p.peers, limits=config.limits,
                   is_validator=config.validator, **kwargs)

    # -- the Transport protocol -------------------------------------------------------------

    @property
    def node_id(self) -> PeerId:
        return self._id

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self._port}{P2P_PATH}"

    def set_handlers(self, on_message: MessageHandler, on_peer: PeerHandler | None = None) -> None:
        self._on_message = on_message
        self._on_peer = on_peer

    async def start(self) -> None:
        """Listen and dial. A transport starts once; after `stop`, make a new one."""
        if self._running:
            return
        if self._stopped:
            raise NetError("this transport was stopped; create a new one to start again")
        self._running = True
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._running = False
            raise NetError(f"cannot listen for peers on {self._host}:{self._port}: "
                           f"{exc.strerror}") from None
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                self._port = int(address[1])
                break
        self._session = aiohttp.ClientSession()
        for url in self._urls:
            self._dialers[url] = asyncio.create_task(self._dial_forever(url))
        self._log.info("p2p_listening", url=self.url, peers=list(self._urls))

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self._stopped = True
        for task in self._dialers.values():
            task.cancel()
        for conn in list(self._conns.values()):
            self._request_drop(conn, "shutting down", ban=False)
        await asyncio.gather(*self._dialers.values(), *self._tasks, return_exceptions=True)
        self._dialers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        self._log.info("p2p_stopped")

    def send(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> bool:
        conn = self._conns.get(peer)
        if conn is None:
            return False
        frames = wire_frames(self._frame(msg_type, payload))
        if not self._enqueue(conn, frames):
            return False
        self._count_out(msg_type, frames, 1)
        return True

    def broadcast(self, msg_type: MsgType, payload: bytes,
                  exclude: frozenset[PeerId] = frozenset()) -> int:
        frames = wire_frames(self._frame(msg_type, payload))
        sent = 0
        for peer_id, conn in list(self._conns.items()):
            if peer_id not in exclude and self._enqueue(conn, frames):
                sent += 1
        self._count_out(msg_type, frames, sent)
        return sent

    def _count_out(self, msg_type: MsgType, frames: tuple[bytes, ...], peers: int) -> None:
        if peers:
            self.traffic.frames_out[msg_type.name] += peers
            self.traffic.bytes_out[msg_type.name] += peers * sum(len(f) for f in frames)

    def backlog(self, peer: PeerId) -> int:
        conn = self._conns.get(peer)
        return 0 if conn is None else conn.queued_bytes

    def peers(self) -> tuple[PeerInfo, ...]:
        return tuple(c.info for c in self._conns.values())

    def punish(self, peer: PeerId, reason: str) -> None:
        conn = self._conns.get(peer)
        if conn is not None:
            self._request_drop(conn, reason, ban=True)
        else:
            self.bans.ban_node(peer, self._limits.ban_seconds, reason)

    def dial_status(self) -> tuple[DialStatus, ...]:
        return tuple(self._dial.values())

    # -- frames -----------------------------------------------------------------------------

    def _frame(self, msg_type: MsgType, payload: bytes) -> bytes:
        return outgoing_frame(msg_type, payload, self._limits.max_frame_bytes)

    def _enqueue(self, conn: _Conn, frames: tuple[bytes, ...]) -> bool:
        if conn.drop_reason is not None:
            return False
        size = sum(len(f) for f in frames)
        if conn.queue.qsize() + len(frames) > conn.queue.maxsize or \
                conn.queued_bytes + size > self._limits.send_queue_bytes:
            self._request_drop(conn, "send queue full (peer too slow)", ban=False)
            return False
        for frame in frames:  # all or none: a message's parts go out back to back
            conn.queue.put_nowait(frame)
        conn.queued_bytes += size
        return True

    def _evict_parts(self, owner: Reassembly) -> None:
        """The part budget is full and `owner`'s message is the oldest: drop its connection."""
        conn = self._part_owner.get(owner)
        if conn is not None:
            self._request_drop(conn, "unfinished message dropped: the reassembly budget is full",
                               ban=False)

    def _request_drop(self, conn: _Conn, reason: str, ban: bool) -> None:
        """Ask a connection's reader to end it (from any task); the reader does the cleanup."""
        if conn.drop_reason is None:
            conn.drop_reason = (reason, ban)
            if ban:
                self._ban(conn.info.node_id, conn.host, reason)
            self._spawn(self._close_ws(conn.ws, reason, WSCloseCode.POLICY_VIOLATION if ban
                                       else WSCloseCode.GOING_AWAY, tell_peer=True))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_ws(self, ws: WebSocket, reason: str, code: int, tell_peer: bool) -> None:
        with contextlib.suppress(Exception):
            if tell_peer and not ws.closed:
                async with asyncio.timeout(1.0):
                    await ws.send_bytes(encode_envelope(MsgType.REJECT, encode_reject(reason)))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await ws.close(code=code, message=reason.encode()[:CLOSE_REASON_BYTES])

    def _ban(self, node_id: PeerId | None, host: str, reason: str) -> None:
        seconds = self._limits.ban_seconds
        if node_id is not None:
            self.bans.ban_node(node_id, seconds, reason)
        by_address = self.bans.ban_address(host, seconds, reason)
        self._log.warning("peer_banned", peer=node_id, host=host, reason=reason,
                          seconds=seconds, by_address=by_address)

    # -- inbound ----------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        host = request.remote or ""
        ban = self.bans.address_ban(host)
        if ban is not None:
            return web.Response(status=403, text=f"banned: {ban.reason}")
        if not self._running:
            return web.Response(status=503, text="shutting down")
        if len(self._conns) + sum(self._handshaking.values()) >= self._limits.max_peers:
            return web.Response(status=503, text="too many peers")
        if not self._exempt(host) and \
                self._handshaking.get(host, 0) >= self._limits.max_handshakes_per_host:
            return web.Response(status=503, text="too many handshakes from this address")
        self._handshaking[host] = self._handshaking.get(host, 0) + 1
        counted = [True]

        def handshake_over() -> None:
            if counted[0]:
                counted[0] = False
                left = self._handshaking.pop(host) - 1
                if left:
                    self._handshaking[host] = left

        try:
            ws = web.WebSocketResponse(max_msg_size=WS_MAX_MSG, compress=False,
                                       heartbeat=self._limits.heartbeat_s)
            try:
                await ws.prepare(request)
            except ConnectionResetError:  # the dialer gave up before our answer (we were
                # stopped, say): aiohttp drops a plain response to a closed socket quietly
                return web.Response(status=499, text="connection reset during the upgrade")
            peername = request.transport.get_extra_info("peername") if request.transport \
                else None
            address = f"{peername[0]}:{peername[1]}" if peername else host
            await self._run_connection(ws, host, address, outbound=False, url=None,
                                       handshake_over=handshake_over)
        finally:
            handshake_over()
        return ws

    # -- outbound ---------------------------------------------------------------------------

    async def _dial_forever(self, url: str) -> None:
        attempt = 0
        while self._running:
            status = self._dial[url]
            if status.is_self:
                return
            known = status.node_id
            if known is not None and known in self._conns:
                await self._conns[known].closed.wait()  # connected the other way: wait
                continue
            if known is not None:
                ban = self.bans.node_ban(known)
                if ban is not None:
                    await asyncio.sleep(max(0.0, ban.until - self._clock()))
                    continue
            handshook = await self._dial_once(url)
            if handshook:
                attempt = 0
            if not self._running or self._dial[url].is_self:
                return
            delay = backoff_delay(attempt, self._limits.reconnect_min_s,
                                  self._limits.reconnect_max_s, self._rng)
            attempt += 1
            self._dial[url] = replace(self._dial[url], attempts=attempt)
            await asyncio.sleep(delay)

    async def _dial_once(self, url: str) -> bool:
        """One connection attempt and, if it succeeds, the connection's whole life.

        True if the handshake completed (so the backoff starts over).
        """
        assert self._session is not None
        try:
            async with self._session.ws_connect(
                url, max_msg_size=WS_MAX_MSG, compress=0,
                heartbeat=self._limits.heartbeat_s,
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
            ) as ws:
                peer = ws.get_extra_info("peername")
                host = peer[0] if peer else ""
                address = f"{peer[0]}:{peer[1]}" if peer else url
                return await self._run_connection(ws, host, address, outbound=True, url=url)
        except aiohttp.WSServerHandshakeError as exc:
            self._dial_failed(url, f"refused: HTTP {exc.status} {exc.message}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._dial_failed(url, f"cannot connect: {type(exc).__name__} {exc}".strip())
        return False

    def _dial_failed(self, url: str, why: str) -> None:
        self._dial[url] = replace(self._dial[url], connected=False, last_error=why)
        self._log.debug("dial_failed", url=url, error=why)

    # -- one connection ---------------------------------------------------------------------

    async def _run_connection(self, ws: WebSocket, host: str, address: str, *, outbound: bool,
                              url: str | None,
                              handshake_over: Callable[[], None] | None = None) -> bool:
        try:
            async with asyncio.timeout(self._limits.handshake_timeout_s):
                hello = await self._handshake(ws, host, url)
        except _Drop as drop:
            self._log.info("handshake_failed", address=address, reason=drop.reason,
                           outbound=outbound)
            if drop.ban:
                self._ban(None, host, drop.reason)
            if url is not None:
                self._dial_failed(url, drop.reason)
            await self._close_ws(ws, drop.reason, WSCloseCode.POLICY_VIOLATION, drop.tell_peer)
            return False
        except _Rejected as rej:
            reason = f"rejected by peer: {rej}"
            self._log.info("handshake_rejected", address=address, reason=str(rej))
            if url is not None:
                self._dial_failed(url, reason)
            await self._close_ws(ws, reason, WSCloseCode.GOING_AWAY, tell_peer=False)
            return False
        except TimeoutError:
            if url is not None:
                self._dial_failed(url, "handshake timed out")
            else:  # an inbound socket that holds a slot and never proves a key
                self._ban(None, host, "handshake timed out")
            await self._close_ws(ws, "handshake timed out", WSCloseCode.POLICY_VIOLATION, True)
            return False
        if handshake_over is not None:
            handshake_over()

        peer_id = PeerId(hello.node_id)
        info = PeerInfo(peer_id, address, outbound, url, hello.is_validator, hello.tip_height,
                        hello.tip_hash, self._clock())
        conn = _Conn(ws, host, info, self._limits, self._clock, self._parts)
        self._part_owner[conn.parts] = conn
        if not self._register(conn):
            self._forget_parts(conn)
            await self._close_ws(ws, "duplicate connection", WSCloseCode.GOING_AWAY, True)
            if url is not None:
                self._dial_failed(url, "duplicate connection (connected the other way)")
            return True
        if url is not None:
            self._dial[url] = replace(self._dial[url], connected=True, attempts=0, last_error="")
        conn.writer = asyncio.create_task(self._write_loop(conn))
        reason = "closed by peer"
        try:
            if self._on_peer is not None and self._conns.get(peer_id) is conn:
                await self._on_peer(PeerEvent(info, True))
            reason, _ = await self._read_loop(conn)
        except _Drop as drop:
            reason = drop.reason
            if drop.ban and conn.drop_reason is None:
                self._ban(peer_id, host, reason)  # before the peer hears of it
            conn.drop_reason = conn.drop_reason or (reason, drop.ban)
            await self._close_ws(ws, reason, WSCloseCode.POLICY_VIOLATION if drop.ban
                                 else WSCloseCode.GOING_AWAY, drop.tell_peer)
        finally:
            self._forget_parts(conn)
            if conn.drop_reason is not None:
                reason = conn.drop_reason[0]
            conn.closed.set()
            if conn.writer is not None:
                conn.writer.cancel()
            registered = self._conns.get(peer_id) is conn
            if registered:
                del self._conns[peer_id]
            if url is not None:
                self._dial[url] = replace(self._dial[url], connected=False, last_error=reason)
            self._log.info("peer_disconnected", peer=peer_id, address=address, reason=reason)
            if registered and self._on_peer is not None:
                with contextlib.suppress(Exception):
                    await self._on_peer(PeerEvent(conn.info, False, reason))
            await self._close_ws(ws, reason, WSCloseCode.GOING_AWAY, tell_peer=False)
        return True

    async def _handshake(self, ws: WebSocket, host: str, url: str | None) -> Hello:
        tip = self._tip()
        nonce = secrets.token_bytes(NONCE_SIZE)
        mine = Hello(self._chain.chain_id, self._chain.genesis_hash, tip.height,
                     tip.block_hash, PublicKey(self._id), self._is_validator, nonce)
        await ws.send_bytes(encode_envelope(MsgType.HELLO, encode_hello(mine)))

        env = await self._handshake_frame(ws, MsgType.HELLO)
        try:
            theirs = decode_hello(env.payload)
        except DecodeError as exc:
            raise _Drop(f"malformed hello: {exc}", ban=True) from None
        if theirs.chain_id != self._chain.chain_id:
            raise _Drop(f"wrong chain id: this node is on {self._chain.chain_id!r}, "
                        f"the peer on {theirs.chain_id!r}", ban=True)
        if theirs.genesis_hash != self._chain.genesis_hash:
            raise _Drop(f"wrong genesis: this node has {self._chain.genesis_hash.hex()}, "
                        f"the peer {theirs.genesis_hash.hex()}", ban=True)
        if bytes(theirs.node_id) == bytes(self._id):
            if url is not None:
                self._dial[url] = replace(self._dial[url], is_self=True, node_id=self._id)
            raise _Drop("self connection", ban=False)
        if not pubkey_valid(theirs.node_id):
            raise _Drop("node id is not a valid public key", ban=True)
        if url is not None:
            self._dial[url] = replace(self._dial[url], node_id=PeerId(theirs.node_id))
        if theirs.nonce == nonce:
            raise _Drop("peer echoed our challenge", ban=True)
        ban = self.bans.node_ban(theirs.node_id)
        if ban is not None:
            raise _Drop(f"banned: {ban.reason}", ban=False)

        digest = auth_digest(self._chain, theirs.nonce, nonce, self._id, theirs.node_id)
        await ws.send_bytes(encode_envelope(MsgType.AUTH, encode_auth(self._key.sign(digest))))
        env = await self._handshake_frame(ws, MsgType.AUTH)
        try:
            signature = decode_auth(env.payload)
        except DecodeError as exc:
            raise _Drop(f"malformed auth: {exc}", ban=True) from None
        expected = auth_digest(self._chain, nonce, theirs.nonce, theirs.node_id, self._id)
        if not verify(theirs.node_id, signature, expected):
            raise _Drop("bad handshake signature: the peer does not hold its node key", ban=True)
        return theirs

    async def _handshake_frame(self, ws: WebSocket, want: MsgType) -> Envelope:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise _Drop("closed during the handshake", tell_peer=False)
        if msg.type == WSMsgType.ERROR:
            raise self._error_drop(ws)
        if msg.type != WSMsgType.BINARY:
            raise _Drop("malformed frame: not binary", ban=True)
        env = self._decode_frame(msg.data)
        if env.msg_type == MsgType.REJECT:
            raise _Rejected(self._reject_reason(env.payload))
        if env.msg_type != want:
            raise _Drop(f"expected {want.name} in the handshake, got {env.msg_type.name}",
                        ban=True)
        return env

    def _decode_frame(self, data: bytes) -> Envelope:
        if len(data) > self._limits.max_frame_bytes:
            raise _Drop(f"oversize frame ({len(data)} bytes)", ban=True)
        try:
            return decode_envelope(data)
        except DecodeError as exc:
            raise _Drop(f"malformed frame: {exc}", ban=True) from None

    @staticmethod
    def _reject_reason(payload: bytes) -> str:
        try:
            return decode_reject(payload)
        except DecodeError:
            return "(unreadable reason)"

    @staticmethod
    def _error_drop(ws: WebSocket) -> _Drop:
        exc = ws.exception()
        code = getattr(exc, "code", None)
        if code == WSCloseCode.MESSAGE_TOO_BIG:
            return _Drop("oversize frame", ban=True, tell_peer=False)
        if isinstance(exc, aiohttp.WebSocketError):
            return _Drop(f"malformed frame: {exc}", ban=True, tell_peer=False)
        return _Drop(f"connection error: {type(exc).__name__}", tell_peer=False)

    def _forget_parts(self, conn: _Conn) -> None:
        conn.parts.clear()
        self._part_owner.pop(conn.parts, None)

    def _register(self, conn: _Conn) -> bool:
        """Make `conn` the one connection to its peer; False if an existing one wins."""
        peer_id = conn.info.node_id
        old = self._conns.get(peer_id)
        if old is not None:
            dialer = self._id if conn.info.outbound else peer_id
            if dialer != min(self._id, peer_id):
                return False
            self._request_drop(old, "duplicate connection", ban=False)
        self._conns[peer_id] = conn
        self._log.info("peer_connected", peer=peer_id, address=conn.info.address,
                       outbound=conn.info.outbound, validator=conn.info.is_validator,
                       tip_height=conn.info.tip_height)
        return True

    async def _read_loop(self, conn: _Conn) -> tuple[str, bool]:
        ws = conn.ws
        peer_id = conn.info.node_id
        while True:
            msg = await ws.receive()
            if conn.drop_reason is not None:
                return conn.drop_reason
            if msg.type == WSMsgType.BINARY:
                data: bytes = msg.data
                if not conn.bucket.take():
                    raise _Drop("over the message rate budget", ban=True)
                if not conn.byte_bucket.take(len(data)):
                    raise _Drop("over the byte rate budget", ban=True)
                env = self._decode_frame(data)
                self.traffic.frames_in[env.msg_type.name] += 1
                self.traffic.bytes_in[env.msg_type.name] += len(data)
                if env.msg_type == MsgType.PART:
                    whole = self._reassemble(conn, env.payload)
                    if whole is None:
                        continue
                    env = self._decode_frame(whole)
                    if env.msg_type == MsgType.PART:
                        raise _Drop("malformed frame: a PART inside parts", ban=True)
                if env.msg_type.is_handshake:
                    if env.msg_type == MsgType.REJECT:
                        return f"peer closed: {self._reject_reason(env.payload)}", False
                    raise _Drop(f"{env.msg_type.name} after the handshake", ban=True)
                if env.msg_type == MsgType.STATUS:
                    try:
                        status = decode_status(env.payload)
                    except DecodeError as exc:
                        raise _Drop(f"malformed status: {exc}", ban=True) from None
                    conn.info = replace(conn.info, tip_height=status.height,
                                        tip_hash=BlockHash(status.tip_hash))
                if self._on_message is not None:
                    try:
                        await self._on_message(peer_id, env.msg_type, env.payload)
                    except Exception as exc:  # the node's bug must not kill the connection
                        self._log.error("message_handler_failed", peer=peer_id,
                                        type=env.msg_type.name, error=repr(exc), exc_info=exc)
            elif msg.type == WSMsgType.TEXT:
                raise _Drop("malformed frame: text frames are not allowed", ban=True)
            elif msg.type == WSMsgType.ERROR:
                raise self._error_drop(ws)
            else:  # CLOSE, CLOSING, CLOSED
                code = ws.close_code
                extra = msg.extra if isinstance(msg.extra, str) and msg.extra else ""
                return f"closed by peer ({code}{': ' + extra if extra else ''})", False

    def _reassemble(self, conn: _Conn, payload: bytes) -> bytes | None:
        try:
            return conn.parts.feed(decode_part(payload), self._clock())
        except DecodeError as exc:
            raise _Drop(f"malformed frame: {exc}", ban=True) from None
        except BudgetFull as exc:
            raise _Drop(str(exc), ban=False) from None

    async def _write_loop(self, conn: _Conn) -> None:
        try:
            while True:
                frame = await conn.queue.get()
                if frame is None:
                    return
                conn.queued_bytes -= len(frame)
                await conn.ws.send_bytes(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._request_drop(conn, f"send failed: {type(exc).__name__}", ban=False)
