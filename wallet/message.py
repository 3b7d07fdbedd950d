"""Signing a message with an address's key, so a coop can prove it controls the address.

The digest signed is domain-separated from everything else the chain's keys sign:

    digest = tagged_hash("faircoop/message/v1", pack([address, message]))
           = SHA-256(u8(19) || "faircoop/message/v1" || msgpack [str address, bin message])

Every other signed digest is a tagged hash too (the tx sighash `faircoop/tx/v1`, votes
`faircoop/prevote/v1` and `faircoop/precommit/v1`, proposals, governance actions and
recoveries, the P2P handshake): their preimages start with another length-prefixed tag, so no
message's preimage is ever one of theirs, and a signed message can't be replayed as a tx input,
a vote or an action (a collision would be a SHA-256 collision). The address (text, with its
network prefix) is inside the digest: a signature says "the key of this address, on this
network, signed this message".

A signature is the 33-byte public key and the 64-byte compact signature, as 194 hex digits:
the verifier recomputes the address's lock from the key (an ordinary address is the hash of a
one-key policy), so the address alone is enough to check it. Multisig treasury addresses can't
sign messages this way (several keys; left out).
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import crypto
from consensus.address import decode_address, encode_address
from consensus.codec import pack
from consensus.crypto import PrivateKey
from consensus.types import PublicKey
from wallet.errors import BadMessageSignature, MessageError
from wallet.keys import lock_for_pubkey

MESSAGE_TAG = "faircoop/message/v1"
MAX_MESSAGE = 64 * 1024  # bytes of UTF-8
SIGNATURE_HEX = 2 * (33 + 64)


def message_preimage(address: str, message: str | bytes) -> bytes:
    """What SHA-256 hashes into the digest (see the module notes)."""
    tag = MESSAGE_TAG.encode()
    return bytes([len(tag)]) + tag + pack((address, _message_bytes(message)))


def message_digest(address: str, message: str | bytes) -> bytes:
    return crypto.tagged_hash(MESSAGE_TAG, pack((address, _message_bytes(message))))


def _message_bytes(message: str | bytes) -> bytes:
    raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if len(raw) > MAX_MESSAGE:
        raise MessageError(f"a message is at most {MAX_MESSAGE} bytes")
    return raw


@dataclass(frozen=True, slots=True)
class SignedMessage:
    address: str
    message: str
    signature: str  # hex: public key (33 bytes) || compact signature (64)


def sign_message(key: PrivateKey, network: str, message: str) -> SignedMessage:
    """Sign `message` with `key`, for the ordinary address of `key` on `network`."""
    pub = PublicKey(key.public_key)
    address = encode_address(lock_for_pubkey(pub), network)
    sig = key.sign(message_digest(address, message))
    return SignedMessage(address, message, (bytes(pub) + sig).hex())


def verify_message(address: str, message: str, signature: str, network: str) -> PublicKey:
    """The key that signed, if `signature` is a signature of `message` for `address` on
    `network`; BadMessageSignature (or AddressError for the address) otherwise."""
    lock = decode_address(address.strip(), network)
    canonical = encode_address(lock, network)
    text = signature.strip().lower()
    if len(text) != SIGNATURE_HEX:
        raise BadMessageSignature(f"a message signature is {SIGNATURE_HEX} hex digits")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise BadMessageSignature("a message signature is hex") from None
    pub, sig = PublicKey(raw[:33]), raw[33:]
    if lock_for_pubkey(pub) != lock:
        raise BadMessageSignature(f"the signature's key is not the key of {canonical}")
    if not crypto.verify(pub, sig, message_digest(canonical, message)):
        raise BadMessageSignature(f"the signature does not verify: this message was not "
                                  f"signed by {canonical} (or was changed)")
    return pub
