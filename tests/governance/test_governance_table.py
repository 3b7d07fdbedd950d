"""Governance voting tables, in the manner of go-ethereum clique's `TestClique`.

Each case starts a chain from a genesis (validators "A".., governors "G0"..), then commits one
block per step carrying the step's actions, each signed by the named governors. A step may
expect its block to be rejected with a given rule (the chain then stays where it was). After
the steps the table commits two empty blocks, so every action has reached its h+2, and checks
the voting set, governors, threshold and parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from consensus.errors import ValidationError
from consensus.governance import (
    ActionBody,
    AddValidator,
    ReadmitValidator,
    RekeyValidator,
    RemoveValidator,
    SetGovernors,
    SetParam,
    SetTreasury,
    encode_action,
)
from consensus.params import ChainParams
from consensus.types import Lock
from tests.chainstate.harness import Net, names, pub, register

TREASURY_B = Lock(bytes(range(32)))


@dataclass(frozen=True)
class Act:
    """One action: what, signed by whom, with which nonce (None: the next one)."""

    body: ActionBody
    signers: tuple[str, ...] = ("G0", "G1")
    nonce: int | None = None
    replay: int | None = None  # re-include the encoded action of this earlier step instead


@dataclass(frozen=True)
class Step:
    actions: tuple[Act, ...] = ()
    fails: str | None = None  # the rule the block breaks, if it is rejected
    voting: str | None = None  # the voting set right after this block (h+1's)
    next_voting: str | None = None  # and the one after (h+2's)


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    voting: str  # voting set at the end
    validators: str = "ABC"
    governors: tuple[str, ...] = ("G0", "G1", "G2")
    threshold: int = 2
    end_governors: tuple[str, ...] | None = None
    end_threshold: int | None = None
    params: dict[str, int] = field(default_factory=dict)


def add(name: str) -> AddValidator:
    register(name)
    return AddValidator(f"coop-{name}", pub(name))


def remove(name: str) -> RemoveValidator:
    return RemoveValidator(pub(name))


def govs(*gs: str) -> tuple[bytes, ...]:
    register(*gs)
    return tuple(sorted(pub(g) for g in gs))


CASES: tuple[Case, ...] = (
    Case("add one validator", (Step((Act(add("D")),)),), voting="ABCD"),
    Case("remove one validator", (Step((Act(remove("C")),)),), voting="AB"),
    Case("single governor signature is below a 2-of-3 threshold",
         (Step((Act(add("D"), ("G0",)),), fails="below_threshold"),), voting="ABC"),
    Case("no signature at all is below threshold",
         (Step((Act(add("D"), ()),), fails="below_threshold"),), voting="ABC"),
    Case("a non-governor's signature invalidates the action",
         (Step((Act(add("D"), ("G0", "G1", "X9")),), fails="not_a_governor"),), voting="ABC"),
    Case("activation at h+2: not in force at h+1, in force at h+2",
         (Step((Act(add("D")),), voting="ABC", next_voting="ABCD"),
          Step(voting="ABCD", next_voting="ABCD")), voting="ABCD"),
    Case("concurrent proposals in one block both apply",
         (Step((Act(add("D")), Act(add("E"), ("G1", "G2")))),), voting="ABCDE"),
    Case("concurrent proposals signed against the same nonce: the second is a replay",
         (Step((Act(add("D"), nonce=7), Act(add("E"), nonce=7)),
               fails="replayed_action"),), voting="ABC"),
    Case("proposals in consecutive blocks take effect in consecutive heights",
         (Step((Act(add("D")),), voting="ABC", next_voting="ABCD"),
          Step((Act(remove("A")),), voting="ABCD", next_voting="BCD")), voting="BCD"),
    Case("the same validator added twice while the first is still pending",
         (Step((Act(add("D")),)), Step((Act(add("D")),), fails="already_validator")),
         voting="ABCD"),
    Case("replayed action: the same bytes again in a later block",
         (Step((Act(add("D")),)), Step((Act(add("D"), replay=0),), fails="replayed_action")),
         voting="ABCD"),
    Case("replayed remove after re-adding is still refused",
         (Step((Act(remove("C")),)), Step((Act(add("C")),)), Step(),
          Step((Act(remove("C"), replay=0),), fails="replayed_action")), voting="ABC"),
    Case("nonces may come out of order but never twice",
         (Step((Act(add("D"), nonce=5),)), Step((Act(add("E"), nonce=2),)),
          Step((Act(remove("D"), nonce=5),), fails="replayed_action")), voting="ABCDE"),
    Case("a nonce too far ahead is refused",
         (Step((Act(add("D"), nonce=10_000),), fails="nonce_too_far"),), voting="ABC"),
    Case("removed governors can't sign once the change is in force",
         (Step((Act(SetGovernors(govs("G1", "G2", "G3"), 2)),)), Step(), Step(),
          Step((Act(add("D"), ("G0", "G1")),), fails="not_a_governor"),
          Step((Act(add("D"), ("G1", "G3")),))),
         voting="ABCD", end_governors=("G1", "G2", "G3"), end_threshold=2),
    Case("old governors still sign at h+1, before the change is in force",
         (Step((Act(SetGovernors(govs("G3"), 1)),)), Step((Act(add("D"), ("G0", "G1")),)),
          Step((Act(add("E"), ("G0", "G1")),), fails="not_a_governor"),
          Step((Act(add("E"), ("G3",)),))),
         voting="ABCDE", end_governors=("G3",), end_threshold=1),
    Case("raising the threshold makes two signatures too few",
         (Step((Act(SetGovernors(govs("G0", "G1", "G2"), 3)),)), Step(),
          Step((Act(add("D"), ("G0", "G1")),), fails="below_threshold"),
          Step((Act(add("D"), ("G0", "G1", "G2")),))),
         voting="ABCD", end_threshold=3),
    Case("a threshold above the governor count is refused",
         (Step((Act(SetGovernors(govs("G0"), 2)),), fails="bad_threshold"),), voting="ABC"),
    Case("set a parameter inside its range",
         (Step((Act(SetParam("min_fee_rate", 5)),)),), voting="ABC",
         params={"min_fee_rate": 5}),
    Case("a parameter outside its range is refused",
         (Step((Act(SetParam("quarantine_after", 0)),), fails="param_out_of_range"),
          Step((Act(SetParam("max_block_size", 10**12)),), fails="param_out_of_range"),
          Step((Act(SetParam("no_such_param", 1)),), fails="param_out_of_range")),
         voting="ABC"),
    Case("the later of two parameter changes wins",
         (Step((Act(SetParam("heartbeat_ms", 1_000)), Act(SetParam("heartbeat_ms", 2_000)))),),
         voting="ABC", params={"heartbeat_ms": 2_000}),
    Case("rekey keeps the coop, changes its key",
         (Step((Act(RekeyValidator(pub("C"), pub("Z"))),)),), voting="ABZ"),
    Case("rekey onto a key already validating is refused",
         (Step((Act(RekeyValidator(pub("C"), pub("A"))),), fails="already_validator"),),
         voting="ABC"),
    Case("readmitting a validator that was never suspended is refused",
         (Step((Act(ReadmitValidator(pub("A"))),), fails="not_suspended"),), voting="ABC"),
    Case("removing down to one validator, and not beyond",
         (Step((Act(remove("B")), Act(remove("C")))),
          Step((Act(remove("A")),), fails="last_validator"), Step()), voting="A"),
    Case("removing an unknown validator is refused",
         (Step((Act(remove("Q")),), fails="not_a_validator"),), voting="ABC"),
    Case("a validator set of one governs itself",
         (Step((Act(add("B"), ("G0",)),)), Step((Act(remove("A"), ("G0",)),))),
         validators="A", governors=("G0",), threshold=1, voting="B"),
    Case("a validator set of two: both must certify, and a third can join",
         (Step((Act(add("C")),)), Step()), validators="AB", voting="ABC"),
    Case("a validator set of three shrinks to two",
         (Step((Act(remove("A")),)),), validators="ABC", voting="BC"),
    Case("treasury lock change",
         (Step((Act(SetTreasury(TREASURY_B)),)),), voting="ABC"),
)


def run_case(case: Case) -> Net:
    net = Net.of(case.validators, case.governors, case.threshold)
    included: dict[int, bytes] = {}
    for i, step in enumerate(case.steps):
        encoded: list[bytes] = []
        for act in step.actions:
            if act.replay is not None:
                encoded.append(included[act.replay])
            else:
                encoded.append(encode_action(net.action(act.body, act.signers, act.nonce)))
        if step.fails:
            before = net.state
            with pytest.raises(ValidationError) as info:
                net.commit(actions=tuple(encoded))
            assert info.value.rule == step.fails, f"step {i}: {info.value}"
            assert net.state is before
            continue
        net.commit(actions=tuple(encoded))
        if encoded:
            included[i] = encoded[0]
        if step.voting is not None:
            assert net.voting() == step.voting, f"step {i}: voting set"
        if step.next_voting is not None:
            assert net.next_voting() == step.next_voting, f"step {i}: next voting set"
    net.commit()
    net.commit()
    return net


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_governance_table(case: Case) -> None:
    net = run_case(case)
    state = net.state
    assert net.voting() == case.voting
    assert names(state.upcoming.validator_keys()) == case.voting
    expected_governors = case.end_governors or case.governors
    assert state.governors == tuple(sorted(pub(g) for g in expected_governors))
    assert state.governor_threshold == (case.end_threshold or case.threshold)
    expected_params = ChainParams()
    for name, value in case.params.items():
        expected_params = expected_params.with_value(name, value)
    assert state.params == expected_params
    if case.name == "treasury lock change":
        assert state.treasury_lock == TREASURY_B
    # the coop names survive every change: rekeyed validators keep theirs
    by_key = {v.pubkey: v.name for v in state.validators}
    if "Z" in case.voting:
        assert by_key[pub("Z")] == "coop-C"
