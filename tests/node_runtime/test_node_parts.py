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
from consensus.types import BlockHash, PublicKey
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
from tests.node_runtime.harness import VALIDATOR_KEYS, fresh_store, runtime_genesis, wait_for

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


def test_a_request_that_timed_out_is_followed_by_a_smaller_one() -> None:
    # Behind a 256 kbit/s link (about 160 kB in the 5 s timeout) 250 loaded blocks never
    # arrive in time: before issue 20 every peer was asked for the full batch in turn, for good.
    peers = [PeerId(bytes([i]) * 33) for i in range(4)]
    clock = Clock()
    t = SyncTracker(batch=256, timeout_s=5, clock=clock)
    for p in peers:
        t.saw(p, 10_000)
    sizes = []
    for _ in range(4):
        req = t.next_request(0, set(peers))
        assert req is not None
        sizes.append(req.count)
        clock.now += 5.0  # no answer in time
        assert not t.busy()
    assert sizes == [256, 128, 64, 32]
    clock.now += 60.0  # the doubts have passed, and the peers say their tips again
    for p in peers:
        t.saw(p, 10_000)
    req = t.next_request(0, set(peers))
    assert req is not None and req.count == 16 and t.answered(req.peer, 1, 16)
    grown = []
    for _ in range(6):  # delivered answers bring the size back up to the batch
        req = t.next_request(grown[-1] if grown else 16, set(peers))
        assert req is not None and t.answered(req.peer, req.start, req.count)
        grown.append(req.start + req.count - 1)
        sizes.append(req.count)
    assert sizes[4:] == [32, 64, 128, 256, 256, 256]


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


# -- the peers' share of the work queue ---------------------------------------------------------


async def test_inflow_holds_a_peer_at_its_share_and_lets_others_through() -> None:
    import asyncio

    from faircoop_node.node.inflow import PeerInflow

    flood, quiet = PeerId(b"f" * 33), PeerId(b"q" * 33)
    inflow = PeerInflow(per_peer_items=3, per_peer_bytes=10_000, total_items=5,
                        total_bytes=1_000_000)
    for _ in range(3):
        await inflow.admit(flood, 100)
    waiting = asyncio.create_task(inflow.admit(flood, 100))
    await wait_for(lambda: len(inflow._waiters) == 1, 1, "the flooder parked")
    assert not waiting.done() and inflow.queued(flood) == 3  # the flooder waits ...
    await asyncio.wait_for(inflow.admit(quiet, 100), 1)  # ... the others don't
    await inflow.admit(quiet, 100)
    assert inflow.total_items == 5
    inflow.done(flood, 100)
    await asyncio.wait_for(waiting, 1)  # room made: it goes on
    assert inflow.queued(flood) == 3
    # a big message from a peer with nothing queued is always taken (no starvation) ...
    other = PeerId(b"o" * 33)
    await asyncio.wait_for(inflow.admit(other, 50_000), 1)
    # ... and one over its byte share waits until its first leaves
    later = asyncio.create_task(inflow.admit(other, 50_000))
    await wait_for(lambda: len(inflow._waiters) == 1, 1, "the big second message parked")
    assert not later.done() and inflow.queued(other) == 1
    inflow.close()  # stopping: nobody is held any more
    await asyncio.wait_for(later, 1)


# -- a recovery block offered by sync -----------------------------------------------------------


def test_recovery_check_prefers_an_old_set_block_and_refuses_two_recoveries() -> None:
    from consensus.chain import validate_block
    from consensus.chainstate import install_recovery
    from consensus.governance import make_recovery
    from consensus.ledger import MemoryUtxoSet
    from consensus.types import Validator
    from faircoop_node.node.sync import RecoveryCheck

    genesis, state, plain, plain_id, votes = _chain_of_one()
    plain_cert = encode_certificate(build_certificate(votes[:3], state.voting_set()))

    def recovery_block(member: int) -> tuple:
        new = (Validator("coop-x", PublicKey(VALIDATOR_KEYS[member].public_key)),)
        action = make_recovery(CHAIN_ID, 0, state.last_block_id, new, (VALIDATOR_KEYS[0],))
        when = state.last_block_time_ms + state.params.recovery_after_ms + 1
        installed = install_recovery(state, action, when)
        block = make_block(installed, new[0].pubkey, when)
        block_id = codec.block_hash(block.header)
        vote = sign_vote(VALIDATOR_KEYS[member], CHAIN_ID, VoteType.PRECOMMIT, 1, 0, block_id)
        cert = encode_certificate(build_certificate([vote], installed.voting_set()))
        validate_block(state, block, block_id, MemoryUtxoSet())  # a valid recovery block
        return block, cert

    forged, forged_cert = recovery_block(1)
    other, other_cert = recovery_block(2)
    a, b, c = PeerId(b"a" * 33), PeerId(b"b" * 33), PeerId(b"c" * 33)

    def check(*answers: tuple) -> tuple:
        rc = RecoveryCheck(1, forged, forged_cert, a, {b, c}, deadline=10.0)
        assert rc.expects(b, 1) and not rc.expects(a, 1) and not rc.expects(b, 2)
        for peer, answer in zip((b, c), answers, strict=False):
            rc.take(peer, answer)
        return rc.decide(state)

    assert check(None, None)[0] == "recovery"  # nobody contradicts it
    assert check((forged, forged_cert))[0] == "recovery"  # confirmed
    outcome, item, winner = check(None, (plain, plain_cert))
    assert outcome == "plain" and item == (plain, plain_cert) and winner == c
    assert check((other, other_cert))[0] == "conflict"
    assert check((plain, b"\x01"))[0] == "recovery"  # an old-set block must be certified
    rc = RecoveryCheck(1, forged, forged_cert, a, {b}, deadline=10.0)
    assert not rc.settled(5.0) and rc.settled(10.0)
    rc.take(b, None)
    assert rc.settled(0.0)
