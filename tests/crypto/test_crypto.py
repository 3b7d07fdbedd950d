"""Unit tests for consensus.crypto: hashing, keys, signing, and the two verify backends."""

from __future__ import annotations

import hashlib

import ecdsa
import pytest

from consensus import crypto
from consensus.crypto import (
    CURVE_ORDER,
    HALF_ORDER,
    CoincurveBackend,
    EcdsaBackend,
    PrivateKey,
    VerifyBackend,
    sha256,
    tagged_hash,
)
from consensus.errors import CryptoError, FaircoopError

BACKENDS: dict[str, VerifyBackend] = {"coincurve": CoincurveBackend(), "ecdsa": EcdsaBackend()}
BACKEND_NAMES = list(BACKENDS)

KEY = PrivateKey(bytes.fromhex("11" * 32))
DIGEST = sha256(b"one coop, one vote")
SIG = KEY.sign(DIGEST)


def test_sha256_matches_the_standard_vector() -> None:
    assert sha256(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_tagged_hash_prefixes_the_tag_length_and_separates_domains() -> None:
    assert tagged_hash("t", b"ab", b"c") == sha256(b"\x01t" + b"abc")
    assert tagged_hash("faircoop/tx/v1", b"x") == sha256(b"\x0efaircoop/tx/v1x")
    # Moving a byte between tag and message changes the hash: the length prefix binds the split.
    assert tagged_hash("ab", b"c") != tagged_hash("a", b"bc")


# Published RFC 6979 secp256k1/SHA-256 answers (the libsecp256k1 / Bitcoin Core test set),
# shown here in low-S form.
RFC6979_VECTORS = [
    (1, b"Satoshi Nakamoto",
     "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
     "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5"),
    (1, b"All those moments will be lost in time, like tears in rain. Time to die...",
     "8600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b"
     "547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc21"),
]


@pytest.mark.parametrize(("secret", "message", "expected"), RFC6979_VECTORS)
def test_signing_matches_published_rfc6979_vectors(secret: int, message: bytes,
                                                   expected: str) -> None:
    key = PrivateKey(secret.to_bytes(32, "big"))
    assert key.sign(sha256(message)).hex() == expected


def test_public_key_of_one_is_the_generator() -> None:
    key = PrivateKey((1).to_bytes(32, "big"))
    assert key.public_key.hex() == (
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    )


@pytest.mark.parametrize(
    "secret",
    [b"", b"\x01" * 31, b"\x01" * 33, bytes(32), CURVE_ORDER.to_bytes(32, "big"),
     (CURVE_ORDER + 1).to_bytes(32, "big"), b"\xff" * 32, "11" * 32, None, 5],
    ids=["empty", "31_bytes", "33_bytes", "zero", "order", "order_plus_1", "all_ff", "str",
         "none", "int"],
)
def test_private_key_rejects_bad_secrets_with_crypto_error(secret: object) -> None:
    with pytest.raises(CryptoError):
        PrivateKey(secret)  # type: ignore[arg-type]


def test_private_key_accepts_the_ends_of_the_range() -> None:
    for n in (1, CURVE_ORDER - 1):
        key = PrivateKey(n.to_bytes(32, "big"))
        assert key.secret_bytes() == n.to_bytes(32, "big")
        assert crypto.verify(key.public_key, key.sign(DIGEST), DIGEST)


@pytest.mark.parametrize("digest", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, None],
                         ids=["empty", "31", "33", "str", "none"])
def test_sign_takes_only_a_32_byte_digest(digest: object) -> None:
    with pytest.raises(CryptoError):
        KEY.sign(digest)  # type: ignore[arg-type]


def test_repr_and_str_never_show_the_secret() -> None:
    secret = KEY.secret_bytes()
    for text in (repr(KEY), str(KEY), f"{KEY}", f"{KEY!r}", repr([KEY]), repr({"k": KEY})):
        assert secret.hex() not in text
        assert secret.hex().upper() not in text
        assert str(secret) not in text
        assert KEY.public_key.hex() in text
    assert not hasattr(KEY, "__dict__")


def test_bad_secret_errors_do_not_echo_the_secret() -> None:
    secret = (CURVE_ORDER + 5).to_bytes(32, "big")
    with pytest.raises(CryptoError) as info:
        PrivateKey(secret)
    assert secret.hex() not in str(info.value)


def test_generate_makes_distinct_working_keys() -> None:
    keys = [PrivateKey.generate() for _ in range(4)]
    assert len({k.public_key for k in keys}) == 4
    for k in keys:
        assert crypto.verify(k.public_key, k.sign(DIGEST), DIGEST)


def test_signing_is_deterministic_compact_and_low_s() -> None:
    assert KEY.sign(DIGEST) == SIG
    assert len(SIG) == 64
    r, s = int.from_bytes(SIG[:32], "big"), int.from_bytes(SIG[32:], "big")
    assert 0 < r < CURVE_ORDER and 0 < s <= HALF_ORDER
    assert KEY.sign(sha256(b"other")) != SIG


def _high_s(sig: bytes) -> bytes:
    s = int.from_bytes(sig[32:], "big")
    return sig[:32] + (CURVE_ORDER - s).to_bytes(32, "big")


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_high_s_twin_of_a_valid_signature_is_rejected(name: str) -> None:
    backend = BACKENDS[name]
    assert backend.verify(KEY.public_key, SIG, DIGEST)
    twin = _high_s(SIG)
    assert not backend.verify(KEY.public_key, twin, DIGEST)
    # ...although plain ECDSA accepts it: the rejection is the low-S rule, not the math.
    vk = ecdsa.VerifyingKey.from_string(KEY.public_key, curve=ecdsa.SECP256k1)
    assert vk.verify_digest(twin, DIGEST, sigdecode=ecdsa.util.sigdecode_string)


def _sig(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


R, S = int.from_bytes(SIG[:32], "big"), int.from_bytes(SIG[32:], "big")
MALFORMED: dict[str, tuple[object, object, object]] = {
    # name: (pubkey, signature, digest); verify must return False, never raise
    "r_zero": (KEY.public_key, _sig(0, S), DIGEST),
    "s_zero": (KEY.public_key, _sig(R, 0), DIGEST),
    "r_is_order": (KEY.public_key, _sig(CURVE_ORDER, S), DIGEST),
    "r_plus_order": (KEY.public_key, _sig(R + CURVE_ORDER, S), DIGEST)
    if R + CURVE_ORDER < 2**256 else (KEY.public_key, _sig(2**256 - 1, S), DIGEST),
    "s_is_half_plus_1": (KEY.public_key, _sig(R, HALF_ORDER + 1), DIGEST),
    "sig_63": (KEY.public_key, SIG[:63], DIGEST),
    "sig_65": (KEY.public_key, SIG + b"\x00", DIGEST),
    "sig_der": (KEY.public_key, b"\x30" + SIG, DIGEST),
    "sig_str": (KEY.public_key, SIG.hex(), DIGEST),
    "sig_none": (KEY.public_key, None, DIGEST),
    "digest_31": (KEY.public_key, SIG, DIGEST[:31]),
    "digest_33": (KEY.public_key, SIG, DIGEST + b"\x00"),
    "digest_str": (KEY.public_key, SIG, DIGEST.hex()),
    "pub_uncompressed": (b"\x04" + bytes(64), SIG, DIGEST),
    "pub_32": (KEY.public_key[1:], SIG, DIGEST),
    "pub_prefix_04": (b"\x04" + KEY.public_key[1:], SIG, DIGEST),
    "pub_prefix_05": (b"\x05" + KEY.public_key[1:], SIG, DIGEST),
    "pub_other_parity": (bytes([KEY.public_key[0] ^ 1]) + KEY.public_key[1:], SIG, DIGEST),
    "pub_x_not_on_curve": (b"\x02" + (5).to_bytes(32, "big"), SIG, DIGEST),
    "pub_x_is_p": (b"\x02" + (2**256 - 2**32 - 977).to_bytes(32, "big"), SIG, DIGEST),
    "pub_str": (KEY.public_key.hex(), SIG, DIGEST),
    "pub_none": (None, SIG, DIGEST),
    "pub_empty": (b"", SIG, DIGEST),
}


@pytest.mark.parametrize("name", BACKEND_NAMES)
@pytest.mark.parametrize("case", list(MALFORMED))
def test_verify_returns_false_on_malformed_input(case: str, name: str) -> None:
    pub, sig, digest = MALFORMED[case]
    assert BACKENDS[name].verify(pub, sig, digest) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_pubkey_valid(name: str) -> None:
    backend = BACKENDS[name]
    assert backend.pubkey_valid(KEY.public_key)
    for case in ("pub_uncompressed", "pub_32", "pub_prefix_04", "pub_x_not_on_curve",
                 "pub_x_is_p", "pub_str", "pub_none", "pub_empty"):
        assert backend.pubkey_valid(MALFORMED[case][0]) is False  # type: ignore[arg-type]


def _der(r: int, s: int) -> bytes:
    def integer(v: int) -> bytes:
        body = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
        return b"\x02" + bytes([len(body)]) + body

    seq = integer(r) + integer(s)
    return b"\x30" + bytes([len(seq)]) + seq


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_compact_from_der_round_trips_strict_der(name: str) -> None:
    backend = BACKENDS[name]
    assert backend.compact_from_der(_der(R, S)) == SIG
    assert backend.compact_from_der(_der(1, 1)) == _sig(1, 1)


BAD_DER = {
    "empty": b"",
    "garbage": b"\x01\x02\x03",
    "trailing_byte": _der(R, S) + b"\x00",
    "long_form_length": b"\x30\x81" + _der(R, S)[1:],
    "padded_integer": b"\x30" + bytes([_der(R, S)[1] + 1]) + b"\x02"
    + bytes([_der(R, S)[3] + 1]) + b"\x00" + _der(R, S)[4:],
    "wrong_tag": b"\x31" + _der(R, S)[1:],
    "integer_tag_wrong": _der(R, S)[:2] + b"\x03" + _der(R, S)[3:],
    "truncated": _der(R, S)[:-1],
    "compact_not_der": SIG,
}


@pytest.mark.parametrize("name", BACKEND_NAMES)
@pytest.mark.parametrize("case", list(BAD_DER))
def test_compact_from_der_rejects_non_der_with_crypto_error(case: str, name: str) -> None:
    with pytest.raises(CryptoError):
        BACKENDS[name].compact_from_der(BAD_DER[case])


def test_crypto_error_is_a_faircoop_error() -> None:
    assert issubclass(CryptoError, FaircoopError)


def test_use_backend_swaps_the_process_backend_and_returns_the_old_one() -> None:
    fallback = BACKENDS["ecdsa"]
    old = crypto.use_backend(fallback)
    try:
        assert crypto.backend() is fallback
        assert crypto.verify(KEY.public_key, SIG, DIGEST)
        assert not crypto.verify(KEY.public_key, _high_s(SIG), DIGEST)
        assert crypto.pubkey_valid(KEY.public_key)
    finally:
        assert crypto.use_backend(old) is fallback
    assert crypto.backend() is old
    assert old.name == "coincurve"


def _all_bit_flips(data: bytes) -> list[bytes]:
    return [data[:i] + bytes([data[i] ^ (1 << b)]) + data[i + 1:]
            for i in range(len(data)) for b in range(8)]


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_every_single_bit_flip_of_sig_digest_or_key_is_rejected(name: str) -> None:
    """Exhaustive over one signature: 512 + 256 + 264 mutants, none verifies."""
    backend = BACKENDS[name]
    pub = KEY.public_key
    assert backend.verify(pub, SIG, DIGEST)
    assert not any(backend.verify(pub, s, DIGEST) for s in _all_bit_flips(SIG))
    assert not any(backend.verify(pub, SIG, d) for d in _all_bit_flips(DIGEST))
    assert not any(backend.verify(p, SIG, DIGEST) for p in _all_bit_flips(pub))


def test_ecdsa_library_signature_equals_ours_after_low_s() -> None:
    """python-ecdsa's RFC 6979 signer (tests only) is an independent check of our nonces."""
    sk = ecdsa.SigningKey.from_string(KEY.secret_bytes(), curve=ecdsa.SECP256k1,
                                      hashfunc=hashlib.sha256)
    theirs = sk.sign_digest_deterministic(DIGEST, hashfunc=hashlib.sha256,
                                          sigencode=ecdsa.util.sigencode_string)
    r, s = int.from_bytes(theirs[:32], "big"), int.from_bytes(theirs[32:], "big")
    assert _sig(r, min(s, CURVE_ORDER - s)) == SIG
