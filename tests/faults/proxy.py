"""A TCP proxy the tests (and scripts/fault_soak.py) control: one listening port per directed
link between two nodes, with faults on each link.

Node i reaches node j's P2P port only through the link (i, j), so a test can cut any set of
links (a partition), slow them down, and heal them again. A link is in one of three modes:

- `open`: bytes flow both ways (shaped, see below);
- `held`: bytes already read stay queued and nothing is forwarded (a black hole that loses
  nothing: TCP backpressure stops the sender, and on heal the stream resumes intact, as after
  a long delay). New connections are accepted and held too;
- `cut`: every connection of the link is reset, and new ones are reset as soon as accepted.

And each link has a `Shape` (shaping.py): latency with jitter, bandwidth, segment loss (as TCP
retransmission stalls) and connections cut at random points. `limit_node` puts all of a node's
links behind one access link of a given bandwidth; `flap` makes links go down and up again at
random.

The proxy never drops bytes from the middle of a stream it keeps open: that would corrupt the
WebSocket framing and make the receiver ban the sender, which is not a network fault. Dropping
is cutting the connection.

Bounds: each direction of a connection holds at most `QUEUE_CHUNKS` chunks of at most
`CHUNK` bytes in flight (4 MiB), or one second of its bandwidth on a rate-limited link (a
router's buffer); past that the proxy stops reading and TCP pushes back. Its own sockets
receive into `SOCKET_BUFFER` bytes: on loopback the kernel would otherwise let megabytes
wait in them (autotuned windows), minutes of a 256 kbit/s link that no router holds.

The proxy runs its own asyncio loop in a daemon thread, so synchronous tests can drive it.
Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.faults.shaping import CLEAN, Access, Shape, TokenBucket

HOST = "127.0.0.1"
OPEN, HELD, CUT = "open", "held", "cut"
Link = tuple[str, str]  # (from node, to node)
CHUNK = 65536
QUEUE_CHUNKS = 64
SLICE = 4096  # bytes written at a time on a rate-limited link
BUFFER_S = 1.0  # a rate-limited direction holds this many seconds of its rate in flight
SOCKET_BUFFER = 64 * 1024  # SO_RCVBUF of the proxy's sockets


@dataclass
class _LinkState:
    link: Link
    target_port: int
    port: int = 0
    mode: str = OPEN
    shape: Shape = CLEAN
    rate: TokenBucket | None = None  # the link's own bandwidth (shape.rate_kbps)
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)
    server: asyncio.AbstractServer | None = None
    accepted: int = 0
    cuts: int = 0  # connections the shape cut at random points


class ProxyHub:
    """Every link's listener, on one private event loop."""

    def __init__(self, seed: int | str = 0) -> None:
        self.rng = random.Random(f"proxy:{seed}")
        self._loop = asyncio.new_event_loop()
        self._links: dict[Link, _LinkState] = {}
        self._access: dict[str, Access] = {}
        self._flaps: list[asyncio.Task[None]] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy",
                                        daemon=True)
        self._thread.start()

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- setup ------------------------------------------------------------------------------

    def add_link(self, link: Link, target_port: int) -> int:
        """Listen for `link` (traffic to `target_port`); the port to dial instead."""
        return int(self._call(self._add(link, target_port)))

    async def _add(self, link: Link, target_port: int) -> int:
        state = _LinkState(link, target_port)
        state.flowing.set()
        state.server = await asyncio.start_server(
            lambda r, w: self._accept(state, r, w), HOST, 0)
        state.port = state.server.sockets[0].getsockname()[1]
        self._links[link] = state
        return state.port

    @property
    def links(self) -> list[Link]:
        return list(self._links)

    def links_of(self, name: str) -> list[Link]:
        """Every link from or to node `name`."""
        return [link for link in self._links if name in link]

    def port(self, link: Link) -> int:
        return self._links[link].port

    def accepted(self, link: Link) -> int:
        """How many connections the link has accepted so far (a test's proof of use)."""
        return self._links[link].accepted

    def cuts(self, links: Iterable[Link] | None = None) -> int:
        """Connections cut at random points by the links' shapes so far."""
        chosen = self._links if links is None else links
        return sum(self._links[link].cuts for link in chosen)

    # -- faults -----------------------------------------------------------------------------

    def set_mode(self, links: Iterable[Link], mode: str) -> None:
        if mode not in (OPEN, HELD, CUT):
            raise ValueError(f"unknown link mode {mode!r}")
        self._call(self._set_mode(tuple(links), mode))

    async def _set_mode(self, links: tuple[Link, ...], mode: str) -> None:
        for link in links:
            state = self._links[link]
            state.mode = mode
            if mode == OPEN:
                state.flowing.set()
            else:
                state.flowing.clear()
            if mode == CUT:
                _abort_all(state)

    def set_shape(self, links: Iterable[Link], shape: Shape) -> None:
        """Give `links` this shape from now on (chunks already in flight keep theirs)."""
        async def apply() -> None:
            for link in links:
                state = self._links[link]
                state.shape = shape
                state.rate = None if shape.rate_kbps is None else TokenBucket(shape.rate_kbps)

        self._call(apply())

    def shape_all(self, shape: Shape) -> None:
        self.set_shape(self.links, shape)

    def limit_node(self, name: str, rate_kbps: float | None) -> None:
        """Put every link of node `name` behind one access link of `rate_kbps` each way
        (None: lift it)."""
        async def apply() -> None:
            if rate_kbps is None:
                self._access.pop(name, None)
            else:
                self._access[name] = Access.of(rate_kbps)

        self._call(apply())

    def flap(self, links: Iterable[Link], up_s: tuple[float, float],
             down_s: tuple[float, float], mode: str = CUT) -> None:
        """Make `links` go down (`mode`) and up again, for random spells drawn from the two
        ranges, until `stop_flapping` or `heal`."""
        chosen = tuple(links)

        async def start() -> None:
            self._flaps.append(asyncio.ensure_future(self._flap(chosen, up_s, down_s, mode)))

        self._call(start())

    async def _flap(self, links: tuple[Link, ...], up_s: tuple[float, float],
                    down_s: tuple[float, float], mode: str) -> None:
        try:
            while True:
                await asyncio.sleep(self.rng.uniform(*up_s))
                await self._set_mode(links, mode)
                await asyncio.sleep(self.rng.uniform(*down_s))
                await self._set_mode(links, OPEN)
        except asyncio.CancelledError:
            await self._set_mode(links, OPEN)
            raise

    def stop_flapping(self) -> None:
        async def stop() -> None:
            for task in self._flaps:
                task.cancel()
            await asyncio.gather(*self._flaps, return_exceptions=True)
            self._flaps.clear()

        self._call(stop())

    def partition(self, groups: Iterable[Iterable[str]], mode: str = CUT) -> list[Link]:
        """Cut (or hold) every link between nodes of different groups; the links affected."""
        side = {name: i for i, group in enumerate(groups) for name in group}
        crossing = [link for link in self._links
                    if side.get(link[0], -1) != side.get(link[1], -2)]
        self.set_mode(crossing, mode)
        return crossing

    def heal(self) -> None:
        """Every link open, clean and unlimited again; flapping stops."""
        self.stop_flapping()
        self.set_mode(self.links, OPEN)
        self.shape_all(CLEAN)
        for name in list(self._access):
            self.limit_node(name, None)

    def close(self) -> None:
        async def shutdown() -> None:
            for state in self._links.values():
                if state.server is not None:
                    state.server.close()
                _abort_all(state)
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # flaps and connections: ended here, not destroyed pending
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # -- forwarding -------------------------------------------------------------------------

    async def _accept(self, state: _LinkState, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        if state.mode == CUT:
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, state.target_port)
        except OSError:
            _abort(writer)
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        pair = (writer, up_writer)
        state.conns.add(pair)
        cut_after = state.shape.next_cut_s(self.rng)
        cut_at = None if cut_after is None else self._loop.time() + cut_after
        dialer, target = state.link
        try:
            await asyncio.gather(
                self._direction(state, reader, up_writer, pair, cut_at, dialer, target),
                self._direction(state, up_reader, writer, pair, cut_at, target, dialer))
        finally:
            state.conns.discard(pair)
            _abort(writer)
            _abort(up_writer)

    async def _direction(self, state: _LinkState, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter,
                         pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
                         cut_at: float | None, sender: str, receiver: str) -> None:
        """One direction of a connection: read chunks as they come, deliver each when its
        delay is over, in order, at the bandwidth allowed."""
        pipe = _Pipe(self._buffer(state, sender, receiver))
        deliver = asyncio.ensure_future(
            self._deliver(state, pipe, writer, pair, cut_at, sender, receiver))
        due = 0.0
        try:
            while not deliver.done():
                data = await reader.read(CHUNK)
                if not data:
                    break
                due = max(due, self._loop.time() + state.shape.delay_s(len(data), self.rng))
                await pipe.put(due, data)
            await pipe.put(due, b"")  # end of stream
            await deliver
        except (OSError, ConnectionError):
            pass
        finally:
            deliver.cancel()
            _abort(writer)

    def _buffer(self, state: _LinkState, sender: str, receiver: str) -> int:
        """Bytes a direction holds in flight: a router's second of a slow link, else 4 MiB."""
        rates = [b.rate for b in (state.rate, self._up(sender), self._down(receiver))
                 if b is not None]
        if not rates:
            return QUEUE_CHUNKS * CHUNK
        return max(CHUNK, int(min(rates) * BUFFER_S))

    def _up(self, name: str) -> TokenBucket | None:
        access = self._access.get(name)
        return None if access is None else access.up

    def _down(self, name: str) -> TokenBucket | None:
        access = self._access.get(name)
        return None if access is None else access.down

    async def _deliver(self, state: _LinkState, pipe: _Pipe,
                       writer: asyncio.StreamWriter,
                       pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
                       cut_at: float | None, sender: str, receiver: str) -> None:
        try:
            while True:
                due, data = await pipe.get()
                if not data:
                    return
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await state.flowing.wait()  # held: keep the bytes, forward them on heal
                step = SLICE if self._limited(state, sender, receiver) else CHUNK
                for start in range(0, len(data), step):
                    piece = data[start:start + step]
                    await self._pace(state, len(piece), sender, receiver)
                    if writer.is_closing():
                        return
                    if cut_at is not None and self._loop.time() >= cut_at:
                        writer.write(piece[:self.rng.randrange(len(piece) + 1)])
                        state.cuts += 1
                        _abort_pair(pair)
                        return
                    writer.write(piece)
                    await writer.drain()
        except (OSError, ConnectionError):
            _abort_pair(pair)

    def _limited(self, state: _LinkState, sender: str, receiver: str) -> bool:
        return state.rate is not None or sender in self._access or receiver in self._access

    async def _pace(self, state: _LinkState, n: int, sender: str, receiver: str) -> None:
        for bucket in (state.rate, self._up(sender), self._down(receiver)):
            if bucket is not None:
                await bucket.take(n)


class _Pipe:
    """Chunks in flight one way, each with the time it may be delivered; `put` waits while
    they hold `capacity` bytes (at most QUEUE_CHUNKS chunks), so the sender feels it."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._items: deque[tuple[float, bytes]] = deque()
        self._changed = asyncio.Condition()

    async def put(self, due: float, data: bytes) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._items or (
                self.held + len(data) <= self.capacity and len(self._items) < QUEUE_CHUNKS))
            self._items.append((due, data))
            self.held += len(data)
            self._changed.notify_all()

    async def get(self) -> tuple[float, bytes]:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items))
            due, data = self._items.popleft()
            self.held -= len(data)
            self._changed.notify_all()
            return due, data


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()


def _abort_pair(pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
    _abort(pair[0])
    _abort(pair[1])


def _abort_all(state: _LinkState) -> None:
    for pair in list(state.conns):
        _abort_pair(pair)
    state.conns.clear()
