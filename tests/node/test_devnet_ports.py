"""The devnet's start check reports a port only when a node's server could not listen on it:
a listener counts, connections left in TIME_WAIT by a stopped devnet do not (issue 12).
`free_base_port`, for tests, still skips both."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from faircoop_node.devnet import DevnetNode, free_base_port, port_taken, ports_for, ports_in_use


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _listener(host: str, port: int) -> Iterator[None]:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen()
        yield


@contextmanager
def _time_wait(port: int) -> Iterator[None]:
    """A server on `port` that accepted a connection and closed it first, then stopped: the
    port is left in TIME_WAIT, as a stopped node's are."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server side closes first: it is the side that waits
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the old check's probe: refused
    yield


@contextmanager
def _nothing(port: int) -> Iterator[None]:
    yield


Scene = Callable[[int], AbstractContextManager[None]]

# scene on a port: (is it taken for a devnet's start, does free_base_port skip its range)
SCENES: dict[str, tuple[Scene, bool, bool]] = {
    "a listener on 127.0.0.1": (lambda port: _listener("127.0.0.1", port), True, True),
    "a listener on every address": (lambda port: _listener("0.0.0.0", port), True, True),
    "only connections in TIME_WAIT": (_time_wait, False, True),
    "nothing": (_nothing, False, False),
}


@pytest.mark.parametrize(("scene", "taken", "skipped"), SCENES.values(), ids=list(SCENES))
def test_only_a_port_a_server_could_not_listen_on_is_taken(
        scene: Scene, taken: bool, skipped: bool) -> None:
    port = _free_port()
    node = DevnetNode("n", Path("."), True, port, _free_port())
    with scene(port):
        assert port_taken(port) is taken
        assert ports_in_use([node]) == ([port] if taken else [])
        if not taken:
            with _listener("127.0.0.1", port):  # and a node's server does start on it
                assert port_taken(port)


@pytest.mark.parametrize(("scene", "taken", "skipped"), SCENES.values(), ids=list(SCENES))
def test_free_base_port_skips_a_range_with_a_listener_or_a_lingering_connection(
        scene: Scene, taken: bool, skipped: bool) -> None:
    """Stricter than the start check: a range a devnet just left (TIME_WAIT) is skipped, so
    tests that bind a range's ports with bare sockets get them."""
    base = free_base_port(43_000, nodes=2, step=50)
    with scene(ports_for(base, 1)[1]):  # the second node's P2P port
        assert (free_base_port(base, nodes=2, step=50) > base) is skipped
