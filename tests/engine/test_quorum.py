"""Vote tallies and thresholds; the fast tally against a naive recount (etcd quorum/quick_test)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.quorum import (
    MAX_VOTES_PER_SIGNER,
    NIL_ID,
    VoteTally,
    max_faulty,
    quorum_size,
    skip_threshold,
)
from consensus.types import BlockHash

BLOCKS = (NIL_ID, BlockHash(b"\x01" * 32), BlockHash(b"\x02" * 32), BlockHash(b"\x03" * 32),
          BlockHash(b"\x04" * 32), BlockHash(b"\x05" * 32))


@pytest.mark.parametrize(
    ("n", "quorum", "skip", "faulty"),
    [
        (1, 1, 1, 0),
        (2, 2, 1, 0),
        (3, 3, 2, 0),
        (4, 3, 2, 1),
        (5, 4, 2, 1),
        (6, 5, 3, 1),
        (7, 5, 3, 2),
        (10, 7, 4, 3),
        (100, 67, 34, 33),
    ],
)
def test_thresholds_table(n: int, quorum: int, skip: int, faulty: int) -> None:
    assert (quorum_size(n), skip_threshold(n), max_faulty(n)) == (quorum, skip, faulty)


@given(st.integers(min_value=1, max_value=1000))
def test_thresholds_are_the_two_thirds_and_one_third_bounds(n: int) -> None:
    q, s, f = quorum_size(n), skip_threshold(n), max_faulty(n)
    assert 3 * q > 2 * n and 3 * (q - 1) <= 2 * n  # the least count above 2/3
    assert 3 * s > n and 3 * (s - 1) <= n  # the least count above 1/3
    assert n >= 3 * f + 1 and n < 3 * (f + 1) + 1
    assert 2 * q - n > f  # two quorums share more than f validators: one honest


def naive_counts(n: int, adds: list[tuple[int, int]]) -> tuple[dict[BlockHash, int], int]:
    """Recount from scratch: accepted (index, block) pairs, each signer at most MAX times."""
    accepted: list[tuple[int, BlockHash]] = []
    for index, b in adds:
        block = BLOCKS[b]
        mine = [blk for i, blk in accepted if i == index]
        if 0 <= index < n and block not in mine and len(mine) < MAX_VOTES_PER_SIGNER:
            accepted.append((index, block))
    counts = {blk: sum(1 for _, x in accepted if x == blk) for blk in BLOCKS}
    return counts, len({i for i, _ in accepted})


@settings(max_examples=150)
@given(
    st.integers(min_value=1, max_value=10),
    st.lists(st.tuples(st.integers(min_value=-1, max_value=11),
                       st.integers(min_value=0, max_value=len(BLOCKS) - 1)), max_size=60),
)
def test_fast_tally_matches_naive_recount(n: int, adds: list[tuple[int, int]]) -> None:
    tally = VoteTally(n)
    for index, b in adds:
        tally.add(index, BLOCKS[b])
    counts, total = naive_counts(n, adds)
    assert tally.total == total
    assert tally.has_quorum_any() == (3 * total > 2 * n)
    for block in BLOCKS:
        assert tally.count(block) == counts[block]
        assert tally.has_quorum_for(block) == (3 * counts[block] > 2 * n)
    with_quorum = [blk for blk in BLOCKS[1:] if 3 * counts[blk] > 2 * n]
    if with_quorum:
        assert tally.quorum_block() in with_quorum
    else:
        assert tally.quorum_block() is None
    assert tally.has_quorum_nil() == (3 * counts[NIL_ID] > 2 * n)


@settings(max_examples=100)
@given(st.integers(min_value=1, max_value=10), st.data())
def test_without_equivocation_at_most_one_block_has_a_quorum(n: int, data: st.DataObject) -> None:
    tally = VoteTally(n)
    for index in range(n):
        tally.add(index, BLOCKS[data.draw(st.integers(0, len(BLOCKS) - 1))])
    assert sum(1 for b in BLOCKS if tally.has_quorum_for(b)) <= 1


def test_add_reports_duplicates_and_bounds() -> None:
    tally = VoteTally(4)
    assert tally.add(0, BLOCKS[1])
    assert not tally.add(0, BLOCKS[1])  # a duplicate delivery
    assert tally.add(0, NIL_ID)  # equivocation: counted for its block too
    assert tally.total == 1 and tally.vote_of(0) == BLOCKS[1]
    assert tally.voters_for(NIL_ID) == (0,)
    assert not tally.add(4, BLOCKS[1]) and not tally.add(-1, BLOCKS[1])
    for b in BLOCKS[2:]:
        tally.add(0, b)
    assert sum(tally.count(b) for b in BLOCKS) == MAX_VOTES_PER_SIGNER
