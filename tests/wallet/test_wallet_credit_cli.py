"""`faircoop-wallet credit ...` in process against the node's real API over a real chain
(`credit_world.py`): status, send (confirmation, --yes, --wait, --json), the distinct exit
code for credit_limit_exceeded, history and totals, a treasury's transfer through the partial
credit file, and a credit transfer's finality receipt verified offline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from consensus import codec
from consensus.credit import new_transfer, sign_credit_transfer
from consensus.types import COIN, CreditTransfer, SpendPolicy
from tests.builders import CHAIN_ID
from tests.wallet.credit_world import (
    CREDIT_LOCKS,
    TREASURY,
    CreditWorld,
    address,
    credit_world,
    treasury_lock,
)
from tests.wallet.wallet_cli_harness import ACCOUNTS
from wallet import credit
from wallet.cli import ExitStatus
from wallet.client import NodeClient
from wallet.credit_partial import load_partial
from wallet.errors import CreditLimitExceeded
from wallet.keys import RECEIVE

UNIT = COIN


@pytest.fixture()
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    with credit_world(tmp_path) as w:
        w.grant((CREDIT_LOCKS[0], 100 * UNIT), (treasury_lock(), 50 * UNIT))
        yield w


def status(w: CreditWorld, wallet: str = "w0", *extra: str) -> dict:  # type: ignore[type-arg]
    r = w.h.run("--json", "credit", "status", *extra, wallet=wallet, password=None)
    assert r.code == 0, r.err
    return r.doc


def test_status_shows_the_wallets_own_account_and_its_limit(world: CreditWorld) -> None:
    doc = status(world)
    assert doc["address"] == address(CREDIT_LOCKS[0])
    assert (doc["balance"], doc["limit"], doc["available"], doc["sequence"]) == \
        (0, 100 * UNIT, 100 * UNIT, 0)
    text = world.h.run("credit", "status", wallet="w1", password=None)
    assert text.code == 0 and address(CREDIT_LOCKS[1]) in text.out
    assert "limit" in text.out and "0.00000000" in text.out


def test_send_confirms_then_waits_for_a_verified_receipt(world: CreditWorld) -> None:
    w = world
    no = w.h.run("credit", "send", address(CREDIT_LOCKS[1]), "30", "--memo", "bread",
                 stdin="n\n")
    assert no.code == ExitStatus.ABORTED
    assert "About to send credit" in no.err and "-30.00000000" in no.err and "no fee" in no.err
    r = w.h.run("--json", "credit", "send", address(CREDIT_LOCKS[1]), "30", "--memo", "bread",
                "--yes", "--wait", "--password-file", str(w.tmp / "pw"), password=None)
    assert r.code == 0, r.err
    doc = r.doc
    assert doc["receipt"]["final"] and doc["amount"] == 30 * UNIT
    assert doc["balance_after"] == -30 * UNIT and doc["sequence"] == 0
    assert status(w)["balance"] == -30 * UNIT
    assert status(w, "w1")["balance"] == 30 * UNIT
    # w1 has no limit but is owed 30: it can pay w2 out of that, and no more
    r = w.h.run("--json", "credit", "send", address(CREDIT_LOCKS[2]), "10", "--yes", "--wait",
                wallet="w1")
    assert r.code == 0, r.err
    over = w.h.run("--json", "credit", "send", address(CREDIT_LOCKS[2]), "20.00000001",
                   "--yes", wallet="w1")
    assert over.code == ExitStatus.CREDIT_LIMIT_EXCEEDED == 13
    assert over.doc["error"]["kind"] == "credit_limit_exceeded"


def test_an_overdraft_is_refused_with_its_own_exit_code_before_anything_is_signed(
        world: CreditWorld) -> None:
    r = world.h.run("--json", "credit", "send", address(CREDIT_LOCKS[1]), "100.00000001",
                    "--yes", password=None)
    assert r.code == ExitStatus.CREDIT_LIMIT_EXCEEDED
    assert "over what" in r.doc["error"]["message"]
    none = world.h.run("credit", "send", address(CREDIT_LOCKS[0]), "1", "--yes", wallet="w2",
                       password=None)
    assert none.code == ExitStatus.CREDIT_LIMIT_EXCEEDED  # no limit, nothing owed


@pytest.mark.parametrize(("argv", "code"), [
    (("credit", "send", "tfair1nope", "1", "--yes"), ExitStatus.BAD_ADDRESS),
    (("credit", "send", "ADDRESS", "-1", "--yes"), ExitStatus.USAGE),
    (("credit", "send", "ADDRESS", "1", "--out", "x.json"), ExitStatus.USAGE),
    (("credit", "send", "ADDRESS", "1", "--treasury", "coop"), ExitStatus.USAGE),
    (("credit", "send", "ADDRESS", "1", "--memo", "m" * 81, "--yes"), ExitStatus.USAGE),
])
def test_bad_input_gets_a_clear_error(world: CreditWorld, argv: tuple[str, ...],
                                      code: ExitStatus) -> None:
    args = [address(CREDIT_LOCKS[1]) if a == "ADDRESS" else a for a in argv]
    r = world.h.run(*args, password=None)
    assert r.code == code, (r.out, r.err)


def test_history_and_totals(world: CreditWorld) -> None:
    w = world
    assert w.h.run("credit", "send", address(CREDIT_LOCKS[1]), "7", "--yes", "--wait",
                   "--memo", "soap").code == 0
    lines = w.h.run("--json", "credit", "history", password=None).doc["lines"]
    assert [(x["kind"], x["amount"], x["balance"]) for x in lines] == [
        ("sent", 7 * UNIT, -7 * UNIT), ("limit", 100 * UNIT, 0)]
    assert lines[0]["memo"] == "soap" and lines[0]["counterparty"] == address(CREDIT_LOCKS[1])
    text = w.h.run("credit", "history", wallet="w1", password=None).out
    assert "+7.00000000" in text and "soap" in text
    totals = w.h.run("--json", "credit", "totals", password=None).doc
    assert totals["balance_sum"] == 0 and totals["outstanding"] == 7 * UNIT
    assert totals["granted"] == 150 * UNIT and totals["credit_lines"] == 2


def test_a_treasury_pays_through_the_partial_credit_file(world: CreditWorld) -> None:
    w = world
    keys = [k.hex() for k in TREASURY.pubkeys]
    for wallet in ("w0", "w1"):
        assert w.h.run("multisig", "key", wallet=wallet).code == 0  # hands out member key 0
        r = w.h.run("multisig", "create", "-m", "2", "--key", keys[0], "--key", keys[1],
                    "--name", "coop", wallet=wallet)
        assert r.code == 0, r.err
    doc = status(w, "w0", "--treasury", "coop")
    assert doc["address"] == address(treasury_lock()) and doc["limit"] == 50 * UNIT
    p = w.path("pay.json")
    r = w.h.run("--json", "credit", "send", address(CREDIT_LOCKS[2]), "12", "--treasury",
                "coop", "--out", p, "--memo", "roof", password=None)
    assert r.code == 0, r.err
    assert r.doc["signatures_remaining"] == 2
    early = w.h.run("credit", "broadcast", p, password=None)
    assert early.code == ExitStatus.PARTIAL_TX
    assert w.h.run("credit", "sign", p, "--yes").code == 0
    copy = w.path("pay.w1.json")
    assert w.h.run("credit", "sign", p, "--out", copy, "--yes", wallet="w1").code == 0
    outsider = w.h.run("credit", "sign", p, "--out", w.path("x.json"), "--yes", wallet="w2")
    assert outsider.code == ExitStatus.PARTIAL_TX  # holds none of the member keys
    show = w.h.run("--json", "credit", "show", copy, password=None)
    assert show.doc["complete"] and show.doc["amount"] == 12 * UNIT
    r = w.h.run("--json", "credit", "broadcast", copy, "--wait", password=None)
    assert r.code == 0, r.err
    assert status(w, "w0", "--treasury", "coop")["balance"] == -12 * UNIT
    assert status(w, "w2")["balance"] == 12 * UNIT
    # a changed file is refused before anyone signs it
    tampered = Path(copy).read_text().replace(
        codec.encode_tx(_transfer_of(copy)).hex(),
        codec.encode_tx(_transfer_of(copy, memo=b"ruof")).hex())
    Path(w.path("bad.json")).write_text(tampered)
    bad = w.h.run("credit", "sign", w.path("bad.json"), "--yes", password=None)
    assert bad.code == ExitStatus.PARTIAL_TX


def _transfer_of(path: str, memo: bytes | None = None) -> CreditTransfer:
    t = load_partial(path).transfer
    return t if memo is None else replace(t, memo=memo)


def test_a_credit_receipt_verifies_offline(world: CreditWorld) -> None:
    w = world
    sent = w.h.run("--json", "credit", "send", address(CREDIT_LOCKS[1]), "3", "--yes",
                   "--wait")
    assert sent.code == 0, sent.err
    tid = sent.doc["txid"]
    out = w.path("credit.receipt")
    assert w.h.run("receipt", "export", tid, "--out", out, password=None).code == 0
    r = w.h.run("--json", "receipt", "verify", out, password=None, url="http://127.0.0.1:9")
    assert r.code == 0, r.err
    assert r.doc["credit_sender"] == address(CREDIT_LOCKS[0])
    assert r.doc["outputs"] == [{"address": address(CREDIT_LOCKS[1]), "amount": 3 * UNIT}]
    text = Path(out).read_text().replace(tid[:8], "00000000", 1)
    Path(w.path("forged.receipt")).write_text(text)
    forged = w.h.run("receipt", "verify", w.path("forged.receipt"), password=None)
    assert forged.code == ExitStatus.NOT_FINAL


async def test_the_nodes_refusal_for_the_limit_is_the_same_error(world: CreditWorld) -> None:
    """A transfer the wallet did not check (another tool, a stale view) is refused by the
    node; the library names it CreditLimitExceeded too, so the CLI's exit code is 13."""
    key = ACCOUNTS[0].private_key(RECEIVE, 0)
    policy = SpendPolicy.single(key.public_key)
    t = sign_credit_transfer(new_transfer(CHAIN_ID, CREDIT_LOCKS[0], 0,
                                          [(CREDIT_LOCKS[1], 100 * UNIT + 1)]), policy, [key])
    async with NodeClient(world.h.url) as client:
        with pytest.raises(CreditLimitExceeded, match="refused"):
            await credit.send(client, t)
