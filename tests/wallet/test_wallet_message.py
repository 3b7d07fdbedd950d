"""Signed messages: a coop proves it holds an address's key; the digest can't be taken for a
tx's, a vote's or a governance action's (every signed digest of the chain has its own tag)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import crypto
from consensus.address import encode_address
from consensus.crypto import PrivateKey, sha256
from consensus.errors import AddressError
from consensus.governance import AddValidator, SetParam, action_digest
from consensus.ledger import TX_SIG_TAG, tx_sighash
from consensus.types import OutPoint, PublicKey, TxId
from consensus.votes import VoteType, vote_digest
from tests.builders import make_tx, single
from wallet.errors import BadMessageSignature, MessageError
from wallet.keys import lock_for_pubkey
from wallet.message import (
    MAX_MESSAGE,
    MESSAGE_TAG,
    message_digest,
    message_preimage,
    sign_message,
    verify_message,
)

KEY = PrivateKey((77).to_bytes(32, "big"))
OTHER = PrivateKey((78).to_bytes(32, "big"))
ADDRESS = encode_address(lock_for_pubkey(PublicKey(KEY.public_key)), "test")
ROOT = Path(__file__).resolve().parents[2]


def test_a_signed_message_verifies_for_its_address_and_nothing_else() -> None:
    signed = sign_message(KEY, "test", "Coop Bread controls this address. 2026-12-01")
    assert signed.address == ADDRESS and len(signed.signature) == 194
    assert verify_message(ADDRESS, signed.message, signed.signature, "test") == KEY.public_key
    assert verify_message(ADDRESS.upper(), signed.message, signed.signature.upper(), "test")


@pytest.mark.parametrize(("change", "error", "says"), [
    (lambda a, m, s: (a, m + ".", s), BadMessageSignature, "does not verify"),
    (lambda a, m, s: (encode_address(lock_for_pubkey(PublicKey(OTHER.public_key)), "test"), m,
                      s), BadMessageSignature, "not the key of"),
    (lambda a, m, s: (a, m, s[:-2]), BadMessageSignature, "194 hex digits"),
    (lambda a, m, s: (a, m, "zz" * 97), BadMessageSignature, "hex"),
    (lambda a, m, s: (a, m, s[:66] + ("00" if s[66:68] != "00" else "01") + s[68:]),
     BadMessageSignature, "does not verify"),
    (lambda a, m, s: (a[:-1] + ("q" if a[-1] != "q" else "p"), m, s), AddressError, ""),
])
def test_a_changed_message_address_or_signature_is_refused(change, error, says) -> None:  # type: ignore[no-untyped-def]
    signed = sign_message(KEY, "test", "hello")
    address, message, signature = change(signed.address, signed.message, signed.signature)
    with pytest.raises(error) as info:
        verify_message(address, message, signature, "test")
    assert says in str(info.value)


def test_a_signature_for_the_test_network_does_not_verify_on_main() -> None:
    signed = sign_message(KEY, "test", "hello")
    main = encode_address(lock_for_pubkey(PublicKey(KEY.public_key)), "main")
    with pytest.raises(BadMessageSignature, match="does not verify"):
        verify_message(main, "hello", signed.signature, "main")


def test_a_message_is_bounded() -> None:
    with pytest.raises(MessageError):
        sign_message(KEY, "test", "x" * (MAX_MESSAGE + 1))


def _tags_in_source() -> set[str]:
    """Every domain tag the project signs under (tagged_hash's first argument)."""
    tags: set[str] = set()
    for package in ("consensus", "faircoop_node", "wallet"):
        for path in (ROOT / package).rglob("*.py"):
            tags.update(re.findall(r'"(faircoop/[a-z0-9_-]+/v[0-9]+)"', path.read_text()))
    return tags


def test_the_message_tag_is_its_own_and_its_preimage_starts_apart_from_every_other() -> None:
    tags = _tags_in_source()
    assert {TX_SIG_TAG, "faircoop/prevote/v1", "faircoop/precommit/v1",
            "faircoop/governance/v2", "faircoop/p2p-auth/v1", MESSAGE_TAG} <= tags
    prefix = message_preimage(ADDRESS, b"")[:len(MESSAGE_TAG) + 1]
    for tag in tags - {MESSAGE_TAG}:
        other = bytes([len(tag.encode())]) + tag.encode()
        assert not other.startswith(prefix) and not prefix.startswith(other), tag


@given(message=st.binary(max_size=300), memo=st.binary(max_size=80), nonce=st.integers(0, 99),
       height=st.integers(0, 10**6))
def test_no_message_digest_is_a_tx_sighash_a_vote_or_an_action(
        message: bytes, memo: bytes, nonce: int, height: int) -> None:
    digest = message_digest(ADDRESS, message)
    assert digest == sha256(message_preimage(ADDRESS, message))
    pay = make_tx([(OutPoint(TxId(bytes(32)), 0), single(KEY), [KEY])],
                  [(lock_for_pubkey(PublicKey(KEY.public_key)), 5)], memo=memo)
    assert digest != tx_sighash(pay)
    for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT):
        assert digest != vote_digest(pay.chain_id, kind, height, 0, bytes(32),
                                     PublicKey(KEY.public_key))
    for body in (AddValidator("coop", PublicKey(KEY.public_key)), SetParam("min_fee_rate", 2)):
        assert digest != action_digest(pay.chain_id, nonce, body)
    # and a signature of the message is no signature of the tx
    assert not crypto.verify(KEY.public_key, KEY.sign(digest), tx_sighash(pay))
