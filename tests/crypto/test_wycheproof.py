"""Project Wycheproof ECDSA secp256k1 / SHA-256 / Bitcoin vectors against both verify backends.

The vectors hold DER signatures, uncompressed public keys and messages; our API takes 33-byte
compressed keys, 64-byte compact signatures and a 32-byte digest. So each case is converted the
way a caller would: the key through the backend's own library to compressed form, the DER
through `backend.compact_from_der` (strict DER: a CryptoError there means "invalid"), and the
message through SHA-256.

Result classes: "valid" must verify and "invalid" must not (high-S is invalid: Bitcoin's
non-malleability rule, which is ours). "acceptable" marks encodings a library may take or refuse;
faircoop's rule is strict DER plus low-S with no latitude, so for an "acceptable" case we require
only that both backends give the same answer (a consensus split is the real danger). The file
pinned in shared/ has no acceptable cases, which the count test asserts, so a new vector file that
adds some forces a conscious look.
"""

from __future__ import annotations

import json
from hashlib import sha256
from typing import Any

import coincurve
import ecdsa
import pytest

from consensus.crypto import CoincurveBackend, EcdsaBackend, VerifyBackend
from consensus.errors import CryptoError
from tests.shared_files import shared_dir

VECTORS = shared_dir() / "vectors" / "wycheproof_ecdsa_secp256k1_sha256_bitcoin_test.json"


def _load() -> list[dict[str, Any]]:
    doc = json.loads(VECTORS.read_text())
    cases = []
    for group in doc["testGroups"]:
        assert group["sha"] == "SHA-256" and group["publicKey"]["curve"] == "secp256k1"
        for test in group["tests"]:
            cases.append({**test, "uncompressed": group["publicKey"]["uncompressed"]})
    return cases


CASES = _load()
BACKENDS: dict[str, VerifyBackend] = {"coincurve": CoincurveBackend(), "ecdsa": EcdsaBackend()}


def _compressed(backend: str, uncompressed: bytes) -> bytes:
    """The 33-byte key, parsed by the library behind `backend` (never by the other one)."""
    if backend == "coincurve":
        return coincurve.PublicKey(uncompressed).format(compressed=True)
    vk = ecdsa.VerifyingKey.from_string(uncompressed, curve=ecdsa.SECP256k1)
    return vk.to_string("compressed")  # type: ignore[no-any-return]


def _verdict(backend: str, case: dict[str, Any]) -> bool:
    b = BACKENDS[backend]
    pub = _compressed(backend, bytes.fromhex(case["uncompressed"]))
    digest = sha256(bytes.fromhex(case["msg"])).digest()
    try:
        compact = b.compact_from_der(bytes.fromhex(case["sig"]))
    except CryptoError:
        return False
    assert len(compact) == 64
    return b.verify(pub, compact, digest)


def test_the_vector_file_has_all_463_cases() -> None:
    results = [c["result"] for c in CASES]
    assert len(CASES) == 463
    assert results.count("valid") == 162
    assert results.count("invalid") == 301
    assert results.count("acceptable") == 0
    assert len({c["tcId"] for c in CASES}) == 463


def test_both_libraries_parse_every_key_to_the_same_compressed_form() -> None:
    for key_hex in {c["uncompressed"] for c in CASES}:
        raw = bytes.fromhex(key_hex)
        assert _compressed("coincurve", raw) == _compressed("ecdsa", raw)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_every_vector_gives_the_expected_result(backend: str) -> None:
    """All 463 cases in one pass, listing every mismatch if any (not just the first)."""
    wrong = []
    checked = 0
    for case in CASES:
        got = _verdict(backend, case)
        checked += 1
        if case["result"] == "acceptable":
            continue  # compared across backends below
        if got != (case["result"] == "valid"):
            wrong.append((case["tcId"], case["comment"], case["result"], got))
    assert checked == 463
    assert wrong == []


def test_backends_agree_on_every_vector() -> None:
    disagree = [c["tcId"] for c in CASES if _verdict("coincurve", c) != _verdict("ecdsa", c)]
    assert disagree == []


HIGH_S = [c for c in CASES if "SignatureMalleabilityBitcoin" in c["flags"]]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_high_s_vectors_are_invalid_although_the_math_holds(backend: str) -> None:
    """The malleated (s -> n - s) vectors pass plain ECDSA but break the low-S rule."""
    assert HIGH_S, "the file should carry Bitcoin malleability cases"
    for case in HIGH_S:
        assert case["result"] == "invalid"
        assert _verdict(backend, case) is False
        vk = ecdsa.VerifyingKey.from_string(
            bytes.fromhex(case["uncompressed"]), curve=ecdsa.SECP256k1
        )
        digest = sha256(bytes.fromhex(case["msg"])).digest()
        assert vk.verify_digest(
            bytes.fromhex(case["sig"]), digest, sigdecode=ecdsa.util.sigdecode_der
        )
