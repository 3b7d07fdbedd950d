"""Evidence of equivocation: two signed votes by one validator that can't both be honest.

A `DuplicateVoteEvidence` holds two votes by the same validator for the same chain, height,
round and vote type, naming different block ids (a nil vote and a block vote conflict too).
Both signatures must verify, so nobody can frame a validator: only its own key makes evidence.

The two votes are kept in one canonical order (by their encodings), whatever order they are
given in, so one equivocation has exactly one encoding and can't be included twice under two
spellings. The state-dependent rules (was the signer a validator at that height, is the evidence
recent enough, was it already punished) live with the chain state in `consensus.chainstate`.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import crypto
from consensus.codec import Obj, decode_canonical, expect_array, expect_version, pack
from consensus.errors import DecodeError, InvalidSignature, ValidationError, WrongChain
from consensus.types import PublicKey
from consensus.votes import Vote, encode_vote, vote_digest, vote_from, vote_obj

EVIDENCE_VERSION = 1
MAX_EVIDENCE_AGE = 100  # heights: older equivocations can no longer be punished


class InvalidEvidence(ValidationError):
    """Evidence that decodes but proves nothing, or can't be applied here (see `rule`)."""


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence:
    """Two conflicting votes; constructed in any order, stored as (smaller, larger) encoding."""

    vote_a: Vote
    vote_b: Vote

    def __post_init__(self) -> None:
        if encode_vote(self.vote_b) < encode_vote(self.vote_a):
            a, b = self.vote_b, self.vote_a
            object.__setattr__(self, "vote_a", a)
            object.__setattr__(self, "vote_b", b)

    @property
    def offender(self) -> PublicKey:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    def key(self) -> tuple[PublicKey, int, int, int]:
        """What one punishment is for: (validator, height, round, vote type)."""
        a = self.vote_a
        return (a.validator, a.height, a.round, int(a.vote_type))


EvidenceKey = tuple[PublicKey, int, int, int]


def evidence_obj(e: DuplicateVoteEvidence) -> Obj:
    return (EVIDENCE_VERSION, vote_obj(e.vote_a), vote_obj(e.vote_b))


def evidence_from(obj: Obj, what: str = "evidence") -> DuplicateVoteEvidence:
    version, a, b = expect_array(obj, 3, what)
    expect_version(version, EVIDENCE_VERSION, what)
    vote_a, vote_b = vote_from(a, f"{what}.vote_a"), vote_from(b, f"{what}.vote_b")
    if not pack(vote_obj(vote_a)) < pack(vote_obj(vote_b)):
        raise DecodeError(f"{what}: the two votes must differ and be in canonical order")
    return DuplicateVoteEvidence(vote_a, vote_b)


def encode_evidence(e: DuplicateVoteEvidence) -> bytes:
    return pack(evidence_obj(e))


def decode_evidence(data: bytes) -> DuplicateVoteEvidence:
    return decode_canonical(data, "evidence", evidence_from)


def _vote_signed(v: Vote) -> bool:
    digest = vote_digest(v.chain_id, v.vote_type, v.height, v.round, v.block_id, v.validator)
    return crypto.verify(v.validator, v.signature, digest)


def check_duplicate_vote(e: DuplicateVoteEvidence, chain_id: str) -> None:
    """The evidence proves equivocation on `chain_id`, on its own (no chain state needed)."""
    a, b = e.vote_a, e.vote_b
    if a.chain_id != chain_id or b.chain_id != chain_id:
        raise WrongChain("wrong_chain", f"evidence votes are not for {chain_id!r}")
    if a.validator != b.validator:
        raise InvalidEvidence("evidence_signers_differ", "the two votes have different signers")
    if (a.height, a.round, a.vote_type) != (b.height, b.round, b.vote_type):
        raise InvalidEvidence("evidence_not_same_step",
                              "the votes are not for one (height, round, type)")
    if a.block_id == b.block_id:
        raise InvalidEvidence("evidence_same_block", "the votes name the same block id")
    if not (_vote_signed(a) and _vote_signed(b)):
        raise InvalidSignature("bad_evidence_signature", "an evidence vote's signature fails")


def evidence_for(a: Vote, b: Vote, chain_id: str) -> DuplicateVoteEvidence:
    """Evidence from two votes the engine saw; InvalidEvidence if they don't conflict."""
    e = DuplicateVoteEvidence(a, b)
    check_duplicate_vote(e, chain_id)
    return e


__all__ = [
    "MAX_EVIDENCE_AGE", "DuplicateVoteEvidence", "EvidenceKey", "InvalidEvidence",
    "check_duplicate_vote", "decode_evidence", "encode_evidence", "evidence_for",
    "evidence_from", "evidence_obj",
]
