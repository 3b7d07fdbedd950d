"""`faircoop:` payment URIs: the grammar of docs/WALLET.md, case by case, and a round trip."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.address import encode_address
from consensus.errors import AddressError
from consensus.types import COIN, MAX_AMOUNT, MAX_MEMO, Lock
from wallet.errors import BadUri, ChainMismatch, RequestExpired
from wallet.uri import (
    PaymentUri,
    check_payable,
    decode_component,
    encode_component,
    format_uri,
    is_uri,
    parse_uri,
)

LOCK = Lock(bytes(range(32)))
A = encode_address(LOCK, "test")
MAIN = encode_address(LOCK, "main")


@pytest.mark.parametrize(("text", "expected"), [
    (f"faircoop:{A}", PaymentUri(A)),
    (f"FAIRCOOP:{A.upper()}", PaymentUri(A)),  # a QR code's alphanumeric mode
    (f"faircoop:{A}?amount=1.5", PaymentUri(A, 150_000_000)),
    (f"faircoop:{A}?amount=0.00000001", PaymentUri(A, 1)),
    (f"faircoop:{A}?amount=12", PaymentUri(A, 12 * COIN)),
    (f"faircoop:{A}?memo=order%201042", PaymentUri(A, memo="order 1042")),
    (f"faircoop:{A}?memo=a+b", PaymentUri(A, memo="a+b")),  # '+' is a plus, not a space
    (f"faircoop:{A}?memo=caf%C3%A9%20%E2%82%AC", PaymentUri(A, memo="café €")),
    (f"faircoop:{A}?memo=", PaymentUri(A)),
    (f"faircoop:{A}?expires=1767225600", PaymentUri(A, expires=1_767_225_600)),
    (f"faircoop:{A}?network=test", PaymentUri(A, network="test")),
    (f"faircoop:{MAIN}?network=main", PaymentUri(MAIN, network="main")),
    (f"faircoop:{A}?chain=coop-net", PaymentUri(A, chain_id="coop-net")),
    (f"faircoop:{A}?label=Shop&message=hi", PaymentUri(A)),  # unknown, optional: ignored
    (f"faircoop:{A}?amount=2.5&memo=x&expires=9&network=test&chain=c",
     PaymentUri(A, 250_000_000, "x", 9, "test", "c")),
    (f"  faircoop:{A}?amount=1\n", PaymentUri(A, COIN)),
])
def test_a_uri_says_what_the_grammar_says(text: str, expected: PaymentUri) -> None:
    assert parse_uri(text) == expected


@pytest.mark.parametrize(("text", "error", "says"), [
    (f"bitcoin:{A}", BadUri, "starts with faircoop:"),
    (A, BadUri, "starts with faircoop:"),
    (f"faircoop://{A}", BadUri, "without '//'"),
    (f"faircoop:{A}?amount=1&amount=2", BadUri, "twice"),
    (f"faircoop:{A}?foo=1&foo=2", BadUri, "twice"),
    (f"faircoop:{A}?req-signed=1", BadUri, "requirement"),
    (f"faircoop:{A}?amount=", BadUri, "empty"),
    (f"faircoop:{A}?amount=-1", BadUri, "digits"),
    (f"faircoop:{A}?amount=1e3", BadUri, "digits"),
    (f"faircoop:{A}?amount=0", BadUri, "out of range"),
    (f"faircoop:{A}?amount=0.000000001", BadUri, "digits"),
    (f"faircoop:{A}?amount=1.", BadUri, "digits"),
    (f"faircoop:{A}?amount=.5", BadUri, "digits"),
    (f"faircoop:{A}?amount=2000000000", BadUri, "out of range"),
    (f"faircoop:{A}?amount=1%2C5", BadUri, "digits"),
    (f"faircoop:{A}?expires=-5", BadUri, "Unix seconds"),
    (f"faircoop:{A}?expires=99999999999999", BadUri, "Unix seconds"),
    (f"faircoop:{A}?network=main", BadUri, "address is for the test network"),
    (f"faircoop:{A}?network=regtest", BadUri, "main or test"),
    (f"faircoop:{A}?chain=Coop", BadUri, "not a chain id"),
    (f"faircoop:{A}?memo=%zz", BadUri, "two hex digits"),
    (f"faircoop:{A}?memo=%C3", BadUri, "not UTF-8"),
    (f"faircoop:{A}?memo=a b", BadUri, "percent-encoded"),
    (f"faircoop:{A}?memo=" + "%41" * (MAX_MEMO + 1), BadUri, "over 80 bytes"),
    (f"faircoop:{A}?amount=1#frag", BadUri, "fragment"),
    (f"faircoop:{A}?amount", BadUri, "KEY=VALUE"),
    (f"faircoop:{A}?&amount=1", BadUri, "KEY=VALUE"),
    (f"faircoop:{A}?am ount=1", BadUri, "KEY=VALUE"),
    (f"faircoop:{A}?" + "x=1&" * 1000, BadUri, "at most"),
    (f"faircoop:{A[:-1]}x", AddressError, ""),
    (f"faircoop:{A[:10]}{A[10:].upper()}", AddressError, ""),
    ("faircoop:", BadUri, "not a faircoop address"),
    ("faircoop:xyz1abc", BadUri, "not a faircoop address"),
])
def test_a_uri_that_breaks_the_grammar_is_refused_with_a_reason(
        text: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error) as info:
        parse_uri(text)
    assert says in str(info.value)


def test_only_a_uri_for_this_network_and_chain_before_its_expiry_is_payable() -> None:
    uri = parse_uri(f"faircoop:{A}?amount=1&expires=1000&chain=coop-net")
    check_payable(uri, network="test", chain_id="coop-net", now_s=999)
    with pytest.raises(RequestExpired):
        check_payable(uri, network="test", chain_id="coop-net", now_s=1000)
    with pytest.raises(ChainMismatch):
        check_payable(uri, network="main", chain_id="coop-net", now_s=0)
    with pytest.raises(ChainMismatch):
        check_payable(uri, network="test", chain_id="other-net", now_s=0)
    check_payable(parse_uri(f"faircoop:{A}"), network="test", chain_id="any", now_s=10**15)
    assert is_uri(" FairCoop:x") and not is_uri(A)


# -- round trip -------------------------------------------------------------------------------

memos = st.text(max_size=80).filter(lambda m: len(m.encode()) <= MAX_MEMO)
uris = st.builds(
    lambda lock, net, amount, memo, expires, stated, chain: PaymentUri(
        encode_address(Lock(lock), net), amount, memo, expires, net if stated else None, chain),
    st.binary(min_size=32, max_size=32), st.sampled_from(["main", "test"]),
    st.none() | st.integers(1, MAX_AMOUNT), memos, st.none() | st.integers(0, 10**12),
    st.booleans(), st.none() | st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True))


@given(uri=uris)
def test_format_then_parse_gives_the_same_request(uri: PaymentUri) -> None:
    text = format_uri(uri)
    assert parse_uri(text) == uri
    assert format_uri(parse_uri(text)) == text  # one canonical text
    assert parse_uri(text.replace(uri.address, uri.address.upper())) == uri


@given(text=st.text(max_size=200))
def test_percent_encoding_round_trips_any_text(text: str) -> None:
    encoded = encode_component(text)
    assert decode_component(encoded, "x") == text
    assert set(encoded) <= set(string.ascii_letters + string.digits + "-._~%")


@given(text=st.text(max_size=300))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    with contextlib.suppress(BadUri, AddressError):
        parse_uri("faircoop:" + text)


def test_the_documented_grammar_names_what_the_parser_knows() -> None:
    """docs/WALLET.md's "The payment URI" gives the ABNF and the keys this module reads."""
    from pathlib import Path

    from wallet.uri import KNOWN

    doc = (Path(__file__).resolve().parents[2] / "docs" / "WALLET.md").read_text()
    section = doc.split("### The payment URI", 1)[1].split("\n### ", 1)[0]
    assert "faircoop-uri = scheme \":\" address" in section
    for key in KNOWN:
        assert f"`{key}`" in section, key
    assert "`req-`" in section and "1*8DIGIT" in section
