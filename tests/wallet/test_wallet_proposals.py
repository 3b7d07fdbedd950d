"""Governance proposals as a library: the file, what an action does in words, signing one by
one, combining copies, and every refusal (pure: no node)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.address import encode_address
from consensus.codec import policy_lock
from consensus.crypto import PrivateKey
from consensus.governance import (
    ActionBody,
    AddValidator,
    ReadmitValidator,
    Reference,
    RekeyValidator,
    RemoveValidator,
    SetGovernors,
    SetParam,
    SetTreasury,
    encode_action,
    make_action,
)
from consensus.params import ChainParams
from consensus.types import Lock, PublicKey, SpendPolicy, Validator
from wallet import proposals
from wallet.errors import (
    BadAction,
    BadReference,
    ChainMismatch,
    NotAGovernor,
    ProposalChanged,
    ProposalError,
    ProposalIncomplete,
)
from wallet.proposals import GovernanceView, Proposal

CHAIN = "faircoop-test"
GENESIS = bytes(range(32))
KEYS = [PrivateKey((100 + i).to_bytes(32, "big")) for i in range(5)]
PUBS = [PublicKey(k.public_key) for k in KEYS]
GOVS = tuple(sorted(PUBS[:3]))
REF = Reference("https://coop.example/assembly/7", "Assembly of 2026-11-20, item 7")
COOPS = (Validator("coop-1", PUBS[3]), Validator("coop-2", PUBS[4]))
VIEW = GovernanceView("the test", 41, GOVS, 2, COOPS, ChainParams(), Lock(bytes(32)))
TREASURY = policy_lock(SpendPolicy.single(PUBS[0]))


def new(body: ActionBody, nonce: int = 7, reference: Reference = REF) -> Proposal:
    return proposals.new_action("test", GENESIS, CHAIN, nonce, body, reference)


def recovery() -> Proposal:
    return proposals.new_recovery("test", GENESIS, CHAIN, 41, bytes([9]) * 32,
                                  [COOPS[0], Validator("Coop Six", PUBS[0])], REF)


BODIES: list[tuple[ActionBody, str, str]] = [
    (AddValidator("Coop Five", PUBS[0]), "add_validator",
     f"adds coop 'Coop Five' ({PUBS[0].hex()}) to the validators"),
    (RemoveValidator(PUBS[3]), "remove_validator",
     f"removes coop 'coop-1' ({PUBS[3].hex()}) from the validators"),
    (RemoveValidator(PUBS[0]), "remove_validator",
     f"removes the validator {PUBS[0].hex()} from the validators"),
    (RekeyValidator(PUBS[4], PUBS[0]), "rekey_validator",
     f"moves coop 'coop-2' ({PUBS[4].hex()}) to the new key {PUBS[0].hex()}"),
    (ReadmitValidator(PUBS[0]), "readmit_validator",
     f"readmits the suspended validator {PUBS[0].hex()}"),
    (SetParam("block_interval_ms", 500), "set_param",
     "sets the chain parameter block_interval_ms to 500 (allowed 0..60000; it is 200 now)"),
    (SetGovernors(GOVS, 2), "set_governors",
     f"replaces the governors by 3 key(s): {', '.join(k.hex() for k in GOVS)}; 2 of them"),
    (SetTreasury(TREASURY), "set_treasury",
     f"makes {encode_address(TREASURY, 'test')} the commons treasury"),
]


@pytest.mark.parametrize(("body", "kind", "words"), BODIES)
def test_each_action_is_said_in_words(body: ActionBody, kind: str, words: str) -> None:
    d = proposals.describe(new(body), VIEW)
    assert d.kind == kind and words in d.summary
    assert "2 blocks after the block that includes it" in d.effective
    assert d.as_json()["reference"] == {"uri": REF.uri, "text": REF.text}


def test_a_recovery_is_said_in_words() -> None:
    d = proposals.describe(recovery(), VIEW)
    assert d.kind == "recovery"
    assert d.summary.startswith("RECOVERY: replaces the whole voting set, after the last final "
                                f"block (height 41, {'09' * 32}), by 2 coop(s): 'coop-1'")
    assert "for height 42 on, once the chain has made no block for recovery_after_ms (3600 s)" \
        in d.effective
    assert d.warnings == ()  # made against the view's tip


@pytest.mark.parametrize("proposal", [new(b) for b, _, _ in BODIES] + [recovery()],
                         ids=[k for _, k, _ in BODIES] + ["recovery"])
def test_a_proposal_file_round_trips(tmp_path: Path, proposal: Proposal) -> None:
    signed, _ = proposals.sign(proposal, KEYS[0])
    path = tmp_path / "p.json"
    proposals.save_proposal(path, signed)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert proposals.load_proposal(path) == signed
    doc = json.loads(path.read_text())
    assert doc["format"] == "faircoop-governance-proposal" and doc["version"] == 1
    assert doc["signers"] == [PUBS[0].hex()] and doc["digest"] == signed.digest.hex()
    assert bytes.fromhex(doc["action"]) == signed.encoded()


@pytest.mark.parametrize(("body", "message"), [
    (AddValidator("Coop Five", PublicKey(b"\x02" + bytes(32))), "not a valid public key"),
    (AddValidator("", PUBS[0]), "1 to 64 printable characters"),
    (AddValidator("x" * 65, PUBS[0]), "name"),
    (AddValidator("Coop\x1b[2JFive", PUBS[0]), "printable"),
    (RekeyValidator(PUBS[0], PUBS[0]), "the same key"),
    (SetParam("block_speed", 1), "block_speed"),
    (SetParam("block_interval_ms", 60_001), "block_interval_ms"),
    (SetGovernors(GOVS, 0), "--threshold must be 1 to 3"),
    (SetGovernors(GOVS, 4), "--threshold must be 1 to 3"),
    (SetGovernors((), 1), "1 to 255 governors"),
    (SetGovernors((GOVS[1], GOVS[0]), 1), "sorted"),
])
def test_a_bad_action_is_refused_before_anyone_signs(body: ActionBody, message: str) -> None:
    with pytest.raises(BadAction, match=message):
        new(body)


@pytest.mark.parametrize(("uri", "text", "message"), [
    ("", "t", "--ref .* must be 1 to 200 characters, not 0"),
    ("u" * 201, "t", "--ref .* not 201"),
    ("u", "", "--note .* not 0"),
    ("u", "t" * 201, "--note .* not 201"),
    ("u", "a\x1b[2Jb", "control character"),
    ("https://x/\n", "t", "control character"),
])
def test_an_oversize_or_unprintable_reference_is_refused(uri: str, text: str,
                                                         message: str) -> None:
    with pytest.raises(BadReference, match=message):
        new(AddValidator("Coop Five", PUBS[0]), reference=Reference(uri, text))


def test_a_reference_of_200_characters_each_is_fine() -> None:
    p = new(AddValidator("Coop Five", PUBS[0]), reference=Reference("u" * 200, "é" * 200))
    assert p.reference.text == "é" * 200


def _doc(p: Proposal) -> dict[str, object]:
    return dict(json.loads(proposals.to_json(p)))


V1 = make_action(CHAIN, 7, AddValidator("Coop Five", PUBS[0]), (KEYS[0],))


@pytest.mark.parametrize(("raw", "message"), [
    (b"{", "invalid JSON"),
    (b"[1]", "not a faircoop governance proposal file"),
    (b"\xff\xfe", "not UTF-8"),
    (b" " * (proposals.MAX_FILE_BYTES + 1), "over 1 MiB: not a governance proposal file"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "version": 2}).encode(),
     "version 2; this wallet reads 1"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "network": "moon"}).encode(),
     "network must be one of"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "genesis_hash": "00"}).encode(),
     "genesis_hash: 32 bytes"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "action": "zz"}).encode(),
     "action: not hex"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "action": "9601"}).encode(),
     "the action does not decode"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "action": encode_action(V1).hex()}
                ).encode(), "carries no assembly reference"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "nonce": 8}).encode(),
     "'nonce' does not match its action"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "kind": "add_validator"}).encode(),
     "'kind' does not match"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))), "signers": [PUBS[0].hex()]}).encode(),
     "'signers' does not match"),
    (json.dumps({**_doc(new(SetParam("dust_limit", 5))),
                 "reference": {"uri": "https://elsewhere", "text": REF.text}}).encode(),
     "'reference' does not match"),
])
def test_a_malformed_or_edited_file_is_refused(tmp_path: Path, raw: bytes,
                                               message: str) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(raw)
    with pytest.raises(ProposalError, match=message) as caught:
        proposals.load_proposal(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_reference_over_the_bound_in_a_file_does_not_decode(tmp_path: Path) -> None:
    """A hand-made action whose reference is 201 characters, signed and all: refused."""
    long = make_action(CHAIN, 7, AddValidator("Coop Five", PUBS[0]), (KEYS[0],),
                       reference=Reference("u", "t"))
    raw = encode_action(long).replace(b"\xa1t", b"\xd9\xc9" + b"t" * 201)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({**_doc(new(SetParam("dust_limit", 5))), "action": raw.hex()}))
    with pytest.raises(ProposalError, match="the action does not decode.*reference.text"):
        proposals.load_proposal(path)


def test_signing_twice_adds_nothing() -> None:
    once, added = proposals.sign(new(SetParam("dust_limit", 5)), KEYS[0])
    twice, again = proposals.sign(once, KEYS[0])
    assert (added, again) == (True, False) and twice == once


@pytest.mark.parametrize("change", ["body", "nonce", "reference"])
def test_a_change_after_signing_breaks_the_signatures(change: str) -> None:
    signed, _ = proposals.sign(new(AddValidator("Coop Five", PUBS[0])), KEYS[0])
    action = signed.action
    assert not isinstance(action, proposals.RecoveryAction)
    edited = {"body": replace(action, body=AddValidator("Coop Evil", PUBS[1])),
              "nonce": replace(action, nonce=8),
              "reference": replace(action, reference=Reference("https://evil", "x"))}[change]
    tampered = replace(signed, action=edited)
    for refusal in (lambda: proposals.check_signatures(tampered),
                    lambda: proposals.sign(tampered, KEYS[1]),
                    lambda: proposals.combine([signed, tampered])):
        with pytest.raises((ProposalChanged, ProposalError)):
            refusal()
    with pytest.raises(ProposalChanged, match=f"signature of {PUBS[0].hex()} does not match"):
        proposals.check_signatures(tampered)


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(3)), st.integers(min_value=1, max_value=3))
def test_signatures_do_not_depend_on_who_signs_first(order: list[int], copies: int) -> None:
    """Signing in any order, on one file or on separate copies combined, gives the same bytes."""
    base = new(AddValidator("Coop Five", PUBS[3]))
    sequential = base
    for i in range(3):
        sequential, _ = proposals.sign(sequential, KEYS[i])
    parts = []
    for n, i in enumerate(order):
        part = base if n < copies else parts[-1]
        parts.append(proposals.sign(part, KEYS[i])[0])
    merged = proposals.combine(parts)
    assert merged.encoded() == sequential.encoded()
    assert proposals.combine(list(reversed(parts))).encoded() == sequential.encoded()


@pytest.mark.parametrize(("other", "message"), [
    (new(AddValidator("Coop Five", PUBS[0]), nonce=8), "copy 2 proposes another action"),
    (new(AddValidator("Coop Six", PUBS[0])), "copy 2 proposes another action"),
    (new(AddValidator("Coop Five", PUBS[0]), reference=Reference("u", "t")), "another action"),
    (replace(new(AddValidator("Coop Five", PUBS[0])), genesis_hash=bytes(32)), "another action"),
])
def test_copies_of_different_actions_do_not_combine(other: Proposal, message: str) -> None:
    with pytest.raises(ProposalError, match=message):
        proposals.combine([new(AddValidator("Coop Five", PUBS[0])), other])


def test_check_chain_names_what_differs() -> None:
    p = new(SetParam("dust_limit", 5))
    proposals.check_chain(p, CHAIN, "test", GENESIS)
    with pytest.raises(ChainMismatch, match="for chain 'faircoop-test' .test., not 'other'"):
        proposals.check_chain(p, "other", "test", GENESIS)
    with pytest.raises(ChainMismatch, match="another chain of the same name"):
        proposals.check_chain(p, CHAIN, "test", bytes(32))


@pytest.mark.parametrize(("signers", "error", "message"), [
    ([0], ProposalIncomplete, "1 of the 2 governor signatures"),
    ([], ProposalIncomplete, "0 of the 2"),
    ([0, 3], NotAGovernor, f"{PUBS[3].hex()} signed, but is not a current governor"),
    ([0, 1], None, ""),
    ([0, 1, 2], None, ""),
])
def test_complete_means_t_governors_and_nobody_else(signers: list[int],
                                                    error: type[Exception] | None,
                                                    message: str) -> None:
    p = new(SetParam("dust_limit", 5))
    for i in signers:
        p, _ = proposals.sign(p, KEYS[i])
    if error is None:
        proposals.check_complete(p, GOVS, 2)
    else:
        with pytest.raises(error, match=message):
            proposals.check_complete(p, GOVS, 2)


def test_the_description_counts_and_marks_signers() -> None:
    p = new(SetParam("dust_limit", 5))
    p, _ = proposals.sign(p, KEYS[0])
    p, _ = proposals.sign(p, KEYS[3])  # not a governor
    d = proposals.describe(p, VIEW, names={PUBS[0]: "Ana"}, own=PUBS[0])
    lines = {s.pubkey: s for s in d.signers}
    assert (lines[PUBS[0]].name, lines[PUBS[0]].you, lines[PUBS[0]].governor) == \
        ("Ana", True, True)
    assert lines[PUBS[3]].governor is False
    assert (d.remaining, d.complete) == (1, False)
    assert any("is not a current governor" in w for w in d.warnings)
    offline = proposals.describe(p)
    assert (offline.remaining, offline.complete, offline.threshold) == (None, None, None)
    assert offline.as_json()["governors_checked"] is False


def test_the_description_warns_when_the_chain_would_refuse_it() -> None:
    d = proposals.describe(new(AddValidator("coop-1", PUBS[0])), VIEW)
    assert any("duplicate_coop_name" in w for w in d.warnings)
    stale = proposals.describe(recovery(), replace(VIEW, height=45))
    assert any("made against height 41, but the tip is 45" in w for w in stale.warnings)


def test_names_and_references_from_a_file_are_shown_escaped() -> None:
    sneaky = make_action(CHAIN, 7, AddValidator("Coop\x1b[2J", PUBS[0]),
                         reference=Reference("https://x\x1b[31m", "ok\x07"))
    d = proposals.describe(Proposal("test", GENESIS, sneaky))
    assert "\x1b" not in d.summary and "Coop\\x1b[2J" in d.summary
    assert proposals.printable("a\x1b\u202eb") == "a\\x1b\\u202eb"


def test_default_notes_fit_the_reference_bound() -> None:
    many = SetGovernors(tuple(sorted(PUBS)), 3)
    note = proposals.default_note(many, "test")
    assert len(note) == 200 and note.endswith("...")
    assert proposals.default_note([COOPS[0], "Coop Six=02ab"], "test") == \
        "recovery: a new voting set of 2: coop-1, Coop Six"
