"""The P2P wire format: round trips, strictness, and a fuzz of every decoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.codec import pack
from consensus.crypto import sha256
from consensus.errors import DecodeError
from consensus.types import BlockHash, PublicKey
from faircoop_node.net import envelope as E
from faircoop_node.net.envelope import MsgType

H = BlockHash(sha256(b"h"))
KEY = PublicKey(b"\x02" + b"\x11" * 32)

ROUND_TRIPS: list[tuple[str, object, Callable[[object], bytes], Callable[[bytes], object]]] = [
    ("hello", E.Hello("faircoop-test", H, 5, H, KEY, True, b"n" * 32),
     E.encode_hello, E.decode_hello),  # type: ignore[list-item]
    ("status", E.Status(3, H, 1), E.encode_status, E.decode_status),  # type: ignore[list-item]
    ("get_blocks", E.GetBlocks(1, 1000), E.encode_get_blocks,  # type: ignore[list-item]
     E.decode_get_blocks),
    ("blocks", E.BlockRange(4, (E.CertifiedBlock(b"a", b"b"), E.CertifiedBlock(b"c", b""))),
     E.encode_block_range, E.decode_block_range),  # type: ignore[list-item]
    ("empty_blocks", E.BlockRange(9, ()), E.encode_block_range,  # type: ignore[list-item]
     E.decode_block_range),
    ("proposal", E.ProposalMessage(b"p", b"b"), E.encode_proposal_message,  # type: ignore[list-item]
     E.decode_proposal_message),
    ("txs", (b"t1", b"t2"), E.encode_txs, E.decode_txs),  # type: ignore[list-item]
    ("reject", "wrong chain id", E.encode_reject, E.decode_reject),  # type: ignore[list-item]
    ("auth", b"s" * 64, E.encode_auth, E.decode_auth),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("name", "value", "encode", "decode"), ROUND_TRIPS,
                         ids=[r[0] for r in ROUND_TRIPS])
def test_payload_round_trips(name: str, value: object, encode: Callable[[object], bytes],
                             decode: Callable[[bytes], object]) -> None:
    data = encode(value)
    assert decode(data) == value
    with pytest.raises(DecodeError):
        decode(data + b"\x00")


@pytest.mark.parametrize("msg_type", list(MsgType))
def test_envelope_round_trips_every_type(msg_type: MsgType) -> None:
    env = E.decode_envelope(E.encode_envelope(msg_type, b"payload"))
    assert env == E.Envelope(msg_type, b"payload")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (pack((1, 10)), "missing fields"),
        (pack((1, 10, b"", b"")), "extra fields"),
        (pack((2, 10, b"")), "unsupported version"),
        (pack((1, 99, b"")), "unknown message type"),
        (pack((1, 10, "text")), "expected bytes"),
        (b"\x93\x01\xcc\x0a\xc4\x00", "not the canonical encoding"),
        (b"\xc1", "malformed"),
        (b"", "truncated"),
    ],
)
def test_envelope_rejects(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        E.decode_envelope(data)


@pytest.mark.parametrize(
    ("decode", "data", "why"),
    [
        (E.decode_get_blocks, pack((1, 0, 5)), "start"),
        (E.decode_get_blocks, pack((1, 1, 1001)), "count"),
        (E.decode_get_blocks, pack((1, 1, 0)), "count"),
        (E.decode_txs, pack((1, ())), "at least one tx"),
        (E.decode_hello, pack((1, "c", H, 0, H, KEY, 2, b"n" * 32)), "is_validator"),
        (E.decode_hello, pack((1, "c", H, 0, H, KEY, 0, b"n" * 31)), "nonce"),
        (E.decode_hello, pack((1, "Bad Chain", H, 0, H, KEY, 0, b"n" * 32)), "chain"),
        (E.decode_status, pack((1, 1, b"short", 0, b"")), "tip_hash"),
        (E.decode_status, pack((1, 1, bytes(32), 0, bytes(129))), "neighbors"),
        (E.decode_auth, pack((1, b"s" * 63)), "64 bytes"),
    ],
)
def test_payload_decoders_reject_bad_fields(decode: Callable[[bytes], object], data: bytes,
                                            why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        decode(data)


def test_handshake_types_are_marked() -> None:
    assert {t for t in MsgType if t.is_handshake} == {MsgType.HELLO, MsgType.AUTH,
                                                     MsgType.REJECT}


def _reencode_envelope(env: E.Envelope) -> bytes:
    return E.encode_envelope(env.msg_type, env.payload)


# each decoder with the encoder that must give back the very bytes it accepted
CODECS: list[tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = [
    (E.decode_envelope, _reencode_envelope), (E.decode_hello, E.encode_hello),
    (E.decode_status, E.encode_status), (E.decode_get_blocks, E.encode_get_blocks),
    (E.decode_block_range, E.encode_block_range),
    (E.decode_proposal_message, E.encode_proposal_message), (E.decode_txs, E.encode_txs),
    (E.decode_reject, E.encode_reject), (E.decode_auth, E.encode_auth),
]


def _decode_or_decode_error(data: bytes) -> int:
    """Feed `data` to every decoder: each either raises DecodeError or accepted the one
    canonical encoding of what it returned. Returns how many accepted."""
    accepted = 0
    for decode, encode in CODECS:
        try:
            value = decode(data)
        except DecodeError:
            continue
        assert encode(value) == data
        accepted += 1
    return accepted


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_only_ever_raise_decode_error(data: bytes) -> None:
    _decode_or_decode_error(data)


msgpack_values = st.recursive(
    st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=10)
    | st.booleans() | st.none() | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=3),
                                                                      children, max_size=3),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(msgpack_values)
def test_fuzz_well_formed_msgpack_of_any_shape_only_raises_decode_error(value: object) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    _decode_or_decode_error(data)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([(1, 2), (1, 3), (1, 4)]), st.lists(st.binary(max_size=8), max_size=4))
def test_fuzz_near_miss_arrays_are_rejected_or_canonical(shape: tuple[int, int],
                                                        items: list[bytes]) -> None:
    """Arrays that start like a payload (version 1) but with random fields."""
    data = pack((shape[0], *items[: shape[1] - 1]))
    _decode_or_decode_error(data)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(MsgType)), st.binary(max_size=200))
def test_envelope_encoding_is_the_one_decodable_form(msg_type: MsgType, payload: bytes) -> None:
    data = E.encode_envelope(msg_type, payload)
    assert E.decode_envelope(data) == E.Envelope(msg_type, payload)
    for i in range(len(data)):  # any truncation fails cleanly
        with pytest.raises(DecodeError):
            E.decode_envelope(data[:i])
