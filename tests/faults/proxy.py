"""A TCP proxy the tests control: one listening port per directed link between two nodes.

Node i reaches node j's P2P port only through the link (i, j), so a test can cut any set of
links (a partition) and heal them again. A link is in one of three modes:

- `open`: bytes flow both ways;
- `held`: bytes already read stay queued and nothing is forwarded (a black hole that loses
  nothing: TCP backpressure stops the sender, and on heal the stream resumes intact, as after
  a long delay). New connections are accepted and held too;
- `cut`: every connection of the link is reset, and new ones are reset as soon as accepted.

Held streams never drop bytes from the middle of a stream: dropping part of a WebSocket stream
would corrupt its framing and make the receiver ban the sender, which is not a network fault.

The proxy runs its own asyncio loop in a daemon thread, so synchronous tests can drive it.
Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
OPEN, HELD, CUT = "open", "held", "cut"
Link = tuple[str, str]  # (from node, to node)


@dataclass
class _LinkState:
    target_port: int
    port: int = 0
    mode: str = OPEN
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)
    server: asyncio.AbstractServer | None = None
    accepted: int = 0


class ProxyHub:
    """Every link's listener, on one private event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._links: dict[Link, _LinkState] = {}
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
        state = _LinkState(target_port)
        state.flowing.set()
        state.server = await asyncio.start_server(
            lambda r, w: self._accept(state, r, w), HOST, 0)
        state.port = state.server.sockets[0].getsockname()[1]
        self._links[link] = state
        return state.port

    def port(self, link: Link) -> int:
        return self._links[link].port

    def accepted(self, link: Link) -> int:
        """How many connections the link has accepted so far (a test's proof of use)."""
        return self._links[link].accepted

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
                for a, b in list(state.conns):
                    _abort(a)
                    _abort(b)
                state.conns.clear()

    def partition(self, groups: Iterable[Iterable[str]], mode: str = CUT) -> list[Link]:
        """Cut (or hold) every link between nodes of different groups; the links affected."""
        side = {name: i for i, group in enumerate(groups) for name in group}
        crossing = [link for link in self._links
                    if side.get(link[0], -1) != side.get(link[1], -2)]
        self.set_mode(crossing, mode)
        return crossing

    def heal(self) -> None:
        self.set_mode(list(self._links), OPEN)

    def close(self) -> None:
        async def shutdown() -> None:
            for state in self._links.values():
                if state.server is not None:
                    state.server.close()
                for a, b in list(state.conns):
                    _abort(a)
                    _abort(b)

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
        pair = (writer, up_writer)
        state.conns.add(pair)
        try:
            await asyncio.gather(self._pump(state, reader, up_writer),
                                 self._pump(state, up_reader, writer))
        finally:
            state.conns.discard(pair)
            _abort(writer)
            _abort(up_writer)

    @staticmethod
    async def _pump(state: _LinkState, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await state.flowing.wait()  # held: keep the bytes, forward them on heal
                if writer.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()
