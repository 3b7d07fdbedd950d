"""Hypothesis over every decoder of untrusted bytes: consensus objects, governance actions,
chain state, P2P envelopes and payloads, the last-signed record, validator sets, and the
storage records.

For each decoder the input is one of: arbitrary bytes; an arbitrary msgpack tree (so the
structure is plausible and the field checks are what is tested); or a real, valid encoding
(`samples.py`) with a byte flipped, bytes inserted or removed, or truncated. Whatever comes in:

- the decoder returns, or raises an error of the FaircoopError hierarchy (DecodeError for the
  canonical decoders) — never KeyError, IndexError, TypeError, ValueError, RecursionError...;
- if it returns, re-encoding gives back exactly the input (one canonical encoding per object),
  for every decoder that has an encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.chainstate import decode_chain_state, encode_chain_state
from consensus.errors import DecodeError, FaircoopError
from consensus.evidence import decode_evidence, encode_evidence
from consensus.governance import decode_block_action, encode_block_action
from consensus.votes import (
    decode_certificate,
    decode_proposal,
    decode_vote,
    encode_certificate,
    encode_proposal,
    encode_vote,
)
from faircoop_node.net import envelope as env
from faircoop_node.node.signing import decode_signed_record, encode_signed_record
from faircoop_node.storage import schema
from tests.fuzz.samples import samples
from tests.fuzz.strategies import mutated, packb, trees
from wallet.receipts import decode_validator_set, encode_validator_set

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True, slots=True)
class Decoder:
    kind: str  # the key of its valid samples in samples.py
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes] | None  # None: no canonical re-encoding to compare with
    errors: tuple[type[Exception], ...] = (DecodeError,)


def _envelope_bytes(e: env.Envelope) -> bytes:
    return env.encode_envelope(e.msg_type, e.payload)


DECODERS = (
    Decoder("tx", codec.decode_tx, codec.encode_tx),
    Decoder("header", codec.decode_header, codec.encode_header),
    Decoder("block", codec.decode_block, codec.encode_block),
    Decoder("policy", codec.decode_policy, codec.encode_policy),
    Decoder("params", codec.decode_params, codec.encode_params),
    Decoder("genesis", codec.decode_genesis, codec.encode_genesis),
    Decoder("vote", decode_vote, encode_vote),
    Decoder("proposal", decode_proposal, encode_proposal),
    Decoder("certificate", decode_certificate, encode_certificate),
    Decoder("evidence", decode_evidence, encode_evidence),
    Decoder("action", decode_block_action, encode_block_action),
    Decoder("chain_state", decode_chain_state, encode_chain_state),
    Decoder("envelope", env.decode_envelope, _envelope_bytes),
    Decoder("hello", env.decode_hello, env.encode_hello),
    Decoder("auth", env.decode_auth, env.encode_auth),
    Decoder("reject", env.decode_reject, env.encode_reject),
    Decoder("status", env.decode_status, env.encode_status),
    Decoder("get_blocks", env.decode_get_blocks, env.encode_get_blocks),
    Decoder("block_range", env.decode_block_range, env.encode_block_range),
    Decoder("proposal_message", env.decode_proposal_message, env.encode_proposal_message),
    Decoder("txs", env.decode_txs, env.encode_txs),
    Decoder("signed_record", decode_signed_record, encode_signed_record),
    Decoder("validator_set", decode_validator_set, encode_validator_set, (FaircoopError,)),
    Decoder("credit_transfer", codec.decode_credit_transfer, codec.encode_tx),
    Decoder("block_tx", codec.decode_block_tx, codec.encode_tx),
    Decoder("credit_block", codec.decode_block, codec.encode_block),
    Decoder("credit_action", decode_block_action, encode_block_action),
    Decoder("credit_params", codec.decode_params, codec.encode_params),
)

# The storage layer's fixed-width records: garbage in the database is CorruptStore (a
# FaircoopError), never a crash. No samples: any bytes will do.
STORE_DECODERS: tuple[tuple[str, Callable[[bytes], Any]], ...] = (
    ("block_record", lambda v: schema.decode_block_record(v, b"k")),
    ("schema", schema.decode_schema),
    ("tip", schema.decode_tip),
    ("utxo", lambda v: schema.decode_utxo(v, b"k")),
    ("tx_location", lambda v: schema.decode_tx_location(v, b"k")),
    ("addr_utxo", lambda v: schema.decode_addr_utxo(v, b"k")),
    ("summary", lambda v: schema.decode_summary(v, b"k")),
    ("fee", lambda v: schema.decode_fee(v, b"k")),
    ("evidence_record", lambda v: schema.decode_evidence(v, b"k")),
    ("hash", lambda v: schema.decode_hash(v, b"k", "hash")),
    ("credit_account", lambda v: schema.decode_credit_account(v, b"k")),
    ("credit_line", lambda v: schema.decode_credit_line(v, b"k")),
    ("credit_totals", lambda v: schema.decode_credit_totals(v, b"k")),
)

def _inputs(kind: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), trees.map(packb), mutated(samples()[kind]),
                     mutated(samples()[kind]))


def test_every_sample_decodes_and_reencodes_exactly() -> None:
    """The starting points are valid, so mutating them explores near-valid inputs."""
    for d in DECODERS:
        for raw in samples()[d.kind]:
            obj = d.decode(raw)
            assert d.encode is None or d.encode(obj) == raw, d.kind


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.kind)
@SETTINGS
@given(data=st.data())
def test_decoder_takes_any_bytes_without_crashing(decoder: Decoder, data: st.DataObject) -> None:
    raw = data.draw(_inputs(decoder.kind), label="input")
    try:
        obj = decoder.decode(raw)
    except decoder.errors:
        return
    if decoder.encode is not None:
        assert decoder.encode(obj) == raw, "a second encoding of one object was accepted"


@pytest.mark.parametrize("name,decode", STORE_DECODERS, ids=[n for n, _ in STORE_DECODERS])
@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=120))
def test_storage_record_decoder_reports_corruption_not_a_crash(
        name: str, decode: Callable[[bytes], Any], raw: bytes) -> None:
    try:
        value = decode(raw)
    except FaircoopError as exc:
        assert str(exc), f"{name}: a corruption error must say what is wrong"
        return
    assert value is not None
