"""faircoop-wallet, in process, for shops and members: payment requests (a watch-only shop),
send to a URI (refused expired or for another chain), amounts in a currency, contacts,
labels, signed messages and `gov propose set-rate`, against the wallet's fake node (which
has no address stream: `request wait` polls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensus.address import encode_address
from consensus.governance import SetReferenceRate
from consensus.types import COIN
from tests.wallet.wallet_cli_harness import ACCOUNTS, PAYEE, PAYEE_LOCK, Harness
from tests.wallet.wallet_fakechain import CHAIN_ID, funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet import parse_uri
from wallet.cli import ExitStatus
from wallet.keys import RECEIVE
from wallet.proposals import load_proposal


@pytest.fixture()
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A payer (w0, 20 coins) and a watch-only shop (`shop`, from account 1's xpub)."""
    chain = funded_chain([ACCOUNTS[0].watch().lock(RECEIVE, 0)], [20 * COIN])
    chain.auto_mine = True
    fake = FakeNode(chain)
    with serve(fake) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0
        made = h.run("create", "--watch-only", ACCOUNTS[1].xpub, "--json", wallet="shop",
                     password=None)
        assert made.code == 0, made.err
        yield h, fake


def test_a_watch_only_shop_asks_a_member_pays_the_uri_and_the_request_turns_paid(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("request", "create", "2.5", "--memo", "order 1042", "--expires", "1h",
              wallet="shop", password=None)
    assert r.code == 0, r.err
    uri_text = next(ln for ln in r.out.splitlines() if ln.startswith("faircoop:"))
    assert "▀" in r.out or "▄" in r.out  # the QR code, in half blocks
    uri = parse_uri(uri_text)
    assert (uri.amount, uri.memo, uri.network, uri.chain_id) == (
        250_000_000, "order 1042", "test", CHAIN_ID)
    assert uri.address == encode_address(ACCOUNTS[1].watch().lock(RECEIVE, 1), "test")
    listed = h.run("--json", "request", "list", wallet="shop", password=None).doc
    assert [(q["id"], q["state"]) for q in listed["requests"]] == [(1, "pending")]
    paid = h.run("send", uri_text, "--yes", "--json")
    assert paid.code == 0, paid.err
    assert paid.doc["amount"] == 250_000_000 and paid.doc["uri"] == uri_text
    tx, height, _ = fake.chain.find_tx(bytes.fromhex(paid.doc["txid"]))
    assert tx.memo == b"order 1042" and height is not None
    shown = h.run("--json", "request", "show", "1", wallet="shop", password=None)
    assert shown.code == 0, shown.err
    doc = shown.doc
    assert (doc["state"], doc["paid"], doc["received"]) == ("paid", True, 250_000_000)
    assert doc["payments"][0]["txid"] == paid.doc["txid"]
    assert doc["payments"][0]["signers"] == doc["payments"][0]["validators"] > 0
    waited = h.run("--json", "request", "wait", "1", "--timeout", "5", wallet="shop",
                   password=None)
    assert waited.code == 0 and waited.doc["state"] == "paid"
    assert h.run("request", "cancel", "1", wallet="shop", password=None).code == \
        ExitStatus.ERROR  # paid: can't be cancelled


def test_partial_then_full_payment_through_the_cli(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    r = h.run("--json", "request", "create", "3", "--no-qr", wallet="shop", password=None)
    address = r.doc["address"]
    assert r.doc["expires"] is None and r.doc["quote"] is None
    assert h.run("send", address, "1", "--yes").code == 0
    doc = h.run("--json", "request", "show", "1", wallet="shop", password=None).doc
    assert (doc["state"], doc["missing"]) == ("partial", 2 * COIN)
    assert h.run("send", address, "2.5", "--yes").code == 0
    doc = h.run("--json", "request", "show", "1", wallet="shop", password=None).doc
    assert (doc["state"], doc["excess"]) == ("overpaid", COIN // 2)
    text = h.run("request", "show", "1", wallet="shop", password=None).out
    assert "PAID, over by 0.50000000" in text and "verified by this wallet" in text


@pytest.mark.parametrize(("uri", "code", "kind"), [
    ("faircoop:{a}?amount=1&expires=1000", ExitStatus.USAGE, "request_expired"),
    ("faircoop:{main}?amount=1", ExitStatus.CHAIN_MISMATCH, "chain_mismatch"),
    ("faircoop:{a}?amount=1&chain=another-chain", ExitStatus.CHAIN_MISMATCH, "chain_mismatch"),
    ("faircoop:{a}?amount=1&amount=2", ExitStatus.USAGE, "bad_uri"),
    ("faircoop:{a}?req-escrow=1&amount=1", ExitStatus.USAGE, "bad_uri"),
    ("faircoop:{a}?amount=1,5", ExitStatus.USAGE, "bad_uri"),
    ("faircoop:{a}", ExitStatus.USAGE, "usage"),  # no amount in the URI, none given
    ("faircoop:{a}x?amount=1", ExitStatus.BAD_ADDRESS, "bad_address"),
])
def test_a_uri_that_may_not_be_paid_is_refused_and_nothing_is_sent(env, uri: str, code: int,  # type: ignore[no-untyped-def]
                                                                   kind: str) -> None:
    h, fake = env
    text = uri.format(a=PAYEE, main=encode_address(PAYEE_LOCK, "main"))
    r = h.run("--json", "send", text, "--yes")
    assert (r.code, r.doc["error"]["kind"]) == (code, kind), r.out
    assert fake.chain.height == 0


def test_a_uri_amount_or_memo_is_not_overridden(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    text = f"faircoop:{PAYEE}?amount=1&memo=x"
    assert h.run("send", text, "2", "--yes").code == ExitStatus.USAGE
    assert h.run("send", text, "--memo", "y", "--yes").code == ExitStatus.USAGE
    ok = h.run("--json", "send", text, "1", "--memo", "x", "--yes")
    assert ok.code == 0 and fake.chain.height == 1


def test_amounts_in_a_currency_convert_at_the_assembly_rate_and_history_values_them(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    fake.chain.govern(SetReferenceRate("EUR", 125_000_000))
    for _ in range(3):
        fake.chain.mine()
    r = h.run("send", PAYEE, "12.50EUR", stdin="n\n")
    assert r.code == ExitStatus.ABORTED
    assert "10.00000000" in r.err and "12.50 EUR at 1.25000000 EUR per coin" in r.err
    assert "the assembly's rate since height 3" in r.err
    sent = h.run("--json", "send", PAYEE, "12.50EUR", "--yes")
    assert sent.code == 0 and sent.doc["amount"] == 10 * COIN
    assert sent.doc["quote"]["currency"] == "EUR" and sent.doc["quote"]["since"] == 3
    history = h.run("--json", "history").doc["transactions"]
    assert history[0]["values"][0]["amount"] == "12.50000000"
    assert "(12.50 EUR)" in h.run("history").out
    rates = h.run("--json", "rates").doc
    assert rates["rates"] == [{"currency": "EUR", "units_per_coin": 125_000_000,
                               "price": "1.25000000", "since": 3, "nonce": 0}]
    shop = h.run("--json", "request", "create", "5EUR", wallet="shop", password=None).doc
    assert shop["amount"] == 4 * COIN and shop["quote"]["units_per_coin"] == 125_000_000
    assert shop["expires"] is not None  # a quote expires (1 h by default)
    none = h.run("--json", "send", PAYEE, "3USD", "--yes")
    assert (none.code, none.doc["error"]["kind"]) == (ExitStatus.USAGE, "no_rate")


def test_contacts_and_labels_live_in_the_key_store_and_show_in_history(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    assert h.run("contacts", "add", "Coop Bread", PAYEE).code == 0
    listed = h.run("--json", "contacts", "list").doc
    assert listed["contacts"] == [{"name": "Coop Bread", "address": PAYEE}]
    assert "Coop Bread" not in (h.tmp / "w0.json").read_text()
    sent = h.run("--json", "send", "coop bread", "1", "--yes")
    assert sent.code == 0 and fake.chain.utxos_of(PAYEE_LOCK)[0][1].amount == COIN
    assert h.run("label", "add", sent.doc["txid"], "bread for May").code == 0
    own = encode_address(ACCOUNTS[0].watch().lock(RECEIVE, 0), "test")
    assert h.run("label", "add", own, "savings").code == 0
    refused = h.run("--json", "label", "add", PAYEE, "theirs")
    assert (refused.code, refused.doc["error"]["kind"]) == (ExitStatus.USAGE, "book")
    assert h.run("send", own, "0.5", "--yes").code == 0  # pays the labelled address
    lines = h.run("history", "--labels").out
    assert "'bread for May'" in lines and "'savings'" in lines
    plain = h.run("history", password=None).out  # no --labels: no password asked
    assert "bread" not in plain
    assert h.run("contacts", "remove", "Coop Bread").code == 0
    gone = h.run("--json", "send", "Coop Bread", "1", "--yes")
    assert (gone.code, gone.doc["error"]["kind"]) == (ExitStatus.USAGE, "book")
    watch = h.run("--json", "contacts", "list", wallet="shop", password=None)
    assert watch.doc["error"]["kind"] == "watch_only"


def test_sign_and_verify_a_message(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    own = encode_address(ACCOUNTS[0].watch().lock(RECEIVE, 0), "test")
    signed = h.run("--json", "message", "sign", own, "Coop Bread holds this address")
    assert signed.code == 0, signed.err
    sig = signed.doc["signature"]
    ok = h.run("--json", "message", "verify", own, sig, "Coop Bread holds this address",
               wallet="nobody", password=None)
    assert ok.code == 0 and ok.doc["valid"] and ok.doc["network"] == "test"
    bad = h.run("--json", "message", "verify", own, sig, "Coop Bread holds that address",
                wallet="nobody", password=None)
    assert (bad.code, bad.doc["error"]["kind"]) == (ExitStatus.ERROR, "bad_signature")
    theirs = h.run("--json", "message", "sign", PAYEE, "mine")
    assert (theirs.code, theirs.doc["error"]["kind"]) == (ExitStatus.USAGE, "usage")
    shop = h.run("--json", "message", "sign", own, "x", wallet="shop", password=None)
    assert shop.doc["error"]["kind"] == "watch_only"


@pytest.mark.parametrize(("args", "units"), [(("EUR", "1.25"), 125_000_000),
                                              (("CHF", "0"), 0), (("XAU", "0.0005"), 50_000)])
def test_gov_propose_set_rate_writes_the_action(env, args: tuple[str, str], units: int) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    out = str(h.tmp / "rate.json")
    r = h.run("--json", "gov", "propose", "set-rate", *args, "--ref",
              "https://coop.example/assembly/9", "--out", out)
    assert r.code == 0, r.out
    doc = r.doc
    assert doc["kind"] == "set_reference_rate" and doc["action"]["units_per_coin"] == units
    assert "reference price" in doc["summary"]
    proposal = load_proposal(out)
    assert proposal.action.body == SetReferenceRate(args[0], units)  # type: ignore[union-attr]
    assert json.loads(Path(out).read_text())["format"] == "faircoop-governance-proposal"


@pytest.mark.parametrize("args", [("eur", "1"), ("EU", "1"), ("EUR", "-1"), ("EUR", "1e3"),
                                  ("EUR", "1.123456789"), ("EUR", "2000000000")])
def test_gov_propose_set_rate_refuses_a_bad_rate(env, args: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    r = h.run("--json", "gov", "propose", "set-rate", *args, "--ref", "x", "--out",
              str(h.tmp / "bad.json"))
    assert (r.code, r.doc["error"]["kind"]) == (ExitStatus.USAGE, "bad_action"), r.out


def test_history_stays_read_only_on_a_chain_that_keeps_no_rate(env) -> None:  # type: ignore[no-untyped-def]
    """Valuing payments follows the chain only where there is a rate to find: elsewhere
    `history` writes nothing (so `receipt verify` still says when the wallet has not synced)."""
    h, _ = env
    for _ in range(3):  # past what the followed state (the genesis) answers for
        assert h.run("send", PAYEE, "1", "--yes").code == 0
    wallet_file = h.tmp / "w0.json"
    before = wallet_file.read_text()
    listed = h.run("--json", "history").doc["transactions"]
    assert listed and all(t["values"] == [] for t in listed)
    assert wallet_file.read_text() == before


def test_verifying_a_message_for_something_that_is_no_address_is_a_bad_address(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    r = h.run("--json", "message", "verify", "bc1qxyz", "00" * 97, "hi", wallet="nobody",
              password=None)
    assert (r.code, r.doc["error"]["kind"]) == (ExitStatus.BAD_ADDRESS, "bad_address")
