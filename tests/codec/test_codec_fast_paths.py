"""The decode memos and the spliced block decoder change speed only, never results.

`decode_block` first tries `_decode_block_spliced` (each tx through `decode_tx` and its memo of
recently decoded encodings), then the strict whole-object path. These properties pin that the
two agree on every input: the same Block for valid bytes, a DecodeError for everything else,
whether or not the txs were decoded (memoized) before.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.errors import DecodeError
from consensus.types import Block, OutPoint, Tx, TxId
from tests.builders import key, lock, make_block, make_header, make_tx, single
from tests.codec.strategies import blocks, msgpack_trees, mutations, txs

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def strict(data: bytes) -> Block | DecodeError:
    try:
        return codec.decode_canonical(data, "block", codec.block_from)
    except DecodeError as exc:
        return exc


def fast(data: bytes) -> Block | DecodeError:
    try:
        return codec.decode_block(data)
    except DecodeError as exc:
        return exc


def same(a: Block | DecodeError, b: Block | DecodeError) -> bool:
    if isinstance(a, DecodeError) or isinstance(b, DecodeError):
        return isinstance(a, DecodeError) and isinstance(b, DecodeError) and str(a) == str(b)
    return a == b


@SETTINGS
@given(blocks(), st.booleans())
def test_spliced_decoder_round_trips(block: Block, warm: bool) -> None:
    encoded = codec.encode_block(block)
    if warm:
        for tx in block.txs:
            codec.decode_tx(codec.encode_tx(tx))
    else:
        codec._decoded_txs.clear()
    assert codec._decode_block_spliced(encoded) == block
    assert codec.decode_block(encoded) == block


@SETTINGS
@given(blocks(), st.data(), st.booleans())
def test_mutated_blocks_decode_the_same_on_both_paths(block: Block, data: st.DataObject,
                                                      warm: bool) -> None:
    encoded = codec.encode_block(block)
    if warm:
        for tx in block.txs:
            codec.decode_tx(codec.encode_tx(tx))
    mutated = data.draw(mutations(encoded))
    assert same(fast(mutated), strict(mutated))
    spliced = codec._decode_block_spliced(mutated)
    assert spliced is None or spliced == strict(mutated)


@pytest.mark.parametrize("junk", [b"", b"\x95", b"\x95\xc0\xc0\xc0\xc0\xc0", b"\xdc\x00\x05",
                                  b"\x96" + b"\xc0" * 6, bytearray(b"\x95")])
def test_junk_is_refused_with_the_strict_message(junk: bytes) -> None:
    assert codec._decode_block_spliced(bytes(junk)) is None
    with pytest.raises(DecodeError) as fast_exc:
        codec.decode_block(junk)
    assert isinstance(strict(junk), DecodeError)
    assert str(fast_exc.value) == str(strict(junk))


def test_a_non_canonical_tx_array_header_is_refused() -> None:
    """[header, txs, ...] with the tx count in a 16-bit header where a fixarray would do."""
    block = Block(header=make_header(), txs=(), last_commit=b"", evidence=(), actions=())
    good = codec.encode_block(block)
    head = codec.encode_header(block.header)
    bad = good[:1] + head + b"\xdc\x00\x00" + good[1 + len(head) + 1:]
    assert codec._decode_block_spliced(bad) is None
    with pytest.raises(DecodeError, match="canonical"):
        codec.decode_block(bad)


def test_decode_tx_memo_returns_equal_txs_and_ignores_non_bytes() -> None:
    block = _block_with_tx()
    raw = codec.encode_tx(block.txs[0])
    assert codec.decode_tx(raw) == block.txs[0]
    assert codec.decode_tx(raw) is codec.decode_tx(raw)
    assert codec.decode_tx(bytearray(raw)) == block.txs[0]
    with pytest.raises(DecodeError):
        codec.decode_tx("not bytes")  # type: ignore[arg-type]


def _block_with_tx() -> Block:
    k = key(1)
    tx = make_tx([(OutPoint(TxId(bytes(32)), 0), single(k), [k])], [(lock(single(k)), 5_000)])
    return make_block([tx])


def strict_tx(data: bytes) -> Tx | DecodeError:
    try:
        return codec.decode_canonical(data, "tx", lambda o: codec._tx_from_strict(o, "tx"))
    except DecodeError as exc:
        return exc


def fast_tx(data: bytes) -> Tx | DecodeError:
    codec._decoded_txs.clear()
    try:
        return codec.decode_tx(data)
    except DecodeError as exc:
        return exc


@SETTINGS
@given(txs(), st.data())
def test_fast_tx_decoder_agrees_with_the_strict_one(tx: Tx, data: st.DataObject) -> None:
    encoded = codec.encode_tx(tx)
    assert fast_tx(encoded) == tx == strict_tx(encoded)
    mutated = data.draw(mutations(encoded))
    a, b = fast_tx(mutated), strict_tx(mutated)
    if isinstance(a, DecodeError) or isinstance(b, DecodeError):
        assert isinstance(a, DecodeError) and isinstance(b, DecodeError)
        assert str(a) == str(b)
    else:
        assert a == b


@SETTINGS
@given(msgpack_trees)
def test_fast_tx_builder_accepts_only_what_the_strict_one_accepts(tree: object) -> None:
    fast = codec._tx_from_fast(tree)
    if fast is not None:
        assert fast == codec._tx_from_strict(tree, "tx")
