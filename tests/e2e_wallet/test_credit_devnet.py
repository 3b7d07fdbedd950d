"""End to end, CLI only: mutual credit on a devnet of real node processes.

Every step is a `faircoop-wallet` process (the devnet's demo governor wallets, and new wallets
made here), asserting on its `--json` object and exit code:

1. the governors grant two coops credit lines with the assembly's reference
   (`gov propose set-credit-limit`, three governors sign, `gov submit`): coop A, a wallet with
   no coins at all, 100 units; coop B, a 2-of-2 treasury of two member wallets, 50 units;
2. A pays B 30 units in credit (`credit send --wait`): no coins, no fee, a verified receipt;
3. B pays a third member, Carol, 10 units through the partial credit file (each member signs
   a copy, `credit broadcast --wait`);
4. A's overdraft beyond its limit is refused (exit 13, `credit_limit_exceeded`);
5. the assembly lowers A's limit to 20, below its debt of 30: A can no longer send (exit 13),
   but Carol can still pay it;
6. the receipts verify offline, by payer and payee, with no node reachable;
7. the totals add up: every balance sums to zero, the debts are A's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import wait_for
from tests.e2e_wallet.devnet_world import WalletWorld, closed_url, devnet_world
from wallet.cli import ExitStatus

pytestmark = pytest.mark.slow

UNIT = 10**8
REF = "https://assembly.example/2026-12-05#credit"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletWorld]:
    yield from devnet_world(tmp_path_factory.mktemp("credit-e2e"))


def governor(world: WalletWorld, number: int) -> list[str]:
    return ["--wallet", str(world.layout.governor_wallet_path(number)), "--password-file",
            str(world.layout.password_path)]


def grant(world: WalletWorld, address: str, limit: str, note: str) -> None:
    """Propose SetCreditLimit, have the threshold of governors sign it, submit it to a node."""
    proposal = str(world.tmp / f"limit-{address[-6:]}-{limit}.json")
    made = world.run(*governor(world, 1), "gov", "propose", "set-credit-limit", address, limit,
                     "--ref", REF, "--note", note, "--out", proposal).ok()
    assert made["kind"] == "set_credit_limit" and made["reference"]["uri"] == REF
    for number in range(1, world.layout.governor_threshold + 1):
        world.run(*governor(world, number), "gov", "sign", proposal, "--yes").ok()
    sent = world.run(*governor(world, 1), "gov", "submit", proposal).ok()
    assert sent["complete"]


def status(world: WalletWorld, wallet: str, *extra: str) -> dict[str, Any]:
    return world.run(*world.wallet(wallet), "credit", "status", *extra).ok()


def wait_limit(world: WalletWorld, wallet: str, limit: int, *extra: str) -> None:
    wait_for(lambda: status(world, wallet, *extra)["limit"] == limit, 60,
             f"{wallet}'s credit limit {limit} in force")


def test_two_coops_a_member_and_an_assembly_run_mutual_credit(world: WalletWorld) -> None:
    # the wallets: coop A (no coins), coop B's two members and their treasury, Carol
    world.create("coopa")
    world.create("b1")
    world.create("b2")
    world.create("carol")
    keys = [world.run(*world.wallet(w), "multisig", "key").ok()["pubkey"] for w in ("b1", "b2")]
    for w in ("b1", "b2"):
        made = world.run(*world.wallet(w), "multisig", "create", "-m", "2", "--key", keys[0],
                         "--key", keys[1], "--name", "coop-b").ok()
    coop_b = made["address"]
    coop_a = status(world, "coopa")["address"]
    carol = status(world, "carol")["address"]
    assert world.balance("coopa")["confirmed"] == 0  # A holds no coins at all

    # 1. the assembly's decisions, carried out by the governors
    grant(world, coop_a, "100", "Assembly of 5 Dec 2026, item 3: a line of 100 for coop A")
    grant(world, coop_b, "50", "Assembly of 5 Dec 2026, item 4: a line of 50 for coop B")
    wait_limit(world, "coopa", 100 * UNIT)
    wait_limit(world, "b1", 50 * UNIT, "--treasury", "coop-b")
    history = world.run(*governor(world, 1), "gov", "history").ok()["actions"]
    assert [a["kind"] for a in history[:2]] == ["set_credit_limit"] * 2
    assert all(a["reference"]["uri"] == REF for a in history[:2])

    # 2. A pays B in credit: no coins, no fee
    a_to_b = world.run(*world.wallet("coopa"), "credit", "send", coop_b, "30", "--memo",
                       "bread, November", "--yes", "--wait").ok()
    assert a_to_b["receipt"]["final"] and a_to_b["balance_after"] == -30 * UNIT
    assert world.balance("coopa")["confirmed"] == 0

    # 3. B pays Carol through the partial credit file, signed by both its members
    pay = str(world.tmp / "b-pays-carol.json")
    made = world.run(*world.wallet("b1"), "credit", "send", carol, "10", "--treasury",
                     "coop-b", "--out", pay, "--memo", "wages").ok()
    assert made["signatures_remaining"] == 2
    world.run(*world.wallet("b1"), "credit", "sign", pay, "--yes").ok()
    copy = str(world.tmp / "b-pays-carol.b2.json")
    world.run(*world.wallet("b2"), "credit", "sign", pay, "--out", copy, "--yes").ok()
    b_to_carol = world.run(*world.wallet("b2"), "credit", "broadcast", copy, "--wait").ok()
    assert b_to_carol["receipt"]["final"]
    assert status(world, "b1", "--treasury", "coop-b")["balance"] == 20 * UNIT
    assert status(world, "carol")["balance"] == 10 * UNIT

    # 4. an overdraft beyond A's limit is refused with its own exit code
    over = world.run(*world.wallet("coopa"), "credit", "send", carol, "70.00000001", "--yes")
    assert "over what" in over.failed(ExitStatus.CREDIT_LIMIT_EXCEEDED, "credit_limit_exceeded")

    # 5. the assembly lowers A's limit below its debt: A can't send, but can receive
    grant(world, coop_a, "20", "Assembly of 19 Dec 2026, item 2: coop A's line cut to 20")
    wait_limit(world, "coopa", 20 * UNIT)
    a = status(world, "coopa")
    assert (a["balance"], a["available"]) == (-30 * UNIT, 0)
    cut = world.run(*world.wallet("coopa"), "credit", "send", carol, "1", "--yes")
    cut.failed(ExitStatus.CREDIT_LIMIT_EXCEEDED, "credit_limit_exceeded")
    repay = world.run(*world.wallet("carol"), "credit", "send", coop_a, "1", "--yes",
                      "--wait").ok()
    assert repay["receipt"]["final"]
    assert status(world, "coopa")["balance"] == -29 * UNIT

    # 6. the receipts verify offline, by the payer and by the payee
    offline = closed_url()
    for wallet, txid in (("coopa", a_to_b["txid"]), ("carol", b_to_carol["txid"])):
        receipt = str(world.tmp / f"{txid[:12]}.receipt")
        world.run(*world.wallet(wallet), "receipt", "export", txid, "--out", receipt).ok()
        verified = world.run(*world.wallet(wallet), "receipt", "verify", receipt,
                             node=offline).ok()
        assert verified["txid"] == txid and verified["credit_sender"] is not None
    carol_copy = str(world.tmp / "carol-of-a.receipt")
    world.run(*world.wallet("carol"), "receipt", "export", a_to_b["txid"], "--out",
              carol_copy).ok()  # a payee of neither: still verifiable, it is on chain
    assert world.run(*world.wallet("carol"), "receipt", "verify", carol_copy,
                     node=offline).ok()["credit_sender"] == coop_a

    # 7. the totals add up to zero; the only debt is A's
    totals = world.run(*world.wallet("carol"), "credit", "totals").ok()
    assert totals["balance_sum"] == 0
    assert totals["outstanding"] == totals["positive"] == 29 * UNIT
    assert totals["granted"] == 70 * UNIT and totals["credit_lines"] == 2
    lines = world.run(*world.wallet("coopa"), "credit", "history").ok()["lines"]
    assert [x["kind"] for x in lines] == ["received", "limit", "sent", "limit"]


def test_a_malformed_partial_credit_file_is_refused_before_signing(world: WalletWorld,
                                                                   tmp_path: Path) -> None:
    """A file that is not a whole partial credit file is refused (exit 11, `partial_tx`)."""
    world.create("lone")
    bad = tmp_path / "other.json"
    bad.write_text('{"format": "faircoop-partial-credit", "version": 1}')
    run = world.run(*world.wallet("lone"), "credit", "sign", str(bad), "--yes")
    run.failed(ExitStatus.PARTIAL_TX, "partial_tx")
