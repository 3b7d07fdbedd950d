"""Interaction tests for the engine's upon-rules, each driving one real engine by hand.

The engine under test is validator `ME`; the test plays the other validators by signing their
messages with their keys, so every rule of Algorithm 1 can be reached exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.certificate import verify_certificate
from consensus.chain import make_block
from consensus.chainstate import genesis_state
from consensus.codec import block_hash
from consensus.crypto import PrivateKey, sha256
from consensus.engine import (
    Action,
    BlockValidated,
    Broadcast,
    Commit,
    Engine,
    EngineError,
    Event,
    EvidenceFound,
    NewHeight,
    PersistLastSigned,
    ProposalBlockReady,
    ProposalReceived,
    RequestProposalBlock,
    ScheduleTimeout,
    SignedState,
    Step,
    TimeoutFired,
    ValidateBlock,
    VoteReceived,
    proposer_for,
    timeout_ms,
)
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, PublicKey
from consensus.votes import NIL, Proposal, Vote, VoteType, sign_proposal, sign_vote
from faircoop_node.simulation.sim import sim_genesis, sim_keys

PARAMS = ChainParams(timeout_propose_ms=1000, timeout_vote_ms=500, timeout_delta_ms=250)
N = 4
GENESIS = sim_genesis(N, PARAMS)
CHAIN = GENESIS.chain_id
START = genesis_state(GENESIS)
KEYS = sim_keys(N)
VALS = tuple(PublicKey(k.public_key) for k in KEYS)
ME = 0  # proposer(1, r) = VALS[(1 + r) % 4]: ME proposes at round 3 of height 1


def new_height(height: int = 1, validators: tuple[PublicKey, ...] = VALS) -> NewHeight:
    return NewHeight(height, validators, validators, PARAMS)


def block(round_: int, height: int = 1) -> Block:
    """A distinct valid block for height 1 per round (its time is the round)."""
    assert height == 1
    proposer = proposer_for(VALS, height, round_)
    return make_block(START, proposer, 1000 + round_)


def bid(b: Block) -> BlockHash:
    return block_hash(b.header)


def vote(i: int, kind: VoteType, round_: int, block_id: bytes, height: int = 1) -> VoteReceived:
    return VoteReceived(sign_vote(KEYS[i], CHAIN, kind, height, round_, block_id))


def propose(round_: int, b: Block, pol: int = -1, signer: int | None = None) -> ProposalReceived:
    i = VALS.index(proposer_for(VALS, 1, round_)) if signer is None else signer
    return ProposalReceived(sign_proposal(KEYS[i], CHAIN, 1, round_, pol, bid(b)), b)


class Driver:
    """Feeds one engine and answers its application requests (every block valid by default)."""

    def __init__(self, me: int = ME, key: PrivateKey | None = None,
                 last_signed: SignedState | None = None, **engine_args: object) -> None:
        k = KEYS[me] if key is None else key
        self.engine = Engine(CHAIN, k, last_signed, **engine_args)  # type: ignore[arg-type]
        self.actions: list[Action] = []
        self.invalid: set[bytes] = set()

    def __call__(self, event: Event) -> list[Action]:
        out = self.engine.handle(event)
        done: list[Action] = []
        while out:
            a = out.pop(0)
            done.append(a)
            if isinstance(a, ValidateBlock):
                out.extend(self.engine.handle(BlockValidated(a.block_id,
                                                             a.block_id not in self.invalid)))
        self.actions.extend(done)
        return done

    def signed(self, actions: list[Action] | None = None) -> list[Proposal | Vote]:
        return [a.message for a in (self.actions if actions is None else actions)
                if isinstance(a, Broadcast)]


def votes_of(actions: list[Action], kind: VoteType) -> list[Vote]:
    return [a.message for a in actions
            if isinstance(a, Broadcast) and isinstance(a.message, Vote)
            and a.message.vote_type == kind]


# -- tables -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "round_", "expected"),
                         [(1, 0, 1), (1, 1, 2), (1, 3, 0), (2, 0, 2), (5, 7, 0), (4, 0, 0)])
def test_proposer_is_h_plus_r_mod_n(height: int, round_: int, expected: int) -> None:
    assert proposer_for(VALS, height, round_) == VALS[expected]
    with pytest.raises(EngineError):
        proposer_for((), height, round_)


@pytest.mark.parametrize(("step", "round_", "ms"),
                         [(Step.PROPOSE, 0, 1000), (Step.PROPOSE, 3, 1750),
                          (Step.PREVOTE, 0, 500), (Step.PRECOMMIT, 2, 1000)])
def test_timeouts_grow_linearly_with_the_round(step: Step, round_: int, ms: int) -> None:
    assert timeout_ms(PARAMS, step, round_) == ms


def test_timeouts_scheduled_grow_round_after_round() -> None:
    d = Driver(me=2)  # not a proposer in rounds 0..2 of height 1 (v1, v2 propose 0, 1; v2=me)
    d(new_height())
    for r in range(4):
        # nobody else speaks: a round goes propose -> prevote nil -> ... only with quorums,
        # so play the others' nil votes to reach the precommit timeout
        d(TimeoutFired(1, r, Step.PROPOSE))
        for i in (1, 3):
            d(vote(i, VoteType.PREVOTE, r, NIL))
        for i in (1, 3):
            d(vote(i, VoteType.PRECOMMIT, r, NIL))
        d(TimeoutFired(1, r, Step.PRECOMMIT))
    delays = [a.delay_ms for a in d.actions if isinstance(a, ScheduleTimeout)
              and a.step == Step.PROPOSE]
    assert delays == [1000, 1250, 1500, 1750, 2000]
    assert d.engine.round == 4


# -- the happy path and what a commit carries ----------------------------------------------------


def test_proposer_persists_before_broadcast_and_commits_with_a_valid_certificate() -> None:
    d = Driver(me=1)  # v1 proposes height 1, round 0
    out = d(new_height())
    assert RequestProposalBlock(1, 0) in out
    b = block(0)
    out = d(ProposalBlockReady(1, 0, b))
    kinds = [type(a).__name__ for a in out]
    assert kinds == ["PersistLastSigned", "Broadcast", "PersistLastSigned", "Broadcast"]
    assert isinstance(out[1], Broadcast) and out[1].block == b
    assert out[0] == PersistLastSigned(SignedState(1, 0, Step.PROPOSE), out[1].message, (), b)
    for i in (0, 2):
        d(vote(i, VoteType.PREVOTE, 0, bid(b)))
    assert d.engine.locked == (bid(b), 0) and d.engine.step == Step.PRECOMMIT
    persisted = [a for a in d.actions if isinstance(a, PersistLastSigned)]
    assert len(persisted[-1].justification) == 3 and persisted[-1].block == b
    for i in (0, 3):
        out = d(vote(i, VoteType.PRECOMMIT, 0, bid(b)))
    commit = next(a for a in out if isinstance(a, Commit))
    assert commit.block == b and commit.block_id == bid(b)
    verify_certificate(commit.certificate, bid(b), VALS, CHAIN, 1)
    assert d.engine.decided
    # after Commit the engine waits for the next height: more votes change nothing
    assert d(vote(2, VoteType.PRECOMMIT, 0, bid(b))) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["prevote", "precommit", "timeout", "proposal"]),
                          st.integers(0, 3), st.integers(0, 2), st.integers(1, 3)),
                max_size=40))
def test_every_signed_broadcast_is_persisted_first(script: list[tuple[str, int, int, int]]) -> None:
    """Whatever arrives, each Broadcast of a fresh signature directly follows its persist."""
    d = Driver(me=1)
    d(new_height())
    d(ProposalBlockReady(1, 0, block(0)))
    blocks = [block(r) for r in range(3)]
    for kind, r, bi, who in script:
        if kind == "timeout":
            d(TimeoutFired(1, d.engine.round, Step(r % 3)))
        elif kind == "proposal":
            d(propose(r, blocks[min(bi, r)], pol=-1))
        else:
            vt = VoteType.PREVOTE if kind == "prevote" else VoteType.PRECOMMIT
            d(vote(who, vt, r, bid(blocks[bi]) if bi else NIL))
    last: SignedState | None = None
    for prev, a in zip(d.actions, d.actions[1:], strict=False):
        if isinstance(a, Broadcast):
            assert isinstance(prev, PersistLastSigned) and prev.message == a.message
        if isinstance(a, PersistLastSigned):
            assert last is None or a.state > last
            last = a.state


# -- locks ----------------------------------------------------------------------------------------


def _lock_on_round_0(d: Driver) -> Block:
    """ME sees the round-0 proposal and a polka for it: it locks and precommits."""
    b0 = block(0)
    d(new_height())
    d(propose(0, b0))
    for i in (1, 2):
        d(vote(i, VoteType.PREVOTE, 0, bid(b0)))
    assert d.engine.locked == (bid(b0), 0)
    # no decision in round 0: everyone else precommits nil
    for i in (1, 2):
        d(vote(i, VoteType.PRECOMMIT, 0, NIL))
    d(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert d.engine.round == 1
    return b0


def test_locked_validator_prevotes_nil_on_a_fresh_other_block() -> None:
    d = Driver()
    b0 = _lock_on_round_0(d)
    out = d(propose(1, block(1)))
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [NIL]
    assert d.engine.locked == (bid(b0), 0)


def test_locked_validator_prevotes_its_locked_block_when_reproposed() -> None:
    d = Driver()
    b0 = _lock_on_round_0(d)
    out = d(propose(1, b0, pol=0))
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [bid(b0)]


def test_unlock_by_proposal_whose_polka_round_is_at_least_the_lock() -> None:
    """Line 28: a proposal for b1 with validRound 1 >= lockedRound 0 and its polka seen."""
    d = Driver()
    b0 = _lock_on_round_0(d)
    b1 = block(1)
    d(propose(1, b1))  # ME prevotes nil (locked on b0)
    for i in (1, 2, 3):
        d(vote(i, VoteType.PREVOTE, 1, bid(b1)))  # a polka for b1 in round 1
    # ME was in prevote step of round 1, so line 36 moved its lock to b1 already
    assert d.engine.locked == (bid(b1), 1)
    assert d.engine.locked != (bid(b0), 0)


def test_polka_seen_late_for_a_reproposal_unlocks_via_line_28() -> None:
    d = Driver()
    _lock_on_round_0(d)
    b1 = block(1)
    d(TimeoutFired(1, 1, Step.PROPOSE))  # ME misses round 1's proposal and prevotes nil
    for i in (1, 2):
        d(vote(i, VoteType.PRECOMMIT, 1, NIL))
    d(vote(3, VoteType.PRECOMMIT, 1, NIL))
    d(TimeoutFired(1, 1, Step.PRECOMMIT))
    assert d.engine.round == 2
    for i in (1, 2, 3):  # the round-1 polka for b1 reaches ME late
        d(vote(i, VoteType.PREVOTE, 1, bid(b1)))
    out = d(propose(2, b1, pol=1))
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [bid(b1)]


def test_reproposal_without_its_polka_is_not_prevoted_until_the_polka_arrives() -> None:
    d = Driver(me=3)
    d(new_height())
    b0 = block(0)
    d(TimeoutFired(1, 0, Step.PROPOSE))
    for r_voter in (0, 1):
        d(vote(r_voter, VoteType.PRECOMMIT, 0, NIL))
    d(vote(2, VoteType.PRECOMMIT, 0, NIL))
    d(TimeoutFired(1, 0, Step.PRECOMMIT))
    out = d(propose(1, b0, pol=0))
    assert votes_of(out, VoteType.PREVOTE) == []  # waits: no polka for b0 in round 0 seen
    for i in (0, 1):
        d(vote(i, VoteType.PREVOTE, 0, bid(b0)))
    out = d(vote(2, VoteType.PREVOTE, 0, bid(b0)))
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [bid(b0)]


# -- nil votes, timeouts and round skips -------------------------------------------------------


def test_propose_timeout_prevotes_nil() -> None:
    d = Driver()
    d(new_height())
    out = d(TimeoutFired(1, 0, Step.PROPOSE))
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [NIL]
    assert d(TimeoutFired(1, 0, Step.PROPOSE)) == []  # stale: step moved on


def test_nil_polka_precommits_nil_without_waiting() -> None:
    d = Driver()
    d(new_height())
    d(TimeoutFired(1, 0, Step.PROPOSE))
    d(vote(1, VoteType.PREVOTE, 0, NIL))
    out = d(vote(2, VoteType.PREVOTE, 0, NIL))
    assert [v.block_id for v in votes_of(out, VoteType.PRECOMMIT)] == [NIL]


def test_mixed_prevote_quorum_schedules_the_prevote_timeout_once() -> None:
    d = Driver()
    b0 = block(0)
    d(new_height())
    d(propose(0, b0))
    d(vote(1, VoteType.PREVOTE, 0, NIL))
    out = d(vote(2, VoteType.PREVOTE, 0, bid(b0)))
    assert ScheduleTimeout(1, 0, Step.PREVOTE, 500) in out
    out = d(vote(3, VoteType.PREVOTE, 0, NIL))
    assert not [a for a in out if isinstance(a, ScheduleTimeout)]
    out = d(TimeoutFired(1, 0, Step.PREVOTE))
    assert [v.block_id for v in votes_of(out, VoteType.PRECOMMIT)] == [NIL]


def test_precommit_quorum_of_any_kind_schedules_the_precommit_timeout() -> None:
    d = Driver()
    d(new_height())
    d(TimeoutFired(1, 0, Step.PROPOSE))
    d(vote(1, VoteType.PRECOMMIT, 0, NIL))
    out = d(vote(2, VoteType.PRECOMMIT, 0, bid(block(0))))
    assert not [a for a in out if isinstance(a, ScheduleTimeout)]
    out = d(vote(3, VoteType.PRECOMMIT, 0, NIL))
    assert ScheduleTimeout(1, 0, Step.PRECOMMIT, 500) in out
    d(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert (d.engine.round, d.engine.step) == (1, Step.PROPOSE)


def test_round_skip_needs_f_plus_one_validators_in_the_higher_round() -> None:
    d = Driver()
    d(new_height())
    d(vote(1, VoteType.PREVOTE, 5, NIL))
    d(vote(1, VoteType.PRECOMMIT, 5, NIL))  # one validator, twice: still one
    assert d.engine.round == 0
    out = d(vote(2, VoteType.PREVOTE, 6, NIL))
    assert d.engine.round == 0  # 1 in round 5, 1 in round 6: no round has f+1 = 2
    out = d(vote(3, VoteType.PRECOMMIT, 6, NIL))
    assert d.engine.round == 6
    assert ScheduleTimeout(1, 6, Step.PROPOSE, 1000 + 6 * 250) in out


def test_invalid_block_gets_a_nil_prevote() -> None:
    d = Driver()
    b0 = block(0)
    d.invalid.add(bid(b0))
    d(new_height())
    out = d(propose(0, b0))
    assert any(isinstance(a, ValidateBlock) for a in out)
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [NIL]


def test_prevote_waits_for_the_applications_verdict() -> None:
    e = Engine(CHAIN, KEYS[ME])
    e.handle(new_height())
    b0 = block(0)
    out = e.handle(propose(0, b0))
    assert [type(a) for a in out] == [ValidateBlock]
    out = e.handle(BlockValidated(bid(b0), True))
    assert [v.block_id for v in votes_of(out, VoteType.PREVOTE)] == [bid(b0)]
    assert e.handle(BlockValidated(bid(b0), False)) == []  # an answer nobody asked for


# -- what the engine refuses ------------------------------------------------------------------


def _bad_messages() -> list[tuple[str, Event]]:
    b0 = block(0)
    outsider = PrivateKey(sha256(b"outsider"))
    good = sign_vote(KEYS[1], CHAIN, VoteType.PREVOTE, 1, 0, bid(b0))
    forged = Vote(good.chain_id, good.vote_type, good.height, good.round, good.block_id,
                  VALS[2], good.signature)
    wrong_pol = ProposalReceived(sign_proposal(KEYS[1], CHAIN, 1, 0, 0, bid(b0)), b0)
    mismatch = ProposalReceived(sign_proposal(KEYS[1], CHAIN, 1, 0, -1, bid(block(1))), b0)
    return [
        ("other chain", VoteReceived(sign_vote(KEYS[1], "other", VoteType.PREVOTE, 1, 0,
                                               bid(b0)))),
        ("forged signer", VoteReceived(forged)),
        ("non-validator", VoteReceived(sign_vote(outsider, CHAIN, VoteType.PREVOTE, 1, 0,
                                                 bid(b0)))),
        ("old height", vote(1, VoteType.PREVOTE, 0, bid(b0), height=0)),
        ("far future round", vote(1, VoteType.PREVOTE, 5000, NIL)),
        ("wrong proposer", propose(0, b0, signer=2)),
        ("pol_round not below round", wrong_pol),
        ("block does not match", mismatch),
    ]


@pytest.mark.parametrize(("why", "event"), _bad_messages(), ids=[w for w, _ in _bad_messages()])
def test_bad_messages_change_nothing(why: str, event: Event) -> None:
    d = Driver()
    d(new_height())
    before = (d.engine.round, d.engine.step, d.engine.vote_count(0, VoteType.PREVOTE))
    assert d(event) == [], why
    assert (d.engine.round, d.engine.step, d.engine.vote_count(0, VoteType.PREVOTE)) == before


def test_next_height_messages_wait_and_replay_at_new_height() -> None:
    d = Driver()
    d(new_height())
    assert d(vote(1, VoteType.PREVOTE, 0, NIL, height=2)) == []
    assert d(vote(2, VoteType.PREVOTE, 0, NIL, height=2)) == []
    assert d(vote(3, VoteType.PREVOTE, 0, NIL, height=3)) == []  # too far: dropped
    d.engine.handle(NewHeight(2, VALS, VALS, PARAMS))
    assert d.engine.vote_count(0, VoteType.PREVOTE) == 2


def test_duplicate_votes_raise_evidence_once_and_count_for_each_block() -> None:
    d = Driver()
    d(new_height())
    b0 = block(0)
    a = vote(1, VoteType.PREVOTE, 0, bid(b0))
    b = vote(1, VoteType.PREVOTE, 0, NIL)
    assert d(a) == []
    assert d(a) == []  # a plain duplicate delivery is no evidence
    out = d(b)
    assert out == [EvidenceFound(a.vote, b.vote)]
    assert d(b) == []
    c = vote(1, VoteType.PREVOTE, 0, bid(block(1)))
    assert d(c) == []  # reported once per (height, round, type, validator)
    assert d.engine.vote_count(0, VoteType.PREVOTE, bid(b0)) == 1
    assert d.engine.vote_count(0, VoteType.PREVOTE, NIL) == 1
    assert d.engine.vote_count(0, VoteType.PREVOTE) == 1  # one validator, whatever it said


def _decide_round_0(d: Driver, others: tuple[int, ...] = (1, 2)) -> Block:
    """Round 0 of height 1 decides block(0): its proposal, then prevotes and precommits for it
    from the validators `others` (enough for a quorum, with the driver's own votes if it signs)."""
    b0 = block(0)
    d(propose(0, b0))
    for i in others:
        d(vote(i, VoteType.PREVOTE, 0, bid(b0)))
    for i in others:
        d(vote(i, VoteType.PRECOMMIT, 0, bid(b0)))
    return b0


def test_equivocation_seen_after_the_commit_is_still_reported() -> None:
    d = Driver()
    d(new_height())
    _decide_round_0(d)
    assert d.engine.decided
    late = vote(1, VoteType.PRECOMMIT, 0, NIL)
    assert [type(a) for a in d(late)] == [EvidenceFound]
    d.engine.handle(NewHeight(2, VALS, VALS, PARAMS))
    later = vote(2, VoteType.PREVOTE, 0, NIL)
    assert [type(a) for a in d(later)] == [EvidenceFound]  # kept for one height


def test_observer_commits_without_signing() -> None:
    d = Driver(key=PrivateKey(sha256(b"observer")))
    d(new_height())
    _decide_round_0(d, others=(0, 1, 2))
    assert not d.engine.is_validator
    assert d.signed() == [] and not any(isinstance(a, PersistLastSigned) for a in d.actions)
    assert any(isinstance(a, Commit) for a in d.actions)
    assert Engine(CHAIN, None).public_key is None


def test_single_validator_decides_alone() -> None:
    key = KEYS[0]
    e = Engine(CHAIN, key)
    solo = (VALS[0],)
    out = e.handle(NewHeight(1, solo, solo, PARAMS))
    assert RequestProposalBlock(1, 0) in out
    g = sim_genesis(1, PARAMS)
    b = make_block(genesis_state(g), VALS[0], 5)
    out = e.handle(ProposalBlockReady(1, 0, b))
    commit = [a for a in out if isinstance(a, Commit)]
    assert len(commit) == 1 and len(commit[0].certificate.signatures) == 1


# -- last-signed state and restarts -----------------------------------------------------------


def test_restarted_engine_never_signs_at_or_below_its_last_signed_state() -> None:
    d = Driver(me=1, last_signed=SignedState(1, 0, Step.PRECOMMIT))
    out = d(new_height())
    assert not any(isinstance(a, RequestProposalBlock) for a in out)  # already proposed
    _decide_round_0(d, others=(0, 2, 3))
    assert d.signed() == []
    assert any(isinstance(a, Commit) for a in d.actions)  # it still follows the chain


def test_restart_resumes_at_the_last_signed_round() -> None:
    d = Driver(last_signed=SignedState(1, 4, Step.PREVOTE))
    d(new_height())
    assert d.engine.round == 4
    out = d(TimeoutFired(1, 4, Step.PROPOSE))
    assert votes_of(out, VoteType.PREVOTE) == []  # prevote of round 4 was already signed
    for i in (1, 2):
        d(vote(i, VoteType.PREVOTE, 4, NIL))
    out = d(vote(3, VoteType.PREVOTE, 4, NIL))
    assert [v.block_id for v in votes_of(out, VoteType.PRECOMMIT)] == [NIL]


def test_resume_restores_lock_votes_and_block() -> None:
    d = Driver()
    b0 = _lock_on_round_0(d)
    persisted = [a for a in d.actions if isinstance(a, PersistLastSigned)]
    votes = tuple(v for p in persisted if isinstance(p.message, Vote)
                  for v in (p.message, *p.justification))
    blocks = tuple(p.block for p in persisted if p.block is not None)
    r = Driver(last_signed=persisted[-1].state, resume_votes=votes, resume_blocks=blocks)
    out = r(new_height())
    assert r.engine.locked == (bid(b0), 0) and r.engine.valid == (bid(b0), 0)
    assert r.engine.step == Step.PRECOMMIT
    resent = {m.signature for m in r.signed(out)}
    assert {v.signature for v in votes if v.validator == VALS[ME]} <= resent
    assert r.engine.vote_count(0, VoteType.PREVOTE, bid(b0)) == 3
    gossip = {b.message.signature for b in r.engine.gossip()}
    assert {v.signature for v in r.engine.polka_votes(0, bid(b0))} <= gossip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["prevote", "precommit", "timeout", "proposal",
                                           "restart"]),
                          st.integers(0, 3), st.integers(0, 2), st.integers(1, 3)),
                max_size=50))
def test_never_double_signs_across_restarts(script: list[tuple[str, int, int, int]]) -> None:
    """Random traffic and crash-restarts from the persisted state: one signature per step."""
    blocks = [block(r) for r in range(4)]
    persisted: list[PersistLastSigned] = []

    def start(last: SignedState | None) -> Driver:
        votes = tuple(v for p in persisted if isinstance(p.message, Vote)
                      for v in (p.message, *p.justification))
        blks = tuple(p.block for p in persisted if p.block is not None)
        d = Driver(me=1, last_signed=last, resume_votes=votes, resume_blocks=blks)
        d(new_height())
        return d

    d = start(None)
    signed: dict[tuple[int, int, str], bytes] = {}
    for kind, r, bi, who in script:
        if kind == "restart":
            persisted.extend(a for a in d.actions if isinstance(a, PersistLastSigned))
            d = start(persisted[-1].state if persisted else None)
        elif kind == "timeout":
            d(TimeoutFired(1, d.engine.round, Step(r % 3)))
        elif kind == "proposal":
            if proposer_for(VALS, 1, r) != VALS[1]:
                d(propose(r, blocks[bi], pol=-1))
            elif d.engine.round == r:
                d(ProposalBlockReady(1, r, blocks[r]))
        else:
            vt = VoteType.PREVOTE if kind == "prevote" else VoteType.PRECOMMIT
            d(vote(who if who != 1 else 0, vt, r, bid(blocks[bi]) if bi else NIL))
        for m in d.signed(d.actions):
            kind_name = "proposal" if isinstance(m, Proposal) else m.vote_type.name
            key = (m.height, m.round, kind_name)
            what = m.block_id
            assert signed.setdefault(key, what) == what, f"two signatures for {key}"


# -- contract errors --------------------------------------------------------------------------


def test_new_height_contract() -> None:
    e = Engine(CHAIN, KEYS[0])
    with pytest.raises(EngineError):
        e.handle(NewHeight(1, (), (), PARAMS))
    with pytest.raises(EngineError):
        e.handle(NewHeight(1, (VALS[0], VALS[0]), (), PARAMS))
    e.handle(new_height(1))
    with pytest.raises(EngineError):
        e.handle(new_height(1))  # a height is started once, unless decided
    e.handle(new_height(3))  # jumping ahead (after a sync) is fine
    assert e.height == 3 and e.proposer() == VALS[(3 + 0) % 4]
    with pytest.raises(EngineError):
        e.handle(new_height(2))


def test_a_decided_height_is_never_started_again() -> None:
    d = Driver()
    d(new_height())
    _decide_round_0(d)
    assert d.engine.decided
    with pytest.raises(EngineError):
        d.engine.handle(new_height(1))
