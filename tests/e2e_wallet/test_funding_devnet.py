"""End to end, CLI only: crowdfunding, a contribution and a treasury grant on a real devnet.

A devnet of four validator processes; every step is a `faircoop-wallet` process asserting on
its `--json` object and exit code (the world of `devnet_world.py`):

1. the demo wallet funds two campaign creators, three pledgers, a stranger and a member
   (`pay-many`);
2. the member contributes 5% of the month's income to the treasury (`contribute`), its receipt
   saved; `contributions report` lists it, and the receipt verifies with no node reachable;
3. alice creates an all-or-nothing campaign (goal 10 coins, a deadline height) and carol one
   that will fail (goal 100 coins, a deadline `--days` away at the observed block interval);
4. three pledgers pledge to both campaigns;
5. the devnet's governors grant 2 coins from the treasury to alice's campaign: proposed with
   the assembly's reference, signed by three governor wallets, broadcast; `GET treasury` lists
   the spend with that reference in its memo; before the deadline a pledger's take-back and a
   stranger's claim are refused by the wallet and (`--force`) by the chain;
6. at the deadlines: alice claims every pledge of hers in one tx; carol has nothing to claim;
   each of the three pledgers takes its pledge to carol's campaign back, every coin less fees.

Every node process is stopped in the fixture's `finally`, even on failure.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from consensus.types import COIN
from tests.e2e.helpers import get, height, wait_for
from tests.e2e_wallet.devnet_world import WalletWorld, closed_url, devnet_world
from wallet.cli import ExitStatus

pytestmark = pytest.mark.slow

GOAL_REF = "https://assembly.example/2026-11#4"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletWorld]:
    yield from devnet_world(tmp_path_factory.mktemp("funding-e2e"))


def test_campaigns_a_contribution_and_a_treasury_grant_cli_only(world: WalletWorld) -> None:
    w = world
    names = ("alice", "carol", "p1", "p2", "p3", "mallory", "member")
    address = {name: w.create(name) for name in names}

    def run(name: str, *argv: str) -> dict[str, Any]:
        return w.run(*w.wallet(name), *argv).ok()

    def refused(name: str, status: ExitStatus, kind: str, *argv: str) -> str:
        return w.run(*w.wallet(name), *argv).failed(status, kind)

    def confirmed(name: str) -> int:
        return int(w.balance(name)["confirmed"])

    # 1. funds from the demo wallet, in one tx
    funds = w.tmp / "funds.csv"
    funds.write_text("address,amount\n" + "".join(
        f"{address[n]},{amount}\n" for n, amount in
        (("alice", "1"), ("carol", "1"), ("p1", "20"), ("p2", "20"), ("p3", "20"),
         ("mallory", "5"), ("member", "100"))))
    paid = w.run(*w.wallet("demo"), "pay-many", str(funds), "--yes", "--wait").ok()
    period = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    assert paid["receipt"]["final"]

    # 2. the member contributes 5% of the month's income (100 coins) to the treasury
    treasury = str(get(w.node, "governance")["treasury_address"])
    receipt = w.tmp / "contribution.receipt"
    made = run("member", "contribute", "--rate", "5", "--period", period, "--receipt",
               str(receipt), "--yes")
    assert (made["income"], made["amount"], made["to"]) == (100 * COIN, 5 * COIN, treasury)
    report = w.run("--wallet", str(w.tmp / "nobody.wallet"), "contributions", "report",
                   "--to", treasury).ok()
    (line,) = report["contributions"]
    assert line["payers"] == [address["member"]] and line["amount"] == 5 * COIN
    assert (line["period"], line["rate"], line["income"]) == (period, "5", 100 * COIN)
    verified = w.run(*w.wallet("member"), "receipt", "verify", str(receipt),
                     node=closed_url()).ok()
    assert verified["txid"] == made["txid"]

    # 3. two campaigns, deciding about a minute from now (steps 3-5 took 15 heights on an
    # idle machine)
    tip = height(w.node)
    won = run("alice", "campaign", "create", "--title", "Bakery oven", "--uri",
              "https://coop.example/oven", "--goal", "10", "--deadline-height", str(tip + 60),
              "--yes", "--wait")
    lost = run("carol", "campaign", "create", "--title", "Cargo bike", "--uri",
               "https://coop.example/bike", "--goal", "100", "--days", "0.0007",
               "--mode", "all-or-nothing", "--yes", "--wait")
    won_id, lost_id = str(won["campaign"]), str(lost["campaign"])
    won_deadline, lost_deadline = int(won["deadline"]), int(lost["deadline"])
    assert lost_deadline > tip + 30  # --days at the observed block interval

    # 4. three pledgers pledge to both, at once
    before = {n: confirmed(n) for n in ("p1", "p2", "p3")}
    fees = dict.fromkeys(before, 0)
    pledges = {"p1": ("4", "1"), "p2": ("3", "2"), "p3": ("3", "1")}
    for side, cid in enumerate((won_id, lost_id)):
        procs = {n: w.start(*w.wallet(n), "campaign", "pledge", cid, amounts[side], "--yes")
                 for n, amounts in pledges.items()}
        for n, proc in procs.items():
            fees[n] += int(w.finish(proc).ok()["fee"])
    wait_for(lambda: get(w.node, f"campaign/{lost_id}")["pledges"] == 3, 60, "the pledges")

    # 5. the governors grant 2 coins of the treasury to alice's campaign
    def governor(number: int) -> list[str]:
        return ["--wallet", str(w.layout.governor_wallet_path(number)), "--password-file",
                str(w.layout.password_path)]

    grant = str(w.tmp / "grant.json")
    proposed = w.run(*governor(1), "multisig", "spend", "devnet-treasury", "2", "--campaign",
                     won_id, "--ref", GOAL_REF, "--out", grant).ok()
    assert proposed["grant_reference"] == GOAL_REF
    for number in (1, 2, 3):
        w.run(*governor(number), "multisig", "sign", grant, "--yes").ok()
    granted = w.run(*governor(4), "multisig", "broadcast", grant, "--wait").ok()
    spends = get(w.node, "treasury")["spends"]
    assert any(s["txid"] == granted["txid"] and s["memo"] == f"fc-grant/1 ref={GOAL_REF}"
               for s in spends)

    # before the deadline: the take-back and the stranger's claim are refused
    shown = run("p1", "campaign", "show", won_id)
    assert shown["status"] == "open" and shown["percent"] == 120 and shown["pledgers"] == 4
    assert shown["summary"].endswith("left, 120% of goal")
    assert "before the deadline" in refused("p1", ExitStatus.ERROR, "campaign", "campaign",
                                            "refund", won_id, "--yes")
    assert "pledge_locked" in refused("p1", ExitStatus.TX_REJECTED, "tx_rejected", "campaign",
                                      "refund", won_id, "--yes", "--force")
    assert "not the beneficiary" in refused("mallory", ExitStatus.ERROR, "campaign",
                                            "campaign", "claim", won_id, "--yes")

    # 6. the deadlines
    wait_for(lambda: height(w.node) >= max(won_deadline, lost_deadline), 300,
             "both deadlines")
    assert run("alice", "campaign", "show", won_id)["status"] == "succeeded"
    assert run("carol", "campaign", "show", lost_id)["status"] == "failed"
    assert "not_beneficiary" in refused("mallory", ExitStatus.TX_REJECTED, "tx_rejected",
                                        "campaign", "claim", won_id, "--yes", "--force")
    alice_before = confirmed("alice")
    claimed = run("alice", "campaign", "claim", "--yes", "--wait")
    assert (claimed["pledges"], claimed["transactions"]) == (4, 1)
    assert claimed["amount"] == 12 * COIN - int(claimed["fee"])
    assert confirmed("alice") == alice_before + int(claimed["amount"])
    assert "failed" in refused("carol", ExitStatus.ERROR, "campaign", "campaign", "claim",
                               lost_id, "--yes")
    for name in ("p1", "p2", "p3"):
        back = run(name, "campaign", "refund", "--yes", "--wait")
        assert back["pledges"] == 1 and back["campaigns"] == [lost_id]
        pledged_to_won = int(Decimal({"p1": 4, "p2": 3, "p3": 3}[name]) * COIN)
        assert confirmed(name) == before[name] - pledged_to_won - fees[name] - int(back["fee"])
