"""Commit certificates: check, alone, that a block is final.

A block is final once more than 2/3 of its height's validators precommitted it in one round.
Those precommits, compacted to (validator index, signature) pairs, are its `CommitCertificate`
(defined with the other signed messages in `consensus.votes`). It is stored beside the block and
carried, encoded, in the next block (`Block.last_commit`, committed to by the header's
`last_commit_hash`), so a node syncing, or a wallet holding a receipt, needs nothing but the
certificate and the validator set to know a block is final.

`verify_certificate` says exactly why a certificate does not prove finality; `is_final` is the
yes/no form; `build_certificate` turns the precommits an engine collected into a certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from consensus import crypto
from consensus.errors import DecodeError, ValidationError
from consensus.quorum import quorum_size
from consensus.types import BlockHash, PublicKey
from consensus.votes import (
    CommitCertificate,
    Vote,
    VoteType,
    decode_certificate,
    vote_digest,
)

__all__ = [
    "InvalidCertificate",
    "build_certificate",
    "is_final",
    "quorum_size",
    "with_late_precommit",
    "verify_certificate",
]


class InvalidCertificate(ValidationError):
    """A certificate that does not prove its block final; `rule` says why.

    Rules: certificate_malformed, certificate_wrong_chain, certificate_wrong_height,
    certificate_wrong_block, certificate_unknown_signer, certificate_duplicate_signer,
    certificate_bad_signature, certificate_below_quorum.
    """


def _decoded(cert: CommitCertificate | bytes) -> CommitCertificate:
    if isinstance(cert, CommitCertificate):
        return cert
    try:
        return decode_certificate(cert)
    except DecodeError as exc:
        raise InvalidCertificate("certificate_malformed", str(exc)) from None


def verify_certificate(
    cert: CommitCertificate | bytes,
    block_id: bytes,
    validators: tuple[PublicKey, ...],
    chain_id: str,
    height: int,
    verify: Callable[[bytes, bytes, bytes], bool] = crypto.verify,
) -> None:
    """Return if `cert` proves `block_id` final at `height`; else raise `InvalidCertificate`.

    `validators` is the voting set of that height, in the order its indexes refer to. Every
    signature is checked (not only the first quorum), so a certificate that verifies holds no
    garbage a later reader could trip on. A node passes its memo as `verify`
    (`crypto.VerifiedMemo.verify`): the precommits its engine counted, and a certificate checked
    when synced and again as the next block's last commit, are then checked once.
    """
    c = _decoded(cert)
    if c.chain_id != chain_id:
        raise InvalidCertificate(
            "certificate_wrong_chain", f"made for chain {c.chain_id!r}, not {chain_id!r}"
        )
    if c.height != height:
        raise InvalidCertificate(
            "certificate_wrong_height", f"certifies height {c.height}, not {height}"
        )
    if c.block_id != block_id:
        raise InvalidCertificate(
            "certificate_wrong_block",
            f"certifies block {c.block_id.hex()[:16]}, not {bytes(block_id).hex()[:16]}",
        )
    seen: set[int] = set()
    for index, signature in c.signatures:
        if not 0 <= index < len(validators):
            raise InvalidCertificate(
                "certificate_unknown_signer",
                f"signer index {index} outside a set of {len(validators)}",
            )
        if index in seen:
            raise InvalidCertificate("certificate_duplicate_signer", f"index {index} signs twice")
        seen.add(index)
        pub = validators[index]
        digest = vote_digest(chain_id, VoteType.PRECOMMIT, height, c.round, c.block_id, pub)
        if not verify(pub, signature, digest):
            raise InvalidCertificate(
                "certificate_bad_signature", f"precommit of validator {index} does not verify"
            )
    need = quorum_size(len(validators))
    if len(seen) < need:
        raise InvalidCertificate(
            "certificate_below_quorum",
            f"{len(seen)} precommits, {need} needed of {len(validators)} validators",
        )


def is_final(
    cert: CommitCertificate | bytes,
    block_id: bytes,
    validators: tuple[PublicKey, ...],
    chain_id: str,
    height: int,
) -> bool:
    """True iff `cert` proves `block_id` final at `height` (see `verify_certificate`)."""
    try:
        verify_certificate(cert, block_id, validators, chain_id, height)
    except InvalidCertificate:
        return False
    return True


def build_certificate(
    precommits: Iterable[Vote], validators: tuple[PublicKey, ...]
) -> CommitCertificate:
    """The certificate made of `precommits` (all for one block, height and round).

    Raises `InvalidCertificate` if they disagree, name a non-validator, repeat a validator, or
    fall below a quorum. Signatures are taken as given; the engine verified each on receipt.
    """
    votes = tuple(precommits)
    if not votes:
        raise InvalidCertificate("certificate_below_quorum", "no precommits")
    first = votes[0]
    if first.vote_type != VoteType.PRECOMMIT or first.is_nil:
        raise InvalidCertificate("certificate_wrong_block", "a certificate is made of precommits")
    index_of = {pub: i for i, pub in enumerate(validators)}
    pairs: dict[int, bytes] = {}
    for v in votes:
        if (v.chain_id, v.vote_type, v.height, v.round, v.block_id) != (
            first.chain_id, VoteType.PRECOMMIT, first.height, first.round, first.block_id
        ):
            raise InvalidCertificate(
                "certificate_wrong_block", "precommits for different blocks or rounds"
            )
        index = index_of.get(v.validator)
        if index is None:
            raise InvalidCertificate("certificate_unknown_signer", "precommit by a non-validator")
        if index in pairs:
            raise InvalidCertificate("certificate_duplicate_signer", f"index {index} twice")
        pairs[index] = v.signature
    need = quorum_size(len(validators))
    if len(pairs) < need:
        raise InvalidCertificate(
            "certificate_below_quorum", f"{len(pairs)} precommits, {need} needed"
        )
    return CommitCertificate(
        chain_id=first.chain_id,
        height=first.height,
        round=first.round,
        block_id=BlockHash(first.block_id),
        signatures=tuple(sorted(pairs.items())),
    )


def with_late_precommit(
    cert: CommitCertificate,
    vote: Vote,
    voters: tuple[PublicKey, ...],
    verify: Callable[[bytes, bytes, bytes], bool] = crypto.verify,
    index: Mapping[PublicKey, int] | None = None,
) -> CommitCertificate | None:
    """`cert` with one more signer: a precommit for its block and round that arrived after the
    decision, or None if the vote adds nothing (another block or round, a stranger, already in,
    a bad signature).

    Why: the engine decides on the first quorum it sees; precommits that arrive afterwards
    still count for their signers' participation (and to leave quarantine) once carried on
    chain, so the proposer of the next height carries every one it received. `index` (each
    voter's position) saves rebuilding it when many votes are added to one certificate.
    """
    if vote.vote_type != VoteType.PRECOMMIT or (vote.block_id, vote.round, vote.height) != \
            (cert.block_id, cert.round, cert.height):
        return None
    position = (index if index is not None else
                {pk: i for i, pk in enumerate(voters)}).get(vote.validator)
    if position is None or any(i == position for i, _ in cert.signatures):
        return None
    digest = vote_digest(vote.chain_id, vote.vote_type, vote.height, vote.round, vote.block_id,
                         vote.validator)
    if vote.chain_id != cert.chain_id or not verify(vote.validator, vote.signature, digest):
        return None
    return replace(cert, signatures=tuple(sorted((*cert.signatures,
                                                  (position, vote.signature)))))
