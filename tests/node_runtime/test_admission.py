"""The checks a peer's consensus message passes before it costs a node anything: a table each.

Every row names a message, what the node must do with it (take and relay, take, drop quietly,
or punish the sender) and whether a signature may be checked to decide: a message refused on
a cheap check must cost no signature check at all.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from consensus import codec
from consensus.chain import make_block
from consensus.chainstate import ChainState, genesis_state
from consensus.crypto import PrivateKey, verify
from consensus.errors import ValidationError
from consensus.evidence import DuplicateVoteEvidence
from consensus.types import BlockHash
from consensus.votes import NIL, Proposal, Vote, VoteType, sign_proposal, sign_vote
from faircoop_node.node.admission import (
    Frontier,
    Verdict,
    judge_evidence,
    judge_proposal,
    judge_vote,
    tx_is_senders_fault,
)
from tests.builders import CHAIN_ID, key
from tests.node_runtime.harness import VALIDATOR_KEYS, runtime_genesis

STATE = replace(genesis_state(runtime_genesis()), height=10)
FRONTIER = Frontier(STATE, round=3)
V = VALIDATOR_KEYS[1]
STRANGER = key(4321)


class CountingVerify:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, pubkey: bytes, signature: bytes, digest: bytes) -> bool:
        self.calls += 1
        return verify(pubkey, signature, digest)


def _vote(signer: PrivateKey = V, height: int = 11, round_: int = 3, *,
          chain: str = CHAIN_ID, forged: bool = False) -> Vote:
    vote = sign_vote(signer, chain, VoteType.PREVOTE, height, round_, NIL)
    return replace(vote, signature=os.urandom(64)) if forged else vote


VOTES = [
    # name, vote, verdict, relay, signature checked
    ("this height, this round", _vote(), Verdict.ACCEPT, True, True),
    ("this height, next round", _vote(round_=4), Verdict.ACCEPT, True, True),
    ("this height, far round: taken, not relayed", _vote(round_=60), Verdict.ACCEPT, False,
     True),
    ("this height, beyond any round we keep", _vote(round_=10**9), Verdict.DROP, False, False),
    ("the tip (late precommit, equivocation)", _vote(height=10), Verdict.ACCEPT, False, True),
    ("next height, first round", _vote(height=12, round_=0), Verdict.ACCEPT, True, True),
    ("next height, round 5", _vote(height=12, round_=5), Verdict.ACCEPT, False, True),
    ("next height, round 9", _vote(height=12, round_=9), Verdict.DROP, False, False),
    ("below the tip", _vote(height=9), Verdict.DROP, False, False),
    ("far ahead", _vote(height=10**15), Verdict.DROP, False, False),
    ("signed by a stranger", _vote(STRANGER), Verdict.DROP, False, False),
    ("a validator's key, a forged signature", _vote(forged=True), Verdict.PUNISH, False, True),
    ("a forged signature far ahead", _vote(round_=10**9, forged=True), Verdict.DROP, False,
     False),
    ("another chain", _vote(chain="other-chain"), Verdict.PUNISH, False, False),
]


@pytest.mark.parametrize("vote,verdict,relay,checked", [v[1:] for v in VOTES],
                         ids=[v[0] for v in VOTES])
def test_votes(vote: Vote, verdict: Verdict, relay: bool, checked: bool) -> None:
    counting = CountingVerify()
    judgement = judge_vote(FRONTIER, vote, counting)
    assert (judgement.verdict, judgement.relay) == (verdict, relay), judgement.reason
    assert (counting.calls > 0) == checked


def _proposer(height: int, round_: int) -> PrivateKey:
    pk = STATE.proposer(height, round_)
    return next(k for k in VALIDATOR_KEYS if k.public_key == pk)


def _proposal(height: int = 11, round_: int = 3, *, signer: PrivateKey | None = None,
              forged: bool = False, block_height: int | None = None,
              chain: str = CHAIN_ID, other_id: bool = False) -> tuple[Proposal, bytes]:
    state = STATE if (block_height or height) == 11 else replace(
        STATE, height=(block_height or height) - 1)
    block = make_block(state, (signer or _proposer(11, round_)).public_key,
                       STATE.last_block_time_ms + 1)
    block_id = BlockHash(os.urandom(32)) if other_id else codec.block_hash(block.header)
    p = sign_proposal(signer or _proposer(11, round_), chain, height, round_, -1, block_id)
    if forged:
        p = replace(p, signature=os.urandom(64))
    return p, codec.encode_block(block)


PROPOSALS = [
    ("the round's proposer", _proposal(), Verdict.ACCEPT, True),
    ("two rounds ahead", _proposal(round_=5), Verdict.ACCEPT, True),
    ("three rounds ahead", _proposal(round_=6), Verdict.DROP, False),
    ("not this round's proposer", _proposal(signer=_proposer(11, 4)), Verdict.DROP, False),
    ("a stranger", _proposal(signer=STRANGER), Verdict.DROP, False),
    ("the tip", _proposal(height=10), Verdict.DROP, False),
    ("next height, round 0, a validator", _proposal(height=12, round_=0, signer=V,
                                                    block_height=12), Verdict.ACCEPT, True),
    ("next height, round 2", _proposal(height=12, round_=2, signer=V, block_height=12),
     Verdict.DROP, False),
    ("far ahead", _proposal(height=10**9), Verdict.DROP, False),
    ("forged signature", _proposal(forged=True), Verdict.PUNISH, True),
    ("signed, but the block is another", _proposal(other_id=True), Verdict.PUNISH, True),
    ("signed, but the block is for another height", _proposal(block_height=13),
     Verdict.PUNISH, True),
    ("another chain", _proposal(chain="other-chain"), Verdict.PUNISH, False),
]


@pytest.mark.parametrize("item,verdict,checked", [p[1:] for p in PROPOSALS],
                         ids=[p[0] for p in PROPOSALS])
def test_proposals(item: tuple[Proposal, bytes], verdict: Verdict, checked: bool) -> None:
    proposal, block = item
    counting = CountingVerify()
    judgement = judge_proposal(FRONTIER, proposal, block, lambda h, r: False, counting)
    assert judgement.verdict == verdict, judgement.reason
    assert (counting.calls > 0) == checked


def test_a_taken_round_drops_a_second_proposal_unchecked() -> None:
    proposal, block = _proposal()
    counting = CountingVerify()
    judgement = judge_proposal(FRONTIER, proposal, block, lambda h, r: (h, r) == (11, 3),
                               counting)
    assert judgement.verdict == Verdict.DROP and counting.calls == 0


@pytest.mark.parametrize("case", ["a block over max_block_size", "a header that is junk"])
def test_a_signed_proposal_with_a_bad_block_costs_its_sender(case: str) -> None:
    proposal, block = _proposal()
    if case == "a block over max_block_size":
        block = block + b"\0" * (STATE.params.max_block_size + 70_000)
    else:
        block = b"\x95" + b"\xc0" * 4
    judgement = judge_proposal(FRONTIER, proposal, block, lambda h, r: False, verify)
    assert judgement.verdict == Verdict.PUNISH, judgement.reason


def _evidence(signer: PrivateKey, height: int = 11, forged: bool = False
              ) -> DuplicateVoteEvidence:
    a = sign_vote(signer, CHAIN_ID, VoteType.PREVOTE, height, 0, NIL)
    b = sign_vote(signer, CHAIN_ID, VoteType.PREVOTE, height, 0, BlockHash(b"\x07" * 32))
    return DuplicateVoteEvidence(replace(a, signature=os.urandom(64)) if forged else a, b)


EVIDENCE = [
    ("a validator's equivocation", _evidence(V), Verdict.ACCEPT),
    ("a stranger's", _evidence(STRANGER), Verdict.DROP),
    ("far ahead", _evidence(V, height=10**15), Verdict.DROP),
    ("too old to punish", _evidence(V, height=1), Verdict.DROP),
    ("a forged signature", _evidence(V, forged=True), Verdict.PUNISH),
]


@pytest.mark.parametrize("ev,verdict", [e[1:] for e in EVIDENCE], ids=[e[0] for e in EVIDENCE])
def test_evidence(ev: DuplicateVoteEvidence, verdict: Verdict) -> None:
    state: ChainState = replace(STATE, height=200) if ev.height == 1 else STATE
    assert judge_evidence(state, ev, ()).verdict == verdict


def test_evidence_against_an_offender_already_pooled_is_dropped() -> None:
    assert judge_evidence(STATE, _evidence(V), (V.public_key,)).verdict == Verdict.DROP


@pytest.mark.parametrize("rule,fault", [
    ("bad_signature", True), ("missing_witness", True), ("wrong_chain", True),
    ("policy_mismatch", True), ("outputs_exceed_inputs", True), ("duplicate_input", True),
    ("unknown_input", False), ("mempool_conflict", False), ("fee_too_low", False),
    ("dust_output", False), ("mempool_full", False), ("already_in_mempool", False),
])
def test_which_relayed_tx_refusals_are_the_senders_fault(rule: str, fault: bool) -> None:
    from consensus.errors import InvalidSignature, WrongChain
    cls = {"bad_signature": InvalidSignature, "missing_witness": InvalidSignature,
           "wrong_chain": WrongChain}.get(rule, ValidationError)
    assert tx_is_senders_fault(cls(rule, "x")) == fault
