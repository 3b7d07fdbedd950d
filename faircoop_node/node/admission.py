"""What a peer's consensus message must pass before it costs this node more than a decode.

The checks run cheapest first: the decode; the chain id; the height window; whether the signer
votes (or proposes) at that height; the round window; whether we already have it; the signature
(through the node's memo, so the engine does not check it again); and for a proposal, its block's
header and size before its body is decoded. Only a message that passes them all is delivered,
remembered or relayed, so this node never forwards what no validator signed.

Two kinds of refusal. A message honest nodes never send (a bad signature, another chain, a
signed proposal whose block is not the one it names, evidence that proves nothing) costs its
sender a ban: an honest node relays only what it checked. A message that is merely early, late,
far ahead or already seen is dropped quietly: peers at other heights send those honestly.

Relay is bounded too: a vote is passed on only for the height being decided (or the next, in its
first rounds) and at most `RELAY_ROUNDS_AHEAD` rounds past ours, so a validator that signs votes
for thousands of rounds can't make honest nodes flood each other (and be banned for it).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from enum import Enum

from consensus.chainstate import ChainState, check_evidence_context, select_carried
from consensus.codec import block_hash, decode_block_header
from consensus.crypto import Verifier
from consensus.engine import MAX_ROUND_AHEAD
from consensus.errors import (
    DecodeError,
    FaircoopError,
    InvalidSignature,
    ValidationError,
    WrongChain,
)
from consensus.evidence import DuplicateVoteEvidence, InvalidEvidence, check_duplicate_vote
from consensus.governance import (
    BlockAction,
    GovernanceError,
    RecoveryAction,
    SignedAction,
    check_governor_signatures,
    check_nonce,
    decode_block_action,
    sorted_validators,
)
from consensus.types import PublicKey
from consensus.votes import Proposal, Vote, proposal_digest, vote_digest

RELAY_ROUNDS_AHEAD = 1  # votes more than this many rounds past ours are counted, not relayed
NEXT_HEIGHT_ROUNDS = 8  # votes for the height after next are taken in rounds below this ...
NEXT_HEIGHT_RELAY_ROUNDS = 2  # ... and relayed in rounds below this
PROPOSAL_ROUNDS_AHEAD = 2  # proposals further ahead are dropped (each carries a block)
BLOCK_SIZE_SLACK = 64 * 1024  # a proposed block may exceed max_block_size by no more than this


class Verdict(Enum):
    ACCEPT = "accept"  # deliver (and relay if `relay`)
    DROP = "drop"  # not for us now: quietly ignored
    PUNISH = "punish"  # honest nodes never send this: ban the sender


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str = ""
    relay: bool = False
    rule: str = ""  # the rule a refused action broke, for an API answer


ACCEPTED = Judgement(Verdict.ACCEPT)


def _drop(reason: str) -> Judgement:
    return Judgement(Verdict.DROP, reason)


def _punish(reason: str) -> Judgement:
    return Judgement(Verdict.PUNISH, reason)


@dataclass(frozen=True, slots=True)
class Frontier:
    """What the node knows that the checks need: its chain state and its engine's round."""

    state: ChainState
    round: int  # the round the engine is in at height state.height + 1 (0 if none)

    @property
    def tip(self) -> int:
        return self.state.height

    def voters(self, height: int) -> tuple[PublicKey, ...]:
        """Who votes at `height` (tip, tip + 1 or tip + 2); empty beyond what we know."""
        s = self.state
        if height == s.height + 2:
            return s.upcoming.validator_keys()
        return s.validators_at(height) or ()


def judge_vote(f: Frontier, vote: Vote, verify: Verifier) -> Judgement:
    """Whether to take a vote (the tip's, for late precommits and equivocation, up to tip + 2).

    A vote seen before is taken again (after a recovery the engine starts over and needs it);
    the memo makes its signature check a lookup, and the caller relays only what is new.
    """
    if vote.chain_id != f.state.chain_id:
        return _punish("vote for another chain")
    if not f.tip <= vote.height <= f.tip + 2:
        return _drop("vote outside the height window")
    if vote.validator not in f.voters(vote.height):
        return _drop("vote by a key that does not vote at its height")
    if (vote.height == f.tip + 1 and vote.round > f.round + MAX_ROUND_AHEAD) or \
            (vote.height == f.tip + 2 and vote.round >= NEXT_HEIGHT_ROUNDS):
        return _drop("vote too many rounds ahead")
    digest = vote_digest(vote.chain_id, vote.vote_type, vote.height, vote.round, vote.block_id,
                         vote.validator)
    if not verify(vote.validator, vote.signature, digest):
        return _punish("vote with a bad signature")
    relay = (vote.height == f.tip + 1 and vote.round <= f.round + RELAY_ROUNDS_AHEAD) or \
        (vote.height == f.tip + 2 and vote.round < NEXT_HEIGHT_RELAY_ROUNDS)
    return Judgement(Verdict.ACCEPT, relay=relay)


def judge_proposal(f: Frontier, proposal: Proposal, block: bytes,
                   slot_taken: Callable[[int, int], bool], verify: Verifier) -> Judgement:
    """Whether to take a new proposal, judged on its signature and its block's header only.

    `slot_taken(height, round)` says we already hold a proposal for that round: a proposer
    gets one per round (a second is not relayed, so an equivocating proposer can't make the
    network carry two blocks per round). The caller decodes the body only if this accepts, and
    re-delivers a copy of a proposal it holds without asking here.
    """
    s = f.state
    if proposal.chain_id != s.chain_id:
        return _punish("proposal for another chain")
    height, round_ = proposal.height, proposal.round
    if not f.tip < height <= f.tip + 2:
        return _drop("proposal outside the height window")
    if height == f.tip + 1:
        if round_ > f.round + PROPOSAL_ROUNDS_AHEAD:
            return _drop("proposal too many rounds ahead")
        if proposal.proposer != s.proposer(height, round_):
            return _drop("proposal by a key that does not propose this round")
    elif round_ >= PROPOSAL_ROUNDS_AHEAD or proposal.proposer not in f.voters(height):
        return _drop("proposal for the height after next, beyond its first rounds")
    if slot_taken(height, round_):
        return _drop("already have another proposal for this round")
    digest = proposal_digest(proposal.chain_id, height, round_, proposal.pol_round,
                             proposal.block_id, proposal.proposer)
    if not verify(proposal.proposer, proposal.signature, digest):
        return _punish("proposal with a bad signature")
    if len(block) > max(s.params.max_block_size, s.upcoming.params.max_block_size) + \
            BLOCK_SIZE_SLACK:
        return _punish(f"proposed block of {len(block)} bytes is over max_block_size")
    try:
        header = decode_block_header(block)
    except FaircoopError as exc:
        return _punish(f"proposed block has a bad header: {exc}")
    if header.height != height or block_hash(header) != proposal.block_id:
        return _punish("proposed block is not the block the proposal names")
    return Judgement(Verdict.ACCEPT, relay=True)


def judge_evidence(state: ChainState, ev: DuplicateVoteEvidence, pooled: Container[PublicKey]
                   ) -> Judgement:
    """Whether to pool (and relay) evidence: only what the next block could punish.

    Relevance is checked before signatures, so evidence about strangers or far-off heights
    costs no signature check; one piece per offender is enough to suspend it.
    """
    if ev.offender in pooled:
        return _drop("evidence against this validator is already pooled")
    try:
        check_evidence_context(state, ev)
    except InvalidEvidence as exc:
        return _drop(f"evidence does not apply: {exc.rule}")
    try:
        check_duplicate_vote(ev, state.chain_id)
    except ValidationError as exc:
        return _punish(f"evidence that proves nothing: {exc.rule}")
    return Judgement(Verdict.ACCEPT, relay=True)


MAX_ACTION_BYTES = 64 * 1024  # an encoded governance action (255 governors sign in ~34 KB)
# Governance rules no honest relay breaks: it checked the signatures against the same keys.
_ACTION_SENDER_FAULTS = frozenset({"bad_governor_signature", "duplicate_governor_signature",
                                   "wrong_chain", "validators_unsorted", "duplicate_validator",
                                   "reference_required"})


def judge_action(state: ChainState, raw: bytes, held: Container[bytes]
                 ) -> tuple[Judgement, BlockAction | None]:
    """Whether to pool (and relay) a governance action or a recovery, and the decoded action.

    Cheap first: size, already held, decode, chain, nonce; then the governors' signatures;
    then whether the next block could carry it. A recovery is taken only if it is bound to our
    tip (its wait is checked when it is installed, with our clock).
    """
    if len(raw) > MAX_ACTION_BYTES:
        return _punish(f"action of {len(raw)} bytes, over {MAX_ACTION_BYTES}"), None
    if raw in held:
        return _drop("action already pooled"), None
    try:
        action = decode_block_action(raw)
    except DecodeError as exc:
        return Judgement(Verdict.PUNISH, f"undecodable action: {exc}", rule="decode"), None
    try:
        if action.chain_id != state.chain_id:
            raise WrongChain("wrong_chain", f"action is for {action.chain_id!r}, "
                                            f"this chain is {state.chain_id!r}")
        if isinstance(action, RecoveryAction):
            if (action.height, action.last_block_id) != (state.height, state.last_block_id):
                raise GovernanceError("recovery_not_at_tip",
                                      f"made against height {action.height}, tip is "
                                      f"{state.height}")
            sorted_validators(action.validators)
        else:
            check_nonce(action.nonce, state.nonce_floor, state.used_nonces)
        current = state.current
        check_governor_signatures(action.digest(), action.signatures, current.governors,
                                  current.governor_threshold)
        if isinstance(action, SignedAction) and not select_carried(state, (), (raw,))[1]:
            raise GovernanceError("does_not_apply", "the next block could not carry it")
    except ValidationError as exc:
        verdict = Verdict.PUNISH if exc.rule in _ACTION_SENDER_FAULTS else Verdict.DROP
        return Judgement(verdict, exc.detail, rule=exc.rule), action
    return Judgement(Verdict.ACCEPT, relay=True), action


# Rules a relayed tx can break only if its sender made it so: an honest node relays only txs
# it admitted, and these don't depend on timing (the UTXO set, parameters, the pool).
_SENDER_FAULTS = frozenset({
    "no_inputs", "no_outputs", "memo_too_long", "amount_range", "amount_overflow",
    "duplicate_input", "policy_mismatch", "outputs_exceed_inputs",
    "credit_no_payments", "credit_too_many_payments", "credit_self_payment",
    "credit_duplicate_recipient",
})


def tx_is_senders_fault(exc: ValidationError) -> bool:
    """Does a relayed tx's refusal show that the peer relayed junk (punish), rather than a
    race (a spent input, a full pool, a parameter that changed)?"""
    return isinstance(exc, InvalidSignature | WrongChain) or exc.rule in _SENDER_FAULTS
