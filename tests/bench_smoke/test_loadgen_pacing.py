"""The load generator's pacing: unused send slots are banked (bounded), not lost; order holds.

The devnet figures are only as good as the generator: if it lets send slots lapse while every
connection waits on a slow POST, a shortfall in committed tx/s is the generator's, not the
nodes'. `SendSlots` is checked as pure bookkeeping (clock passed in), and `send_paced` against
fake nodes whose POSTs all stall together for part of each period, as the real nodes do when
they commit the same block at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts import loadgen


@pytest.mark.parametrize(
    ("rate", "backlog_s", "steps", "banked", "lapsed"),
    [  # times are binary fractions, so the arithmetic is exact
        (1000.0, 0.5, [(0.25, 0)], 250, 0),                # idle 0.25 s: every slot kept
        (1000.0, 0.5, [(0.25, 0), (0.5, 0)], 500, 250),    # idle past the bound: excess lapses
        (1000.0, 0.5, [(0.25, 250), (0.25, 0)], 250, 0),   # slots used as they come: none lost
        (1024.0, 0.0, [(0.015625, 0)], 1, 15),             # no backlog: one slot may wait
        (1500.0, 2.0, [(0.25, 0), (0.125, 562)], 0, 0),    # a 0.375 s stall made up in a burst
    ],
)
def test_send_slots_bank_then_lapse(rate: float, backlog_s: float,
                                    steps: list[tuple[float, int]], banked: int,
                                    lapsed: int) -> None:
    slots = loadgen.SendSlots(rate, backlog_s, now=0.0)
    now = 0.0
    for dt, takes in steps:
        now += dt
        slots.refill(now)
        for _ in range(takes):
            slots.take()
    assert (slots.banked, slots.lapsed) == (banked, lapsed)


@settings(max_examples=100, deadline=None)
@given(rate=st.floats(10, 5000), backlog_s=st.floats(0, 3),
       steps=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 10_000)), max_size=30))
def test_send_slots_conserve_every_slot(rate: float, backlog_s: float,
                                        steps: list[tuple[float, int]]) -> None:
    slots = loadgen.SendSlots(rate, backlog_s, now=0.0)
    now = 0.0
    for dt, want in steps:
        now += dt
        fresh = slots.refill(now)
        assert fresh >= 0 and slots.banked <= slots.cap
        for _ in range(min(want, slots.banked)):
            slots.take()
        assert slots.banked == slots.issued - slots.taken >= 0
    # every slot accrued so far was either issued or lapsed; only the fraction is pending
    assert slots.issued + slots.lapsed + slots.fraction == pytest.approx(rate * now, abs=1e-6)
    assert slots.peak <= slots.cap


def _run_fake_nodes(rate: float, backlog_s: float, seconds: float,
                    batch: int = 1) -> dict[str, object]:
    """Drive `send_paced` against 2 fake nodes x 2 connections whose POSTs stall together."""
    period, stall, service = 0.3, 0.15, 0.001
    nodes, conns, senders_per_node = 2, 2, 20
    in_flight: dict[int, int] = {}
    max_in_flight = 0
    seen: list[list[tuple[int, int]]] = [[] for _ in range(nodes)]  # per node: (sender, seq)
    batches: list[int] = []  # txs per POST

    async def main() -> int:
        nonlocal max_in_flight
        t0 = time.monotonic()

        def poster(node: int) -> object:
            async def post(bodies: list[bytes]) -> list[tuple[int, bytes]]:
                nonlocal max_in_flight
                batches.append(len(bodies))
                mine = [tuple(int(v) for v in body.split(b":")) for body in bodies]
                for sender, seq in mine:
                    in_flight[sender] = in_flight.get(sender, 0) + 1
                    max_in_flight = max(max_in_flight, in_flight[sender])
                    seen[node].append((sender, seq))
                phase = (time.monotonic() - t0) % period
                wait = service + (stall - phase if phase < stall else 0.0)
                await asyncio.sleep(wait)  # every connection waits out the same stall
                for sender, _ in mine:
                    in_flight[sender] -= 1
                return [(200, b"{}")] * len(bodies)
            return post

        queues: list[asyncio.Queue[object]] = [asyncio.Queue() for _ in range(nodes)]
        for i in range(nodes * senders_per_node):
            txs = deque((f"{i}-{k}", f"{i}:{k}".encode()) for k in range(10_000))
            queues[i % nodes].put_nowait(loadgen.Sender(i, i % nodes, txs))
        stats = loadgen.Stats()
        sending = asyncio.Event()
        sending.set()
        slots = loadgen.SendSlots(rate, backlog_s, time.monotonic())
        task = asyncio.create_task(loadgen.send_paced(
            queues, [[poster(n) for _ in range(conns)] for n in range(nodes)], slots, stats,
            sending, batch=batch))
        await asyncio.sleep(seconds)
        sending.clear()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # the trace's node of each tx is the one its sender is pinned to
        assert all(stats.node_of[t] == int(t.split("-")[0]) % nodes for t in stats.submitted)
        return len(stats.submitted)

    sent = asyncio.run(main())
    return {"sent": sent, "max_in_flight": max_in_flight, "seen": seen, "batches": batches}


def _assert_chains_in_order(run: dict[str, object]) -> None:
    assert run["max_in_flight"] == 1
    for node_seen in run["seen"]:  # type: ignore[attr-defined]
        last: dict[int, int] = {}
        for sender, seq in node_seen:
            assert seq == last.get(sender, -1) + 1  # each sender's chain, in order, no gaps
            last[sender] = seq


def test_batched_posts_carry_several_senders_and_keep_each_chain_in_order() -> None:
    rate, seconds = 400.0, 1.2
    run = _run_fake_nodes(rate, backlog_s=2.0, seconds=seconds, batch=8)
    assert 0.8 * rate * seconds <= run["sent"] <= rate * seconds + 2  # type: ignore[operator]
    assert max(run["batches"]) <= 8 < 8 * len(run["batches"])  # type: ignore[arg-type]
    assert max(run["batches"]) > 1  # stalls bank slots; a free connection takes several
    _assert_chains_in_order(run)
    assert max(_run_fake_nodes(rate, 2.0, 0.5)["batches"]) == 1  # type: ignore[arg-type]


def test_send_paced_makes_up_stalls_and_keeps_each_chain_in_order() -> None:
    rate, seconds = 400.0, 1.2
    banked = _run_fake_nodes(rate, backlog_s=2.0, seconds=seconds)
    # Half of every 0.3 s period all POSTs stall; the bank makes the slots up afterwards.
    # Slots still banked when the window closes (< one stall's worth) are not sent.
    assert banked["sent"] >= 0.8 * rate * seconds, banked["sent"]
    assert banked["sent"] <= rate * seconds + 2
    _assert_chains_in_order(banked)
    # With (almost) no bank, the stalled half of each period is lost: the old behaviour.
    lapsing = _run_fake_nodes(rate, backlog_s=0.01, seconds=seconds)
    assert lapsing["sent"] < 0.7 * rate * seconds, lapsing["sent"]


def test_the_trace_holds_each_window_tx_with_its_node_times_and_block(tmp_path: Path) -> None:
    stats = loadgen.Stats()
    for tid, node, sent in (("a", 0, 10.5), ("b", 1, 11.0), ("c", 1, 11.2)):
        stats.submitted[tid], stats.node_of[tid] = sent, node
    stats.final_at.update(a=11.0, b=12.5)
    stats.final_height.update(a=7, b=8)
    stats.blocks += [loadgen.SeenBlock(11.0, 7, 1, 1_000), loadgen.SeenBlock(12.5, 8, 1, 2_400)]
    loadgen.write_trace(tmp_path / "t.json", stats, ["a", "b", "c"], w0=10.0)
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc == {"txs": [[0, 0.5, 1.0, 7], [1, 1.0, 2.5, 8], [1, 1.2, None, None]],
                   "blocks": [[1.0, 7, 1, 1_000], [2.5, 8, 1, 2_400]]}


def _blocks(*rows: tuple[float, int, int]) -> list[loadgen.SeenBlock]:
    """(seen, tx_count, header time_ms) per block, heights in order."""
    return [loadgen.SeenBlock(seen, h, n, t) for h, (seen, n, t) in enumerate(rows, 1)]


@pytest.mark.parametrize(
    ("blocks", "w0", "w1", "rate"),
    [
        (_blocks((0.5, 100, 500), (1.0, 100, 1_000), (1.5, 100, 1_500)), 0.0, 2.0, 200.0),
        # the first block's txs came before the window: not counted
        (_blocks((0.25, 999, 250), (0.75, 50, 750), (1.25, 50, 1_250)), 0.0, 2.0, 100.0),
        # the header times measure, not the announcements (which jitter with finality)
        (_blocks((0.5, 9, 1_000), (0.9, 30, 1_500), (1.9, 30, 2_000)), 0.0, 2.0, 60.0),
        # blocks announced outside the window are ignored
        (_blocks((-1.0, 7, 0), (0.5, 3, 500), (1.5, 30, 1_500), (2.0, 30, 2_000), (9.0, 7, 9_000)),
         0.0, 4.0, 40.0),
        (_blocks((0.5, 100, 500)), 0.0, 2.0, None),                  # one block: no interval
        ([], 0.0, 2.0, None),
        (_blocks((1.0, 5, 1_000), (1.2, 5, 1_000)), 0.0, 2.0, None),  # no time between them
    ],
)
def test_committed_rate_is_block_to_block(blocks: list[loadgen.SeenBlock], w0: float,
                                          w1: float, rate: float | None) -> None:
    assert loadgen.committed_rate(blocks, w0, w1) == rate


@settings(max_examples=200, deadline=None)
@given(per_ms=st.integers(1, 5), gaps=st.lists(st.integers(1, 1000), min_size=1, max_size=60),
       lags=st.lists(st.integers(0, 2000), min_size=60, max_size=60),
       start=st.integers(0, 20_000))
def test_committed_rate_has_no_edge_error(per_ms: int, gaps: list[int], lags: list[int],
                                          start: int) -> None:
    """Txs arrive steadily, `per_ms` a millisecond; blocks are built at uneven gaps, each
    holding what arrived since the last, and announced after an uneven lag. Wherever the
    window starts, the block-to-block rate is the arrival rate exactly."""
    blocks, built, seen = [], 0, 0
    for height, (gap, lag) in enumerate(zip(gaps, lags, strict=False)):
        built += gap
        seen = max(seen, built + lag)  # announced in height order
        blocks.append(loadgen.SeenBlock(seen / 1000, height, per_ms * gap, built))
    w0 = start / 1000
    got = loadgen.committed_rate(blocks, w0, float("inf"))
    if sum(1 for b in blocks if b.seen >= w0) < 2:
        assert got is None
    else:
        assert got == 1000 * per_ms
