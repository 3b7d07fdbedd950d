"""The combined soak's schedule: replayable from its seed, and within the fault budget."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.faults.schedule import MAX_IMPAIRED, make_schedule

VALIDATORS = [f"coop-{i}" for i in range(1, 8)]
DISKS = ("coop-2", "coop-5")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), length=st.floats(20, 900))
def test_a_schedule_keeps_a_quorum_whole_except_in_a_split(seed: int, length: float) -> None:
    faults = make_schedule(seed, length, VALIDATORS, DISKS)
    assert faults == make_schedule(seed, length, VALIDATORS, DISKS)  # the seed replays it
    for f in faults:
        assert 0 < f.start_s < f.end_s <= length
        assert f.kind != "disk" or f.victims[0] in DISKS
        overlapping = [g for g in faults if g is not f and g.start_s < f.end_s
                       and f.start_s < g.end_s]
        if f.kind == "split":
            assert not overlapping, f"a split overlaps {overlapping}"
            assert all(len(g) < 5 for g in f.groups[:1]) and len(f.groups[1]) - 1 < 5
            continue
        at_start = [g for g in faults if g.start_s <= f.start_s < g.end_s]
        assert len({v for g in at_start for v in g.victims}) <= MAX_IMPAIRED
        assert sum(g.kind == "skew" for g in at_start) <= 1


def test_ten_minutes_mix_every_kind_of_fault() -> None:
    for seed in range(1, 6):
        kinds = {f.kind for f in make_schedule(seed, 600, VALIDATORS, DISKS)}
        assert kinds == {"kill", "pause", "partition", "slow", "skew", "disk", "split"}, seed
    assert not any(f.kind == "disk" for f in make_schedule(1, 600, VALIDATORS, ()))
