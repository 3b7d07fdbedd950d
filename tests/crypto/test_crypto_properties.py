"""Hypothesis properties of signing and the two verify backends.

For random keys and digests: our signature verifies under both backends; it is deterministic
(RFC 6979) and low-S; it equals what python-ecdsa's independent RFC 6979 signer makes after
low-S normalisation, so each backend verifies the other library's signatures; and any single-bit
mutation of the signature, the digest or the public key is rejected by both backends.
"""

from __future__ import annotations

import hashlib

import ecdsa
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.crypto import (
    CURVE_ORDER,
    HALF_ORDER,
    CoincurveBackend,
    EcdsaBackend,
    PrivateKey,
    VerifyBackend,
)

BACKENDS: tuple[VerifyBackend, ...] = (CoincurveBackend(), EcdsaBackend())
SETTINGS = settings(max_examples=60, deadline=None)

secrets = st.integers(1, CURVE_ORDER - 1).map(lambda n: n.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)


def _flip(data: bytes, bit: int) -> bytes:
    i, b = divmod(bit % (len(data) * 8), 8)
    return data[:i] + bytes([data[i] ^ (1 << b)]) + data[i + 1:]


@SETTINGS
@given(secrets, digests)
def test_signatures_verify_under_both_backends_and_are_deterministic_low_s(
    secret: bytes, digest: bytes
) -> None:
    key = PrivateKey(secret)
    sig = key.sign(digest)
    assert len(sig) == 64 and len(key.public_key) == 33
    assert key.sign(digest) == sig  # RFC 6979: same key and digest, same signature
    assert PrivateKey(secret).sign(digest) == sig
    assert 0 < int.from_bytes(sig[32:], "big") <= HALF_ORDER
    for backend in BACKENDS:
        assert backend.verify(key.public_key, sig, digest), backend.name
        assert backend.pubkey_valid(key.public_key)


@SETTINGS
@given(secrets, digests)
def test_each_backend_verifies_the_other_librarys_signatures(secret: bytes, digest: bytes) -> None:
    """python-ecdsa signs (in tests only), coincurve signs; both verify both, identically."""
    sk = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1, hashfunc=hashlib.sha256)
    theirs = sk.sign_digest_deterministic(digest, hashfunc=hashlib.sha256,
                                          sigencode=ecdsa.util.sigencode_string)
    r, s = int.from_bytes(theirs[:32], "big"), int.from_bytes(theirs[32:], "big")
    low = r.to_bytes(32, "big") + min(s, CURVE_ORDER - s).to_bytes(32, "big")
    high = r.to_bytes(32, "big") + max(s, CURVE_ORDER - s).to_bytes(32, "big")
    key = PrivateKey(secret)
    pub = sk.get_verifying_key().to_string("compressed")
    assert pub == key.public_key
    assert low == key.sign(digest)
    for backend in BACKENDS:
        assert backend.verify(pub, low, digest)
        assert not backend.verify(pub, high, digest)  # the high-S twin is never valid


@SETTINGS
@given(secrets, digests, st.sampled_from(["sig", "digest", "pubkey"]), st.integers(0, 2**16))
def test_any_single_bit_mutation_is_rejected_by_both_backends(
    secret: bytes, digest: bytes, field: str, bit: int
) -> None:
    key = PrivateKey(secret)
    pub, sig = key.public_key, key.sign(digest)
    if field == "sig":
        sig = _flip(sig, bit)
    elif field == "digest":
        digest = _flip(digest, bit)
    else:
        pub = _flip(pub, bit)
    for backend in BACKENDS:
        assert not backend.verify(pub, sig, digest), (backend.name, field, bit)


@SETTINGS
@given(secrets, digests, st.binary(min_size=64, max_size=64))
def test_random_signatures_get_the_same_answer_from_both_backends(
    secret: bytes, digest: bytes, sig: bytes
) -> None:
    pub = PrivateKey(secret).public_key
    answers = {backend.verify(pub, sig, digest) for backend in BACKENDS}
    assert answers == {False}


FIELD_P = 2**256 - 2**32 - 977
key_candidates = (
    st.binary(min_size=33, max_size=33)
    # a well-formed prefix and a random x: on the curve about half the time
    | st.tuples(st.sampled_from([2, 3]), st.integers(0, 2**256 - 1))
    .map(lambda t: bytes([t[0]]) + t[1].to_bytes(32, "big"))
    # x at or above the field prime: never a point, whatever x mod p would be
    | st.tuples(st.sampled_from([2, 3]), st.integers(FIELD_P, 2**256 - 1))
    .map(lambda t: bytes([t[0]]) + t[1].to_bytes(32, "big"))
)


@settings(max_examples=200, deadline=None)
@given(key_candidates)
def test_backends_agree_on_which_33_byte_strings_are_public_keys(candidate: bytes) -> None:
    answers = {backend.pubkey_valid(candidate) for backend in BACKENDS}
    assert len(answers) == 1
    if candidate[0] not in (2, 3) or int.from_bytes(candidate[1:], "big") >= FIELD_P:
        assert answers == {False}
