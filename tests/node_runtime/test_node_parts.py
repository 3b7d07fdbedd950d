"""The node's small parts on their own: the last-signed record, sync checks, gossip caches."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.certificate import build_certificate
from consensus.chain import make_block, validate_block
from consensus.chainstate import genesis_state
from consensus.engine import SignedState, Step
from consensus.errors import DecodeError
from consensus.evidence import DuplicateVoteEvidence
from consensus.types import BlockHash
from consensus.votes import NIL, Vote, VoteType, encode_certificate, sign_vote
from faircoop_node.net.transport import PeerId
from faircoop_node.node.gossip import EvidencePool, SeenCache
from faircoop_node.node.signing import (
    ROUND_MAX,
    Locked,
    decode_signed_record,
    decode_signed_state,
    encode_signed_record,
    encode_signed_state,
    is_rejoin_floor,
    record_after,
    rejoin_floor,
)
from faircoop_node.node.sync import SyncError, SyncTracker, check_certified
from tests.builders import CHAIN_ID
from tests.node_runtime.harness import VALIDATOR_KEYS, fresh_store, runtime_genesis

# -- the last-signed record ---------------------------------------------------------------------


@settings(max_examples=100)
@given(st.integers(0, 2**63), st.integers(0, 2**32 - 1), st.sampled_from(list(Step)))
def test_signed_state_round_trips(height: int, round_: int, step: Step) -> None:
    state = SignedState(height, round_, step)
    assert decode_signed_state(encode_signed_state(state)) == state


@pytest.mark.parametrize("raw", [
    b"", b"\x90", codec.pack((2, 1, 0, 0, (), ())), codec.pack((1, 1, 0, 3, (), ())),
    codec.pack((1, 1, 2**32, 0, (), ())), codec.pack((1, 1, 0, 0, ())),
    codec.pack((1, 1, 0, 0, (b"x",), ())), codec.pack((1, 1, 0, 0, (), (b"p",))),
])
def test_bad_signed_state_records_are_refused(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_signed_state(raw)


def test_the_record_keeps_this_heights_votes_of_the_last_two_rounds() -> None:
    k = VALIDATOR_KEYS[0]

    def vote(h: int, r: int, t: VoteType) -> Vote:
        return sign_vote(k, CHAIN_ID, t, h, r, NIL)

    record = record_after(None, SignedState(5, 0, Step.PREVOTE), vote(5, 0, VoteType.PREVOTE))
    record = record_after(record, SignedState(5, 0, Step.PRECOMMIT),
                          vote(5, 0, VoteType.PRECOMMIT))
    record = record_after(record, SignedState(5, 1, Step.PROPOSE), None)  # a proposal: no vote
    assert len(record.votes) == 2 and record.state == SignedState(5, 1, Step.PROPOSE)
    record = record_after(record, SignedState(5, 2, Step.PREVOTE), vote(5, 2, VoteType.PREVOTE))
    assert [(v.round, v.vote_type) for v in record.votes] == [(2, VoteType.PREVOTE)]
    assert decode_signed_record(encode_signed_record(record)) == record
    nxt = record_after(record, SignedState(6, 0, Step.PREVOTE), vote(6, 0, VoteType.PREVOTE))
    assert [v.height for v in nxt.votes] == [6]  # a new height starts afresh


def test_the_record_keeps_the_lock_until_the_height_changes() -> None:
    k = VALIDATOR_KEYS[0]
    lock = Locked(b"proposal", b"block")
    pc = sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, 5, 0, BlockHash(b"\x22" * 32))
    record = record_after(None, SignedState(5, 0, Step.PRECOMMIT), pc, lock)
    later = record_after(record, SignedState(5, 1, Step.PREVOTE),
                         sign_vote(k, CHAIN_ID, VoteType.PREVOTE, 5, 1, NIL))
    assert later.locked == lock
    assert decode_signed_record(encode_signed_record(later)) == later
    assert record_after(later, SignedState(6, 0, Step.PREVOTE), None).locked is None


def test_rejoin_floor_covers_every_step_of_the_next_height_and_nothing_after() -> None:
    floor = rejoin_floor(41)
    assert is_rejoin_floor(floor) and floor.round == ROUND_MAX
    for round_ in (0, 1, 1000, ROUND_MAX):
        for step in Step:
            assert SignedState(42, round_, step) <= floor
    assert SignedState(43, 0, Step.PROPOSE) > floor
    assert not is_rejoin_floor(SignedState(42, 3, Step.PRECOMMIT))


# -- sync checks --------------------------------------------------------------------------------


def _chain_of_one() -> tuple:
    genesis = runtime_genesis()
    state = genesis_state(genesis)
    block = make_block(state, state.proposer(1, 0), state.last_block_time_ms + 1)
    block_id = codec.block_hash(block.header)
    votes = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, 1, 0, block_id) for k in VALIDATOR_KEYS]
    return genesis, state, block, block_id, votes


def test_a_block_with_a_quorum_certificate_is_accepted_and_validates() -> None:
    genesis, state, block, block_id, votes = _chain_of_one()
    cert = encode_certificate(build_certificate(votes[:3], state.voting_set()))
    assert check_certified(state, block, cert) == block_id
    valid = validate_block(state, block, block_id, fresh_store(genesis))
    assert valid.state.height == 1


@pytest.mark.parametrize("case", ["below_quorum", "other_block", "wrong_height", "garbage",
                                  "not_next"])
def test_sync_refuses_what_the_certificate_does_not_prove(case: str) -> None:
    genesis, state, block, block_id, votes = _chain_of_one()
    voting = state.voting_set()
    if case == "below_quorum":
        c = build_certificate(votes[:3], voting)
        cert = encode_certificate(type(c)(c.chain_id, c.height, c.round, c.block_id,
                                          c.signatures[:2]))
    elif case == "other_block":
        other = BlockHash(bytes(32))
        cert = encode_certificate(build_certificate(
            [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, 1, 0, other) for k in VALIDATOR_KEYS],
            voting))
    elif case == "wrong_height":
        cert = encode_certificate(build_certificate(
            [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, 2, 0, block_id) for k in VALIDATOR_KEYS],
            voting))
    elif case == "garbage":
        cert = b"\x01\x02"
    else:
        cert = encode_certificate(build_certificate(votes, voting))
        state = replace(state, height=5)  # our tip is elsewhere: the block is not next
    with pytest.raises(SyncError):
        check_certified(state, block, cert)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tracker_asks_the_best_connected_peer_once_and_times_out() -> None:
    a, b, c = PeerId(b"a" * 33), PeerId(b"b" * 33), PeerId(b"c" * 33)
    clock = Clock()
    t = SyncTracker(batch=100, timeout_s=5, clock=clock)
    t.saw(a, 10)
    t.saw(b, 700)
    t.saw(b, 650)  # claims only grow
    t.saw(c, 900)  # not connected: never asked
    assert t.network_tip({a, b}, 3) == 700
    req = t.next_request(3, {a, b})
    assert req is not None and (req.peer, req.start, req.count) == (b, 4, 100)
    clock.now = 1.0
    assert t.next_request(3, {a, b}) is None  # one in flight
    assert not t.answered(a, 4, 100) and not t.answered(b, 5, 100)
    assert t.expects(b, 4) and t.answered(b, 4, 100) and t.inflight is None
    clock.now = 2.0
    t.next_request(3, {a, b})
    clock.now = 7.5
    again = t.next_request(3, {a, b})  # the first one timed out: b is doubted, a asked
    assert again is not None and again.peer == a
    t.forget(b)
    assert t.network_tip({a}, 3) == 10
    assert t.next_request(10, {a}) is None  # nobody ahead


def test_a_peer_that_does_not_deliver_its_claim_is_doubted_for_a_growing_while() -> None:
    liar, honest = PeerId(b"l" * 33), PeerId(b"h" * 33)
    clock = Clock()
    t = SyncTracker(batch=100, timeout_s=5, clock=clock)
    t.saw(liar, 10**9)
    t.saw(honest, 50)
    req = t.next_request(0, {liar, honest})
    assert req is not None and req.peer == liar  # the highest claim, while nobody failed
    clock.now += 5.0  # no answer
    assert not t.busy()
    assert t.network_tip({liar, honest}, 0) == 50  # its claim no longer counts
    req = t.next_request(0, {liar, honest})
    assert req is not None and req.peer == honest and t.answered(honest, 1, 50)
    asked_at = []
    for _ in range(4):  # now only the liar claims more; it is asked after each pause
        t.saw(liar, 10**9)
        while (req := t.next_request(50, {liar, honest})) is None:
            clock.now += 1.0
        assert req.peer == liar
        asked_at.append(clock.now)
        clock.now += 5.0
        assert not t.busy()
    gaps = [b - a for a, b in zip(asked_at, asked_at[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] >= 3 * gaps[0]
    # an empty answer to a request for blocks it claimed is a failure too
    t.saw(honest, 60)
    req = t.next_request(50, {honest})
    assert req is not None and t.answered(honest, 51, 0) and not t.trusted(honest)


# -- gossip caches ------------------------------------------------------------------------------


def test_seen_cache_forgets_the_oldest_first() -> None:
    seen = SeenCache(capacity=3)
    assert all(seen.add(bytes([i])) for i in range(3))
    assert not seen.add(b"\x00")
    seen.add(b"\x03")
    assert b"\x00" not in seen and b"\x03" in seen and len(seen) == 3


def test_evidence_pool_keeps_one_piece_per_offender_while_the_chain_takes_it() -> None:
    k, other = VALIDATOR_KEYS[0], VALIDATOR_KEYS[1]
    state = genesis_state(runtime_genesis())
    a = sign_vote(k, CHAIN_ID, VoteType.PREVOTE, 1, 0, NIL)
    b = sign_vote(k, CHAIN_ID, VoteType.PREVOTE, 1, 0, BlockHash(b"\x11" * 32))
    b2 = sign_vote(k, CHAIN_ID, VoteType.PREVOTE, 1, 1, BlockHash(b"\x11" * 32))
    a2 = sign_vote(k, CHAIN_ID, VoteType.PREVOTE, 1, 1, NIL)
    pool = EvidencePool(capacity=1)
    assert pool.add(DuplicateVoteEvidence(a, b))
    assert not pool.add(DuplicateVoteEvidence(a2, b2))  # one per offender is enough
    x = sign_vote(other, CHAIN_ID, VoteType.PREVOTE, 1, 0, NIL)
    y = sign_vote(other, CHAIN_ID, VoteType.PREVOTE, 1, 0, BlockHash(b"\x22" * 32))
    assert not pool.add(DuplicateVoteEvidence(x, y))  # full
    assert k.public_key in pool and len(pool.items()) == 1
    pool.refresh(state)
    assert len(pool) == 1  # still punishable at height 1
    pool.refresh(replace(state, height=200))
    assert len(pool) == 0  # out of the evidence window
