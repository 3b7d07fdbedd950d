"""The key store: authenticated header, scrypt, AEAD, atomic 0600 writes, distinct errors."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from wallet import keystore
from wallet.errors import KeystoreFormatError, TamperedKeystore, WrongPassword
from wallet.keystore import (
    DEFAULT_N,
    MAGIC,
    ScryptParams,
    WalletSecrets,
    decrypt_secrets,
    encrypt_secrets,
    kdf_params_of,
    load_keystore,
    save_keystore,
)

FAST = ScryptParams.for_tests()
SECRET = WalletSecrets("legal winner thank year wave sausage worth useful legal winner thank "
                       "yellow", "extra words")


def _rechecksum(body: bytes) -> bytes:
    """An attacker who edits the file and recomputes the unkeyed checksum."""
    return body + hashlib.sha256(body).digest()


def _header_end(data: bytes) -> int:
    return len(MAGIC) + 3 + int.from_bytes(data[len(MAGIC) + 1: len(MAGIC) + 3], "big")


def test_roundtrip_with_each_cipher() -> None:
    for aead in keystore.AEADS:
        blob = encrypt_secrets(SECRET, "pässword", FAST, aead=aead)
        assert decrypt_secrets(blob, "pässword") == SECRET
        assert SECRET.mnemonic.encode() not in blob


def test_default_cost_is_scrypt_2_pow_15_and_works() -> None:
    assert ScryptParams() == ScryptParams(n=DEFAULT_N) and DEFAULT_N >= 2**15
    blob = encrypt_secrets(SECRET, "pw")  # the real default cost, once
    assert kdf_params_of(blob) == ScryptParams(2**15, 8, 1)
    assert decrypt_secrets(blob, "pw") == SECRET


def test_weak_cost_needs_the_explicit_test_constructor() -> None:
    with pytest.raises(KeystoreFormatError):
        ScryptParams(n=2**10)
    with pytest.raises(KeystoreFormatError):
        ScryptParams(n=3 * 2**15)  # not a power of two
    assert ScryptParams.for_tests().n == 2**10


def test_wrong_password_is_its_own_error() -> None:
    blob = encrypt_secrets(SECRET, "right", FAST)
    with pytest.raises(WrongPassword) as info:
        decrypt_secrets(blob, "wrong", "w.keys")
    assert "right" not in str(info.value) and "wrong password" in str(info.value)


@pytest.mark.parametrize("where", ["version_area", "header_fields", "ciphertext", "tag",
                                   "checksum"])
def test_any_flipped_byte_is_reported_as_tampering(where: str) -> None:
    blob = bytearray(encrypt_secrets(SECRET, "pw", FAST))
    end = _header_end(bytes(blob))
    offsets = {"version_area": len(MAGIC) + 5, "header_fields": end - 60,
               "ciphertext": end + 3, "tag": len(blob) - 33, "checksum": len(blob) - 1}
    blob[offsets[where]] ^= 0x01
    with pytest.raises(TamperedKeystore):
        decrypt_secrets(bytes(blob), "pw")


def test_rechecksummed_ciphertext_edit_is_tampering_not_wrong_password() -> None:
    blob = encrypt_secrets(SECRET, "pw", FAST)
    body = bytearray(blob[:-32])
    body[_header_end(blob) + 2] ^= 0x80
    with pytest.raises(TamperedKeystore, match="password is right"):
        decrypt_secrets(_rechecksum(bytes(body)), "pw")


def test_rechecksummed_header_edit_fails_authentication() -> None:
    """Change the AEAD name (authenticated data) and re-checksum: the tag fails."""
    blob = encrypt_secrets(SECRET, "pw", FAST, aead="chacha20-poly1305")
    body = blob[:-32]
    end = _header_end(blob)
    header = body[len(MAGIC) + 3:end]
    swapped = header.replace(b"chacha20-poly1305", b"aes-256-gcm\x00\x00\x00\x00\x00\x00")
    assert len(swapped) == len(header)
    with pytest.raises((TamperedKeystore, KeystoreFormatError)):
        decrypt_secrets(_rechecksum(body[:len(MAGIC) + 3] + swapped + body[end:]), "pw")


def test_rechecksummed_salt_edit_reads_as_wrong_password_as_documented() -> None:
    """Without the password no check can tell this from a typo (docs/WALLET.md)."""
    import msgpack

    blob = encrypt_secrets(SECRET, "pw", FAST)
    end = _header_end(blob)
    salt = msgpack.unpackb(blob[len(MAGIC) + 3:end])[4]
    at = blob.index(salt)
    body = bytearray(blob[:-32])
    body[at] ^= 0x01
    with pytest.raises(WrongPassword):
        decrypt_secrets(_rechecksum(bytes(body)), "pw")


@pytest.mark.parametrize("data,match", [
    (b"NOTASTORE" + bytes(64), "bad magic"),
    (MAGIC + bytes([9]) + bytes(64), "version 9"),
    (b"", "bad magic"),
])
def test_not_a_keystore(data: bytes, match: str) -> None:
    with pytest.raises(KeystoreFormatError, match=match):
        decrypt_secrets(data, "pw")


def test_saved_file_is_0600_atomic_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "w.keys"
    save_keystore(path, SECRET, "pw", FAST)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_bytes()
    save_keystore(path, SECRET, "pw", FAST)  # replaced whole, fresh salt and nonce
    assert path.read_bytes() != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.keys"]  # no temp files left
    assert load_keystore(path, "pw") == SECRET


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreFormatError, match="cannot read"):
        load_keystore(tmp_path / "absent", "pw")


def test_secrets_repr_hides_the_words() -> None:
    text = repr(SECRET) + str(SECRET)
    assert "legal" not in text and "extra" not in text and "12 words" in text
