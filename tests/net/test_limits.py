"""Token buckets, bans and backoff, driven by a hand-held clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faircoop_node.net.limits import BanList, TokenBucket, backoff_delay, is_loopback


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.25  # 2.5 tokens
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 100  # refills only up to the burst
    assert sum(bucket.take() for _ in range(10)) == 5


def test_bucket_ignores_a_clock_going_backwards() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.take()
    clock.now -= 50
    assert not bucket.take()


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 5), (1, 0)])
def test_bucket_rejects_nonsense(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, Clock())


@settings(max_examples=100, deadline=None)
@given(st.floats(0.5, 1000), st.integers(1, 100), st.lists(st.floats(0, 2), max_size=60))
def test_bucket_never_admits_more_than_burst_plus_rate_times_time(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, burst, clock)
    admitted = 0
    for gap in gaps:
        clock.now += gap
        admitted += bucket.take()
    assert admitted <= burst + rate * sum(gaps) + 1e-6


def test_bans_expire_and_node_and_address_are_separate() -> None:
    clock = Clock()
    bans = BanList(clock, address_exempt=lambda h: False)
    bans.ban_node(b"\x02" * 33, 10, "spam")
    assert bans.ban_address("10.0.0.5", 20, "garbage")
    assert bans.node_ban(b"\x02" * 33) is not None
    assert bans.node_ban(b"\x03" * 33) is None
    assert bans.address_ban("10.0.0.5") is not None and bans.address_ban("10.0.0.6") is None
    clock.now += 10
    assert bans.node_ban(b"\x02" * 33) is None
    assert [b.reason for b in bans.active()] == ["garbage"]
    clock.now += 10
    assert bans.active() == ()


def test_a_shorter_ban_does_not_shorten_a_longer_one() -> None:
    clock = Clock()
    bans = BanList(clock)
    bans.ban_node(b"k", 100, "first")
    bans.ban_node(b"k", 1, "second")
    clock.now += 50
    ban = bans.node_ban(b"k")
    assert ban is not None and ban.reason == "first"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True),
                                                ("localhost", True), ("10.1.2.3", False),
                                                ("example.org", False), ("", False)])
def test_loopback_hosts_are_exempt_from_address_bans_by_default(host: str,
                                                                loopback: bool) -> None:
    assert is_loopback(host) is loopback
    bans = BanList(Clock())
    assert bans.ban_address(host, 10, "x") is (not loopback and host != "")


def test_backoff_grows_is_capped_and_is_reproducible_from_a_seed() -> None:
    a = [backoff_delay(i, 0.5, 30, random.Random(1)) for i in range(12)]
    b = [backoff_delay(i, 0.5, 30, random.Random(1)) for i in range(12)]
    assert a == b
    for i, d in enumerate(a):
        ceiling = min(30, 0.5 * 2**i)
        assert ceiling / 2 <= d <= ceiling
    assert max(backoff_delay(1000, 0.5, 30, random.Random(2)) for _ in range(5)) <= 30


def test_backoff_jitter_spreads_peers_apart() -> None:
    rng = random.Random(3)
    delays = {round(backoff_delay(5, 0.5, 30, rng), 6) for _ in range(20)}
    assert len(delays) == 20


def test_the_ban_list_is_bounded_and_keeps_the_longest_bans() -> None:
    bans = BanList(Clock(), capacity=3)
    bans.ban_node(b"long", 600, "x")
    for i in range(10):  # a flood of fresh identities
        bans.ban_node(bytes([i]), 10 + i, "junk")
    assert len(bans.active()) == 3
    assert bans.node_ban(b"long") is not None
