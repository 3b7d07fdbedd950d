"""Chain parameters: defaults in range, every bound enforced, and the encoding order fixed."""

from __future__ import annotations

from dataclasses import fields

import msgpack
import pytest

from consensus.codec import decode_params, encode_params, params_hash, tx_size
from consensus.errors import DecodeError, FaircoopError, ParamsError
from consensus.params import PARAM_NAMES, PARAM_RANGES, ChainParams, check_param
from consensus.types import MAX_AMOUNT, MAX_MEMO, MAX_POLICY_KEYS, OutPoint, TxId
from tests.builders import key, make_tx, multisig


def test_every_field_has_a_range_in_declaration_order() -> None:
    assert tuple(f.name for f in fields(ChainParams)) == PARAM_NAMES
    assert set(PARAM_RANGES) == set(PARAM_NAMES)
    for lo, hi in PARAM_RANGES.values():
        assert isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi


def test_defaults_are_inside_their_ranges() -> None:
    p = ChainParams()
    for name in PARAM_NAMES:
        lo, hi = PARAM_RANGES[name]
        assert lo <= getattr(p, name) <= hi


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_both_bounds_are_inclusive_and_one_past_is_rejected(name: str) -> None:
    lo, hi = PARAM_RANGES[name]
    p = ChainParams()
    assert getattr(p.with_value(name, lo), name) == lo
    assert getattr(p.with_value(name, hi), name) == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ParamsError, match=f"{name}={bad} is outside its range"):
            p.with_value(name, bad)
        with pytest.raises(ParamsError):
            ChainParams(**{name: bad})


@pytest.mark.parametrize("bad", [1.0, "1", None, True, False, b"\x01"],
                         ids=["float", "str", "none", "true", "false", "bytes"])
def test_non_integers_are_rejected(bad: object) -> None:
    with pytest.raises(ParamsError, match="must be an integer"):
        check_param("min_fee_rate", bad)
    with pytest.raises(ParamsError):
        ChainParams(min_fee_rate=bad)  # type: ignore[arg-type]


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(ParamsError, match="unknown parameter"):
        ChainParams().with_value("block_reward", 50)
    with pytest.raises(ParamsError, match="unknown parameter"):
        check_param("", 1)
    with pytest.raises(ParamsError, match="unknown parameter"):
        check_param(["min_fee_rate"], 1)  # type: ignore[arg-type]
    assert issubclass(ParamsError, FaircoopError)


def test_with_value_returns_a_copy() -> None:
    p = ChainParams()
    q = p.with_value("min_fee_rate", 7)
    assert q.min_fee_rate == 7 and p.min_fee_rate == 1
    assert q != p and params_hash(q) != params_hash(p)
    assert q.as_tuple()[0] == 7 and q.as_tuple()[1:] == p.as_tuple()[1:]


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_out_of_range_value_in_an_encoding_is_a_decode_error(name: str) -> None:
    lo, hi = PARAM_RANGES[name]
    good = encode_params(ChainParams().with_value(name, hi))
    assert decode_params(good).as_tuple() == ChainParams().with_value(name, hi).as_tuple()
    tree = list(msgpack.unpackb(good))
    tree[1 + PARAM_NAMES.index(name)] = hi + 1
    with pytest.raises(DecodeError, match=name):
        decode_params(msgpack.packb(tree))


def test_the_smallest_max_tx_size_fits_two_spends_of_the_largest_policy() -> None:
    """Governance can't freeze a 16-of-16 treasury by shrinking max_tx_size."""
    keys = [key(200 + i) for i in range(MAX_POLICY_KEYS)]
    biggest = multisig(MAX_POLICY_KEYS, keys)
    spends = [(OutPoint(TxId(b"\xff" * 32), 2**32 - 1 - i), biggest, keys) for i in range(2)]
    tx = make_tx(spends, [(b"\xff" * 32, MAX_AMOUNT)] * 2, chain_id="c" * 64,
                 memo=b"m" * MAX_MEMO)
    assert tx_size(tx) <= PARAM_RANGES["max_tx_size"][0]
