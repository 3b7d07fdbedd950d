"""Quarantine and the participation ledger, from tables and a naive recount.

Validators are named by their position in the sorted voting set ("0".."3"), so a table can say
who proposes: proposer(h, r) = rotation[(h + r) mod len(rotation)].
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.chainstate import Participation
from consensus.params import ChainParams
from consensus.types import PublicKey
from tests.chainstate.harness import Net, name_of

# (height, committed round, signers by position, quarantined positions after the block)
DEAD_PROPOSER_TABLE: list[tuple[int, int, str, str]] = [
    (1, 0, "012", ""),
    (2, 0, "012", ""),
    (3, 1, "012", ""),  # position 3's turn at round 0: it is down, round 1 commits
    (4, 0, "012", ""),  # height 3 is attributed now (one block late): one miss
    (5, 0, "012", ""),
    (6, 0, "012", ""),
    (7, 1, "012", ""),  # second miss in a row
    (8, 0, "012", "3"),  # attributed: k = 2 misses, so out of the rotation
    (9, 0, "012", "3"),  # rotation is 0, 1, 2 now: no round is wasted on it
    (10, 0, "0123", "3"),  # it is back and precommits
    (11, 0, "0123", ""),  # its precommit of height 10 is in this block's certificate: back in
    (12, 0, "0123", ""),
]


def _positions(net: Net) -> dict[str, str]:
    """Position digit -> validator name, in voting-set order."""
    return {str(i): name_of(pk) for i, pk in enumerate(net.state.voting_set())}


def test_dead_proposer_is_quarantined_after_k_misses_and_returns_when_it_votes() -> None:
    net = Net.of("ABCD", params=ChainParams(quarantine_after=2))
    pos = _positions(net)
    key_pos = {pk: str(i) for i, pk in enumerate(net.state.voting_set())}
    for height, round_, signers, quarantined in DEAD_PROPOSER_TABLE:
        state = net.state
        # every round before the committed one had a dead proposer; the committed one is alive
        for r in range(round_ + 1):
            proposer = key_pos[state.proposer(height, r)]
            assert (proposer in signers) == (r == round_), f"height {height} round {r}"
        net.commit(round_=round_, signers="".join(pos[p] for p in signers))
        got = "".join(sorted(key_pos[pk] for pk in net.state.quarantined()))
        assert got == quarantined, f"after height {height}"
        rotation = {key_pos[pk] for pk in net.state.proposer_rotation()}
        assert rotation == set("0123") - set(quarantined)
    ledger = {key_pos[pk]: p for pk, p in net.state.participation}
    # heights 1..11 are attributed (12's certificate is not on chain yet)
    assert ledger["3"] == Participation(proposed=0, voted=2, missed=2, missed_in_a_row=0)
    assert ledger["0"] == Participation(proposed=5, voted=11, missed=0, missed_in_a_row=0)
    assert ledger["1"] == Participation(proposed=3, voted=11, missed=0, missed_in_a_row=0)
    assert ledger["2"] == Participation(proposed=3, voted=11, missed=0, missed_in_a_row=0)
    assert sum(p.proposed for p in ledger.values()) == 11


def test_rotation_falls_back_to_the_voting_set_when_everyone_is_out() -> None:
    net = Net.of("AB", params=ChainParams(quarantine_after=1))
    everyone_out = tuple((pk, Participation(missed=1, missed_in_a_row=1))
                         for pk in net.state.voting_set())
    state = replace(net.state, participation=everyone_out)
    assert state.quarantined() == frozenset(state.voting_set())
    assert state.proposer_rotation() == state.voting_set()
    assert state.proposer(1, 0) in state.voting_set()


def test_a_round_number_beyond_the_set_size_wraps_around_the_rotation() -> None:
    net = Net.of("ABC", params=ChainParams(quarantine_after=100))
    net.commit()
    net.commit(round_=7)  # height 2, round 7: rounds 0..6 missed, 7 proposers' turns wrapped
    net.commit()  # attributes height 2
    missed = {name_of(pk): p.missed for pk, p in net.state.participation}
    rotation = net.state.last_rotation
    expected = {name_of(pk): 0 for pk in rotation}
    for r in range(7):
        expected[name_of(rotation[(2 + r) % 3])] += 1
    assert missed == expected and sum(missed.values()) == 7


@settings(max_examples=25, deadline=None)
@given(rounds=st.lists(st.integers(0, 9), min_size=1, max_size=8), k=st.integers(1, 4))
def test_participation_matches_a_naive_recount(rounds: list[int], k: int) -> None:
    """Property: the ledger equals counting, height by height, who proposed, missed, voted."""
    net = Net.of("ABCD", params=ChainParams(quarantine_after=k))
    expected: dict[PublicKey, list[int]] = {}
    rotations = []
    for r in rounds:
        rotations.append(net.state.proposer_rotation())
        net.commit(round_=r)
    net.commit()
    for h, (r, rotation) in enumerate(zip(rounds, rotations, strict=True), start=1):
        for miss in range(r):
            expected.setdefault(rotation[(h + miss) % len(rotation)], [0, 0, 0])[2] += 1
        expected.setdefault(rotation[(h + r) % len(rotation)], [0, 0, 0])[0] += 1
        for pk in net.state.voting_set():
            expected.setdefault(pk, [0, 0, 0])[1] += 1
    got = {pk: [p.proposed, p.voted, p.missed] for pk, p in net.state.participation}
    assert got == expected
    assert sum(p.missed for _, p in net.state.participation) == sum(rounds)
