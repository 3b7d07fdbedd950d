"""free_base_port skips a range in which any node's API or P2P port is taken."""

from __future__ import annotations

import socket

import pytest

from faircoop_node.devnet import DevnetError, free_base_port, ports_for


def test_a_range_with_one_taken_port_is_skipped() -> None:
    first = free_base_port(41_000, nodes=3, step=50)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports_for(first, 2)[1]))  # the third node's P2P port
        s.listen()
        assert free_base_port(first, nodes=3, step=50) > first
    assert free_base_port(first, nodes=2, step=50) == first  # two nodes never touch it


def test_no_free_range_is_a_devnet_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(DevnetError, match="no free port range"):
            free_base_port(port, nodes=1, step=1, stop=port + 1)
