"""A stalled driver re-sends what it signed, less often the longer the stall lasts, and a
re-send can go to one peer only (the one that just connected)."""

from __future__ import annotations

from faircoop_node.node.contract import DriverOptions
from faircoop_node.node.driver import run_now
from tests.engine.cluster import Cluster


class SteppedClock:
    """The cluster's still clock, with a monotonic time the test moves."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.mono = 0.0

    def now_ms(self) -> int:
        return self._inner.now_ms()  # type: ignore[attr-defined, no-any-return]

    def monotonic(self) -> float:
        return self.mono


def stalled_cluster() -> Cluster:
    """Four nodes at height 1 whose messages are never delivered: every one stays stuck."""
    cluster = Cluster(4)
    cluster.start()
    cluster.propose()
    return cluster


def test_a_stall_is_re_sent_after_gossip_s_then_at_doubling_waits_up_to_the_cap() -> None:
    cluster = stalled_cluster()
    driver = cluster.nodes[1].d
    driver.options = DriverOptions(gossip_s=1.0, gossip_backoff_max=8)
    clock = SteppedClock(driver.clock)
    driver.clock = clock
    resent = []
    for tenth in range(0, 400):  # 40 seconds, a tick every 100 ms
        clock.mono = tenth / 10
        if run_now(driver.tick()):
            resent.append(clock.mono)
    # the first tick records the stall point; then waits of 1, 2, 4, 8, 8, 8 ... seconds
    assert resent[:6] == [1.0, 3.0, 7.0, 15.0, 23.0, 31.0], resent
    assert resent == [1.0, 3.0, 7.0, 15.0, 23.0, 31.0, 39.0]


def test_progress_starts_the_waits_over() -> None:
    cluster = stalled_cluster()
    driver = cluster.nodes[1].d
    driver.options = DriverOptions(gossip_s=1.0, gossip_backoff_max=8)
    clock = SteppedClock(driver.clock)
    driver.clock = clock
    for t in (0.0, 1.0, 3.0, 7.0):
        clock.mono = t
        run_now(driver.tick())
    step = driver.engine.step if driver.engine is not None else None
    cluster.deliver()  # the proposal reaches the others, who prevote
    cluster.deliver()  # their prevotes arrive: the node moves on to precommit at height 1
    assert driver.engine is not None and driver.engine.step != step
    clock.mono = 7.5
    assert not run_now(driver.tick())  # a new progress point is recorded
    clock.mono = 8.5
    assert run_now(driver.tick()), "stalled a second at the new point: re-sent after gossip_s"


def test_a_re_send_to_one_peer_reaches_that_peer_only() -> None:
    cluster = stalled_cluster()
    sender, target = cluster.nodes[1], cluster.nodes[2]
    for node in cluster.nodes:
        node.inbox.clear()
    assert sender.d.regossip(to=target.key.public_key)
    got = {node.index: len(node.inbox) for node in cluster.nodes}
    assert got[2] >= 1 and all(count == 0 for i, count in got.items() if i != 2), got
    assert {frm for frm, _, _ in target.inbox} == {sender.index}
    assert cluster.log[-1].endswith("(to v2)"), cluster.log[-1]
