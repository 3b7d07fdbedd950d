"""The production gate's moment, as the node times its tick by it (`ConsensusDriver.gate_wait`):
a block interval after the last block when txs wait, a heartbeat after it when none do, and
nothing while a height is being decided."""

from __future__ import annotations

import pytest

from faircoop_node.node.contract import NoTxs
from faircoop_node.node.driver import ConsensusDriver, run_now
from tests.engine.cluster import PARAMS, Cluster
from tests.engine.test_regossip import SteppedClock


class Pooled(NoTxs):
    """A pool that holds `n` txs (only its size matters to the gate)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def committed_driver(pooled: int, last_block: float) -> tuple[ConsensusDriver, SteppedClock]:
    """Node 1's driver just after it committed height 1 at monotonic `last_block`, with
    `pooled` txs waiting."""
    cluster = Cluster(4)
    cluster.start()
    cluster.propose()
    cluster.stabilize()
    driver = cluster.nodes[1].d
    assert driver.gated and driver.state.height == 1
    clock = SteppedClock(driver.clock)
    clock.mono = last_block
    driver.clock = clock
    driver.last_block_mono = last_block
    driver.pool = Pooled(pooled)
    return driver, clock


@pytest.mark.parametrize(("pooled", "since", "expected"), [
    # no txs: the heartbeat
    (0, 0.0, PARAMS.heartbeat_ms / 1000),
    (0, 0.25, PARAMS.heartbeat_ms / 1000 - 0.25),
    (0, PARAMS.heartbeat_ms / 1000, 0.0),
    (0, 99.0, 0.0),
    # txs wait: the block interval
    (1, 0.0, PARAMS.block_interval_ms / 1000),
    (500, PARAMS.block_interval_ms / 2000, PARAMS.block_interval_ms / 2000),
    (1, PARAMS.block_interval_ms / 1000, 0.0),
    (1, 99.0, 0.0),
])
def test_gate_wait_after_a_commit(pooled: int, since: float, expected: float) -> None:
    driver, _ = committed_driver(pooled, last_block=50.0)
    assert driver.gate_wait(50.0 + since) == pytest.approx(expected, abs=1e-9)


def test_the_gate_opens_at_its_wait_and_not_before() -> None:
    driver, clock = committed_driver(1, last_block=10.0)
    wait = driver.gate_wait(clock.mono)
    assert wait is not None and wait > 0
    clock.mono = 10.0 + wait - 0.001
    run_now(driver.tick())
    assert driver.gated, "a millisecond early: still shut"
    clock.mono = 10.0 + wait + 1e-6  # float sums: the node's tick comes GATE_SLACK_S late
    run_now(driver.tick())
    assert not driver.gated and driver.gate_wait(clock.mono) is None, \
        "open at its moment; deciding a height has no gate to wait for"
