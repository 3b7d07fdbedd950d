"""The encrypted key store: one versioned file holding the wallet's mnemonic.

Layout (all integers big-endian)::

    prefix  = magic "FCKSTORE" (8) | version (1) | header length (2) | header
    header  = msgpack [kdf "scrypt", n, r, p, salt (16), aead name, nonce (12), kcv (32)]
    file    = prefix | ciphertext (AEAD, associated data = prefix) | checksum (32)
    checksum = SHA-256(prefix | ciphertext)
    contents = msgpack [1, mnemonic, passphrase]                 (no address book)
             | msgpack [2, mnemonic, passphrase, [contacts, labels]]   (`wallet.book`)

Version 1 contents are read as an empty book, and written while the book is empty, so a
wallet that never keeps contacts stays readable by wallets older than the book.

The KDF (scrypt, N = 2^15, r = 8, p = 1 by default, 32 MiB) turns the password and salt into 64
bytes: the first 32 are the AEAD key, the last 32 the check key. `kcv` = HMAC-SHA256(check key,
"faircoop/keystore/kcv/v1").

Telling a wrong password from a tampered file, in order:

1. Bad magic or version: `KeystoreFormatError` (not a key store this version reads).
2. The checksum fails: `TamperedKeystore`. It is unkeyed, so it catches corruption and naive
   edits anywhere in the file without the password.
3. The KCV differs: `WrongPassword`. The KCV is in the header, so it is also authenticated.
4. The AEAD tag fails although the KCV matched: `TamperedKeystore`. Someone who recomputed the
   checksum changed the header or ciphertext; the right password proves it was not us.

Without the password nothing can tell a deliberately re-checksummed salt or KDF change from a
wrong password (there is no other secret to key a MAC with); such an edit gains the attacker
nothing but a denial of service, and is reported as a wrong password. The KCV lets an attacker
test a password guess exactly as the AEAD tag already does, at the full KDF cost, so it leaks
nothing new.

Every write with the password uses a fresh salt and nonce and goes through
`fileio.write_private` (the shared atomic writer, mode 0600). An open wallet that saves its
address book (`OpenedKeystore.rewrite`) holds the key derived from the password, not the
password: it keeps the salt and KDF parameters (so the key and the KCV stay valid) and takes a
fresh random nonce, which is what the AEAD needs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from wallet.book import AddressBook, book_from, book_obj
from wallet.errors import BookError, KeystoreFormatError, TamperedKeystore, WrongPassword
from wallet.fileio import write_private

MAGIC = b"FCKSTORE"
VERSION = 1
KCV_TAG = b"faircoop/keystore/kcv/v1"
SECRETS_VERSION = 1  # the mnemonic and passphrase
BOOK_VERSION = 2  # and the address book
DEFAULT_N = 2**15
MIN_N = 2**15  # what `ScryptParams()` may be built with outside tests
TEST_MIN_N = 2**4  # the floor a file may name; see ScryptParams.for_tests
MAX_N = 2**20  # refuse files that ask for more than 1 GiB of KDF memory
SALT_SIZE = 16
NONCE_SIZE = 12
CHECKSUM_SIZE = 32
AEADS = ("chacha20-poly1305", "aes-256-gcm")


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: N (CPU/memory, a power of two), r (block size), p (parallelism)."""

    n: int = DEFAULT_N
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        _check_scrypt(self.n, self.r, self.p, floor=MIN_N)

    @classmethod
    def for_tests(cls, n: int = 2**10) -> ScryptParams:
        """A cheap cost for fast tests only; never use it for real keys."""
        params = object.__new__(cls)
        _check_scrypt(n, 8, 1, floor=TEST_MIN_N)
        object.__setattr__(params, "n", n)
        object.__setattr__(params, "r", 8)
        object.__setattr__(params, "p", 1)
        return params


def _check_scrypt(n: int, r: int, p: int, floor: int) -> None:
    if not (isinstance(n, int) and floor <= n <= MAX_N and n & (n - 1) == 0):
        raise KeystoreFormatError(f"scrypt N must be a power of two in [{floor}, {MAX_N}]")
    if not (isinstance(r, int) and 1 <= r <= 32 and isinstance(p, int) and 1 <= p <= 16):
        raise KeystoreFormatError("scrypt r must be 1..32 and p 1..16")


@dataclass(frozen=True, slots=True)
class WalletSecrets:
    """What the key store protects. The repr never shows the words."""

    mnemonic: str
    passphrase: str = ""  # the optional BIP39 passphrase ("25th word")
    book: AddressBook = AddressBook()  # contacts and labels (private, so kept here)

    def __repr__(self) -> str:
        return f"WalletSecrets(<{len(self.mnemonic.split())} words hidden>)"

    __str__ = __repr__


def _password_bytes(password: str) -> bytes:
    return unicodedata.normalize("NFKD", password).encode("utf-8")


def _derive(password: str, salt: bytes, params: ScryptParams) -> tuple[bytes, bytes]:
    try:
        kdf = Scrypt(salt=salt, length=64, n=params.n, r=params.r, p=params.p)
        out = kdf.derive(_password_bytes(password))
    except (ValueError, MemoryError) as exc:  # OpenSSL's memory limit, for a huge N
        raise KeystoreFormatError(f"cannot run the key store's KDF: {exc}") from None
    return out[:32], out[32:]


def _kcv(check_key: bytes) -> bytes:
    return hmac.new(check_key, KCV_TAG, hashlib.sha256).digest()


def _aead(name: str, key: bytes) -> ChaCha20Poly1305 | AESGCM:
    if name == "chacha20-poly1305":
        return ChaCha20Poly1305(key)
    if name == "aes-256-gcm":
        return AESGCM(key)
    raise KeystoreFormatError(f"unknown cipher {name!r}")


def encrypt_secrets(
    secrets_: WalletSecrets,
    password: str,
    params: ScryptParams | None = None,
    aead: str = "chacha20-poly1305",
) -> bytes:
    """The bytes of a key-store file holding `secrets_` under `password`."""
    if aead not in AEADS:
        raise KeystoreFormatError(f"cipher must be one of {AEADS}")
    params = params or ScryptParams()
    salt = secrets.token_bytes(SALT_SIZE)
    key, check_key = _derive(password, salt, params)
    return _seal(secrets_, _Sealer(params, salt, aead, key, _kcv(check_key)))


class _Sealer:
    """The key store's key and header fields, held instead of the password (never shown)."""

    __slots__ = ("aead", "kcv", "key", "params", "salt")

    def __init__(self, params: ScryptParams, salt: bytes, aead: str, key: bytes,
                 kcv: bytes) -> None:
        self.params, self.salt, self.aead, self.key, self.kcv = params, salt, aead, key, kcv

    def __repr__(self) -> str:
        return "_Sealer(<key hidden>)"


def _seal(secrets_: WalletSecrets, sealer: _Sealer) -> bytes:
    """The file bytes: a fresh nonce, the contents encrypted under the sealer's key."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    p = sealer.params
    header: bytes = msgpack.packb(
        ["scrypt", p.n, p.r, p.p, sealer.salt, sealer.aead, nonce, sealer.kcv],
        use_bin_type=True,
    )
    prefix = MAGIC + bytes([VERSION]) + len(header).to_bytes(2, "big") + header
    contents: list[object] = [SECRETS_VERSION, secrets_.mnemonic, secrets_.passphrase]
    if secrets_.book:
        contents = [BOOK_VERSION, secrets_.mnemonic, secrets_.passphrase,
                    book_obj(secrets_.book)]
    plaintext: bytes = msgpack.packb(contents, use_bin_type=True)
    ciphertext = _aead(sealer.aead, sealer.key).encrypt(nonce, plaintext, prefix)
    body = prefix + ciphertext
    return body + hashlib.sha256(body).digest()


@dataclass(frozen=True, slots=True)
class _Header:
    params: ScryptParams
    salt: bytes
    aead: str
    nonce: bytes
    kcv: bytes


def _parse(data: bytes) -> tuple[bytes, _Header, bytes]:
    """Split a file into (prefix, header, ciphertext), checking magic, version and checksum."""
    if len(data) < len(MAGIC) + 3 + CHECKSUM_SIZE or data[: len(MAGIC)] != MAGIC:
        raise KeystoreFormatError("not a faircoop key store (bad magic)")
    version = data[len(MAGIC)]
    if version != VERSION:
        raise KeystoreFormatError(f"key store version {version}; this wallet reads {VERSION}")
    body, checksum = data[:-CHECKSUM_SIZE], data[-CHECKSUM_SIZE:]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), checksum):
        raise TamperedKeystore("key store checksum fails: the file is corrupt or was modified")
    hlen = int.from_bytes(data[len(MAGIC) + 1 : len(MAGIC) + 3], "big")
    start = len(MAGIC) + 3
    if start + hlen > len(body):
        raise KeystoreFormatError("key store header runs past the end of the file")
    prefix, ciphertext = body[: start + hlen], body[start + hlen :]
    try:
        fields = msgpack.unpackb(prefix[start:], raw=False, use_list=False, strict_map_key=True)
        kdf, n, r, p, salt, aead, nonce, kcv = fields
    except Exception:
        raise KeystoreFormatError("key store header is malformed") from None
    if kdf != "scrypt" or aead not in AEADS:
        raise KeystoreFormatError(f"unsupported key store KDF/cipher {kdf!r}/{aead!r}")
    if not all(isinstance(b, bytes) for b in (salt, nonce, kcv)) or (
        len(salt), len(nonce), len(kcv)
    ) != (SALT_SIZE, NONCE_SIZE, 32):
        raise KeystoreFormatError("key store header has a bad salt, nonce or check value")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (n, r, p)):
        raise KeystoreFormatError("key store KDF parameters are not integers")
    _check_scrypt(n, r, p, floor=TEST_MIN_N)
    params = object.__new__(ScryptParams)
    for name, value in (("n", n), ("r", r), ("p", p)):
        object.__setattr__(params, name, value)
    return prefix, _Header(params, salt, aead, nonce, kcv), ciphertext


def decrypt_secrets(data: bytes, password: str, path: str = "") -> WalletSecrets:
    """Open a key-store file; `WrongPassword` or `TamperedKeystore` say which failed."""
    return _open(data, password, path)[0]


def _open(data: bytes, password: str, path: str) -> tuple[WalletSecrets, _Sealer]:
    prefix, header, ciphertext = _parse(data)
    key, check_key = _derive(password, header.salt, header.params)
    if not hmac.compare_digest(_kcv(check_key), header.kcv):
        raise WrongPassword(path)
    try:
        plaintext = _aead(header.aead, key).decrypt(header.nonce, ciphertext, prefix)
    except InvalidTag:
        raise TamperedKeystore(
            "key store authentication fails although the password is right: "
            "the file was modified"
        ) from None
    sealer = _Sealer(header.params, header.salt, header.aead, key, header.kcv)
    return _contents(plaintext), sealer


def _contents(plaintext: bytes) -> WalletSecrets:
    try:
        fields = msgpack.unpackb(plaintext, raw=False, use_list=False)
    except Exception:
        raise KeystoreFormatError("key store contents are malformed") from None
    if not isinstance(fields, tuple) or not fields:
        raise KeystoreFormatError("key store contents are malformed")
    version = fields[0]
    if (version, len(fields)) not in ((SECRETS_VERSION, 3), (BOOK_VERSION, 4)):
        raise KeystoreFormatError("key store contents have an unknown version")
    mnemonic, passphrase = fields[1], fields[2]
    if not isinstance(mnemonic, str) or not isinstance(passphrase, str):
        raise KeystoreFormatError("key store contents are malformed")
    book = AddressBook()
    if version == BOOK_VERSION:
        try:
            book = book_from(fields[3])
        except (BookError, KeyError, TypeError, ValueError) as exc:
            raise KeystoreFormatError(f"key store address book is malformed: {exc}") from None
    return WalletSecrets(mnemonic, passphrase, book)


def kdf_params_of(data: bytes) -> ScryptParams:
    """The KDF cost a key-store file names (for tests and `info`)."""
    return _parse(data)[1].params


def save_keystore(
    path: str | os.PathLike[str],
    secrets_: WalletSecrets,
    password: str,
    params: ScryptParams | None = None,
) -> None:
    write_private(path, encrypt_secrets(secrets_, password, params), parents=True)


def load_keystore(path: str | os.PathLike[str], password: str) -> WalletSecrets:
    return open_keystore(path, password).secrets


class OpenedKeystore:
    """A key store opened with its password: its secrets, and what rewrites it without the
    password (the derived key, not the password, is held; see the module notes)."""

    __slots__ = ("_sealer", "path", "secrets")

    def __init__(self, path: Path, secrets_: WalletSecrets, sealer: _Sealer) -> None:
        self.path, self.secrets, self._sealer = path, secrets_, sealer

    def __repr__(self) -> str:
        return f"OpenedKeystore({self.path})"

    def rewrite(self, secrets_: WalletSecrets) -> None:
        """Save `secrets_` (a changed book) under the same key, with a fresh nonce."""
        write_private(self.path, _seal(secrets_, self._sealer), parents=True)
        self.secrets = secrets_


def open_keystore(path: str | os.PathLike[str], password: str) -> OpenedKeystore:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeystoreFormatError(f"cannot read key store {path}: {exc.strerror}") from None
    secrets_, sealer = _open(data, password, str(path))
    return OpenedKeystore(Path(path), secrets_, sealer)
