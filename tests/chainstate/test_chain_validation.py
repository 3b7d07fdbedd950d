"""Header-chain validation and the chain state's own encoding, from tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from consensus.chain import (
    check_not_future,
    make_block,
    proposal_time,
    validate_block,
    validate_header,
)
from consensus.chainstate import (
    ChainState,
    chain_state_obj,
    decode_chain_state,
    encode_chain_state,
    genesis_state,
    next_state,
)
from consensus.codec import block_hash, pack
from consensus.errors import DecodeError, ValidationError
from consensus.governance import AddValidator, SetParam, encode_action
from consensus.ledger import assemble_block
from consensus.params import ChainParams
from consensus.types import Block, BlockHeader, Hash32, PublicKey
from consensus.votes import decode_certificate, encode_certificate
from tests.chainstate.harness import GENESIS_TIME, Net, fake_block_id, make_genesis, names, pub


def test_genesis_state_orders_the_voting_set_and_picks_proposers() -> None:
    genesis = make_genesis("DCBA", ("G1", "G0"), 2)
    state = genesis_state(genesis)
    keys = state.voting_set()
    assert keys == tuple(sorted(keys)) and names(keys) == "ABCD"
    assert state.governors == tuple(sorted((pub("G0"), pub("G1"))))
    assert state.quorum() == 3
    assert state.proposer_rotation() == keys
    assert [state.proposer(1, r) for r in range(5)] == [keys[(1 + r) % 4] for r in range(5)]
    with pytest.raises(ValidationError):
        state.proposer(5, 0)
    assert state.validators_at(1) == keys and state.validators_at(2) is None


@pytest.mark.parametrize(("n", "quorum"), [(1, 1), (2, 2), (3, 3), (4, 3), (7, 5)])
def test_quorum_for_small_sets(n: int, quorum: int) -> None:
    state = genesis_state(make_genesis("ABCDEFG"[:n], ("G0",), 1))
    assert state.quorum() == quorum


def test_duplicate_genesis_validator_is_refused() -> None:
    genesis = make_genesis("AB", ("G0",), 1)
    genesis = replace(genesis, validators=(*genesis.validators, genesis.validators[0]))
    with pytest.raises(ValidationError, match="duplicate_validator"):
        genesis_state(genesis)


Mutation = Callable[[BlockHeader, ChainState], BlockHeader]

HEADER_CASES: list[tuple[str, Mutation, str]] = [
    ("chain id", lambda h, s: replace(h, chain_id="other"), "wrong_chain"),
    ("height", lambda h, s: replace(h, height=h.height + 1), "wrong_height"),
    ("parent", lambda h, s: replace(h, prev_hash=fake_block_id("x")), "wrong_parent"),
    ("time equal to parent", lambda h, s: replace(h, time_ms=s.last_block_time_ms),
     "time_out_of_bounds"),
    ("time before parent", lambda h, s: replace(h, time_ms=s.last_block_time_ms - 5),
     "time_out_of_bounds"),
    ("time beyond drift",
     lambda h, s: replace(h, time_ms=s.last_block_time_ms + s.params.max_clock_drift_ms + 1),
     "time_out_of_bounds"),
    ("validators hash", lambda h, s: replace(h, validators_hash=Hash32(bytes(32))),
     "validators_hash_mismatch"),
    ("next validators hash", lambda h, s: replace(h, next_validators_hash=Hash32(bytes(32))),
     "next_validators_hash_mismatch"),
    ("params hash", lambda h, s: replace(h, params_hash=Hash32(bytes(32))),
     "params_hash_mismatch"),
    ("proposer outside the set", lambda h, s: replace(h, proposer=pub("Q")),
     "proposer_not_validator"),
]


@pytest.mark.parametrize(("what", "mutate", "rule"), HEADER_CASES,
                         ids=[c[0] for c in HEADER_CASES])
def test_header_rules(what: str, mutate: Mutation, rule: str) -> None:
    net = Net.of()
    net.commit()
    good = net.build().header
    validate_header(net.state, good, block_hash(good))
    bad = mutate(good, net.state)
    with pytest.raises(ValidationError) as info:
        validate_header(net.state, bad)
    assert info.value.rule == rule


def test_header_time_bounds_are_inclusive_at_the_drift() -> None:
    net = Net.of()
    s = net.state
    edge = s.last_block_time_ms + s.params.max_clock_drift_ms
    validate_header(s, replace(net.build().header, time_ms=edge))
    assert proposal_time(s, edge + 60_000) == edge  # after a stall: parent + drift
    assert proposal_time(s, 0) == s.last_block_time_ms + 1
    with pytest.raises(ValidationError, match="time_in_future"):
        check_not_future(replace(net.build().header, time_ms=edge), 100, edge - 101)


def test_block_id_must_be_the_header_hash() -> None:
    net = Net.of()
    header = net.build().header
    with pytest.raises(ValidationError, match="block_id_mismatch"):
        validate_header(net.state, header, fake_block_id("other"))


def _rebuilt(block: Block, **changes: object) -> Block:
    fields = {"txs": block.txs, "last_commit": block.last_commit, "evidence": block.evidence,
              "actions": block.actions}
    fields.update(changes)
    return assemble_block(block.header, **fields)  # type: ignore[arg-type]


def test_last_commit_rules() -> None:
    net = Net.of()
    first = net.build()
    carrying = _rebuilt(first, last_commit=b"\x01")
    with pytest.raises(ValidationError, match="unexpected_last_commit"):
        validate_block(net.state, carrying, block_hash(carrying.header), net.utxo)
    net.commit()
    net.commit()
    block = net.build()
    cert = decode_certificate(block.last_commit)
    cases = {
        "missing": b"",
        "below quorum": encode_certificate(replace(cert, signatures=cert.signatures[:1])),
        "wrong block": encode_certificate(replace(cert, block_id=fake_block_id("x"))),
        "bad signature": encode_certificate(replace(
            cert, signatures=((0, cert.signatures[1][1]), *cert.signatures[1:]))),
    }
    rules = {"missing": "certificate_malformed", "below quorum": "certificate_below_quorum",
             "wrong block": "certificate_wrong_block", "bad signature": "certificate_bad_signature"}
    for what, last_commit in cases.items():
        bad = _rebuilt(block, last_commit=last_commit)
        with pytest.raises(ValidationError) as info:
            validate_block(net.state, bad, block_hash(bad.header), net.utxo)
        assert info.value.rule == rules[what], what


def test_body_commitments_are_checked() -> None:
    net = Net.of()
    block = net.build()
    tampered = replace(block, actions=(b"junk",))
    with pytest.raises(ValidationError, match="actions_hash_mismatch"):
        validate_block(net.state, tampered, block_hash(block.header), net.utxo)


def test_next_state_refuses_a_block_that_does_not_extend_the_tip() -> None:
    net = Net.of()
    block = net.build()
    net.commit()
    with pytest.raises(ValidationError, match="not_next_block"):
        next_state(net.state, block, block_hash(block.header))


def test_params_change_reaches_the_header_at_h_plus_2() -> None:
    net = Net.of()
    action = encode_action(net.action(SetParam("max_clock_drift_ms", 2_000), ("G0", "G1")))
    net.commit(actions=(action,))
    assert net.state.params.max_clock_drift_ms == 10_000
    assert net.state.upcoming.params.max_clock_drift_ms == 2_000
    net.commit()
    assert net.state.params.max_clock_drift_ms == 2_000
    late = replace(net.build().header, time_ms=net.state.last_block_time_ms + 2_001)
    with pytest.raises(ValidationError, match="time_out_of_bounds"):
        validate_header(net.state, late)


def test_state_encoding_round_trips_through_a_run() -> None:
    net = Net.of("ABCD")
    states = [net.state]
    add = encode_action(net.action(AddValidator("coop-E", pub("E")), ("G0", "G2")))
    net.commit(actions=(add,))
    states.append(net.state)
    for r in (0, 1, 0, 2, 0):
        net.commit(round_=r, signers="ABCD" if r else None)
        states.append(net.state)
    assert net.voting() == "ABCDE"
    for s in states:
        data = encode_chain_state(s)
        assert decode_chain_state(data) == s
        assert encode_chain_state(decode_chain_state(data)) == data


def test_state_decoding_is_strict() -> None:
    net = Net.of()
    net.commit()
    net.commit(round_=1)
    data = encode_chain_state(net.state)
    with pytest.raises(DecodeError):
        decode_chain_state(data + b"\x00")
    obj = list(chain_state_obj(net.state))  # type: ignore[arg-type]
    participation = obj[10]
    assert isinstance(participation, tuple)
    obj[10] = tuple(reversed(participation))
    with pytest.raises(DecodeError, match="participation"):
        decode_chain_state(pack(tuple(obj)))
    obj = list(chain_state_obj(net.state))  # type: ignore[arg-type]
    obj[0] = 2
    with pytest.raises(DecodeError, match="version"):
        decode_chain_state(pack(tuple(obj)))


def test_make_block_commits_to_what_the_state_expects() -> None:
    genesis = make_genesis("AB", ("G0",), 1, ChainParams())
    state = genesis_state(genesis)
    block = make_block(state, PublicKey(pub("A")), GENESIS_TIME + 1)
    validate_header(state, block.header, block_hash(block.header))
    assert block.header.height == 1 and block.last_commit == b""
