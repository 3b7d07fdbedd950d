"""Campaigns, treasury grants, contributions and share payouts through the CLI, in process,
against the node's real API app over a real chain (`funding_world.py`).

Each scenario is what docs/FUNDING.md describes: a campaign that reaches its goal and is
claimed in one tx, one that fails and is refunded pledger by pledger, the early take-back and
the stranger's claim refused by the wallet and (with --force) by the chain, a treasury grant
carrying its assembly reference, a member's 5% contribution found again by the report and
proven by its receipt, and a share payout split exactly.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest

from consensus.address import encode_address
from consensus.types import COIN
from tests.wallet.doc_example import campaign_example
from tests.wallet.funding_world import ADDRESSES, TREASURY_ADDRESS, World, funding_world
from tests.wallet.wallet_cli_harness import ACCOUNTS, PASSWORD


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    with funding_world(tmp_path) as w:
        yield w


def ok(w: World, *argv: str, wallet: str = "w0") -> dict:  # type: ignore[type-arg]
    r = w.cli.run("--json", *argv, wallet=wallet)
    assert r.code == 0, r.out + r.err
    return r.doc


def refused(w: World, code: int, *argv: str, wallet: str = "w0") -> dict:  # type: ignore[type-arg]
    r = w.cli.run("--json", *argv, wallet=wallet)
    assert r.code == code, r.out + r.err
    return r.doc["error"]  # type: ignore[no-any-return]


def balance(w: World, wallet: str) -> int:
    return int(ok(w, "balance", wallet=wallet)["confirmed"])


def create(w: World, goal: str, deadline: int, mode: str = "all-or-nothing") -> str:
    made = ok(w, "campaign", "create", "--title", "Bakery oven", "--uri",
              "https://coop.example/oven", "--goal", goal, "--deadline-height", str(deadline),
              "--mode", mode, "--yes")
    w.mine()
    return str(made["campaign"])


def test_a_campaign_reaches_its_goal_and_the_beneficiary_claims_every_pledge_in_one_tx(
        world: World) -> None:
    w = world
    cid = create(w, "10", 12)
    for wallet, amount in (("w1", "4"), ("w1", "2.5"), ("w2", "3.5")):
        ok(w, "campaign", "pledge", cid, amount, "--yes", wallet=wallet)
    w.mine()
    shown = ok(w, "campaign", "show", cid, wallet="w2")
    assert (shown["status"], shown["percent"], shown["pledges"], shown["pledgers"]) == (
        "open", 100, 3, 2)
    assert shown["verified"] is True and shown["summary"].endswith("100% of goal")
    text = w.cli.run("campaign", "show", cid, wallet="w2").out
    assert "left, 100% of goal" in text and "pledged 10.00000000 by 2 pledger(s)" in text

    # taking a pledge back early: the wallet refuses, and so does the chain
    early = refused(w, 1, "campaign", "refund", cid, "--yes", wallet="w1")
    assert early["kind"] == "campaign" and "can't be taken back before the deadline" in \
        early["message"]
    forced = refused(w, 6, "campaign", "refund", cid, "--yes", "--force", wallet="w1")
    assert "pledge_locked" in forced["message"]
    # a stranger (w2 is not the beneficiary) claiming, before and after the deadline
    stranger = refused(w, 1, "campaign", "claim", cid, "--yes", wallet="w2")
    assert "not the beneficiary" in stranger["message"]
    w.mine_to(11)  # block 12, the deadline, is next: decided
    assert ok(w, "campaign", "show", cid)["status"] == "succeeded"
    forced = refused(w, 6, "campaign", "claim", cid, "--yes", "--force", wallet="w2")
    assert "not_beneficiary" in forced["message"]
    assert refused(w, 1, "campaign", "refund", "--yes", wallet="w1")["kind"] == "campaign"

    before = balance(w, "w0")
    with w.mining():
        claimed = ok(w, "campaign", "claim", "--yes", "--wait")
    assert claimed["pledges"] == 3 and claimed["transactions"] == 1
    assert claimed["amount"] == 10 * COIN - claimed["fee"]
    assert claimed["receipts"][0]["height"] == 12
    assert balance(w, "w0") == before + claimed["amount"]
    assert refused(w, 1, "campaign", "claim", "--yes")["kind"] == "campaign"  # nothing left


def test_the_docs_campaign_example_pledges_and_proves_it(world: World, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    w = world
    cid = create(w, "10", 40)
    back_campaign = campaign_example()
    receive = ok(w, "address", wallet="w1")["address"]  # the refund address by default
    capsys.readouterr()
    with w.mining():
        asyncio.run(back_campaign(str(tmp_path / "w1.json"), PASSWORD, w.url, cid))
    about, pledged = capsys.readouterr().out.splitlines()
    assert about.startswith("Bakery oven: ") and about.endswith("left, 0% of goal")
    assert pledged.startswith("pledged at height ") and pledged.endswith(
        f"refunded to {receive} if it fails")
    shown = ok(w, "campaign", "show", cid)
    assert (shown["pledged"], shown["pledgers"]) == (250_000_000, 1)


def test_a_failed_campaign_gives_each_pledger_theirs_back_and_the_beneficiary_nothing(
        world: World) -> None:
    w = world
    cid = create(w, "50", 8)
    before1, before2 = balance(w, "w1"), balance(w, "w2")
    fees1 = ok(w, "campaign", "pledge", cid, "4", "--yes", wallet="w1")["fee"]
    fees2 = ok(w, "campaign", "pledge", cid, "1", "--yes", wallet="w2")["fee"]
    w.mine()
    fees1 += ok(w, "campaign", "pledge", cid, "2", "--yes", wallet="w1")["fee"]
    w.mine_to(7)
    assert ok(w, "campaign", "show", cid)["status"] == "failed"
    assert "failed" in refused(w, 1, "campaign", "claim", cid, "--yes")["message"]
    forced = refused(w, 6, "campaign", "claim", cid, "--yes", "--force")
    assert "not_refund_policy" in forced["message"]  # the beneficiary can't take them
    with w.mining():
        refund1 = ok(w, "campaign", "refund", "--yes", "--wait", wallet="w1")
    assert refund1["pledges"] == 2 and refund1["transactions"] == 1
    refund2 = ok(w, "campaign", "refund", cid, "--yes", wallet="w2")
    w.mine()
    assert balance(w, "w1") == before1 - fees1 - refund1["fee"]  # every coin back, less fees
    assert balance(w, "w2") == before2 - fees2 - refund2["fee"]
    assert refused(w, 1, "campaign", "refund", "--yes", wallet="w2")["kind"] == "campaign"


def test_keep_what_you_raise_succeeds_below_its_goal(world: World) -> None:
    w = world
    cid = create(w, "1000", 6, "keep-what-you-raise")
    ok(w, "campaign", "pledge", cid, "1", "--yes", wallet="w1")
    w.mine_to(5)
    shown = ok(w, "campaign", "show", cid)
    assert shown["status"] == "succeeded" and shown["percent"] == 0
    assert ok(w, "campaign", "claim", "--yes")["pledges"] == 1


def test_the_list_filters_and_names_this_wallets_campaigns(world: World) -> None:
    w = world
    first = create(w, "10", 30)
    second = create(w, "10", 4)
    w.mine_to(4)
    listed = ok(w, "campaign", "list", wallet="w1")["campaigns"]
    assert [c["id"] for c in listed] == [second, first]
    assert [c["id"] for c in ok(w, "campaign", "list", "--status", "open")["campaigns"]] == [
        first]
    assert [c["id"] for c in ok(w, "campaign", "list", "--mine")["campaigns"]] == [
        second, first]
    assert ok(w, "campaign", "list", "--mine", wallet="w1")["campaigns"] == []


def test_the_treasury_pledges_a_grant_through_the_partial_tx_workflow(world: World,
                                                                       tmp_path: Path) -> None:
    w = world
    cid = create(w, "100", 30)
    grant = str(tmp_path / "grant.json")
    ref = "https://coop.example/assembly/2026-11#4"
    proposed = ok(w, "multisig", "spend", "coop", "40", "--campaign", cid, "--ref", ref,
                  "--out", grant, wallet="w0")
    assert proposed["grant_reference"] == ref
    (pledge,) = [o for o in proposed["outputs"] if o["campaign"] == cid]
    assert pledge["address"] == TREASURY_ADDRESS and pledge["amount"] == 40 * COIN
    shown = w.cli.run("multisig", "show", grant, wallet="w1").out
    assert f"grant   by the assembly decision {ref}" in shown
    assert f"pledge  {'40.00000000':>20}  to campaign {cid}, back to {TREASURY_ADDRESS}" in shown
    ok(w, "multisig", "sign", grant, "--yes", wallet="w1")
    ok(w, "multisig", "sign", grant, "--yes", wallet="w2")
    sent = ok(w, "multisig", "broadcast", grant, wallet="w2")
    w.mine()
    campaign = ok(w, "campaign", "show", cid)
    assert campaign["pledged"] == 40 * COIN
    treasury = _treasury(w)
    spend = next(s for s in treasury["spends"] if s["txid"] == sent["txid"])
    assert spend["memo"] == f"fc-grant/1 ref={ref}"
    assert ok(w, "tx", sent["txid"])["final"] is True
    # a grant needs an open campaign
    closed = create(w, "1", w.height + 2)
    w.mine_to(w.height + 2)
    err = refused(w, 1, "multisig", "spend", "coop", "1", "--campaign", closed, "--out",
                  str(tmp_path / "late.json"))
    assert "closed" in err["message"]


def _treasury(w: World) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(f"{w.url}/api/v1/treasury") as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_a_member_contributes_5_percent_of_a_months_income_and_the_report_lists_it(
        world: World, tmp_path: Path) -> None:
    w = world
    # income of w1: 12 coins from w2 and 3 from w0; its own transfers and change are not income
    ok(w, "send", ADDRESSES[1], "12", "--yes", wallet="w2")
    ok(w, "send", ADDRESSES[1], "3", "--yes", wallet="w0")
    w.mine()
    ok(w, "send", ADDRESSES[0], "7", "--yes", wallet="w1")  # outgoing, with change to w1
    w.mine()
    receipt = str(tmp_path / "nov.receipt")
    with w.mining():
        made = ok(w, "contribute", "--rate", "5", "--period", "2023-11", "--to",
                  TREASURY_ADDRESS, "--receipt", receipt, "--yes", wallet="w1")
    assert (made["income"], made["payments"], made["rate"]) == (15 * COIN, 2, "5")
    assert made["amount"] == 75_000_000  # 5% of 15 coins, exactly
    assert made["memo"] == f"fc-contribution/1 period=2023-11 rate=5 income={15 * COIN}"
    ok(w, "sync", wallet="w2")  # the assembly's verifier follows the chain itself, then:
    assert ok(w, "receipt", "verify", receipt, wallet="w2")["valid"] is True
    report = ok(w, "contributions", "report", "--to", TREASURY_ADDRESS)
    (line,) = report["contributions"]
    assert line["payers"] == [ADDRESSES[1]] and line["amount"] == 75_000_000
    assert (line["period"], line["rate"], line["income"]) == ("2023-11", "5", 15 * COIN)
    assert report["totals"] == {ADDRESSES[1]: 75_000_000}
    csv_text = w.cli.run("contributions", "report", "--to", TREASURY_ADDRESS, "--csv").out
    assert csv_text.splitlines()[0] == "height,txid,payer,amount,period,rate,income"
    assert csv_text.splitlines()[1].endswith(f",{ADDRESSES[1]},75000000,2023-11,5,{15 * COIN}")
    later = ok(w, "contributions", "report", "--to", TREASURY_ADDRESS, "--from-height",
               str(w.height + 1))
    assert later["contributions"] == []
    # another month holds no income: nothing to contribute (the dust rule)
    assert refused(w, 2, "contribute", "--rate", "5", "--period", "2023-10", "--yes",
                   wallet="w1")["kind"] == "dust"


def test_pay_many_splits_a_total_by_shares_exactly_and_shows_the_split(world: World,
                                                                       tmp_path: Path) -> None:
    w = world
    shares = tmp_path / "shares.csv"
    tiny = encode_address(ACCOUNTS[2].watch().lock(0, 5), "test")
    shares.write_text(f"address,shares\n{ADDRESSES[1]},1\n{ADDRESSES[2]},2\n"
                      f"# a comment\n{TREASURY_ADDRESS},4\n{tiny},0000001\n")
    r = w.cli.run("pay-many", "--shares", str(shares), "--total", "0.00007001", stdin="y\n")
    assert r.code == 0, r.err
    assert "Split of 0.00007001 by 7 share(s):" in r.err  # shown before the question
    assert f"left out  {tiny} (its share would be below the dust limit)" in r.err
    paid = ok(w, "pay-many", "--shares", str(shares), "--total", "1", "--yes")
    assert [s["amount"] for s in paid["split"]] == [12_500_000, 25_000_000, 50_000_000,
                                                     12_500_000]
    assert sum(s["amount"] for s in paid["split"]) == COIN and paid["left_out"] == []
    odd = ok(w, "pay-many", "--shares", str(shares), "--total", "0.00007001", "--yes")
    # 7001 by 8 shares gives 875 per share, under the dust limit 1000: the last of the fewest
    # shares is left out; by 7 shares, the one base unit left goes to the largest remainder
    assert [s["amount"] for s in odd["split"]] == [1000, 2000, 4001]
    assert odd["left_out"] == [{"address": tiny, "shares": 1}]
    proposal = ok(w, "multisig", "spend", "coop", "--shares", str(shares), "--total", "9",
                  "--ref", "assembly-2026-11-item-6", "--out", str(tmp_path / "p.json"))
    assert sum(s["amount"] for s in proposal["split"]) == 9 * COIN
    assert proposal["grant_reference"] == "assembly-2026-11-item-6"


@pytest.mark.parametrize(("argv", "code", "kind", "words"), [
    (("campaign", "show", "abc"), 2, "usage", "campaign id"),
    (("campaign", "create", "--title", "x", "--uri", "u", "--goal", "0", "--days", "1",
      "--yes"), 2, "bad_amount", ""),
    (("campaign", "create", "--title", "t" * 81, "--uri", "u", "--goal", "1",
      "--deadline-height", "100", "--yes"), 2, "bad_campaign", "title"),
    (("campaign", "create", "--title", "a\nb", "--uri", "u", "--goal", "1",
      "--deadline-height", "100", "--yes"), 2, "bad_campaign", "control characters"),
    (("campaign", "create", "--title", "t", "--uri", "u", "--goal", "1",
      "--deadline-height", "1", "--yes"), 2, "bad_campaign", "not after the next block"),
    (("campaign", "create", "--title", "t", "--uri", "u", "--goal", "1", "--days", "-2",
      "--yes"), 2, "usage", "--days"),
    (("campaign", "show", "00" * 32), 1, "not_found", "no campaign"),
    (("campaign", "pledge", "00" * 32, "1", "--yes"), 1, "not_found", "no campaign"),
    (("contribute", "--rate", "150", "--period", "2023-11", "--yes"), 2, "usage", "rate"),
    (("contribute", "--rate", "5", "--period", "2023-13", "--yes"), 2, "usage", "period"),
    (("contributions", "report", "--to", "tfair1nope"), 7, "bad_address", ""),
    (("pay-many", "--shares", "s.csv", "--yes"), 2, "usage", "--total"),
    (("pay-many",), 2, "usage", "--shares"),
    (("multisig", "spend", "coop", "--memo", "m", "--ref", "r", "--out", "p.json"), 2, "usage",
     "not both"),
    (("multisig", "spend", "coop", "--ref", "two words", "--out", "p.json"), 2, "usage",
     "without spaces"),
    (("multisig", "spend", "coop", "--out", "p.json"), 2, "usage", "ADDRESS AMOUNT"),
])
def test_bad_funding_input_exits_with_its_code_and_says_why(
        world: World, argv: tuple[str, ...], code: int, kind: str, words: str,
        tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(f"{ADDRESSES[1]},1\n")
    argv = tuple(str(tmp_path / a) if a in ("s.csv", "p.json") else a for a in argv)
    err = refused(world, code, *argv)
    assert err["kind"] == kind and words in err["message"]


@pytest.mark.parametrize(("rows", "words"), [
    ("{a},1\n{a},2\n", "listed twice"),
    ("{a},0\n", "whole number"),
    ("{a},1.5\n", "whole number"),
    ("{a}\n", "expected address,shares"),
    ("# nothing\n", "no rows"),
])
def test_a_shares_file_that_cant_be_split_is_refused(world: World, tmp_path: Path, rows: str,
                                                     words: str) -> None:
    (tmp_path / "bad.csv").write_text(rows.format(a=ADDRESSES[1]))
    err = refused(world, 2, "pay-many", "--shares", str(tmp_path / "bad.csv"), "--total", "1",
                  "--yes")
    assert err["kind"] == "bad_shares" and words in err["message"]
