"""Hypothesis properties of the canonical codec.

- every type round-trips, and its encoding is the one canonical form;
- a random byte flip, truncation, insertion or deletion of a valid encoding is either rejected
  with DecodeError or decodes to a different object whose re-encoding is exactly the mutated
  bytes (no second encoding of any object is ever accepted);
- arbitrary bytes and arbitrary msgpack trees only ever raise DecodeError;
- the txid does not depend on witnesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import msgpack
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.errors import DecodeError
from consensus.types import Tx, Witness
from tests.codec.strategies import (
    blocks,
    chain_params,
    geneses,
    headers,
    msgpack_trees,
    mutations,
    policies,
    txs,
    witnesses,
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Codec = tuple[st.SearchStrategy[Any], Callable[[Any], bytes], Callable[[bytes], Any]]
CODECS: dict[str, Codec] = {
    "policy": (policies(), codec.encode_policy, codec.decode_policy),
    "tx": (txs(), codec.encode_tx, codec.decode_tx),
    "header": (headers(), codec.encode_header, codec.decode_header),
    "block": (blocks(), codec.encode_block, codec.decode_block),
    "params": (chain_params(), codec.encode_params, codec.decode_params),
    "genesis": (geneses(), codec.encode_genesis, codec.decode_genesis),
}
NAMES = st.sampled_from(sorted(CODECS))


@SETTINGS
@given(NAMES, st.data())
def test_every_type_round_trips_canonically(name: str, data: st.DataObject) -> None:
    strategy, encode, decode = CODECS[name]
    value = data.draw(strategy)
    encoded = encode(value)
    decoded = decode(encoded)
    assert decoded == value
    assert encode(decoded) == encoded


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(NAMES, st.data())
def test_mutated_encodings_are_rejected_or_canonical_for_another_object(
    name: str, data: st.DataObject
) -> None:
    strategy, encode, decode = CODECS[name]
    value = data.draw(strategy)
    encoded = encode(value)
    mutated = data.draw(mutations(encoded))
    if mutated == encoded:
        return
    try:
        other = decode(mutated)
    except DecodeError:
        event("mutation rejected")
        return
    event("mutation decoded to another object")
    assert other != value
    assert encode(other) == mutated, "a non-canonical encoding was accepted"


@SETTINGS
@given(NAMES, st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_decode_error(name: str, blob: bytes) -> None:
    _, encode, decode = CODECS[name]
    try:
        value = decode(blob)
    except DecodeError:
        return
    assert encode(value) == blob


@SETTINGS
@given(NAMES, msgpack_trees)
def test_arbitrary_msgpack_trees_only_raise_decode_error(name: str, tree: object) -> None:
    _, encode, decode = CODECS[name]
    blob = msgpack.packb(tree, use_bin_type=True)
    try:
        value = decode(blob)
    except DecodeError:
        return
    assert encode(value) == blob


@SETTINGS
@given(NAMES, st.data())
def test_replacing_any_leaf_with_another_type_is_rejected(name: str, data: st.DataObject) -> None:
    """Swap one scalar of a valid tree for a value of a different msgpack type."""
    strategy, encode, decode = CODECS[name]
    tree = _lists(msgpack.unpackb(encode(data.draw(strategy)), use_list=False))
    paths = list(_leaf_paths(tree))
    path = data.draw(st.sampled_from(paths))
    old = _get(tree, path)
    if isinstance(old, int):
        new = data.draw(st.sampled_from([None, True, 1.0, b"\x01", "1", [], {}]))
    elif isinstance(old, bytes):
        new = data.draw(st.sampled_from([None, False, 0, "x", [], 0.5]))
    else:  # text
        new = data.draw(st.sampled_from([None, True, 7, old.encode() or b"x", [], 2.5]))
    _put(tree, path, new)
    try:
        decode(msgpack.packb(tree, use_bin_type=True))
    except DecodeError:
        return
    raise AssertionError(f"{name}: {type(old).__name__} at {path} accepted {new!r}")


def _lists(x: object) -> Any:
    return [_lists(y) for y in x] if isinstance(x, tuple) else x


def _leaf_paths(tree: Any, prefix: tuple[int, ...] = ()) -> Any:
    for i, x in enumerate(tree):
        if isinstance(x, list):
            yield from _leaf_paths(x, (*prefix, i))
        else:
            yield (*prefix, i)


def _get(tree: Any, path: tuple[int, ...]) -> Any:
    for i in path:
        tree = tree[i]
    return tree


def _put(tree: Any, path: tuple[int, ...], value: object) -> None:
    for i in path[:-1]:
        tree = tree[i]
    tree[path[-1]] = value


@SETTINGS
@given(txs(), st.lists(witnesses(), max_size=3))
def test_txid_does_not_change_when_witnesses_change(tx: Tx, wits: list[Witness]) -> None:
    resigned = replace(tx, witnesses=tuple(wits))
    assert codec.txid(resigned) == codec.txid(tx)
    if resigned.witnesses != tx.witnesses:
        assert codec.encode_tx(resigned) != codec.encode_tx(tx)


@given(txs(), st.data())
def test_a_decoded_tx_has_the_txid_and_encoding_of_a_freshly_built_equal_tx(
        tx: Tx, data: st.DataObject) -> None:
    """decode_tx fills the txid memo by slicing the encoding it decoded (no re-pack); the
    answers must equal those computed from scratch for an equal Tx built anew."""
    encoded = codec.pack(codec.tx_obj(tx))
    if data.draw(st.booleans()):  # bytes never seen by the decode memo: force a fresh decode
        codec._decoded_txs.pop(encoded, None)
    decoded = codec.decode_tx(encoded)
    fresh = replace(decoded)  # equal by value, a different object: misses the memo
    assert fresh is not decoded
    core = codec.pack(codec.tx_obj(fresh)[:-1])  # every field but the witnesses (last)
    assert codec.txid(decoded) == codec.txid(fresh) == codec.sha256(core)
    assert codec.encode_tx(decoded) == codec.encode_tx(fresh) == encoded
