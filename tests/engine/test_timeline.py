"""A commit says where its height's time went (`Committed.timeline_ms`, logged with
`block_committed`): the gate, then the proposal (built or received), its validation, our votes,
the decision and the commit, each in milliseconds from the height's start."""

from __future__ import annotations

from faircoop_node.node.contract import Committed
from faircoop_node.node.timeline import HeightTimeline
from tests.engine.cluster import Cluster


class TickingClock:
    """The cluster's still wall clock, with a monotonic time that moves 1 ms at each read, so
    every step the driver marks lands at its own moment, in the order the driver took it."""

    def __init__(self, inner: object, start: float) -> None:
        self._inner = inner
        self.mono = start

    def now_ms(self) -> int:
        return self._inner.now_ms()  # type: ignore[attr-defined, no-any-return]

    def monotonic(self) -> float:
        self.mono += 0.001
        return self.mono


def test_the_first_mark_of_a_step_counts_and_marks_are_from_the_start() -> None:
    timeline = HeightTimeline(height=7, started=10.0, gate_s=0.25)
    timeline.mark("proposal", 10.040)
    timeline.mark("proposal", 10.500)  # a later round's proposal: the step stays where it was
    timeline.mark("decided", 10.2)
    assert timeline.as_ms(10.3) == {"gate": 250, "proposal": 40, "decided": 200,
                                    "committed": 300}


def test_each_commit_carries_its_heights_steps_in_order() -> None:
    cluster = Cluster(4)
    commits: dict[int, list[Committed]] = {}
    for node in cluster.nodes:
        node.d.clock = TickingClock(node.d.clock, start=100.0 * node.index)
        node.d.last_block_mono = node.d.clock.monotonic()
        node.d._on_commit = lambda c, i=node.index: commits.setdefault(i, []).append(c)
    cluster.start()
    cluster.propose()
    cluster.stabilize()
    assert sorted(commits) == [0, 1, 2, 3]
    built = 0
    for i, seen in commits.items():
        assert len(seen) == 1 and seen[0].source == "consensus"
        timeline = seen[0].timeline_ms
        assert timeline is not None
        own = "built" in timeline
        built += own
        order = ["built" if own else "proposal", "validated", "prevote", "precommit",
                 "decided", "committed"]
        if own:
            order.remove("validated")  # a proposer checked its block while building it
        assert [s for s in timeline if s != "gate"] == [s for s in order if s in timeline]
        assert set(order) <= set(timeline), (i, timeline)
        steps = [timeline[s] for s in order if s in timeline]
        assert steps == sorted(steps) and steps[0] >= 0, (i, timeline)
        assert timeline["gate"] >= 0
    assert built == 1  # exactly one node proposed the height


def test_a_synced_block_has_no_timeline() -> None:
    cluster = Cluster(4)
    cluster.start()
    cluster.partition([[0, 1, 2], [3]])
    cluster.propose()
    cluster.stabilize()
    cluster.heal()
    seen: list[Committed] = []
    cluster.nodes[3].d._on_commit = seen.append
    assert cluster.sync(3) == 1
    assert [c.source for c in seen] == ["sync"] and seen[0].timeline_ms is None
