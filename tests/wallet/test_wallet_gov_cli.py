"""`faircoop-wallet gov` in process, against the fake node: a whole session, each kind of
proposal, offline use, the node's nonce (reported, or computed when it does not say), a
recovery, submission to the inbox, and the JSON every command prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensus.address import encode_address
from consensus.governance import RecoveryAction, decode_block_action
from tests.wallet.gov_world import GOVERNORS, NEWCOMER, OUTSIDER_KEY, REF, GovWorld, gov_world
from tests.wallet.wallet_cli_harness import ACCOUNTS, free_url
from tests.wallet.wallet_fakechain import make_validators
from tests.wallet.wallet_fakenode import serve
from wallet import proposals
from wallet.cli import ExitStatus

DESCRIPTION_KEYS = {
    "kind", "summary", "effective", "chain_id", "network", "genesis_hash", "nonce", "height",
    "last_block_id", "action", "reference", "digest", "signers", "threshold",
    "signatures_remaining", "complete", "governors_checked", "governors_source", "warnings",
    "action_hex"}


@pytest.fixture
def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    with gov_world(tmp_path) as world:
        yield world


def test_a_session_from_proposal_to_history(w: GovWorld) -> None:
    p = w.propose_add()
    shown = w.h.run("--json", "gov", "show", p)
    assert shown.code == 0
    doc = shown.doc
    assert set(doc) == {"ok", "command", "file"} | DESCRIPTION_KEYS
    assert (doc["signatures_remaining"], doc["complete"], doc["threshold"]) == (2, False, 2)
    assert doc["governors_checked"] and doc["nonce"] == 0

    ana = w.h.run("--json", "gov", "sign", p, "--out", w.path("ana.json"), "--yes")
    assert ana.code == 0, ana.err
    assert (ana.doc["added"], ana.doc["signatures_remaining"]) == (True, 1)
    assert ana.doc["signer"] == GOVERNORS[0].hex()  # w0's governor key
    ben = w.h.run("gov", "sign", p, "--out", w.path("ben.json"), wallet="w1", stdin="y\n")
    assert ben.code == 0 and "Proceed? [y/N]" in ben.err
    assert "adds coop 'Coop Five'" in ben.err and REF.uri in ben.err

    both = w.h.run("--json", "gov", "combine", w.path("ana.json"), w.path("ben.json"), "--out",
                   w.path("both.json"))
    assert both.code == 0 and both.doc["complete"] is True
    assert sorted(s["pubkey"] for s in both.doc["signers"]) == sorted(g.hex() for g in GOVERNORS)

    sent = w.h.run("--json", "gov", "submit", w.path("both.json"))
    assert sent.code == 0, sent.err
    assert sent.doc["status"] == "pooled" and sent.doc["id"]
    assert w.fake.actions_posted == [{"action": both.doc["action_hex"]}]

    history = w.h.run("--json", "gov", "history").doc["actions"]
    assert len(history) == 1 and history[0]["kind"] == "add_validator"
    assert history[0]["reference"] == {"uri": REF.uri, "text": REF.text}
    assert history[0]["effective_height"] == history[0]["height"] + 2
    text = w.h.run("gov", "history").out
    assert f"decision: {REF.uri} \"{REF.text}\"" in text
    assert NEWCOMER in [v.pubkey for v in w.fake.chain.state.upcoming.validators]


def test_the_text_of_show_names_signers_and_what_is_missing(w: GovWorld) -> None:
    p = w.propose_add()
    assert w.h.run("gov", "sign", p, "--yes").code == 0
    assert w.h.run("gov", "name", GOVERNORS[0].hex(), "Ana").code == 0
    out = w.h.run("gov", "show", p, wallet="w0").out
    assert f"\n    {GOVERNORS[0].hex()} 'Ana' (you)\n" in out
    assert "1 more signature(s) needed" in out
    assert f"does:      adds coop 'Coop Five' ({NEWCOMER.hex()}) to the validators" in out
    offline = w.h.run("gov", "show", p, "--offline", wallet="w2").out
    assert "followed chain, height 0" in offline  # w2 followed the genesis on restore


KINDS = [
    (["add-validator", "--name", "Coop Five", "--pubkey", NEWCOMER.hex()], "add_validator",
     {"name": "Coop Five", "pubkey": NEWCOMER.hex()}),
    (["remove-validator", "--pubkey", "@validator"], "remove_validator", None),
    (["rekey-validator", "--old", "@validator", "--new", NEWCOMER.hex()], "rekey_validator",
     None),
    (["readmit-validator", "--pubkey", NEWCOMER.hex()], "readmit_validator",
     {"pubkey": NEWCOMER.hex()}),
    (["set-param", "block_interval_ms=500"], "set_param",
     {"name": "block_interval_ms", "value": 500}),
    (["set-governors", GOVERNORS[1].hex(), GOVERNORS[0].hex(), "--threshold", "1"],
     "set_governors", {"governors": sorted(g.hex() for g in GOVERNORS), "threshold": 1}),
    (["set-treasury", "@address"], "set_treasury", None),
    (["set-credit-limit", "@address", "100"], "set_credit_limit", None),
    (["recovery", "--validator", "@name", "--validator", f"Coop Six={NEWCOMER.hex()}"],
     "recovery", None),
]


@pytest.mark.parametrize(("argv", "kind", "action"), KINDS, ids=[k for _, k, _ in KINDS])
def test_each_kind_of_action_is_proposed_from_the_command_line(
        w: GovWorld, argv: list[str], kind: str, action: dict[str, object] | None) -> None:
    validator = w.fake.chain.state.validators[0]
    address = encode_address(ACCOUNTS[1].watch().lock(0, 0), "test")
    argv = [{"@validator": validator.pubkey.hex(), "@address": address,
             "@name": validator.name}.get(a, a) for a in argv]
    r = w.h.run("--json", "gov", "propose", *argv, "--ref", REF.uri, "--out", w.path("k.json"))
    assert r.code == 0, r.err
    assert r.doc["kind"] == kind and r.doc["reference"]["uri"] == REF.uri
    assert r.doc["reference"]["text"]  # the default note: what the action does
    if action is not None:
        assert r.doc["action"] == action
    assert proposals.load_proposal(w.path("k.json")).kind == kind


def test_a_recovery_uses_the_nodes_last_final_block_and_the_chain_recovers(
        w: GovWorld) -> None:
    keys, vals = make_validators(2, 7)
    w.fake.chain.key_of.update({k.public_key: k for k in keys})
    specs = [f"{v.name}={v.pubkey.hex()}" for v in vals]
    r = w.h.run("--json", "gov", "propose", "recovery", "--validator", specs[0], "--validator",
                specs[1], "--ref", REF.uri, "--note", REF.text, "--out", w.path("r.json"))
    assert r.code == 0, r.err
    st = w.fake.chain.state
    assert (r.doc["height"], r.doc["last_block_id"]) == (st.height, st.last_block_id.hex())
    for wallet in ("w0", "w1"):
        assert w.h.run("gov", "sign", w.path("r.json"), "--yes", wallet=wallet).code == 0
    assert w.h.run("gov", "submit", w.path("r.json")).code == 0
    assert w.fake.chain.state.validators == vals  # installed; the next block carries it
    first = w.fake.chain.blocks[-1].block.actions[0]
    assert isinstance(decode_block_action(first), RecoveryAction)
    history = w.h.run("--json", "gov", "history").doc["actions"]
    assert history[0]["kind"] == "recovery" and history[0]["reference"]["text"] == REF.text


def test_offline_proposing_asks_no_node(w: GovWorld, tmp_path: Path) -> None:
    nowhere = free_url()
    r = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=2000", "--ref", REF.uri,
                "--nonce", "9", "--offline", "--out", w.path("o.json"), url=nowhere)
    assert r.code == 0, r.err
    assert (r.doc["nonce"], r.doc["governors_checked"]) == (9, True)  # the followed chain
    assert r.doc["source"] == "given"
    # no node answering, everything given: it goes on offline without --offline too
    r = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=2000", "--ref", REF.uri,
                "--nonce", "9", "--out", w.path("o2.json"), url=nowhere)
    assert r.code == 0, r.err
    missing = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=2000", "--ref",
                      REF.uri, "--offline", "--out", w.path("o3.json"))
    assert (missing.code, missing.doc["error"]["kind"]) == (2, "bad_action")
    assert "--nonce N" in missing.doc["error"]["message"]
    # without a wallet the chain comes from the flags
    chain = w.fake.chain
    flags = ["--network", "test", "--chain-id", chain.genesis.chain_id, "--genesis-hash",
             chain.genesis_id.hex()]
    r = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=2000", "--ref", REF.uri,
                "--nonce", "3", "--offline", *flags, "--out", w.path("o4.json"), wallet="none",
                url=nowhere)
    assert r.code == 0 and r.doc["governors_checked"] is False, r.err
    partial = w.h.run("gov", "propose", "set-param", "dust_limit=2000", "--ref", REF.uri,
                      "--nonce", "3", "--network", "test", "--out", w.path("o5.json"),
                      wallet="none")
    assert partial.code == 2 and "give all of --network" in partial.err


def test_without_next_nonce_the_wallet_computes_one_from_the_pending_actions(
        w: GovWorld) -> None:
    w.fake.reports_next_nonce = False
    w.fake.chain.auto_mine = False
    first = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=2000", "--ref",
                    REF.uri, "--out", w.path("n0.json"))
    assert first.doc["nonce"] == 0 and "does not report its next free nonce" in \
        first.doc["source"]
    for wallet in ("w0", "w1"):
        w.h.run("gov", "sign", w.path("n0.json"), "--yes", wallet=wallet)
    assert w.h.run("gov", "submit", w.path("n0.json")).code == 0
    w.fake.chain.mine()  # included: pending until it takes effect at h + 2
    second = w.h.run("--json", "gov", "propose", "set-param", "dust_limit=3000", "--ref",
                     REF.uri, "--out", w.path("n1.json"))
    assert second.doc["nonce"] == 1
    w.fake.reports_next_nonce = True
    assert w.h.run("--json", "gov", "propose", "set-param", "dust_limit=3000", "--ref",
                   REF.uri, "--out", w.path("n2.json")).doc["source"] == \
        "the node's next free nonce"


def test_signing_twice_adds_nothing_and_no_means_no(w: GovWorld) -> None:
    p = w.propose_add()
    before = Path(p).read_text()
    no = w.h.run("--json", "gov", "sign", p, stdin="n\n")
    assert (no.code, no.doc["error"]["kind"]) == (10, "aborted")
    assert Path(p).read_text() == before
    assert w.h.run("gov", "sign", p, "--yes").code == 0
    again = w.h.run("--json", "gov", "sign", p, "--yes")
    assert (again.code, again.doc["added"]) == (0, False)


def test_an_outsider_signs_only_offline_and_the_file_then_says_so(w: GovWorld) -> None:
    p = w.propose_add()
    refused = w.h.run("--json", "gov", "sign", p, "--yes", wallet="w2")
    assert (refused.code, refused.doc["error"]["kind"]) == (11, "not_a_governor")
    assert "is not a current governor" in refused.doc["error"]["message"]
    offline = w.h.run("--json", "gov", "sign", p, "--yes", "--offline", wallet="w2")
    assert offline.code == 0 and offline.doc["offline"] is True
    shown = w.h.run("--json", "gov", "show", p).doc
    outsider = OUTSIDER_KEY.public_key.hex()
    assert [s["governor"] for s in shown["signers"] if s["pubkey"] == outsider] == [False]
    assert any(outsider in warning for warning in shown["warnings"])


def test_submitting_to_an_inbox_writes_the_actions_hex(w: GovWorld, tmp_path: Path) -> None:
    p = w.propose_add()
    for wallet in ("w0", "w1"):
        w.h.run("gov", "sign", p, "--yes", wallet=wallet)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    r = w.h.run("--json", "gov", "submit", p, "--inbox", str(inbox), url=free_url())
    assert r.code == 0, r.err
    written = Path(r.doc["inbox_file"])
    assert written.parent == inbox and written.name.startswith("add_validator-n0-")
    assert written.suffix == ".action"
    assert written.read_text() == r.doc["action_hex"] + "\n"
    missing = w.h.run("gov", "submit", p, "--inbox", str(tmp_path / "nope"))
    assert missing.code == 1 and "No such directory" in missing.err


def test_a_node_without_post_actions_is_told_apart(w: GovWorld) -> None:
    p = w.propose_add()
    for wallet in ("w0", "w1"):
        w.h.run("gov", "sign", p, "--yes", wallet=wallet)
    w.fake.takes_actions = False
    with serve(w.fake) as older:  # the same chain, served without POST actions
        r = w.h.run("--json", "gov", "submit", p, url=older)
    assert (r.code, r.doc["error"]["kind"]) == (1, "node_error")
    assert "gov submit FILE --inbox DIR" in r.doc["error"]["message"]
    assert w.fake.actions_posted == []


def test_gov_name_lists_and_refuses_half_an_entry(w: GovWorld) -> None:
    empty = w.h.run("gov", "name", wallet="w2")
    assert empty.code == 0 and "names no governors yet" in empty.out
    half = w.h.run("gov", "name", GOVERNORS[0].hex(), wallet="w2")
    assert half.code == 2 and "KEY and its NAME" in half.err
    bad = w.h.run("--json", "gov", "name", "02" + "00" * 32, "x", wallet="w2")
    assert bad.doc["error"]["kind"] == "bad_action"
    ok = w.h.run("--json", "gov", "name", GOVERNORS[1].hex(), "Ben", wallet="w2")
    assert ok.doc["names"] == [{"pubkey": GOVERNORS[1].hex(), "name": "Ben"}]
    data = json.loads((w.tmp / "w2.json").read_text())
    assert data["governor_names"] == [{"pubkey": GOVERNORS[1].hex(), "name": "Ben"}]


def test_a_full_action_pool_is_told_apart_from_a_node_that_is_down(w: GovWorld) -> None:
    p = w.propose_add()
    for wallet in ("w0", "w1"):
        w.h.run("gov", "sign", p, "--yes", wallet=wallet)
    w.fake.action_pool_full = True
    full = w.h.run("--json", "gov", "submit", p)
    assert (full.code, full.doc["error"]["kind"]) == (5, "node_unreachable")
    assert "HTTP 503: the node holds as many actions as it keeps (rule pool_full)" in \
        full.doc["error"]["message"]
    w.fake.action_pool_full = False
    w.fake.chain.auto_mine = False  # pooled, not yet carried: a second submission is known
    assert w.h.run("--json", "gov", "submit", p).doc["status"] == "pooled"
    again = w.h.run("--json", "gov", "submit", p)
    assert (again.code, again.doc["status"]) == (0, "already_pooled")


@pytest.mark.parametrize(("limit", "units", "words"), [
    ("250.5", 25_050_000_000, "grants tfair1"), ("0", 0, "withdraws the credit line"),
])
def test_a_credit_limit_is_proposed_in_units_and_described_in_words(
        w: GovWorld, limit: str, units: int, words: str) -> None:
    address = encode_address(ACCOUNTS[2].watch().lock(0, 0), "test")
    r = w.h.run("--json", "gov", "propose", "set-credit-limit", address, limit, "--ref",
                REF.uri, "--out", w.path("c.json"))
    assert r.code == 0, r.err
    assert r.doc["action"]["limit"] == units and r.doc["action"]["address"] == address
    shown = w.h.run("gov", "show", w.path("c.json"))
    assert shown.code == 0 and words in shown.out and "h + 2" in shown.out
    for bad, code in (("-5", ExitStatus.USAGE), ("1000000001", ExitStatus.USAGE)):
        refused = w.h.run("gov", "propose", "set-credit-limit", address, bad, "--ref", REF.uri,
                          "--out", w.path("bad.json"))
        assert refused.code == code, refused.err
