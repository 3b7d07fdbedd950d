"""Signed consensus messages: proposals, votes, and the commit certificates votes add up to.

Every message is signed over a domain-tagged digest of (chain id, message type, height, round,
and the rest of its fields), so a signature is good for exactly one message on one chain. A nil
vote names no block: its `block_id` is empty.

A `CommitCertificate` is the >2/3 precommits for one block in one round, stored with the block
and carried in the next block. It names signers by their index in the height's validator set,
so it is compact and has one canonical form (indexes strictly ascending).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from consensus.codec import (
    U32,
    U64,
    Obj,
    decode_canonical,
    expect_array,
    expect_bytes,
    expect_chain_id,
    expect_indexed_signatures,
    expect_pubkey,
    expect_uint,
    expect_version,
    pack,
)
from consensus.crypto import PrivateKey, tagged_hash
from consensus.errors import DecodeError
from consensus.types import BlockHash, PublicKey

MESSAGE_VERSION = 1
NIL = BlockHash(b"")
MAX_VALIDATORS = 1000


class VoteType(IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


_VOTE_TAG = {VoteType.PREVOTE: "faircoop/prevote/v1", VoteType.PRECOMMIT: "faircoop/precommit/v1"}
_PROPOSAL_TAG = "faircoop/proposal/v1"


def _block_id_from(obj: Obj, what: str) -> BlockHash:
    raw = expect_bytes(obj, what, max_len=32)
    if len(raw) not in (0, 32):
        raise DecodeError(f"{what}: a block id is 32 bytes, or empty for nil")
    return BlockHash(raw)


@dataclass(frozen=True, slots=True)
class Vote:
    chain_id: str
    vote_type: VoteType
    height: int
    round: int
    block_id: BlockHash  # 32 bytes, or NIL (empty)
    validator: PublicKey  # the signer
    signature: bytes  # 64-byte compact over `vote_digest`

    @property
    def is_nil(self) -> bool:
        return not self.block_id


def vote_digest(
    chain_id: str, vote_type: VoteType, height: int, round_: int, block_id: bytes,
    validator: bytes,
) -> bytes:
    return tagged_hash(
        _VOTE_TAG[vote_type], pack((chain_id, int(vote_type), height, round_, block_id, validator))
    )


def sign_vote(
    key: PrivateKey, chain_id: str, vote_type: VoteType, height: int, round_: int,
    block_id: bytes,
) -> Vote:
    digest = vote_digest(chain_id, vote_type, height, round_, block_id, key.public_key)
    return Vote(chain_id, vote_type, height, round_, BlockHash(block_id),
                PublicKey(key.public_key), key.sign(digest))


def vote_obj(v: Vote) -> Obj:
    return (MESSAGE_VERSION, v.chain_id, int(v.vote_type), v.height, v.round, v.block_id,
            v.validator, v.signature)


def vote_from(obj: Obj, what: str = "vote") -> Vote:
    f = expect_array(obj, 8, what)
    expect_version(f[0], MESSAGE_VERSION, what)
    return Vote(
        chain_id=expect_chain_id(f[1], f"{what}.chain_id"),
        vote_type=VoteType(expect_uint(f[2], f"{what}.type", lo=1, hi=2)),
        height=expect_uint(f[3], f"{what}.height"),
        round=expect_uint(f[4], f"{what}.round", hi=U32),
        block_id=_block_id_from(f[5], f"{what}.block_id"),
        validator=expect_pubkey(f[6], f"{what}.validator"),
        signature=expect_bytes(f[7], f"{what}.signature", size=64),
    )


def encode_vote(v: Vote) -> bytes:
    return pack(vote_obj(v))


def decode_vote(data: bytes) -> Vote:
    return decode_canonical(data, "vote", vote_from)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposer's signed claim that `block_id` is its value for (height, round).

    `pol_round` is Tendermint's validRound: the round in which the block got a 2/3 prevote
    quorum, or -1 if none. The block itself travels beside the proposal.
    """

    chain_id: str
    height: int
    round: int
    pol_round: int  # -1, or 0 <= pol_round < round
    block_id: BlockHash
    proposer: PublicKey
    signature: bytes


def proposal_digest(
    chain_id: str, height: int, round_: int, pol_round: int, block_id: bytes, proposer: bytes
) -> bytes:
    # pol_round is shifted by one so the signed encoding, like every encoding, holds no negatives
    return tagged_hash(
        _PROPOSAL_TAG, pack((chain_id, height, round_, pol_round + 1, block_id, proposer))
    )


def sign_proposal(
    key: PrivateKey, chain_id: str, height: int, round_: int, pol_round: int, block_id: bytes
) -> Proposal:
    digest = proposal_digest(chain_id, height, round_, pol_round, block_id, key.public_key)
    return Proposal(chain_id, height, round_, pol_round, BlockHash(block_id),
                    PublicKey(key.public_key), key.sign(digest))


def proposal_obj(p: Proposal) -> Obj:
    return (MESSAGE_VERSION, p.chain_id, p.height, p.round, p.pol_round + 1, p.block_id,
            p.proposer, p.signature)


def proposal_from(obj: Obj, what: str = "proposal") -> Proposal:
    f = expect_array(obj, 8, what)
    expect_version(f[0], MESSAGE_VERSION, what)
    round_ = expect_uint(f[3], f"{what}.round", hi=U32)
    pol_round = expect_uint(f[4], f"{what}.pol_round", hi=round_) - 1
    block_id = _block_id_from(f[5], f"{what}.block_id")
    if not block_id:
        raise DecodeError(f"{what}.block_id: a proposal names a block")
    return Proposal(
        chain_id=expect_chain_id(f[1], f"{what}.chain_id"),
        height=expect_uint(f[2], f"{what}.height"),
        round=round_,
        pol_round=pol_round,
        block_id=block_id,
        proposer=expect_pubkey(f[6], f"{what}.proposer"),
        signature=expect_bytes(f[7], f"{what}.signature", size=64),
    )


def encode_proposal(p: Proposal) -> bytes:
    return pack(proposal_obj(p))


def decode_proposal(data: bytes) -> Proposal:
    return decode_canonical(data, "proposal", proposal_from)


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """More than 2/3 of the height's validators precommitting `block_id` in `round`."""

    chain_id: str
    height: int
    round: int
    block_id: BlockHash
    signatures: tuple[tuple[int, bytes], ...]  # (validator index, precommit signature), ascending


def certificate_obj(c: CommitCertificate) -> Obj:
    return (MESSAGE_VERSION, c.chain_id, c.height, c.round, c.block_id, c.signatures)


def certificate_from(obj: Obj, what: str = "certificate") -> CommitCertificate:
    f = expect_array(obj, 6, what)
    expect_version(f[0], MESSAGE_VERSION, what)
    block_id = _block_id_from(f[4], f"{what}.block_id")
    if not block_id:
        raise DecodeError(f"{what}.block_id: a certificate names a block")
    sigs = expect_indexed_signatures(f[5], f"{what}.signatures", "validator",
                                     MAX_VALIDATORS - 1, MAX_VALIDATORS)
    return CommitCertificate(
        chain_id=expect_chain_id(f[1], f"{what}.chain_id"),
        height=expect_uint(f[2], f"{what}.height", hi=U64),
        round=expect_uint(f[3], f"{what}.round", hi=U32),
        block_id=block_id,
        signatures=sigs,
    )


def encode_certificate(c: CommitCertificate) -> bytes:
    return pack(certificate_obj(c))


def decode_certificate(data: bytes) -> CommitCertificate:
    return decode_canonical(data, "certificate", certificate_from)
