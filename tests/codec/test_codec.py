"""Table tests for the canonical codec: every rejection class, with the DecodeError's message.

Each row builds a hostile encoding from a valid object (by editing its msgpack tree or its bytes)
and names the words the error must contain, so a decoder that rejects for the wrong reason fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.credit import credit_sighash, new_transfer, sign_credit_transfer
from consensus.crypto import PrivateKey
from consensus.errors import CryptoError, DecodeError
from consensus.governance import SetCreditLimit, body_obj
from consensus.ledger import tx_sighash
from consensus.merkle import merkle_root
from consensus.params import PARAM_NAMES, ChainParams
from consensus.types import MAX_MEMO, OutPoint, SpendPolicy, Tx, TxId, Witness
from tests.builders import (
    key,
    lock,
    make_block,
    make_genesis,
    make_header,
    make_tx,
    multisig,
    sign,
    single,
    unsigned_tx,
)

# -- fixtures built from explicit state -------------------------------------------------------

K = [key(i) for i in range(4)]
POLICY = multisig(2, K[:3])
GENESIS = make_genesis([(lock(single(K[0])), 5_000_000), (lock(POLICY), 7_000_000)],
                       validators=K[:2])
OP = (codec.genesis_hash(GENESIS), 0)
TX = make_tx(
    [(OutPoint(TxId(OP[0]), 0), single(K[0]), [K[0]]),
     (OutPoint(TxId(OP[0]), 1), POLICY, [K[0], K[2]])],
    [(lock(single(K[1])), 4_000_000), (lock(POLICY), 7_990_000)],
    memo=b"coop lunch",
)
HEADER = make_header(height=7, proposer=K[1])
BLOCK = make_block([TX], height=7, last_commit=b"\x01\x02", evidence=(b"ev",), actions=(b"a1",))
PARAMS = ChainParams()
CREDIT = sign_credit_transfer(
    new_transfer(TX.chain_id, lock(POLICY), 3, [(lock(single(K[1])), 250_000_000),
                                                (lock(single(K[3])), 1)], b"invoice 12"),
    POLICY, [K[0], K[2]])

# name -> (decoder, encoder, valid value)
TYPES: dict[str, tuple[Callable[[bytes], object], Callable[[object], bytes], object]] = {
    "policy": (codec.decode_policy, codec.encode_policy, POLICY),
    "tx": (codec.decode_tx, codec.encode_tx, TX),
    "header": (codec.decode_header, codec.encode_header, HEADER),
    "block": (codec.decode_block, codec.encode_block, BLOCK),
    "params": (codec.decode_params, codec.encode_params, PARAMS),
    "genesis": (codec.decode_genesis, codec.encode_genesis, GENESIS),
    "credit_transfer": (codec.decode_credit_transfer, codec.encode_tx, CREDIT),
}


def _tree(value: object) -> tuple[object, ...]:
    """The msgpack tree of a valid encoding, as nested lists so a row can edit it."""

    def to_list(x: object) -> object:
        return [to_list(y) for y in x] if isinstance(x, tuple) else x

    tree = to_list(msgpack.unpackb(TYPES_ENC[type(value).__name__](value), use_list=False))
    assert isinstance(tree, list)
    return tree


TYPES_ENC: dict[str, Callable[[object], bytes]] = {
    "SpendPolicy": codec.encode_policy,
    "Tx": codec.encode_tx,
    "BlockHeader": codec.encode_header,
    "Block": codec.encode_block,
    "ChainParams": codec.encode_params,
    "Genesis": codec.encode_genesis,
    "CreditTransfer": codec.encode_tx,
}


def _pack(tree: object) -> bytes:
    return msgpack.packb(tree, use_bin_type=True)


def _wider_array_header(tree: list[object], data: bytes) -> bytes:
    """The same array under a header one size wider than the shortest (array16 for a fixarray,
    array32 for an array16): a non-minimal encoding of the same value."""
    if data[0] == 0xDC:
        return b"\xdd" + len(tree).to_bytes(4, "big") + data[3:]
    return b"\xdc" + len(tree).to_bytes(2, "big") + data[1:]


def _rejects(decode: Callable[[bytes], object], data: object, *words: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(data)
    message = str(info.value)
    for w in words:
        assert w in message, f"{message!r} should say {w!r}"


# -- round trips of the fixtures (the property tests cover random values) --------------------


@pytest.mark.parametrize("name", list(TYPES))
def test_fixture_round_trips_and_is_canonical(name: str) -> None:
    decode, encode, value = TYPES[name]
    data = encode(value)
    assert decode(data) == value
    assert encode(decode(data)) == data
    assert decode(bytearray(data)) == value  # buffer types are accepted, bytes are compared


# -- generic rejection classes, for every type -------------------------------------------------


GENERIC: dict[str, tuple[Callable[[list[object], bytes], object], tuple[str, ...]]] = {
    "map": (lambda t, b: _pack({"fields": t}), ("maps are not allowed",)),
    "empty_map": (lambda t, b: _pack({}), ("expected an array, got a map",)),
    "missing_field": (lambda t, b: _pack(t[:-1]), ("missing fields",)),
    "extra_field": (lambda t, b: _pack([*t, 0]), ("extra fields",)),
    "trailing_bytes": (lambda t, b: b + b"\x00", ("trailing bytes",)),
    "truncated": (lambda t, b: b[:-1], ("truncated",)),
    "empty_input": (lambda t, b: b"", ("truncated",)),
    "not_an_array": (lambda t, b: _pack(5), ("expected an array, got an integer",)),
    "nil": (lambda t, b: _pack(None), ("expected an array, got nil",)),
    "array16_header": (lambda t, b: _wider_array_header(t, b), ("not the canonical encoding",)),
    "ext_type": (lambda t, b: _pack(msgpack.ExtType(1, b"xx")), ("ext types are not allowed",)),
    "reserved_byte": (lambda t, b: b"\xc1", ("reserved type byte",)),
    "deep_nesting": (lambda t, b: b"\x91" * 100_000 + b"\x00", ("nested too deeply",)),
    "not_bytes": (lambda t, b: b.hex(), ("expected bytes, got str",)),
}


@pytest.mark.parametrize("kind", list(GENERIC))
@pytest.mark.parametrize("name", list(TYPES))
def test_every_type_rejects_generic_malformations(name: str, kind: str) -> None:
    decode, encode, value = TYPES[name]
    build, words = GENERIC[kind]
    data = encode(value)
    _rejects(decode, build(_tree(value), data), name, *words)


@pytest.mark.parametrize("name", ["policy", "tx", "header", "params", "genesis",
                                  "credit_transfer"])
def test_every_versioned_type_rejects_another_version(name: str) -> None:
    decode, _, value = TYPES[name]
    tree = _tree(value)
    unread = 3 if name in ("tx", "params") else 2  # a version 2 tx creates a campaign; params
    tree[0] = unread  # have versions 1 and 2 (credit)
    _rejects(decode, _pack(tree), f"unsupported version {unread}")


@pytest.mark.parametrize("name", ["policy", "tx", "header", "params", "genesis"])
def test_version_as_boolean_float_or_nil_is_rejected(name: str) -> None:
    decode, _, value = TYPES[name]
    for bad, word in ((True, "a boolean"), (1.0, "a float"), (None, "nil"), (b"\x01", "bytes")):
        tree = _tree(value)
        tree[0] = bad
        _rejects(decode, _pack(tree), "version", f"expected an integer, got {word}")


# -- field-specific rows: (decoder, edit of the tree or bytes, words in the message) ---------

TX_TREE = _tree(TX)
TX_BYTES = codec.encode_tx(TX)
CHAIN = TX.chain_id.encode()


def _tx_with(path: tuple[int, ...], new: object) -> bytes:
    tree = _tree(TX)
    target: list[object] = tree
    for i in path[:-1]:
        target = target[i]
    target[path[-1]] = new
    return _pack(tree)


def _non_minimal(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


TX_ROWS: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("chain_id_as_bin", _tx_with((1,), CHAIN), ("tx.chain_id", "expected text, got bytes")),
    ("memo_as_str", _tx_with((4,), "coop lunch"), ("tx.memo", "expected bytes, got text")),
    ("lock_as_str", _tx_with((3, 0, 1), "x" * 32), ("tx.outputs[0].lock", "got text")),
    ("chain_id_as_int", _tx_with((1,), 7), ("tx.chain_id", "expected text, got an integer")),
    ("amount_float", _tx_with((3, 0, 0), 1.5), ("tx.outputs[0].amount", "got a float")),
    ("amount_bool", _tx_with((3, 0, 0), True), ("tx.outputs[0].amount", "got a boolean")),
    ("amount_nil", _tx_with((3, 0, 0), None), ("tx.outputs[0].amount", "got nil")),
    ("amount_zero", _tx_with((3, 0, 0), 0), ("tx.outputs[0].amount", "outside")),
    ("amount_negative", _tx_with((3, 0, 0), -5), ("tx.outputs[0].amount", "outside")),
    ("amount_over_max", _tx_with((3, 0, 0), 10**17 + 1), ("tx.outputs[0].amount", "outside")),
    ("index_over_u32", _tx_with((2, 0, 1), 2**32), ("tx.inputs[0].index", "outside")),
    ("index_negative", _tx_with((2, 0, 1), -1), ("tx.inputs[0].index", "outside")),
    ("inputs_as_map", _tx_with((2,), {}), ("tx.inputs", "got a map")),
    ("input_missing_index", _tx_with((2, 0), [OP[0]]), ("tx.inputs[0]", "missing fields")),
    ("input_extra_field", _tx_with((2, 0), [OP[0], 0, 0]), ("tx.inputs[0]", "extra fields")),
    ("txid_31_bytes", _tx_with((2, 0, 0), b"\x00" * 31), ("tx.inputs[0].txid", "32 bytes")),
    ("lock_33_bytes", _tx_with((3, 0, 1), b"\x00" * 33), ("tx.outputs[0].lock", "32 bytes")),
    ("memo_81_bytes", _tx_with((4,), b"m" * (MAX_MEMO + 1)),
     ("tx.memo", f"{MAX_MEMO + 1} bytes is over the limit of {MAX_MEMO}")),
    ("memo_nil", _tx_with((4,), None), ("tx.memo", "got nil")),
    ("chain_id_upper", _tx_with((1,), "Faircoop"), ("tx.chain_id", "lower-case")),
    ("chain_id_empty", _tx_with((1,), ""), ("tx.chain_id", "length must be 1 to 64")),
    ("chain_id_65", _tx_with((1,), "a" * 65), ("tx.chain_id", "length must be 1 to 64")),
    ("chain_id_newline", _tx_with((1,), "abc\n"), ("tx.chain_id", "lower-case")),
    ("str_over_1024", _tx_with((1,), "a" * 1025), ("oversize value", "max_str_len")),
    ("array_over_limit", b"\x96\x01" + msgpack.packb("faircoop-test")
     + b"\xdd" + (codec.MAX_ARRAY + 1).to_bytes(4, "big"), ("oversize value", "max_array_len")),
    ("bad_utf8", _non_minimal(TX_BYTES, b"\xad" + CHAIN, b"\xad" + b"\xff" * len(CHAIN)),
     ("not valid UTF-8",)),
    ("version_uint8", _non_minimal(TX_BYTES, b"\x96\x01", b"\x96\xcc\x01"),
     ("not the canonical encoding",)),
    ("chain_id_str8", _non_minimal(TX_BYTES, b"\xad" + CHAIN, b"\xd9\x0d" + CHAIN),
     ("not the canonical encoding",)),
    ("memo_bin16", _non_minimal(TX_BYTES, b"\xc4\x0acoop lunch", b"\xc5\x00\x0acoop lunch"),
     ("not the canonical encoding",)),
    ("index_uint64",
     _non_minimal(TX_BYTES, OP[0] + b"\x01", OP[0] + b"\xcf" + (1).to_bytes(8, "big")),
     ("not the canonical encoding",)),
    ("amount_uint64", _non_minimal(TX_BYTES, b"\xce" + (4_000_000).to_bytes(4, "big"),
                                   b"\xcf" + (4_000_000).to_bytes(8, "big")),
     ("not the canonical encoding",)),
    ("positive_as_int8", _non_minimal(TX_BYTES, b"\x96\x01", b"\x96\xd0\x01"),
     ("not the canonical encoding",)),
    ("amount_as_float32", _non_minimal(TX_BYTES, b"\xce" + (4_000_000).to_bytes(4, "big"),
                                       b"\xca" + bytes.fromhex("4a742400")),
     ("tx.outputs[0].amount", "got a float")),
    ("witness_sigs_descending", _tx_with((5, 1, 1), [TX_TREE[5][1][1][1],
                                                     TX_TREE[5][1][1][0]]),
     ("tx.witnesses[1].signatures", "strictly ascending")),
    ("witness_sig_key_out_of_policy", _tx_with((5, 0, 1, 0, 0), 1),
     ("tx.witnesses[0].signatures[0].key", "outside [0, 0]")),
    ("witness_sig_63_bytes", _tx_with((5, 0, 1, 0, 1), b"\x00" * 63),
     ("tx.witnesses[0].signatures[0].sig", "expected 64 bytes")),
    ("witness_policy_unsorted", _tx_with((5, 1, 0, 2), list(reversed(TX_TREE[5][1][0][2]))),
     ("tx.witnesses[1].policy", "sorted and unique")),
    ("witness_policy_threshold_0", _tx_with((5, 1, 0, 1), 0),
     ("tx.witnesses[1].policy", "threshold")),
    ("witness_policy_threshold_over_n", _tx_with((5, 1, 0, 1), 4),
     ("tx.witnesses[1].policy", "threshold")),
    ("witness_policy_no_keys", _tx_with((5, 0, 0, 2), []),
     ("tx.witnesses[0].policy", "1 to 16 keys")),
    ("witness_policy_17_keys",
     _tx_with((5, 0, 0, 2), [bytes([2, i]) + bytes(31) for i in range(17)]),
     ("tx.witnesses[0].policy", "1 to 16 keys")),
    ("witness_policy_256_keys", _tx_with((5, 0, 0, 2), [b"\x02" * 33] * 256),
     ("tx.witnesses[0].policy.pubkeys", "over the limit of 255")),
    ("witness_policy_key_32_bytes", _tx_with((5, 0, 0, 2, 0), b"\x02" * 32),
     ("tx.witnesses[0].policy.pubkeys[0]", "expected 33 bytes")),
]


@pytest.mark.parametrize(("case", "data", "words"), TX_ROWS, ids=[r[0] for r in TX_ROWS])
def test_tx_rejection_table(case: str, data: bytes, words: tuple[str, ...]) -> None:
    _rejects(codec.decode_tx, data, *words)


def _tree_of(value: object) -> list[object]:
    return _tree(value)


def _set(tree: list[object], path: tuple[int, ...], new: object) -> bytes:
    target: list[object] = tree
    for i in path[:-1]:
        target = target[i]
    target[path[-1]] = new
    return _pack(tree)


OTHER_ROWS: list[tuple[str, str, tuple[int, ...], object, tuple[str, ...]]] = [
    # (case, type, path in its tree, new value, words)
    ("header_height_float", "header", (2,), 7.0, ("header.height", "got a float")),
    ("header_prev_hash_str", "header", (3,), "0" * 32, ("header.prev_hash", "got text")),
    ("header_tx_root_short", "header", (5,), b"\x00" * 31, ("header.tx_root", "32 bytes")),
    ("header_proposer_32", "header", (12,), b"\x02" * 32, ("header.proposer", "33 bytes")),
    ("header_time_negative", "header", (4,), -1, ("header.time_ms", "outside")),
    ("block_tx_as_map", "block", (1, 0), {}, ("block.txs[0]", "got a map")),
    ("block_evidence_str", "block", (3, 0), "ev", ("block.evidence[0]", "got text")),
    ("block_last_commit_nil", "block", (2,), None, ("block.last_commit", "got nil")),
    ("block_header_missing", "block", (0,), [], ("block.header", "missing fields")),
    ("block_tx_memo_long", "block", (1, 0, 4), b"m" * 81, ("block.txs[0].memo", "limit of 80")),
    ("params_out_of_range", "params", (1,), 10**7, ("params", "min_fee_rate", "outside its range")),
    ("params_bool", "params", (2,), False, ("params.dust_limit", "got a boolean")),
    ("params_zero_dust", "params", (2,), 0, ("params", "dust_limit", "outside its range")),
    ("genesis_network", "genesis", (2,), "moon", ("genesis.network", "must be one of")),
    ("genesis_network_bin", "genesis", (2,), b"test", ("genesis.network", "got bytes")),
    ("genesis_threshold_0", "genesis", (7,), 0, ("genesis.governor_threshold", "outside")),
    ("genesis_threshold_over", "genesis", (7,), 3, ("genesis.governor_threshold", "outside")),
    ("genesis_validator_name_empty", "genesis", (5, 0, 0), "", ("genesis.validators[0].name",)),
    ("genesis_validator_name_long", "genesis", (5, 0, 0), "n" * 65,
     ("genesis.validators[0].name", "1 to 64")),
    ("genesis_allocation_zero", "genesis", (4, 0, 0), 0, ("genesis.allocations[0].amount",)),
    ("genesis_supply_over_max", "genesis", (4,), [[10**17, bytes(32)], [1, bytes(32)]],
     ("genesis.allocations", "total supply is over")),
    ("genesis_params_extra", "genesis", (8,), [1, *PARAMS.as_tuple()[:13], 5],
     ("genesis.params", "extra fields")),
    ("genesis_params_missing", "genesis", (8,), [1, *PARAMS.as_tuple()[:12]],
     ("genesis.params", "missing fields")),
    ("genesis_params_v2_missing", "genesis", (8,), [2, *PARAMS.as_tuple()[:13]],
     ("genesis.params", "missing fields")),
    ("genesis_params_v2_implied_credit", "genesis", (8,), [2, *PARAMS.as_tuple()],
     ("genesis.params", "not the canonical encoding")),
    ("genesis_treasury_str", "genesis", (9,), "t" * 32, ("genesis.treasury_lock", "got text")),
    ("genesis_governor_short", "genesis", (6, 0), b"\x02" * 32, ("genesis.governors[0]",)),
    ("policy_threshold_256", "policy", (1,), 256, ("policy.threshold", "outside")),
    ("policy_duplicate_keys", "policy", (2,), [K[0].public_key] * 2, ("sorted and unique",)),
]


@pytest.mark.parametrize(
    ("case", "name", "path", "new", "words"), OTHER_ROWS, ids=[r[0] for r in OTHER_ROWS]
)
def test_other_types_rejection_table(
    case: str, name: str, path: tuple[int, ...], new: object, words: tuple[str, ...]
) -> None:
    decode, _, value = TYPES[name]
    _rejects(decode, _set(_tree_of(value), path, new), *words)


def test_params_field_order_is_the_declared_order() -> None:
    tree = _tree(PARAMS)
    assert tree[0] == codec.PARAMS_VERSION
    assert tree[1:] == [getattr(PARAMS, n) for n in PARAM_NAMES[:13]]
    credit = replace(PARAMS, credit_block_cap=17)
    tree = _tree(credit)
    assert tree[0] == codec.PARAMS_VERSION_CREDIT
    assert tree[1:] == [getattr(credit, n) for n in PARAM_NAMES]
    assert codec.decode_params(codec.encode_params(credit)) == credit


def test_version_1_params_mean_the_credit_parameters_they_always_meant() -> None:
    """A chain made before the credit parameters keeps its params bytes, so its genesis hash,
    headers and stored states: version 1 implies 1, 16 and 64, whatever the defaults become."""
    old = codec.decode_params(bytes.fromhex(
        "9e0101cd03e8ce000186a0cd2710ce007a1200ccc8cd1388cd03e8cd01f4ccfa03ce0036ee80cd2710"))
    assert (old.credit_sender_min_balance, old.credit_block_cap, old.credit_pool_cap) == \
        (1, 16, 64)
    assert codec.encode_params(old)[:1] == b"\x9e"  # 14 elements: version 1


# -- txids, hashes and what they cover ---------------------------------------------------------


def test_txid_ignores_witnesses_but_full_encoding_does_not() -> None:
    bare = replace(TX, witnesses=())
    other_sigs = replace(TX, witnesses=(TX.witnesses[0], Witness(POLICY, ())))
    assert codec.txid(bare) == codec.txid(TX) == codec.txid(other_sigs)
    assert len({codec.encode_tx(bare), codec.encode_tx(TX), codec.encode_tx(other_sigs)}) == 3


@pytest.mark.parametrize(
    "change",
    [
        lambda t: replace(t, chain_id="other-chain"),
        lambda t: replace(t, memo=b"coop dinner"),
        lambda t: replace(t, inputs=t.inputs[::-1]),
        lambda t: replace(t, outputs=t.outputs[:1]),
    ],
    ids=["chain_id", "memo", "input_order", "outputs"],
)
def test_txid_covers_every_non_witness_field(change: Callable[[Tx], Tx]) -> None:
    assert codec.txid(change(TX)) != codec.txid(TX)


def test_txid_is_sha256_of_the_encoding_without_witnesses() -> None:
    bare = replace(TX, witnesses=())
    core = msgpack.unpackb(codec.encode_tx(bare), use_list=False)[:5]
    assert codec.txid(TX) == codec.sha256(_pack(core))


def test_hashes_are_sha256_of_canonical_encodings() -> None:
    assert codec.block_hash(HEADER) == codec.sha256(codec.encode_header(HEADER))
    assert codec.genesis_hash(GENESIS) == codec.sha256(codec.encode_genesis(GENESIS))
    assert codec.params_hash(PARAMS) == codec.sha256(codec.encode_params(PARAMS))
    assert codec.policy_lock(POLICY) == codec.sha256(codec.encode_policy(POLICY))
    assert codec.hash_items((b"a", b"b")) == codec.sha256(_pack([b"a", b"b"]))
    assert codec.validators_hash(GENESIS.validators) == codec.sha256(
        _pack([[v.name, v.pubkey] for v in GENESIS.validators])
    )


def test_multisig_lock_does_not_depend_on_key_order() -> None:
    a = SpendPolicy.multisig(2, [K[2].public_key, K[0].public_key, K[1].public_key])
    assert codec.policy_lock(a) == codec.policy_lock(POLICY)
    assert codec.policy_lock(multisig(1, K[:3])) != codec.policy_lock(POLICY)


def test_unsigned_tx_round_trips() -> None:
    tx = unsigned_tx([OutPoint(TxId(OP[0]), 3)], [(lock(POLICY), 1_000)])
    assert codec.decode_tx(codec.encode_tx(tx)) == tx


# -- spend policies built in memory ------------------------------------------------------------

PUBS = sorted(k.public_key for k in K[:3])


@pytest.mark.parametrize(
    ("threshold", "keys"),
    [
        (0, PUBS),
        (4, PUBS),
        (True, PUBS[:1]),
        (1.0, PUBS),
        (1, []),
        (1, [bytes([2, i]) + bytes(31) for i in range(17)]),
        (1, [PUBS[0], PUBS[0]]),
        (1, [PUBS[0][:32]]),
        (1, [PUBS[0].hex()]),
        (1, [PUBS[0], PUBS[1].hex()]),
        (1, None),
    ],
    ids=["m_zero", "m_over_n", "m_bool", "m_float", "no_keys", "17_keys", "duplicate_key",
         "short_key", "hex_key", "mixed_types", "none"],
)
def test_bad_policies_raise_crypto_error(threshold: object, keys: object) -> None:
    with pytest.raises(CryptoError):
        SpendPolicy.multisig(threshold, keys)  # type: ignore[arg-type]


def test_policy_constructor_insists_on_sorted_tuple() -> None:
    with pytest.raises(CryptoError, match="sorted and unique"):
        SpendPolicy(1, tuple(reversed(PUBS)))  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        SpendPolicy(1, list(PUBS))  # type: ignore[arg-type]
    assert SpendPolicy.multisig(2, list(reversed(PUBS))).pubkeys == tuple(PUBS)


# -- the worked example in docs/PROTOCOL.md, recomputed ----------------------------------------

PROTOCOL_MD = Path(__file__).parents[2] / "docs" / "PROTOCOL.md"


def _worked_example() -> dict[str, str]:
    text = PROTOCOL_MD.read_text()
    block = text.split("## 11. Worked example", 1)[1].split("```", 2)[1]
    pairs = (line.split("=", 1) for line in block.strip().splitlines())
    return {name.strip(): value.strip() for name, value in pairs}


def _credit_example(k: PrivateKey, policy: SpendPolicy) -> dict[str, str]:
    """Key 1's account pays 5 units (5 * 10^8 base units) to key 2's, sequence 0, memo
    "lunch"; and the governance body granting key 1's account a limit of 100 units."""
    payee = codec.policy_lock(SpendPolicy.single(PrivateKey((2).to_bytes(32, "big")).public_key))
    t = new_transfer("faircoop-dev", codec.policy_lock(policy), 0, [(payee, 500_000_000)],
                     b"lunch")
    signed = sign_credit_transfer(t, policy, [k])
    assert signed.witness is not None
    limit = SetCreditLimit(codec.policy_lock(policy), 10_000_000_000)
    return {
        "credit_payee": payee.hex(),
        "credit_unsigned": codec.encode_tx(t).hex(),
        "credit_id": codec.txid(t).hex(),
        "credit_sighash": credit_sighash(t).hex(),
        "credit_signature": signed.witness.signatures[0][1].hex(),
        "credit_signed": codec.encode_tx(signed).hex(),
        "set_credit_limit": codec.pack(body_obj(limit)).hex(),
    }


def test_protocol_md_worked_example() -> None:
    doc = _worked_example()
    k = PrivateKey((1).to_bytes(32, "big"))
    policy = SpendPolicy.single(k.public_key)
    lk = codec.policy_lock(policy)
    tx = unsigned_tx([OutPoint(TxId(bytes(32)), 0)], [(lk, 100_000_000)], chain_id="faircoop-dev")
    signed = sign(tx, [(policy, [k])])
    computed = {
        "pubkey": k.public_key.hex(),
        "policy": codec.encode_policy(policy).hex(),
        "lock": lk.hex(),
        "address_main": encode_address(lk, "main"),
        "address_test": encode_address(lk, "test"),
        "unsigned_tx": codec.encode_tx(tx).hex(),
        "txid": codec.txid(tx).hex(),
        "sighash": tx_sighash(tx).hex(),
        "signature": signed.witnesses[0].signatures[0][1].hex(),
        "signed_tx": codec.encode_tx(signed).hex(),
        "params": codec.encode_params(ChainParams()).hex(),
        "params_hash": codec.params_hash(ChainParams()).hex(),
        "empty_items": codec.hash_items(()).hex(),
        "empty_root": merkle_root([]).hex(),
        **_credit_example(k, policy),
    }
    assert doc == computed
    # The prose claims: the txid hashes the 5-field array, i.e. the unsigned bytes minus the
    # empty witness list, with a 5-element header.
    unsigned = codec.encode_tx(tx)
    assert unsigned[0] == 0x96 and unsigned[-1] == 0x90
    assert codec.txid(tx) == codec.sha256(b"\x95" + unsigned[1:-1])
    assert len(computed["address_main"]) == 64 and len(computed["address_test"]) == 65


def test_byte_string_over_the_32_mib_limit_is_an_oversize_decode_error() -> None:
    tree = _tree(BLOCK)
    tree[2] = b"\x00" * (codec.MAX_BIN + 1)
    _rejects(codec.decode_block, _pack(tree), "block", "oversize value", "max_bin_len")


def test_input_over_the_64_mib_limit_is_refused_before_unpacking() -> None:
    _rejects(codec.decode_block, b"\x00" * (codec.MAX_ENCODED + 1), "over the", "limit")
