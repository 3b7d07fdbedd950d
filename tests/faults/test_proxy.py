"""The fault proxy itself, against a local echo server: each link fault does what it says and
nothing else (a stream that stays open is delivered whole and in order)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults.proxy import CUT, ProxyHub
from tests.faults.shaping import Shape, TokenBucket


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP echo server on loopback; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy resets cut connections
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield port
    stop.set()
    server.close()


@pytest.fixture
def hub() -> Iterator[ProxyHub]:
    h = ProxyHub(seed=1)
    yield h
    h.close()


def exchange(port: int, payload: bytes, timeout: float = 20.0) -> tuple[bytes, float]:
    """Send `payload` through the link and read the echo until it is whole or the link
    breaks; (what came back, seconds)."""
    start = time.monotonic()
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        def send() -> None:
            with contextlib.suppress(OSError):
                s.sendall(payload)

        threading.Thread(target=send, daemon=True).start()
        try:
            while len(got) < len(payload):
                data = s.recv(65536)
                if not data:
                    break
                got += data
        except OSError:
            pass
    return got, time.monotonic() - start


def numbered(count: int) -> bytes:
    return b"".join(b"%08d" % i for i in range(count))


def test_latency_and_jitter_delay_each_way_and_keep_the_stream_in_order(
        hub: ProxyHub, echo: int) -> None:
    port = hub.add_link(("a", "b"), echo)
    hub.shape_all(Shape(latency_ms=100, jitter_ms=50))
    payload = numbered(20_000)
    got, took = exchange(port, payload)
    assert got == payload  # whole and in order despite the jitter
    _, rtt = exchange(port, b"ping")
    assert 0.1 <= rtt < 1.0, rtt  # 2 x (100 +- 50) ms


def test_bandwidth_is_the_rate_asked_for(hub: ProxyHub, echo: int) -> None:
    port = hub.add_link(("a", "b"), echo)
    hub.shape_all(Shape(rate_kbps=800))  # 100 kB/s each way
    payload = bytes(100_000)
    got, took = exchange(port, payload)
    assert got == payload
    assert 0.8 <= took <= 2.0, took


def test_an_access_link_is_shared_by_all_of_a_nodes_links(hub: ProxyHub, echo: int) -> None:
    ports = [hub.add_link(("slow", f"peer{i}"), echo) for i in range(2)]
    hub.limit_node("slow", 800)
    results: list[float] = []
    threads = [threading.Thread(target=lambda p=p: results.append(exchange(p, bytes(50_000))[1]))
               for p in ports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(results) >= 0.8, results  # 100 kB through one 100 kB/s uplink


def test_loss_stalls_the_stream_but_loses_nothing(hub: ProxyHub, echo: int) -> None:
    port = hub.add_link(("a", "b"), echo)
    hub.shape_all(Shape(loss=0.05))
    payload = numbered(10_000)
    got, took = exchange(port, payload)
    assert got == payload
    assert took >= 0.2  # at least one retransmission stall


def test_cuts_reset_connections_mid_stream_and_keep_a_prefix(hub: ProxyHub, echo: int) -> None:
    port = hub.add_link(("a", "b"), echo)
    hub.shape_all(Shape(latency_ms=5, cuts_per_min=1200))  # every 50 ms on average
    payload = numbered(500_000)
    got, _ = exchange(port, payload)
    assert len(got) < len(payload), "the connection was never cut"
    assert payload.startswith(got)  # what arrived is what was sent, up to the cut
    assert hub.cuts() >= 1


def test_flapping_takes_a_link_down_and_up_again(hub: ProxyHub, echo: int) -> None:
    link = ("a", "b")
    port = hub.add_link(link, echo)
    hub.flap([link], up_s=(0.2, 0.3), down_s=(0.2, 0.3), mode=CUT)
    outcomes = set()
    deadline = time.monotonic() + 5
    while len(outcomes) < 2 and time.monotonic() < deadline:
        got, _ = exchange(port, b"hello", timeout=2)
        outcomes.add(got == b"hello")
        time.sleep(0.05)
    assert outcomes == {True, False}
    hub.heal()
    assert exchange(port, b"again")[0] == b"again"


def test_a_shape_refuses_impossible_values() -> None:
    for bad in (dict(latency_ms=-1), dict(loss=1.0), dict(rate_kbps=0), dict(cuts_per_min=-2)):
        with pytest.raises(ValueError):
            Shape(**bad)  # type: ignore[arg-type]
    assert Shape().clean and Shape(latency_ms=50, jitter_ms=10).describe() == "50±10 ms"
    assert TokenBucket(256).rate == 32_000
