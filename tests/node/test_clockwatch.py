"""ClockWatch: when a node says its clock is off (`clock_skew`), and when it keeps quiet."""

from __future__ import annotations

import pytest

from consensus.types import BlockHeader
from faircoop_node.node.clockwatch import AHEAD_IN_A_ROW, ClockWatch
from tests.builders import make_header

DRIFT = 10_000
PARENT = 1_000_000


def header(time_ms: int) -> BlockHeader:
    return make_header(time_ms=time_ms)


@pytest.mark.parametrize(("block_time", "now", "said"), [
    (PARENT + 100, PARENT + 100 + DRIFT + 1, True),   # our clock ahead, three blocks in a row
    (PARENT + 100, PARENT + 100 + DRIFT, False),      # exactly the bound: nothing to say
    (PARENT + DRIFT, PARENT + 5 * DRIFT, False),      # clamped after a stall: says nothing
    (PARENT + 100, PARENT - DRIFT, False),            # behind: refusals say that, not this
])
def test_final_blocks_say_our_clock_is_ahead_only_three_in_a_row(
        block_time: int, now: int, said: bool) -> None:
    watch = ClockWatch()
    got = [watch.final_block(header(block_time), PARENT, DRIFT, now, float(i))
           for i in range(AHEAD_IN_A_ROW)]
    assert got[:-1] == [None] * (AHEAD_IN_A_ROW - 1)
    assert (got[-1] == now - block_time) if said else got[-1] is None


def test_one_block_in_step_starts_the_count_again() -> None:
    watch = ClockWatch()
    late, fresh = header(PARENT + 1), header(PARENT + 2)
    now = PARENT + 2 * DRIFT
    assert watch.final_block(late, PARENT, DRIFT, now, 0.0) is None
    assert watch.final_block(late, PARENT, DRIFT, now, 0.0) is None
    assert watch.final_block(fresh, PARENT, DRIFT, PARENT + 3, 0.0) is None  # in step
    assert watch.final_block(late, PARENT, DRIFT, now, 0.0) is None
    assert watch.final_block(late, PARENT, DRIFT, now, 0.0) is None
    assert watch.final_block(late, PARENT, DRIFT, now, 0.0) == now - late.time_ms


def test_a_refused_future_proposal_is_said_once_a_minute() -> None:
    watch = ClockWatch()
    future = header(PARENT + 2 * DRIFT)
    assert watch.refused_future(future, DRIFT, PARENT, 0.0) == -2 * DRIFT
    assert watch.refused_future(future, DRIFT, PARENT, 59.0) is None
    assert watch.refused_future(future, DRIFT, PARENT, 60.0) == -2 * DRIFT
    assert watch.refused_future(header(PARENT + DRIFT), DRIFT, PARENT, 500.0) is None
