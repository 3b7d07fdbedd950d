"""secp256k1 ECDSA behind one interface, with two verify backends.

Signatures are 64-byte compact `r || s`, low-S only, over a 32-byte digest. Signing always uses
libsecp256k1 through `coincurve` (RFC 6979 nonces, low-S output). Verification defaults to
coincurve too; python-`ecdsa` is a portable, verify-only fallback and an independent oracle in
tests. It never signs: it has a timing side channel (CVE-2024-23342) its maintainers won't fix.

Every digest a faircoop key signs is a domain-tagged hash (see `tagged_hash`) that includes the
chain id, so a signature can't be replayed on another chain or as another kind of message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

from consensus.errors import CryptoError

PUBKEY_SIZE = 33
SIGNATURE_SIZE = 64
DIGEST_SIZE = 32

# The group order n, and n/2: a signature with s > n/2 is high-S and invalid.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_ORDER = CURVE_ORDER // 2


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tagged_hash(tag: str, *parts: bytes) -> bytes:
    """SHA-256 of a length-prefixed tag then the parts, so no two domains share a preimage."""
    h = hashlib.sha256()
    t = tag.encode()
    h.update(len(t).to_bytes(1, "big"))
    h.update(t)
    for part in parts:
        h.update(part)
    return h.digest()


class VerifyBackend(Protocol):
    """What a verify backend provides. Both answer identically on every input."""

    name: str

    def verify(self, pubkey: bytes, signature: bytes, digest: bytes) -> bool: ...

    def compact_from_der(self, der: bytes) -> bytes:
        """Strict DER to 64-byte compact; raises CryptoError on anything else."""
        ...

    def pubkey_valid(self, pubkey: bytes) -> bool: ...


def _shape_ok(pubkey: bytes, signature: bytes, digest: bytes) -> bool:
    return (
        isinstance(pubkey, bytes)
        and isinstance(signature, bytes)
        and isinstance(digest, bytes)
        and len(signature) == SIGNATURE_SIZE
        and len(digest) == DIGEST_SIZE
    )


class CoincurveBackend:
    """libsecp256k1 through coincurve's cffi bindings, called directly for speed."""

    name = "coincurve"

    def __init__(self) -> None:
        from coincurve._libsecp256k1 import ffi, lib
        from coincurve.context import GLOBAL_CONTEXT

        self._ffi = ffi
        self._lib = lib
        self._ctx = GLOBAL_CONTEXT.ctx
        # Parsed public keys, keyed by their 33 bytes: parsing costs a square root.
        self._pubkeys: dict[bytes, object] = {}

    def _parse_pubkey(self, pubkey: bytes) -> object | None:
        parsed = self._pubkeys.get(pubkey)
        if parsed is None:
            if len(pubkey) != PUBKEY_SIZE or pubkey[0] not in (2, 3):
                return None
            parsed = self._ffi.new("secp256k1_pubkey *")
            if not self._lib.secp256k1_ec_pubkey_parse(self._ctx, parsed, pubkey, PUBKEY_SIZE):
                return None
            if len(self._pubkeys) > 100_000:
                self._pubkeys.clear()
            self._pubkeys[pubkey] = parsed
        return parsed

    def verify(self, pubkey: bytes, signature: bytes, digest: bytes) -> bool:
        if not _shape_ok(pubkey, signature, digest):
            return False
        parsed = self._parse_pubkey(pubkey)
        if parsed is None:
            return False
        sig = self._ffi.new("secp256k1_ecdsa_signature *")
        if not self._lib.secp256k1_ecdsa_signature_parse_compact(self._ctx, sig, signature):
            return False
        # secp256k1_ecdsa_verify rejects high-S itself: exactly our low-S rule.
        return bool(self._lib.secp256k1_ecdsa_verify(self._ctx, sig, digest, parsed))

    def compact_from_der(self, der: bytes) -> bytes:
        from coincurve.ecdsa import der_to_cdata, serialize_compact

        try:
            return bytes(serialize_compact(der_to_cdata(der)))
        except Exception as exc:  # coincurve raises bare ValueError/TypeError
            raise CryptoError(f"not a strict DER signature: {exc}") from None

    def pubkey_valid(self, pubkey: bytes) -> bool:
        return isinstance(pubkey, bytes) and self._parse_pubkey(pubkey) is not None


class EcdsaBackend:
    """Pure-python `ecdsa`: verify only, 30-70x slower, for platforms without coincurve."""

    name = "ecdsa"

    def __init__(self) -> None:
        import ecdsa

        self._ecdsa = ecdsa
        self._keys: dict[bytes, object] = {}

    def _key(self, pubkey: bytes) -> object | None:
        vk = self._keys.get(pubkey)
        if vk is None:
            if len(pubkey) != PUBKEY_SIZE or pubkey[0] not in (2, 3):
                return None
            try:
                vk = self._ecdsa.VerifyingKey.from_string(pubkey, curve=self._ecdsa.SECP256k1)
            except Exception:
                return None
            if len(self._keys) > 100_000:
                self._keys.clear()
            self._keys[pubkey] = vk
        return vk

    def verify(self, pubkey: bytes, signature: bytes, digest: bytes) -> bool:
        if not _shape_ok(pubkey, signature, digest):
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < CURVE_ORDER and 0 < s <= HALF_ORDER):
            return False
        vk = self._key(pubkey)
        if vk is None:
            return False
        try:
            return bool(
                vk.verify_digest(  # type: ignore[attr-defined]
                    signature, digest, sigdecode=self._ecdsa.util.sigdecode_string
                )
            )
        except self._ecdsa.BadSignatureError:
            return False
        except Exception:
            return False

    def compact_from_der(self, der: bytes) -> bytes:
        from ecdsa.util import sigdecode_der

        r: int
        s: int
        try:
            r, s = sigdecode_der(der, CURVE_ORDER)
        except Exception as exc:
            raise CryptoError(f"not a strict DER signature: {exc}") from None
        if not (0 <= r < 2**256 and 0 <= s < 2**256):
            raise CryptoError("DER integer wider than 256 bits")
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def pubkey_valid(self, pubkey: bytes) -> bool:
        return isinstance(pubkey, bytes) and self._key(pubkey) is not None


def _default_backend() -> VerifyBackend:
    try:
        return CoincurveBackend()
    except ImportError:  # pragma: no cover - platforms without coincurve wheels
        return EcdsaBackend()


_backend: VerifyBackend = _default_backend()


def backend() -> VerifyBackend:
    return _backend


def use_backend(new: VerifyBackend) -> VerifyBackend:
    """Swap the process-wide verify backend; returns the old one (for tests and benchmarks)."""
    global _backend
    old, _backend = _backend, new
    return old


def verify(pubkey: bytes, signature: bytes, digest: bytes) -> bool:
    """True iff `signature` is a valid low-S compact signature of `digest` by `pubkey`."""
    return _backend.verify(pubkey, signature, digest)


def pubkey_valid(pubkey: bytes) -> bool:
    """True iff `pubkey` is a 33-byte compressed point on the curve."""
    return _backend.pubkey_valid(pubkey)


Verifier = Callable[[bytes, bytes, bytes], bool]  # (pubkey, signature, digest) -> valid


class VerifiedMemo:
    """Signatures this node already verified, so one message is checked once, not per reader.

    A node checks a vote's signature before it relays it (so it forwards only what a validator
    signed), and the engine checks it again when it counts it; both ask `verify` here, and the
    second ask is a set lookup. Only successes are kept (a failure costs its sender a ban, not
    a memo slot). Bounded: `capacity` entries of 129 bytes each (about 30 MB of Python objects
    at the default); when full it starts over, which only costs a re-check. A memo, not state:
    answers are the same with or without it.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._ok: set[bytes] = set()
        self._backend: VerifyBackend | None = None
        self.hits = 0

    def __len__(self) -> int:
        return len(self._ok)

    def verify(self, pubkey: bytes, signature: bytes, digest: bytes) -> bool:
        current = backend()
        if self._backend is not current:  # a swapped backend must answer for itself (tests)
            self._ok.clear()
            self._backend = current
        key = digest + pubkey + signature
        if key in self._ok:
            self.hits += 1
            return True
        if not current.verify(pubkey, signature, digest):
            return False
        if len(self._ok) >= self._capacity:
            self._ok.clear()
        self._ok.add(key)
        return True


class PrivateKey:
    """A secp256k1 private key. Its secret never appears in repr, str or exceptions."""

    __slots__ = ("_key", "_pub")

    def __init__(self, secret: bytes) -> None:
        import coincurve

        if not isinstance(secret, bytes) or len(secret) != 32:
            raise CryptoError("a private key is 32 bytes")
        n = int.from_bytes(secret, "big")
        if not 0 < n < CURVE_ORDER:
            raise CryptoError("private key out of range")
        self._key = coincurve.PrivateKey(secret)
        self._pub = self._key.public_key.format(compressed=True)

    @classmethod
    def generate(cls) -> PrivateKey:
        import secrets

        while True:
            candidate = secrets.token_bytes(32)
            if 0 < int.from_bytes(candidate, "big") < CURVE_ORDER:
                return cls(candidate)

    @property
    def public_key(self) -> bytes:
        """The 33-byte compressed public key."""
        return bytes(self._pub)

    def secret_bytes(self) -> bytes:
        return bytes(self._key.secret)

    def sign(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest: compact, low-S, RFC 6979 deterministic nonce."""
        from coincurve.ecdsa import der_to_cdata, serialize_compact

        if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZE:
            raise CryptoError("sign takes a 32-byte digest")
        der = self._key.sign(digest, hasher=None)
        return bytes(serialize_compact(der_to_cdata(der)))

    def __repr__(self) -> str:
        return f"PrivateKey(public_key={self._pub.hex()})"
