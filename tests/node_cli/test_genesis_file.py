"""Genesis building and the genesis file: strict, canonical, and tamper-evident."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.address import encode_address
from consensus.codec import encode_genesis, genesis_hash, policy_lock
from consensus.crypto import PrivateKey
from consensus.types import Genesis, Lock, SpendPolicy, TxOut, Validator
from faircoop_node.genesis_file import (
    GenesisFileError,
    build_genesis,
    genesis_from_json,
    genesis_to_json,
    load_genesis,
    parse_lock,
    write_genesis,
)

KEYS = [PrivateKey((i + 1).to_bytes(32, "big")) for i in range(6)]
PUBS = [k.public_key for k in KEYS]
LOCK = policy_lock(SpendPolicy.single(PUBS[5]))


def _genesis(**over: object) -> Genesis:
    args: dict[str, object] = dict(
        chain_id="faircoop-test", network="test",
        validators=[Validator(f"coop-{i}", PUBS[i]) for i in (2, 0, 1)],
        governors=[PUBS[4], PUBS[3]], threshold=2,
        allocations=[TxOut(10**9, LOCK), TxOut(5, LOCK)], time_ms=1_700_000_000_000,
    )
    args.update(over)
    return build_genesis(**args)  # type: ignore[arg-type]


def test_build_sorts_sets_and_defaults_the_treasury_to_the_governors_multisig() -> None:
    g = _genesis()
    assert [v.pubkey for v in g.validators] == sorted(PUBS[:3])
    assert list(g.governors) == sorted([PUBS[3], PUBS[4]])
    assert g.treasury_lock == policy_lock(SpendPolicy.multisig(2, [PUBS[3], PUBS[4]]))
    assert g.params.min_fee_rate == 1


def test_params_override_and_explicit_treasury() -> None:
    g = _genesis(params={"heartbeat_ms": 1000, "min_fee_rate": 0}, treasury_lock=LOCK)
    assert (g.params.heartbeat_ms, g.params.min_fee_rate) == (1000, 0)
    assert g.treasury_lock == LOCK


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"chain_id": "Bad Id"}, "chain id"),
        ({"network": "moon"}, "network"),
        ({"validators": []}, "at least one validator"),
        ({"validators": [Validator("a", PUBS[0]), Validator("a", PUBS[1])]}, "names must be"),
        ({"validators": [Validator("a", PUBS[0]), Validator("b", PUBS[0])]}, "invalid genesis"),
        ({"validators": [Validator("a", b"\x02" + b"\x00" * 32)]}, "not a valid public key"),
        ({"governors": []}, "at least one governor"),
        ({"governors": [PUBS[3], PUBS[3]], "threshold": 1}, "unique"),
        ({"threshold": 3}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"allocations": [TxOut(10**17, LOCK), TxOut(1, LOCK)]}, "over the"),
        ({"params": {"heartbeat_ms": 1}}, "params: heartbeat_ms"),
        ({"params": {"nope": 1}}, "unknown parameter"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(over: dict[str, object], message: str) -> None:
    with pytest.raises(GenesisFileError, match=message):
        _genesis(**over)


def test_file_round_trips_and_hash_is_the_codec_hash(tmp_path: Path) -> None:
    g = _genesis()
    path = tmp_path / "genesis.json"
    write_genesis(path, g)
    doc = json.loads(path.read_text())
    assert doc["hash"] == genesis_hash(g).hex()
    assert doc["hex"] == encode_genesis(g).hex()
    assert doc["allocations"][0]["address"] == encode_address(LOCK, "test")
    assert doc["total_supply"] == 10**9 + 5
    assert load_genesis(path) == g


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(chain_id="faircoop-evil"), "field 'chain_id' does not match"),
        (lambda d: d["allocations"][0].update(amount=10**12), "field 'allocations'"),
        (lambda d: d.update(hash="00" * 32), "'hash' is not the hash"),
        (lambda d: d.update(extra=1), "unknown field 'extra'"),
        (lambda d: d.update(format="other/1"), "format must be"),
        (lambda d: d.update(hex=d["hex"][:-2]), "not a valid genesis"),
        (lambda d: d.update(hex="zz"), "not hex"),
        (lambda d: d.pop("hex"), "missing the canonical"),
    ],
)
def test_tampered_files_are_rejected(tmp_path: Path, edit: object, message: str) -> None:
    doc = genesis_to_json(_genesis())
    edit(doc)  # type: ignore[operator]
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(GenesisFileError, match=message):
        load_genesis(path)


def test_unsorted_validators_in_hex_are_rejected() -> None:
    g = _genesis()
    unsorted = replace(g, validators=tuple(reversed(g.validators)))
    doc = genesis_to_json(g)
    doc["hex"] = encode_genesis(unsorted).hex()
    with pytest.raises(GenesisFileError, match="sorted by public key"):
        genesis_from_json(doc)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GenesisFileError, match="does not exist"):
        load_genesis(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(GenesisFileError, match="not valid JSON"):
        load_genesis(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(GenesisFileError, match="expected a JSON object"):
        load_genesis(tmp_path / "list.json")


def test_targets_are_addresses_of_the_network_or_hex_locks() -> None:
    assert parse_lock(encode_address(LOCK, "test"), "test", "x") == LOCK
    assert parse_lock(LOCK.hex(), "main", "x") == LOCK
    with pytest.raises(GenesisFileError, match="main network"):
        parse_lock(encode_address(LOCK, "main"), "test", "x")
    with pytest.raises(GenesisFileError):
        parse_lock("tfair1notanaddress", "test", "x")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=6, unique=True),
    st.lists(st.integers(1, 10**12), max_size=5),
    st.integers(0, 2**48),
)
def test_any_valid_genesis_survives_the_file(tmp_path_factory: pytest.TempPathFactory,
                                             idx: list[int], amounts: list[int],
                                             time_ms: int) -> None:
    g = build_genesis(chain_id="prop-chain", network="test",
                      validators=[Validator(f"v{i}", PUBS[i]) for i in idx],
                      governors=[PUBS[i] for i in idx], threshold=len(idx),
                      allocations=[TxOut(a, Lock(bytes([a % 256]) * 32)) for a in amounts],
                      time_ms=time_ms)
    path = tmp_path_factory.mktemp("g") / "genesis.json"
    write_genesis(path, g)
    assert load_genesis(path) == g
