"""Addresses: the BIP-350 bech32m vectors, every one-character typo, and network prefixes."""

from __future__ import annotations

import pytest
from bech32m import codecs as b32
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.address import PREFIXES, decode_address, encode_address, prefix_for
from consensus.codec import policy_lock
from consensus.errors import AddressError
from tests.builders import key, multisig, single

# BIP-350, "Test vectors for Bech32m": strings that are valid bech32m.
BIP350_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

# BIP-350: invalid bech32m strings, with the reason the BIP gives.
BIP350_INVALID = [
    ("\x20" + "1xj0phk", "HRP character out of range"),
    ("\x7f" + "1g6xzxy", "HRP character out of range"),
    ("\x80" + "1vctc34", "HRP character out of range"),
    ("an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
     "overall max length exceeded"),
    ("qyrz8wqd2c9m", "No separator character"),
    ("1qyrz8wqd2c9m", "Empty HRP"),
    ("y1b0jsk6g", "Invalid data character"),
    ("lt1igcx5c0", "Invalid data character"),
    ("in1muywd", "Too short checksum"),
    ("mm1crxm3i", "Invalid character in checksum"),
    ("au1s5cgom", "Invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]


@pytest.mark.parametrize("text", BIP350_VALID)
def test_bip350_valid_strings_decode_as_bech32m(text: str) -> None:
    hrp, data, spec = b32.bech32_decode(text)
    assert spec == b32.Encoding.BECH32M
    assert hrp == text[: text.rfind("1")].lower()
    # Re-encoding gives the lower-case form back: the checksum covers exactly what we read.
    assert b32.bech32_encode(hrp, bytes(data), b32.Encoding.BECH32M) == text.lower()


@pytest.mark.parametrize(("text", "reason"), BIP350_INVALID, ids=[r for _, r in BIP350_INVALID])
def test_bip350_invalid_strings_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(b32.DecodeError):
        b32.bech32_decode(text)
    with pytest.raises(AddressError):
        decode_address(text, "main")


# A bech32 (BIP-173) string: a valid checksum, but the wrong constant for our addresses.
def test_bech32_not_bech32m_is_rejected() -> None:
    lock = policy_lock(single(key(1)))
    data = bytes([0]) + bytes(b32.convertbits(lock, 8, 5))
    old_style = b32.bech32_encode("fair", data, b32.Encoding.BECH32)
    with pytest.raises(AddressError, match="bech32, not bech32m"):
        decode_address(old_style, "main")


LOCKS = [
    policy_lock(single(key(1))),
    policy_lock(multisig(2, [key(2), key(3), key(4)])),
    bytes(32),
    b"\xff" * 32,
]


@pytest.mark.parametrize("network", ["main", "test"])
@pytest.mark.parametrize("lock", LOCKS, ids=["single", "multisig", "zeros", "ones"])
def test_address_round_trips_with_its_network_prefix(lock: bytes, network: str) -> None:
    address = encode_address(lock, network)
    assert address.startswith(PREFIXES[network] + "1")
    assert address == address.lower()
    assert decode_address(address, network) == lock
    assert decode_address(address.upper(), network) == lock  # BIP-173: all-caps is the same


@pytest.mark.parametrize("network", ["main", "test"])
@pytest.mark.parametrize("lock", LOCKS[:2], ids=["single", "multisig"])
def test_every_one_character_typo_is_rejected(lock: bytes, network: str) -> None:
    """Each position x each other charset character, and flipping the case of one character."""
    address = encode_address(lock, network)
    tried = 0
    for i, ch in enumerate(address):
        variants = [c for c in b32.CHARSET if c != ch]
        if ch.isalpha():
            variants.append(ch.upper())
        for c in variants:
            typo = address[:i] + c + address[i + 1:]
            with pytest.raises(AddressError):
                decode_address(typo, network)
            tried += 1
    assert tried >= len(address) * 31


@pytest.mark.parametrize("network", ["main", "test"])
def test_dropped_doubled_or_swapped_characters_are_rejected(network: str) -> None:
    address = encode_address(LOCKS[0], network)
    sep = address.rfind("1")
    typos = set()
    for i in range(len(address)):
        typos.add(address[:i] + address[i + 1:])
        typos.add(address[:i] + address[i] + address[i:])
        if i + 1 < len(address) and address[i] != address[i + 1]:
            typos.add(address[:i] + address[i + 1] + address[i] + address[i + 2:])
    typos.discard(address)
    for typo in typos:
        with pytest.raises(AddressError):
            decode_address(typo, network)
    assert sep > 0 and len(typos) > 2 * len(address)


def test_main_address_is_rejected_on_test_network_and_vice_versa() -> None:
    lock = LOCKS[0]
    with pytest.raises(AddressError, match="for the main network, but this is the test network"):
        decode_address(encode_address(lock, "main"), "test")
    with pytest.raises(AddressError, match="for the test network, but this is the main network"):
        decode_address(encode_address(lock, "test"), "main")


def test_foreign_prefix_is_named_in_the_error() -> None:
    data = bytes([0]) + bytes(b32.convertbits(LOCKS[0], 8, 5))
    btc = b32.bech32_encode("bc", data, b32.Encoding.BECH32M)
    with pytest.raises(AddressError, match="prefix 'bc'"):
        decode_address(btc, "main")


def _raw(hrp: str, five_bit: bytes) -> str:
    return b32.bech32_encode(hrp, five_bit, b32.Encoding.BECH32M)


BAD_PAYLOADS = {
    "unknown_version": (bytes([1]) + bytes(b32.convertbits(LOCKS[0], 8, 5)), "version"),
    "no_data": (b"", "version"),
    "short_lock": (bytes([0]) + bytes(b32.convertbits(LOCKS[0][:20], 8, 5)), "20 bytes"),
    "long_lock": (bytes([0]) + bytes(b32.convertbits(LOCKS[0] + b"\x00", 8, 5)), "33 bytes"),
    "nonzero_padding": (bytes([0]) + bytes(b32.convertbits(LOCKS[0], 8, 5))[:-1] + b"\x01",
                        "padding"),
}


@pytest.mark.parametrize("case", list(BAD_PAYLOADS))
def test_well_formed_bech32m_with_a_bad_payload_is_rejected(case: str) -> None:
    payload, word = BAD_PAYLOADS[case]
    with pytest.raises(AddressError, match=word):
        decode_address(_raw("fair", payload), "main")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ((b"\x00" * 31, "main"), "32 bytes"),
        ((b"\x00" * 33, "main"), "32 bytes"),
        (("00" * 32, "main"), "32 bytes"),
        ((b"\x00" * 32, "regtest"), "unknown network"),
        ((b"\x00" * 32, ["main"]), "unknown network"),
    ],
    ids=["short", "long", "str", "network", "unhashable_network"],
)
def test_encode_rejects_bad_input(args: tuple[object, str], word: str) -> None:
    with pytest.raises(AddressError, match=word):
        encode_address(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, 5, b"fair1", ""], ids=["none", "int", "bytes", "empty"])
def test_decode_rejects_non_addresses(bad: object) -> None:
    with pytest.raises(AddressError):
        decode_address(bad, "main")  # type: ignore[arg-type]


def test_prefixes() -> None:
    assert prefix_for("main") == "fair" and prefix_for("test") == "tfair"
    with pytest.raises(AddressError):
        prefix_for("moon")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_decoding_arbitrary_text_only_raises_address_error(text: str) -> None:
    try:
        lock = decode_address(text, "main")
    except AddressError:
        return
    assert encode_address(lock, "main") == text.lower()


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.sampled_from(["main", "test"]))
def test_any_lock_round_trips(lock: bytes, network: str) -> None:
    assert decode_address(encode_address(lock, network), network) == lock
