"""The BFT consensus engine: a pure state machine, `Engine.handle(event) -> actions`.

It implements Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT consensus"
(2018), in the manner of etcd's raft: events come in as data, effects go out as data, and the
engine itself does no IO, reads no clock and draws no random numbers. The caller (the node, or
the simulator) carries the actions out in order: persist before broadcast, always.

Glossary:
- *height* h: the block being decided (genesis is 0, the first block 1). *round* r: one attempt
  at it, with one proposer. *step*: propose, prevote or precommit, in that order within a round.
- *proposer(h, r)*: `proposers[(h + r) % len(proposers)]`, the rotation the chain state gives
  (quarantined and suspended validators already removed).
- *polka*: a quorum (2f+1) of prevotes for one block in one round.
- *locked value/round*: the block this validator precommitted, and when; it prevotes nothing
  else until it sees a polka for something else in a later round (line 28's `lockedRound <= vr`).
- *valid value/round*: the latest block it saw a polka for; a proposer re-proposes it.
- *last-signed state*: the highest (height, round, step) this key signed. The engine never signs
  at or below it, and emits `PersistLastSigned` before every `Broadcast` of something it signed,
  so a crash between the two can never lead to two different signatures for one step.

Value-agnostic: the engine treats blocks as opaque values named by their hash. The application
builds them (`RequestProposalBlock` -> `ProposalBlockReady`) and judges them (`ValidateBlock` ->
`BlockValidated`); the engine only needs the block's hash and the answer.

Simplifications, said plainly:
- A proposer that sends two different proposals for one round is not reported; only duplicate
  *votes* are evidence (`EvidenceFound`). The second proposal is ignored.
- Votes for a height above the current one are buffered only for the next height, and only up
  to `MAX_BUFFERED` (proposals, which carry blocks, up to `MAX_BUFFERED_PROPOSALS`); a
  validator further behind catches up by syncing committed blocks.
- Proposals more than `MAX_PROPOSAL_ROUNDS_AHEAD` rounds ahead are dropped: each carries a
  block, so keeping every future round's would let a proposer fill memory. A node that gets
  there later receives the round's proposal again (`gossip()` re-sends it on a stall).
- The engine never retransmits. `gossip()` hands the caller what to re-send when a height stalls
  (own messages, the round's proposal, the polka behind our lock), standing in for the paper's
  reliable gossip after GST.
- A validator that has 2f+1 precommits for a block it never received can't commit from votes
  alone: its node syncs the committed block and starts the next height with `NewHeight`.

docs/CONSENSUS.md describes the event/action contract, restarts and the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from consensus import crypto
from consensus.certificate import build_certificate
from consensus.codec import block_hash
from consensus.crypto import PrivateKey
from consensus.errors import FaircoopError
from consensus.params import ChainParams
from consensus.quorum import NIL_ID, VoteTally, skip_threshold
from consensus.types import Block, BlockHash, PublicKey
from consensus.votes import (
    CommitCertificate,
    Proposal,
    Vote,
    VoteType,
    proposal_digest,
    sign_proposal,
    sign_vote,
    vote_digest,
)

MAX_BUFFERED = 10_000  # messages kept for the next height while this one is being decided
MAX_BUFFERED_PROPOSALS = 8  # ... of which proposals (each carries a block)
MAX_ROUND_AHEAD = 1_000  # votes further ahead than this many rounds are dropped
MAX_PROPOSAL_ROUNDS_AHEAD = 2  # proposals further ahead than this many rounds are dropped


class EngineError(FaircoopError):
    """The caller broke the engine's contract (e.g. an empty validator set)."""


class Step(IntEnum):
    """The steps of a round, in signing order: the last-signed check compares them."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


@dataclass(frozen=True, slots=True, order=True)
class SignedState:
    """The highest (height, round, step) a key signed; ordered lexicographically."""

    height: int
    round: int
    step: Step


# -- events (what the caller feeds in) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewHeight:
    """Start deciding `height` (the last committed height + 1, or later after a sync).

    `validators` is the voting set (its order is the certificate's index order); `proposers` is
    the rotation (empty means: the validators). `params` gives the timeouts.
    """

    height: int
    validators: tuple[PublicKey, ...]
    proposers: tuple[PublicKey, ...]
    params: ChainParams


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A signed proposal and the block it names, from the network."""

    proposal: Proposal
    block: Block


@dataclass(frozen=True, slots=True)
class VoteReceived:
    vote: Vote


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """A timeout the engine scheduled (`ScheduleTimeout`) has expired."""

    height: int
    round: int
    step: Step


@dataclass(frozen=True, slots=True)
class BlockValidated:
    """The application's verdict on a block the engine asked about (`ValidateBlock`)."""

    block_id: BlockHash
    valid: bool


@dataclass(frozen=True, slots=True)
class ProposalBlockReady:
    """The application's answer to `RequestProposalBlock`: the block to propose."""

    height: int
    round: int
    block: Block


Event = NewHeight | ProposalReceived | VoteReceived | TimeoutFired | BlockValidated | \
    ProposalBlockReady


# -- actions (what the caller carries out, in order) -------------------------------------------


@dataclass(frozen=True, slots=True)
class PersistLastSigned:
    """Durably store this last-signed state (sync) before carrying out any later action.

    `message` is what is about to be signed and sent. For a precommit of a block,
    `justification` is the polka (2f+1 prevotes) that made this validator lock on it and `block`
    is that block (for a proposal, `block` is the proposed block). The state alone prevents
    double signing. Keeping the current height's votes, justifications and blocks too, and
    handing them back as `Engine(..., resume_votes=..., resume_blocks=...)` after a restart,
    restores the lock, re-sends votes a crash may have swallowed, and lets this validator
    re-propose its locked block with proof: without them a restarted validator can stall a
    height the others need it for.
    """

    state: SignedState
    message: Proposal | Vote
    justification: tuple[Vote, ...] = ()
    block: Block | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send a signed message to every peer; a proposal travels with its block."""

    message: Proposal | Vote
    block: Block | None = None


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed back `TimeoutFired(height, round, step)` after `delay_ms` of local time."""

    height: int
    round: int
    step: Step
    delay_ms: int


@dataclass(frozen=True, slots=True)
class RequestProposalBlock:
    """This validator proposes at (height, round): build a block, answer `ProposalBlockReady`."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Judge `block` against the chain state; answer `BlockValidated(block_id, valid)`."""

    block: Block
    block_id: BlockHash


@dataclass(frozen=True, slots=True)
class Commit:
    """`block` is final at `certificate.height`. Store it with its certificate, then `NewHeight`."""

    block: Block
    block_id: BlockHash
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """One validator signed two different votes for one (height, round, type)."""

    vote_a: Vote
    vote_b: Vote


Action = PersistLastSigned | Broadcast | ScheduleTimeout | RequestProposalBlock | \
    ValidateBlock | Commit | EvidenceFound


def proposer_for(proposers: tuple[PublicKey, ...], height: int, round_: int) -> PublicKey:
    """proposer(h, r) = proposers[(h + r) mod len(proposers)]."""
    if not proposers:
        raise EngineError("empty proposer rotation")
    return proposers[(height + round_) % len(proposers)]


def timeout_ms(params: ChainParams, step: Step, round_: int) -> int:
    """Timeouts grow linearly with the round, so some round eventually outlasts any delay."""
    base = params.timeout_propose_ms if step == Step.PROPOSE else params.timeout_vote_ms
    return base + round_ * params.timeout_delta_ms


# -- the engine ---------------------------------------------------------------------------------


class Engine:
    """One validator's (or observer's) view of consensus. Not thread-safe; fully deterministic.

    Construct it with the chain id, the signing key (None for an observer) and the last-signed
    state from disk (None for a fresh key), then feed `NewHeight` and messages to `handle`.
    """

    def __init__(
        self,
        chain_id: str,
        key: PrivateKey | None,
        last_signed: SignedState | None = None,
        resume_votes: tuple[Vote, ...] = (),
        resume_blocks: tuple[Block, ...] = (),
        verify: crypto.Verifier = crypto.verify,
    ) -> None:
        """`verify` checks a signature; a node passes a memo (`crypto.VerifiedMemo.verify`) so a
        message it checked before relaying is not checked again here."""
        self._chain_id = chain_id
        self._verify = verify
        self._key = key
        self._pub: PublicKey | None = PublicKey(key.public_key) if key is not None else None
        self._last_signed = last_signed
        self._resume_votes = resume_votes  # persisted votes from before a restart
        self._resume_blocks = resume_blocks  # and the blocks they were for
        self._out: list[Action] = []
        # height state
        self._height = 0
        self._started = False
        self._decided = False
        self._validators: tuple[PublicKey, ...] = ()
        self._index: dict[PublicKey, int] = {}
        self._proposers: tuple[PublicKey, ...] = ()
        self._params = ChainParams()
        self._my_index: int | None = None
        self._reset_height_state()
        self._buffer: list[ProposalReceived | VoteReceived] = []
        self._buffered_proposals = 0
        # the last decided height's votes, kept to catch equivocation seen late
        self._prev_height = -1
        self._prev_votes: dict[tuple[int, VoteType, int], Vote] = {}
        self._prev_index: dict[PublicKey, int] = {}
        self._reported: set[tuple[int, int, VoteType, int]] = set()

    def _reset_height_state(self) -> None:
        self._round = 0
        self._step = Step.PROPOSE
        self._locked_value: BlockHash | None = None
        self._locked_round = -1
        self._valid_value: BlockHash | None = None
        self._valid_round = -1
        self._proposals: dict[int, Proposal] = {}
        self._blocks: dict[BlockHash, Block] = {}
        self._validity: dict[BlockHash, bool] = {}
        self._validating: set[BlockHash] = set()
        self._votes: dict[tuple[int, VoteType], dict[int, Vote]] = {}  # first vote per signer
        self._block_votes: dict[tuple[int, VoteType, BlockHash], dict[int, Vote]] = {}
        self._tallies: dict[tuple[int, VoteType], VoteTally] = {}
        self._prevote_timeout_rounds: set[int] = set()
        self._precommit_timeout_rounds: set[int] = set()
        self._polka_rounds: set[int] = set()
        self._awaiting_block_round: int | None = None
        self._own: dict[tuple[int, Step], Broadcast] = {}
        self._round_senders: dict[int, set[int]] = {}  # validators heard from, per round

    # -- read-only views (status, tests, the simulator's checks) --

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def public_key(self) -> PublicKey | None:
        return self._pub

    @property
    def height(self) -> int:
        return self._height

    @property
    def round(self) -> int:
        return self._round

    @property
    def step(self) -> Step:
        return self._step

    @property
    def decided(self) -> bool:
        """True between this height's `Commit` and the next `NewHeight`."""
        return self._decided

    @property
    def locked(self) -> tuple[BlockHash | None, int]:
        return self._locked_value, self._locked_round

    @property
    def valid(self) -> tuple[BlockHash | None, int]:
        return self._valid_value, self._valid_round

    @property
    def last_signed(self) -> SignedState | None:
        return self._last_signed

    @property
    def is_validator(self) -> bool:
        return self._my_index is not None

    def proposer(self, round_: int | None = None) -> PublicKey:
        r = self._round if round_ is None else round_
        return proposer_for(self._proposers, self._height, r)

    def vote_count(
        self, round_: int, vote_type: VoteType, block_id: BlockHash | None = None
    ) -> int:
        """Votes seen in this height; all of them if `block_id` is None."""
        tally = self._tallies.get((round_, vote_type))
        if tally is None:
            return 0
        return tally.total if block_id is None else tally.count(block_id)

    def gossip(self) -> tuple[Broadcast, ...]:
        """Messages to re-send when progress stalls: a node's share of reliable gossip.

        Our own signed messages of the current and previous round, the current round's proposal,
        and the prevotes of the polkas behind our locked and valid values (what a peer needs to
        accept a re-proposal, Algorithm 1 line 28). Re-sending signed bytes is always safe; the
        paper's liveness argument assumes every message is eventually delivered after GST, and
        this is how a node makes that true after message loss.
        """
        out: dict[bytes, Broadcast] = {}
        for (r, _), b in sorted(self._own.items()):
            if r >= self._round - 1:
                out[b.message.signature] = b
        p = self._proposals.get(self._round)
        if p is not None and p.block_id in self._blocks:
            out.setdefault(p.signature, Broadcast(p, self._blocks[p.block_id]))
        for value, r in ((self._locked_value, self._locked_round),
                         (self._valid_value, self._valid_round)):
            if value is not None:
                for v in self.polka_votes(r, value):
                    out.setdefault(v.signature, Broadcast(v))
        return tuple(out.values())

    def polka_votes(self, round_: int, block_id: BlockHash) -> tuple[Vote, ...]:
        """The prevotes for `block_id` in `round_` this engine holds, by validator index."""
        votes = self._block_votes.get((round_, VoteType.PREVOTE, block_id), {})
        return tuple(v for _, v in sorted(votes.items()))

    # -- the one entry point --

    def handle(self, event: Event) -> list[Action]:
        """Apply one event; return the actions to carry out, in order."""
        self._out = []
        if isinstance(event, NewHeight):
            self._on_new_height(event)
        elif isinstance(event, VoteReceived):
            self._on_vote(event)
        elif isinstance(event, ProposalReceived):
            self._on_proposal(event)
        elif isinstance(event, TimeoutFired):
            self._on_timeout(event)
        elif isinstance(event, BlockValidated):
            self._on_block_validated(event)
        elif isinstance(event, ProposalBlockReady):
            self._on_block_ready(event)
        else:  # pragma: no cover - the Event union is closed
            raise EngineError(f"unknown event {type(event).__name__}")
        out, self._out = self._out, []
        return out

    # -- signing, guarded by the last-signed state --

    def _may_sign(self, step: Step) -> bool:
        if self._key is None or self._my_index is None:
            return False
        state = SignedState(self._height, self._round, step)
        return self._last_signed is None or state > self._last_signed

    def _persist(
        self, step: Step, message: Proposal | Vote, justification: tuple[Vote, ...] = (),
        block: Block | None = None,
    ) -> None:
        self._last_signed = SignedState(self._height, self._round, step)
        self._out.append(PersistLastSigned(self._last_signed, message, justification, block))

    def _sign_vote(self, vote_type: VoteType, block_id: BlockHash) -> None:
        step = Step.PREVOTE if vote_type == VoteType.PREVOTE else Step.PRECOMMIT
        if not self._may_sign(step):
            return
        assert self._key is not None and self._my_index is not None
        vote = sign_vote(self._key, self._chain_id, vote_type, self._height, self._round, block_id)
        locking = vote_type == VoteType.PRECOMMIT and bool(block_id)
        justification = self.polka_votes(self._round, block_id) if locking else ()
        self._persist(step, vote, justification, self._blocks.get(block_id) if locking else None)
        b = Broadcast(vote)
        self._own[(self._round, step)] = b
        self._out.append(b)
        self._count_vote(self._my_index, vote)

    def _propose(self, block_id: BlockHash, block: Block) -> None:
        if not self._may_sign(Step.PROPOSE):
            return
        assert self._key is not None
        proposal = sign_proposal(
            self._key, self._chain_id, self._height, self._round, self._valid_round_for(block_id),
            block_id,
        )
        self._persist(Step.PROPOSE, proposal, (), block)
        b = Broadcast(proposal, block)
        self._own[(self._round, Step.PROPOSE)] = b
        self._out.append(b)
        self._proposals[self._round] = proposal
        self._blocks[block_id] = block

    def _valid_round_for(self, block_id: BlockHash) -> int:
        return self._valid_round if block_id == self._valid_value else -1

    # -- rounds --

    def _start_round(self, round_: int) -> None:
        """StartRound (Algorithm 1, line 11)."""
        self._round = round_
        self._step = Step.PROPOSE
        self._awaiting_block_round = None
        self._schedule(Step.PROPOSE)
        if self.proposer() != self._pub or not self._may_sign(Step.PROPOSE):
            return  # not our turn, or we already signed here before a restart
        if self._valid_value is not None and self._valid_value in self._blocks:
            self._propose(self._valid_value, self._blocks[self._valid_value])
        else:
            self._awaiting_block_round = round_
            self._out.append(RequestProposalBlock(self._height, round_))

    def _schedule(self, step: Step) -> None:
        self._out.append(ScheduleTimeout(
            self._height, self._round, step, timeout_ms(self._params, step, self._round)
        ))

    def _on_new_height(self, ev: NewHeight) -> None:
        if not ev.validators:
            raise EngineError("a height needs at least one validator")
        if len(set(ev.validators)) != len(ev.validators):
            raise EngineError("duplicate validator in the voting set")
        if self._started and ev.height <= self._height:
            raise EngineError(f"NewHeight {ev.height} does not advance from {self._height}")
        if self._started:
            self._remember_votes_of_height()
        self._height = ev.height
        self._started = True
        self._decided = False
        self._validators = ev.validators
        self._index = {pub: i for i, pub in enumerate(ev.validators)}
        self._proposers = ev.proposers or ev.validators
        self._params = ev.params
        self._my_index = self._index.get(self._pub) if self._pub is not None else None
        self._reset_height_state()
        first_round = 0
        if self._last_signed is not None and self._last_signed.height == ev.height:
            # restarted mid-height: the earlier rounds are already spent for this key
            first_round = self._last_signed.round
        self._start_round(first_round)
        self._resume(ev.height)
        buffered, self._buffer = self._buffer, []
        self._buffered_proposals = 0
        for msg in buffered:
            if self._message_height(msg) == self._height:
                if isinstance(msg, VoteReceived):
                    self._on_vote(msg)
                else:
                    self._on_proposal(msg)
            elif self._message_height(msg) > self._height:
                self._buffered_proposals += isinstance(msg, ProposalReceived)
                self._buffer.append(msg)
        self._evaluate()

    def _resume(self, height: int) -> None:
        """Take back persisted votes of `height` from before a restart: tallies, lock, step."""
        votes = [v for v in self._resume_votes if v.height == height and v.chain_id ==
                 self._chain_id]
        self._resume_votes = ()
        for block in self._resume_blocks:
            if block.header.height == height and block.header.chain_id == self._chain_id:
                block_id = block_hash(block.header)
                self._blocks.setdefault(block_id, block)
                self._validity.setdefault(block_id, True)  # we judged it before the restart
        self._resume_blocks = ()
        for v in sorted(votes, key=lambda v: (v.round, int(v.vote_type), v.validator)):
            index = self._index.get(v.validator)
            if index is None or not self._verified(v):
                continue
            self._count_vote(index, v)
            if index != self._my_index:
                continue
            step = Step.PREVOTE if v.vote_type == VoteType.PREVOTE else Step.PRECOMMIT
            self._own[(v.round, step)] = Broadcast(v)
            if v.vote_type == VoteType.PRECOMMIT and not v.is_nil and v.round > self._locked_round:
                # we precommitted it, so we saw its polka: locked, and it is our valid value
                self._locked_value, self._locked_round = v.block_id, v.round
                self._valid_value, self._valid_round = v.block_id, v.round
            if v.round == self._round and step > self._step:
                self._step = step
        # re-send this round's votes: the crash may have swallowed them
        self._out.extend(b for (r, _), b in sorted(self._own.items()) if r == self._round)

    def _remember_votes_of_height(self) -> None:
        self._prev_height = self._height
        self._reported = {tag for tag in self._reported if tag[0] >= self._height}
        self._prev_index = self._index
        self._prev_votes = {
            (r, t, i): v for (r, t), votes in self._votes.items() for i, v in votes.items()
        }

    @staticmethod
    def _message_height(msg: ProposalReceived | VoteReceived) -> int:
        return msg.vote.height if isinstance(msg, VoteReceived) else msg.proposal.height

    def _route(self, msg: ProposalReceived | VoteReceived, height: int) -> bool:
        """True if the message is for the height being decided now; else buffer or drop it."""
        if not self._started:
            return False
        if height == self._height and not self._decided:
            return True
        if height == self._height + 1 and len(self._buffer) < MAX_BUFFERED:
            if isinstance(msg, VoteReceived):
                self._buffer.append(msg)
            elif self._buffered_proposals < MAX_BUFFERED_PROPOSALS:
                self._buffered_proposals += 1
                self._buffer.append(msg)
        return False

    # -- votes --

    def _on_vote(self, ev: VoteReceived) -> None:
        v = ev.vote
        if v.chain_id != self._chain_id:
            return
        if self._started and (v.height == self._prev_height or
                              (self._decided and v.height == self._height)):
            self._check_late_equivocation(v)
            return
        if not self._route(ev, v.height):
            return
        index = self._index.get(v.validator)
        if index is None or v.round > self._round + MAX_ROUND_AHEAD:
            return
        if index in self._block_votes.get((v.round, v.vote_type, v.block_id), {}):
            return  # a duplicate delivery (or a second signature of the same vote)
        if not self._verified(v):
            return
        earlier = self._votes.get((v.round, v.vote_type), {}).get(index)
        if earlier is not None and earlier.block_id != v.block_id:
            self._report(earlier, v, index)
        if self._count_vote(index, v):
            self._evaluate()

    def _verified(self, v: Vote) -> bool:
        digest = vote_digest(v.chain_id, v.vote_type, v.height, v.round, v.block_id, v.validator)
        return self._verify(v.validator, v.signature, digest)

    def _count_vote(self, index: int, v: Vote) -> bool:
        key = (v.round, v.vote_type)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = VoteTally(len(self._validators))
        if not tally.add(index, v.block_id):
            return False
        self._votes.setdefault(key, {}).setdefault(index, v)
        self._block_votes.setdefault((v.round, v.vote_type, v.block_id), {})[index] = v
        self._round_senders.setdefault(v.round, set()).add(index)
        return True

    def _report(self, a: Vote, b: Vote, index: int) -> None:
        tag = (a.height, a.round, a.vote_type, index)
        if tag in self._reported:
            return
        self._reported.add(tag)
        self._out.append(EvidenceFound(a, b))

    def _check_late_equivocation(self, v: Vote) -> None:
        """A vote for the height just decided counts for nothing but may convict its signer."""
        if v.height == self._height:
            index = self._index.get(v.validator)
            earlier = None if index is None else \
                self._votes.get((v.round, v.vote_type), {}).get(index)
        else:
            index = self._prev_index.get(v.validator)
            earlier = None if index is None else self._prev_votes.get((v.round, v.vote_type, index))
        if index is None or earlier is None or earlier.block_id == v.block_id:
            return
        if self._verified(v):
            self._report(earlier, v, index)

    # -- proposals and blocks --

    def _on_proposal(self, ev: ProposalReceived) -> None:
        p = ev.proposal
        if p.chain_id != self._chain_id or not self._route(ev, p.height):
            return
        if not -1 <= p.pol_round < p.round or p.round > self._round + MAX_PROPOSAL_ROUNDS_AHEAD:
            return
        if p.round in self._proposals or p.proposer != self.proposer(p.round):
            return
        if ev.block.header.height != p.height or block_hash(ev.block.header) != p.block_id:
            return
        digest = proposal_digest(p.chain_id, p.height, p.round, p.pol_round, p.block_id,
                                 p.proposer)
        if not self._verify(p.proposer, p.signature, digest):
            return
        self._proposals[p.round] = p
        proposer_index = self._index.get(p.proposer)
        if proposer_index is not None:
            self._round_senders.setdefault(p.round, set()).add(proposer_index)
        if p.block_id not in self._blocks:
            self._blocks[p.block_id] = ev.block
        if p.block_id not in self._validity and p.block_id not in self._validating:
            self._validating.add(p.block_id)
            self._out.append(ValidateBlock(ev.block, p.block_id))
        self._evaluate()

    def _on_block_validated(self, ev: BlockValidated) -> None:
        if ev.block_id not in self._validating:
            return  # an answer for another height, or one we never asked for
        self._validating.discard(ev.block_id)
        self._validity[ev.block_id] = ev.valid
        self._evaluate()

    def _on_block_ready(self, ev: ProposalBlockReady) -> None:
        if (ev.height, ev.round) != (self._height, self._round) or self._decided:
            return
        if self._awaiting_block_round != ev.round or self._step != Step.PROPOSE:
            return
        self._awaiting_block_round = None
        block_id = block_hash(ev.block.header)
        self._validity[block_id] = True  # the application built it
        self._propose(block_id, ev.block)
        self._evaluate()

    # -- timeouts (Algorithm 1, lines 57-66) --

    def _on_timeout(self, ev: TimeoutFired) -> None:
        if (ev.height, ev.round) != (self._height, self._round) or self._decided:
            return
        if ev.step == Step.PROPOSE and self._step == Step.PROPOSE:
            self._sign_vote(VoteType.PREVOTE, NIL_ID)
            self._step = Step.PREVOTE
        elif ev.step == Step.PREVOTE and self._step == Step.PREVOTE:
            self._sign_vote(VoteType.PRECOMMIT, NIL_ID)
            self._step = Step.PRECOMMIT
        elif ev.step == Step.PRECOMMIT:
            self._start_round(self._round + 1)
        else:
            return
        self._evaluate()

    # -- the upon-rules, run to a fixed point --

    def _tally(self, round_: int, vote_type: VoteType) -> VoteTally | None:
        return self._tallies.get((round_, vote_type))

    def _polka(self, round_: int, block_id: BlockHash) -> bool:
        t = self._tally(round_, VoteType.PREVOTE)
        return t is not None and t.has_quorum_for(block_id)

    def _evaluate(self) -> None:
        while self._started and not self._decided:
            if self._try_commit():
                return
            fired = (
                self._try_round_skip()
                or self._on_proposal_fresh()
                or self._on_proposal_with_polka()
                or self._on_prevote_quorum_any()
                or self._on_polka_for_proposal()
                or self._on_polka_nil()
                or self._on_precommit_quorum_any()
            )
            if not fired:
                return

    def _is_valid(self, block_id: BlockHash) -> bool:
        return self._validity.get(block_id, False)

    def _on_proposal_fresh(self) -> bool:
        """Line 22: a proposal with validRound -1, in step propose."""
        p = self._proposals.get(self._round)
        if p is None or self._step != Step.PROPOSE or p.pol_round != -1:
            return False
        if p.block_id not in self._validity:
            return False  # wait for the application's verdict
        ok = self._is_valid(p.block_id) and (
            self._locked_round == -1 or self._locked_value == p.block_id
        )
        self._sign_vote(VoteType.PREVOTE, p.block_id if ok else NIL_ID)
        self._step = Step.PREVOTE
        return True

    def _on_proposal_with_polka(self) -> bool:
        """Line 28: a proposal re-proposing a block that had a polka in round vr < round."""
        p = self._proposals.get(self._round)
        if p is None or self._step != Step.PROPOSE or p.pol_round < 0:
            return False
        if not self._polka(p.pol_round, p.block_id) or p.block_id not in self._validity:
            return False
        ok = self._is_valid(p.block_id) and (
            self._locked_round <= p.pol_round or self._locked_value == p.block_id
        )
        self._sign_vote(VoteType.PREVOTE, p.block_id if ok else NIL_ID)
        self._step = Step.PREVOTE
        return True

    def _on_prevote_quorum_any(self) -> bool:
        """Line 34: 2f+1 prevotes of any kind, in step prevote, first time: timeoutPrevote."""
        t = self._tally(self._round, VoteType.PREVOTE)
        if self._step != Step.PREVOTE or self._round in self._prevote_timeout_rounds:
            return False
        if t is None or not t.has_quorum_any():
            return False
        self._prevote_timeout_rounds.add(self._round)
        self._schedule(Step.PREVOTE)
        return True

    def _on_polka_for_proposal(self) -> bool:
        """Line 36: the round's proposal, valid, with a polka, in step >= prevote, first time."""
        p = self._proposals.get(self._round)
        if p is None or self._step < Step.PREVOTE or self._round in self._polka_rounds:
            return False
        if not self._is_valid(p.block_id) or not self._polka(self._round, p.block_id):
            return False
        self._polka_rounds.add(self._round)
        if self._step == Step.PREVOTE:
            self._locked_value, self._locked_round = p.block_id, self._round
            self._sign_vote(VoteType.PRECOMMIT, p.block_id)
            self._step = Step.PRECOMMIT
        self._valid_value, self._valid_round = p.block_id, self._round
        return True

    def _on_polka_nil(self) -> bool:
        """Line 44: 2f+1 nil prevotes in step prevote: precommit nil."""
        t = self._tally(self._round, VoteType.PREVOTE)
        if self._step != Step.PREVOTE or t is None or not t.has_quorum_nil():
            return False
        self._sign_vote(VoteType.PRECOMMIT, NIL_ID)
        self._step = Step.PRECOMMIT
        return True

    def _on_precommit_quorum_any(self) -> bool:
        """Line 47: 2f+1 precommits of any kind, first time: timeoutPrecommit."""
        t = self._tally(self._round, VoteType.PRECOMMIT)
        if self._round in self._precommit_timeout_rounds or t is None or not t.has_quorum_any():
            return False
        self._precommit_timeout_rounds.add(self._round)
        self._schedule(Step.PRECOMMIT)
        return True

    def _try_round_skip(self) -> bool:
        """Line 55: f+1 validators sent messages of a higher round: go there."""
        need = skip_threshold(len(self._validators))
        rounds = [
            r for r, who in self._round_senders.items() if r > self._round and len(who) >= need
        ]
        if not rounds:
            return False
        self._start_round(max(rounds))
        return True

    def _try_commit(self) -> bool:
        """Line 49: a valid block with 2f+1 precommits in some round: decide it."""
        for (r, vote_type), tally in sorted(self._tallies.items()):
            if vote_type != VoteType.PRECOMMIT:
                continue
            block_id = tally.quorum_block()
            if block_id is None or block_id not in self._blocks:
                continue
            if block_id not in self._validity:
                if block_id not in self._validating:
                    self._validating.add(block_id)
                    self._out.append(ValidateBlock(self._blocks[block_id], block_id))
                continue
            if not self._validity[block_id]:
                continue  # more than a third are faulty: nothing safe to do
            votes = self._block_votes[(r, VoteType.PRECOMMIT, block_id)]
            cert = build_certificate(votes.values(), self._validators)
            self._decided = True
            self._out.append(Commit(self._blocks[block_id], block_id, cert))
            return True
        return False
