"""A node's verified-signature memo, passed to `verify_certificate`, saves work and never
changes an answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import crypto
from consensus.certificate import InvalidCertificate, verify_certificate
from consensus.crypto import PrivateKey, sha256
from consensus.types import BlockHash, PublicKey
from consensus.votes import CommitCertificate, VoteType, sign_vote

CHAIN = "faircoop-memo-test"
KEYS = [PrivateKey(sha256(b"memo/%d" % i)) for i in range(4)]
VOTERS = tuple(PublicKey(k.public_key) for k in KEYS)
BLOCK = BlockHash(sha256(b"memo/block"))


class Counting:
    def __init__(self, inner: crypto.VerifyBackend) -> None:
        self.inner, self.calls, self.name = inner, 0, "counting"

    def verify(self, pub: bytes, sig: bytes, digest: bytes) -> bool:
        self.calls += 1
        return self.inner.verify(pub, sig, digest)

    def pubkey_valid(self, pub: bytes) -> bool:
        return self.inner.pubkey_valid(pub)


def cert(height: int, signers: range = range(3)) -> CommitCertificate:
    sigs = tuple((i, sign_vote(KEYS[i], CHAIN, VoteType.PRECOMMIT, height, 0, BLOCK).signature)
                 for i in signers)
    return CommitCertificate(CHAIN, height, 0, BLOCK, sigs)


def test_a_verified_certificate_is_not_verified_twice() -> None:
    counter = Counting(crypto.backend())
    old = crypto.use_backend(counter)  # type: ignore[arg-type]
    try:
        memo = crypto.VerifiedMemo()
        c = cert(7)
        verify_certificate(c, BLOCK, VOTERS, CHAIN, 7, memo.verify)
        assert counter.calls == 3
        verify_certificate(c, BLOCK, VOTERS, CHAIN, 7, memo.verify)
        assert counter.calls == 3
        # one more signer: only the new signature is checked
        verify_certificate(cert(7, range(4)), BLOCK, VOTERS, CHAIN, 7, memo.verify)
        assert counter.calls == 4
        # without a memo every signature is checked each time
        verify_certificate(c, BLOCK, VOTERS, CHAIN, 7)
        assert counter.calls == 7
    finally:
        crypto.use_backend(old)


def test_bad_signatures_are_never_remembered_and_a_new_backend_starts_empty() -> None:
    memo = crypto.VerifiedMemo()
    good = cert(8)
    verify_certificate(good, BLOCK, VOTERS, CHAIN, 8, memo.verify)
    forged = replace(good, signatures=((0, bytes(64)), *good.signatures[1:]))
    for _ in range(2):
        with pytest.raises(InvalidCertificate, match="validator 0"):
            verify_certificate(forged, BLOCK, VOTERS, CHAIN, 8, memo.verify)

    class Refuses(Counting):
        def verify(self, pub: bytes, sig: bytes, digest: bytes) -> bool:
            self.calls += 1
            return False

    refuses = Refuses(crypto.backend())
    old = crypto.use_backend(refuses)  # type: ignore[arg-type]
    try:
        with pytest.raises(InvalidCertificate, match="certificate_bad_signature|does not verify"):
            verify_certificate(good, BLOCK, VOTERS, CHAIN, 8, memo.verify)
        assert refuses.calls == 1  # the memo answered nothing for the new backend
    finally:
        crypto.use_backend(old)
    verify_certificate(good, BLOCK, VOTERS, CHAIN, 8, memo.verify)  # the real backend again
