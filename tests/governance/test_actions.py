"""Governance actions on their own: encodings, signatures, duplicate signers, replay records."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.codec import pack
from consensus.errors import DecodeError, InvalidSignature, WrongChain
from consensus.governance import (
    MAX_NONCE_GAP,
    MAX_REFERENCE_TEXT,
    MAX_REFERENCE_URI,
    ActionBody,
    AddValidator,
    GovernanceError,
    ReadmitValidator,
    Reference,
    RekeyValidator,
    RemoveValidator,
    SetGovernors,
    SetParam,
    SetTreasury,
    check_action,
    check_governor_signatures,
    check_nonce,
    decode_block_action,
    encode_action,
    encode_block_action,
    make_action,
    make_recovery,
    sign_action,
    use_nonce,
)
from consensus.params import PARAM_NAMES
from consensus.types import BlockHash, Lock
from tests.chainstate.harness import CHAIN_ID, Net, key, pub, validator

KEYS = [pub(n) for n in "ABCDEFGH"]

bodies = st.one_of(
    st.builds(AddValidator, st.text(min_size=1, max_size=64), st.sampled_from(KEYS)),
    st.builds(RemoveValidator, st.sampled_from(KEYS)),
    st.builds(RekeyValidator, st.sampled_from(KEYS), st.sampled_from(KEYS)),
    st.builds(ReadmitValidator, st.sampled_from(KEYS)),
    st.builds(SetParam, st.sampled_from(PARAM_NAMES), st.integers(0, 2**64 - 1)),
    st.builds(lambda ks, t: SetGovernors(tuple(sorted(ks)), t),
              st.sets(st.sampled_from(KEYS), min_size=1), st.integers(1, 8)),
    st.builds(lambda b: SetTreasury(Lock(b)), st.binary(min_size=32, max_size=32)),
)


@settings(max_examples=100, deadline=None)
@given(body=bodies, nonce=st.integers(0, 2**64 - 1), signers=st.sets(st.sampled_from("XYZ")))
def test_action_encoding_round_trips(body: ActionBody, nonce: int, signers: set[str]) -> None:
    action = make_action(CHAIN_ID, nonce, body, tuple(key(s) for s in sorted(signers)))
    data = encode_action(action)
    assert decode_block_action(data) == action
    assert encode_block_action(decode_block_action(data)) == data


def test_signing_order_does_not_matter() -> None:
    body = AddValidator("coop-D", pub("D"))
    one = sign_action(sign_action(make_action(CHAIN_ID, 3, body), key("G1")), key("G0"))
    two = make_action(CHAIN_ID, 3, body, (key("G0"), key("G1")))
    assert one == two and encode_action(one) == encode_action(two)
    again = sign_action(two, key("G0"))  # re-signing replaces, never duplicates
    assert again.signatures == two.signatures


def test_duplicate_signature_by_one_governor_is_rejected() -> None:
    action = make_action(CHAIN_ID, 0, RemoveValidator(pub("A")), (key("G0"),))
    doubled = (*action.signatures, *action.signatures)
    # in memory: counted once at most, and refused outright
    with pytest.raises(InvalidSignature) as info:
        check_governor_signatures(action.digest(), doubled, (pub("G0"), pub("G1")), 2)
    assert info.value.rule == "duplicate_governor_signature"
    # on the wire: the decoder refuses repeated signer keys
    raw = pack((1, CHAIN_ID, 0, (2, pub("A")), doubled))
    with pytest.raises(DecodeError, match="strictly ascending"):
        decode_block_action(raw)


def test_bad_signature_wrong_chain_and_non_canonical_bytes() -> None:
    net = Net.of()
    action = net.action(RemoveValidator(pub("A")), ("G0", "G1"), nonce=0)
    check_action(action, CHAIN_ID, net.state.current, 0, ())
    other_chain = make_action("other-chain", 0, action.body, (key("G0"), key("G1")))
    with pytest.raises(WrongChain):
        check_action(other_chain, CHAIN_ID, net.state.current, 0, ())
    # a signature made for another nonce does not verify for this one
    forged = make_action(CHAIN_ID, 1, action.body, (key("G0"), key("G1")))
    forged = type(forged)(CHAIN_ID, 0, forged.body, forged.signatures)
    with pytest.raises(InvalidSignature) as info:
        check_action(forged, CHAIN_ID, net.state.current, 0, ())
    assert info.value.rule == "bad_governor_signature"
    data = encode_action(action)
    with pytest.raises(DecodeError):
        decode_block_action(data + b"\x00")
    with pytest.raises(DecodeError, match="unknown action kind"):
        decode_block_action(pack((1, CHAIN_ID, 0, (99, pub("A")), ())))


def test_nonce_record_compacts_and_bounds() -> None:
    floor, used = 0, ()
    for n in (2, 0, 1):
        check_nonce(n, floor, used)
        floor, used = use_nonce(n, floor, used)
    assert (floor, used) == (3, ())
    floor, used = use_nonce(7, floor, used)
    assert (floor, used) == (3, (7,))
    for n in (0, 2, 7):
        with pytest.raises(GovernanceError, match="already used"):
            check_nonce(n, floor, used)
    check_nonce(floor + MAX_NONCE_GAP - 1, floor, used)
    with pytest.raises(GovernanceError):
        check_nonce(floor + MAX_NONCE_GAP, floor, used)


def test_recovery_encoding_round_trips_and_is_distinct_from_actions() -> None:
    rec = make_recovery(CHAIN_ID, 9, BlockHash(bytes(32)),
                        (validator("B"), validator("A")), (key("G0"), key("G1")))
    assert [v.name for v in rec.validators] == sorted(
        ["coop-A", "coop-B"], key=lambda n: pub(n[-1]))
    data = encode_block_action(rec)
    assert decode_block_action(data) == rec
    unsorted = pack((1, CHAIN_ID, 9, bytes(32),
                     (16, tuple((v.name, v.pubkey) for v in reversed(rec.validators))),
                     rec.signatures))
    with pytest.raises(DecodeError, match="sorted"):
        decode_block_action(unsorted)


# -- the assembly's reference (version 2) --------------------------------------------------------

REF = Reference("https://coop.example/assembly/2026-11#7", "Assembly of 2026-11-20, item 7")
GOVS = ("G0", "G1")


@settings(max_examples=80)
@given(body=bodies, nonce=st.integers(0, 2**64 - 1),
       uri=st.text(min_size=1, max_size=MAX_REFERENCE_URI),
       text=st.text(min_size=1, max_size=MAX_REFERENCE_TEXT))
def test_an_action_with_a_reference_round_trips(body: ActionBody, nonce: int, uri: str,
                                                 text: str) -> None:
    a = make_action(CHAIN_ID, nonce, body, (key("G0"),), Reference(uri, text))
    raw = encode_action(a)
    assert decode_block_action(raw) == a and encode_block_action(decode_block_action(raw)) == raw


def test_the_reference_is_covered_by_the_signatures() -> None:
    a = make_action(CHAIN_ID, 3, SetParam("heartbeat_ms", 2_000), tuple(key(g) for g in GOVS),
                    REF)
    govs = tuple(sorted(pub(g) for g in GOVS))
    check_governor_signatures(a.digest(), a.signatures, govs, 2)
    for forged in (replace(a, reference=Reference(REF.uri, "another decision")),
                   replace(a, reference=Reference("https://elsewhere.example/", REF.text)),
                   replace(a, reference=None)):
        with pytest.raises(InvalidSignature):
            check_governor_signatures(forged.digest(), forged.signatures, govs, 2)


def test_old_actions_without_a_reference_still_decode_and_verify() -> None:
    a = make_action(CHAIN_ID, 0, SetParam("heartbeat_ms", 2_000), (key("G0"),))
    raw = encode_action(a)
    assert raw[1] == 1 and decode_block_action(raw) == a and a.reference is None
    check_governor_signatures(a.digest(), a.signatures, (pub("G0"),), 1)


def test_a_recovery_with_a_reference_round_trips_and_is_signed_over_it() -> None:
    r = make_recovery(CHAIN_ID, 4, BlockHash(bytes(32)), (validator("E"),), (key("G0"),), REF)
    raw = encode_block_action(r)
    assert decode_block_action(raw) == r
    forged = replace(r, reference=Reference(REF.uri, "no such decision"))
    with pytest.raises(InvalidSignature):
        check_governor_signatures(forged.digest(), forged.signatures, (pub("G0"),), 1)


@pytest.mark.parametrize("ref", [Reference("", "no uri"), Reference("x" * 201, "t"),
                                 Reference("https://a.example", "y" * 201),
                                 Reference("https://a.example", "")],
                         ids=["empty uri", "uri too long", "text too long", "no text"])
def test_a_reference_out_of_bounds_is_refused_when_made_and_when_decoded(ref: Reference) -> None:
    with pytest.raises(GovernanceError, match="reference"):
        make_action(CHAIN_ID, 0, SetParam("heartbeat_ms", 2_000), (key("G0"),), ref)
    good = make_action(CHAIN_ID, 0, SetParam("heartbeat_ms", 2_000), (key("G0"),), REF)
    raw = pack((2, CHAIN_ID, 0, (5, "heartbeat_ms", 2_000), (ref.uri, ref.text),
                good.signatures))
    with pytest.raises(DecodeError):
        decode_block_action(raw)


@pytest.mark.parametrize("shape", [(1, 7), (2, 5), (3, 6)])
def test_version_and_length_must_match(shape: tuple[int, int]) -> None:
    version, length = shape
    fields = (version, CHAIN_ID, 0, (5, "heartbeat_ms", 2_000), ("u", ""), (), ())[:length]
    with pytest.raises(DecodeError):
        decode_block_action(pack(fields))
