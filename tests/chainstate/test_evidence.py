"""Duplicate-vote evidence: what proves equivocation, and what the chain does with it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.chainstate import select_carried
from consensus.codec import pack
from consensus.errors import DecodeError, ValidationError
from consensus.evidence import (
    MAX_EVIDENCE_AGE,
    DuplicateVoteEvidence,
    check_duplicate_vote,
    decode_evidence,
    encode_evidence,
    evidence_for,
)
from consensus.governance import AddValidator, ReadmitValidator, encode_action
from consensus.types import BlockHash
from consensus.votes import NIL, Vote, VoteType, vote_obj
from tests.chainstate.harness import CHAIN_ID, Net, fake_block_id, pub


def _pair(net: Net, name: str = "B", height: int = 1, round_: int = 0,
          kind: VoteType = VoteType.PREVOTE) -> tuple[Vote, Vote]:
    return (net.vote(name, height, round_, fake_block_id("x"), kind),
            net.vote(name, height, round_, fake_block_id("y"), kind))


def test_evidence_order_is_canonical_and_round_trips() -> None:
    net = Net.of()
    a, b = _pair(net)
    one, two = DuplicateVoteEvidence(a, b), DuplicateVoteEvidence(b, a)
    assert one == two and encode_evidence(one) == encode_evidence(two)
    assert decode_evidence(encode_evidence(one)) == one
    swapped = pack((1, vote_obj(one.vote_b), vote_obj(one.vote_a)))
    with pytest.raises(DecodeError, match="canonical order"):
        decode_evidence(swapped)
    same = pack((1, vote_obj(a), vote_obj(a)))
    with pytest.raises(DecodeError):
        decode_evidence(same)


def _broken_cases(net: Net) -> list[tuple[str, Vote, Vote, str]]:
    a, b = _pair(net)
    return [
        ("different signers", a, net.vote("C", 1, 0, fake_block_id("y")),
         "evidence_signers_differ"),
        ("different heights", a, net.vote("B", 2, 0, fake_block_id("y")),
         "evidence_not_same_step"),
        ("different rounds", a, net.vote("B", 1, 1, fake_block_id("y")),
         "evidence_not_same_step"),
        ("different types", a, net.vote("B", 1, 0, fake_block_id("y"), VoteType.PRECOMMIT),
         "evidence_not_same_step"),
        ("same block", a, replace(a, signature=b.signature), "evidence_same_block"),
        ("forged signature", a, replace(b, signature=a.signature), "bad_evidence_signature"),
        ("another chain", a, replace(b, chain_id="other"), "wrong_chain"),
    ]


def test_evidence_that_proves_nothing_is_refused() -> None:
    net = Net.of()
    for what, a, b, rule in _broken_cases(net):
        with pytest.raises(ValidationError) as info:
            check_duplicate_vote(DuplicateVoteEvidence(a, b), CHAIN_ID)
        assert info.value.rule == rule, what


def test_nil_against_a_block_is_equivocation() -> None:
    """Checked on its own and by the chain: a block carrying it suspends the signer."""
    net = Net.of("ABCD")
    net.commit()
    a = net.vote("B", 1, 0, NIL)
    b = net.vote("B", 1, 0, fake_block_id("x"))
    evidence = evidence_for(a, b, CHAIN_ID)  # raises InvalidEvidence if it proves nothing
    net.commit(evidence=(encode_evidence(evidence),))
    assert [v.name for v in net.state.suspended] == ["coop-B"]


def test_offender_is_suspended_leaves_rotation_now_and_voting_set_at_h_plus_2() -> None:
    net = Net.of("ABCD")
    net.commit()
    ev = encode_evidence(evidence_for(*_pair(net, "B", height=1), chain_id=CHAIN_ID))
    net.commit(evidence=(ev,))  # included at height 2
    state = net.state
    assert [v.name for v in state.suspended] == ["coop-B"]
    assert pub("B") not in state.proposer_rotation()
    assert pub("B") in state.voting_set()  # height 3 still counts its vote
    assert net.next_voting() == "ACD"
    net.commit()
    assert net.voting() == "ACD"
    # the same equivocation, or any other by a suspended validator, is not punished twice
    for again in (ev, encode_evidence(evidence_for(*_pair(net, "B", height=3, round_=1),
                                                   chain_id=CHAIN_ID))):
        with pytest.raises(ValidationError, match="already_punished"):
            net.commit(evidence=(again,))
    # a suspended validator can't be added back as new: only readmission works
    add = encode_action(net.action(AddValidator("coop-B2", pub("B")), ("G0", "G1")))
    with pytest.raises(ValidationError, match="suspended_validator"):
        net.commit(actions=(add,))
    readmit = encode_action(net.action(ReadmitValidator(pub("B")), ("G0", "G1")))
    net.commit(actions=(readmit,))
    assert not net.state.suspended and net.next_voting() == "ABCD"
    net.commit()
    assert net.voting() == "ABCD" and pub("B") in net.state.proposer_rotation()
    # after readmission the old evidence is still spent
    with pytest.raises(ValidationError, match="already_punished"):
        net.commit(evidence=(ev,))


def test_evidence_state_rules() -> None:
    net = Net.of("ABCD")
    net.commit()
    cases = {
        "not a validator": (encode_evidence(evidence_for(*_pair(net, "Q"), chain_id=CHAIN_ID)),
                            "evidence_not_validator"),
        "from the future": (encode_evidence(evidence_for(*_pair(net, "B", height=9),
                                                         chain_id=CHAIN_ID)),
                            "evidence_out_of_window"),
    }
    for what, (ev, rule) in cases.items():
        with pytest.raises(ValidationError) as info:
            net.commit(evidence=(ev,))
        assert info.value.rule == rule, what
    twice = encode_evidence(evidence_for(*_pair(net, "C"), chain_id=CHAIN_ID))
    with pytest.raises(ValidationError, match="already_punished"):
        net.commit(evidence=(twice, twice))
    with pytest.raises(DecodeError):
        net.commit(evidence=(b"\x93\x01",))


def test_old_evidence_expires() -> None:
    net = Net.of("A", governors=("G0",), threshold=1)
    ev = encode_evidence(evidence_for(*_pair(net, "A", height=1), chain_id=CHAIN_ID))
    for _ in range(MAX_EVIDENCE_AGE + 1):
        net.commit()
    with pytest.raises(ValidationError, match="evidence_out_of_window"):
        net.commit(evidence=(ev,))


def test_a_lone_validator_is_suspended_but_keeps_voting() -> None:
    net = Net.of("A", governors=("G0",), threshold=1)
    net.commit()
    ev = encode_evidence(evidence_for(*_pair(net, "A"), chain_id=CHAIN_ID))
    net.commit(evidence=(ev,))
    net.commit()
    assert net.voting() == "A" and [v.name for v in net.state.suspended] == ["coop-A"]
    assert net.state.proposer_rotation() == net.state.voting_set()  # the fallback
    net.commit(actions=(encode_action(net.action(ReadmitValidator(pub("A")), ("G0",))),))
    assert not net.state.suspended and net.voting() == "A"


def test_evidence_for_an_unknown_block_id_length_does_not_decode() -> None:
    net = Net.of()
    a, _ = _pair(net)
    raw = pack((1, vote_obj(a), vote_obj(replace(a, block_id=BlockHash(b"\x01" * 5)))))
    with pytest.raises(DecodeError):
        decode_evidence(raw)


def test_select_carried_keeps_only_what_the_next_block_may_carry() -> None:
    net = Net.of("ABCD")
    net.commit()
    used = encode_action(net.action(AddValidator("coop-E", pub("E")), ("G0", "G1")))
    net.commit(actions=(used,))
    ev_b = encode_evidence(evidence_for(*_pair(net, "B"), chain_id=CHAIN_ID))
    ev_q = encode_evidence(evidence_for(*_pair(net, "Q"), chain_id=CHAIN_ID))
    fresh = encode_action(net.action(AddValidator("coop-F", pub("F")), ("G0", "G2")))
    weak = encode_action(net.action(AddValidator("coop-H", pub("H")), ("G0",)))
    evidence, actions = select_carried(net.state, (ev_b, ev_q, ev_b, b"junk"),
                                       (used, weak, fresh, fresh, b"junk"))
    assert evidence == (ev_b,) and actions == (fresh,)
    net.commit(evidence=evidence, actions=actions)  # the selection is a valid block
    net.commit()
    assert net.voting() == "ACDEF"
