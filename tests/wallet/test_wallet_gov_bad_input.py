"""Bad governance input on the wallet side (issue 14, item 9), one table run twice: through
the library as a program calls it, and through the CLI (exit code, JSON kind, message).

A proposal whose action was changed after a governor signed it, a signature by a key that
does not govern, a nonce the chain already used (refused by the node, whose rule is shown),
an action for another chain (by id, or by genesis), a reference over the consensus bound (at
proposing, and inside a file), and too few signatures at submission."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from consensus.crypto import PrivateKey
from consensus.governance import (
    AddValidator,
    Reference,
    SetParam,
    SignedAction,
    encode_action,
    sign_action,
)
from tests.wallet.gov_world import GOVERNOR_KEYS, NEWCOMER, OUTSIDER_KEY, REF, GovWorld, gov_world
from tests.wallet.wallet_cli_harness import PASSWORD
from wallet import proposals
from wallet.errors import (
    ActionRejected,
    BadReference,
    ChainMismatch,
    NotAGovernor,
    ProposalChanged,
    ProposalError,
    ProposalIncomplete,
)
from wallet.proposals import Proposal
from wallet.session import SyncWallet


def _proposal(w: GovWorld, nonce: int = 0, signers: tuple[PrivateKey, ...] = ()) -> Proposal:
    chain = w.fake.chain
    p = proposals.new_action("test", chain.genesis_id, chain.genesis.chain_id, nonce,
                             AddValidator("Coop Five", NEWCOMER), REF)
    for key in signers:
        p, _ = proposals.sign(p, key)
    return p


def _save(w: GovWorld, p: Proposal, name: str = "bad.json") -> str:
    proposals.save_proposal(w.path(name), p)
    return w.path(name)


def tampered(w: GovWorld) -> str:
    """Signed by one governor, then the coop's name changed (the file kept consistent)."""
    p = _proposal(w, signers=(GOVERNOR_KEYS[0],))
    assert isinstance(p.action.body, AddValidator)
    changed = replace(p.action, body=AddValidator("Coop Evil", NEWCOMER))
    return _save(w, replace(p, action=changed))


def outsider(w: GovWorld) -> str:
    return _save(w, _proposal(w, signers=(GOVERNOR_KEYS[0], GOVERNOR_KEYS[1], OUTSIDER_KEY)))


def replayed(w: GovWorld) -> str:
    """Nonce 0, once used by an earlier action, signed again for another."""
    first = proposals.new_action("test", w.fake.chain.genesis_id, w.fake.chain.genesis.chain_id,
                                 0, SetParam("dust_limit", 2000), REF)
    for key in GOVERNOR_KEYS:
        first, _ = proposals.sign(first, key)
    w.fake.chain.submit_action(first.encoded())
    return _save(w, _proposal(w, nonce=0, signers=tuple(GOVERNOR_KEYS)))


def other_chain_id(w: GovWorld) -> str:
    p = proposals.new_action("test", w.fake.chain.genesis_id, "faircoop-elsewhere", 0,
                             AddValidator("Coop Five", NEWCOMER), REF)
    return _save(w, proposals.sign(p, GOVERNOR_KEYS[0])[0])


def other_genesis(w: GovWorld) -> str:
    return _save(w, replace(_proposal(w, signers=(GOVERNOR_KEYS[0],)), genesis_hash=bytes(32)))


def long_reference_in_a_file(w: GovWorld) -> str:
    """An action made by hand around the wallet, its reference text 201 characters long."""
    action = SignedAction(w.fake.chain.genesis.chain_id, 0, AddValidator("Coop Five", NEWCOMER),
                          (), Reference(REF.uri, "t" * 201))  # make_action would refuse it
    for key in GOVERNOR_KEYS:
        action = sign_action(action, key)
    path = _save(w, _proposal(w))
    text = Path(path).read_text()
    Path(path).write_text(text.replace(_proposal(w).encoded().hex(), encode_action(action).hex()))
    return path


def incomplete(w: GovWorld) -> str:
    return _save(w, _proposal(w, signers=(GOVERNOR_KEYS[0],)))


def _review(wallet: SyncWallet, path: str) -> object:
    return wallet.review_proposal(proposals.load_proposal(path))


def _submit(wallet: SyncWallet, path: str) -> object:
    return wallet.submit_proposal(proposals.load_proposal(path))


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[GovWorld], str]
    library: Callable[[SyncWallet, str], object]
    error: type[Exception]
    command: str  # the gov command the CLI runs on the file
    code: int
    kind: str
    says: str


CASES = [
    Case("tampered", tampered, _review, ProposalChanged, "sign", 11, "proposal_changed",
         "was changed after that governor signed"),
    Case("tampered-submit", tampered, _submit, ProposalChanged, "submit", 11,
         "proposal_changed", "was changed after that governor signed"),
    Case("tampered-show", tampered, _review, ProposalChanged, "show", 11, "proposal_changed",
         "does not match this action"),
    Case("non-governor", outsider, _submit, NotAGovernor, "submit", 11, "not_a_governor",
         f"{OUTSIDER_KEY.public_key.hex()} signed, but is not a current governor"),
    Case("replayed-nonce", replayed, _submit, ActionRejected, "submit", 6, "action_rejected",
         "nonce 0 was already used (rule replayed_action)"),
    Case("other-chain-id", other_chain_id, _review, ChainMismatch, "sign", 12,
         "chain_mismatch", "for chain 'faircoop-elsewhere'"),
    Case("other-chain-id-submit", other_chain_id, _submit, ChainMismatch, "submit", 12,
         "chain_mismatch", "for chain 'faircoop-elsewhere'"),
    Case("other-genesis", other_genesis, _review, ChainMismatch, "sign", 12, "chain_mismatch",
         "another chain of the same name"),
    Case("long-reference-in-a-file", long_reference_in_a_file, _review, ProposalError, "show",
         11, "proposal", "reference.text: length must be 1 to 200"),
    Case("incomplete", incomplete, _submit, ProposalIncomplete, "submit", 11,
         "proposal_incomplete", "1 of the 2 governor signatures the action needs"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_through_the_library(tmp_path: Path, case: Case) -> None:
    with gov_world(tmp_path) as w:
        path = case.make(w)
        before = len(w.fake.chain.blocks)
        with SyncWallet(w.tmp / "w0.json", PASSWORD, node=w.url) as wallet, \
                pytest.raises(case.error, match=re.escape(case.says)):
            case.library(wallet, path)
        assert len(w.fake.chain.blocks) == before  # nothing included
        # refused before anything was posted, but for the node's own refusal
        assert len(w.fake.actions_posted) == (case.error is ActionRejected)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_through_the_cli(tmp_path: Path, case: Case) -> None:
    with gov_world(tmp_path) as w:
        path = case.make(w)
        before = Path(path).read_bytes()
        extra = ["--yes"] if case.command == "sign" else []
        r = w.h.run("--json", "gov", case.command, path, *extra)
        assert r.code == case.code, r.err
        assert r.doc["error"]["kind"] == case.kind
        assert case.says in r.doc["error"]["message"]
        assert f"faircoop-wallet: error: {r.doc['error']['message']}" in r.err
        assert Path(path).read_bytes() == before  # nothing written over the file
        if case.kind != "action_rejected":  # refused before anything was posted
            assert w.fake.actions_posted == []


@pytest.mark.parametrize(("ref", "note", "says"), [
    ("u" * 201, "fine", "--ref (the reference's URI) must be 1 to 200 characters, not 201"),
    (REF.uri, "n" * 201, "--note (the reference's text) must be 1 to 200 characters, not 201"),
    (REF.uri, "tab\there", "control character"),
])
def test_an_oversize_reference_is_refused_when_proposing(tmp_path: Path, ref: str, note: str,
                                                         says: str) -> None:
    with gov_world(tmp_path) as w:
        r = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=2000", "--ref", ref,
                    "--note", note, "--out", w.path("p.json"))
        assert (r.code, r.doc["error"]["kind"]) == (2, "bad_reference")
        assert says in r.doc["error"]["message"]
        assert not Path(w.path("p.json")).exists()
        with SyncWallet(w.tmp / "w0.json", node=w.url) as wallet, \
                pytest.raises(BadReference, match="must be 1 to 200|control character"):
            wallet.propose(SetParam("dust_limit", 2000), Reference(ref, note))
