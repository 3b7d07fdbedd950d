"""End to end, CLI only (issue 19, item 7): `faircoop-wallet` processes against a devnet of four
real validator processes.

1. The devnet's governors set the assembly's reference price (EUR) with `gov propose
   set-rate`, three governor wallets sign, `gov submit` posts it; `GET rates` shows it in force.
2. A shop runs a watch-only wallet (from the xpub of a wallet kept elsewhere): `request create`
   gives a URI; `request wait` listens to node 1's address stream while a member pays the URI
   through node 2 (`send URI --wait`); the shop hears the payment in the mempool, then final,
   and the request turns paid with a receipt the shop verified (4 validators' certificate).
3. An expired request's URI is refused by the member's wallet (nothing is sent), as is one for
   another network.
4. A EUR-denominated payment (`send ADDR 12.50EUR`, `request create 5EUR`) converts at the
   rate the governors set; `history` values it at that rate.

One devnet serves the module (the fixture of `test_wallet_devnet.py`); every node is stopped
in its `finally`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from consensus.address import decode_address, encode_address
from consensus.types import COIN
from tests.e2e.helpers import get, wait_for
from tests.e2e_wallet.test_wallet_devnet import WalletWorld, world  # noqa: F401 (the fixture)
from wallet.cli import ExitStatus
from wallet.uri import parse_uri

pytestmark = pytest.mark.slow

EUR_PER_COIN = "1.25"


def governor(w: WalletWorld, number: int) -> list[str]:
    return ["--wallet", str(w.layout.governor_wallet_path(number)), "--password-file",
            str(w.layout.password_path)]


def set_eur_rate(w: WalletWorld) -> int:
    """The governors set EUR; the height it is in force from."""
    proposal = str(w.tmp / "eur-rate.json")
    made = w.run(*governor(w, 1), "gov", "propose", "set-rate", "EUR", EUR_PER_COIN,
                     "--ref", "https://assembly.example/2026-12#price",
                     "--note", "e2e: 1 coin = 1.25 EUR", "--out", proposal).ok()
    assert made["kind"] == "set_reference_rate" and made["threshold"] == 3
    for number in (1, 2, 3):
        w.run(*governor(w, number), "gov", "sign", proposal, "--yes").ok()
    sent = w.run(*governor(w, 1), "gov", "submit", proposal).ok()
    assert sent["status"] == "pooled"

    def in_force() -> bool:
        return any(r["currency"] == "EUR" for r in get(w.node, "rates")["rates"])

    wait_for(in_force, 60, "the EUR rate in force")
    (rate,) = get(w.node, "rates")["rates"]
    assert rate["units_per_coin"] == 125_000_000 and rate["reference"]["uri"].endswith("#price")
    return int(rate["since"])


def test_a_watch_only_shop_is_paid_final_through_the_stream_and_prices_in_euros(
        world: WalletWorld) -> None:  # noqa: F811 (the module's devnet fixture)
    since = set_eur_rate(world)
    nodes = [n for n in world.layout.nodes if n.validator]
    shop_node, member_node = nodes[1].api_url, nodes[2].api_url

    # the shop: a watch-only wallet from the xpub of a wallet kept elsewhere
    keys = world.run(*world.wallet("shop-keys"), "create").ok()
    shop = ["--wallet", str(world.tmp / "shop.wallet")]
    made = world.run(*shop, "create", "--watch-only", keys["xpub"]).ok()
    assert made["watch_only"] and "mnemonic" not in made
    assert not Path(str(world.tmp / "shop.wallet") + ".keys").exists()

    # a member with coins
    world.create("member")
    member = world.wallet("member")
    world.pay("demo", world.run(*member, "address").ok()["address"], "50")

    # 2. a request; the shop waits on node 1's stream; the member pays through node 2
    request = world.run(*shop, "request", "create", "2.5", "--memo", "order 1042",
                        "--expires", "1h", node=shop_node).ok()
    uri = parse_uri(request["uri"])
    assert (uri.amount, uri.memo, uri.chain_id) == (250_000_000, "order 1042",
                                                     world.layout.chain_id)
    waiting = world.start(*shop, "request", "wait", str(request["id"]), "--timeout", "90",
                          node=shop_node)
    time.sleep(2)  # let it open the stream (a payment before that is found by its first check)
    paid = world.run(*member, "send", request["uri"], "--yes", "--wait", node=member_node).ok()
    assert paid["amount"] == 250_000_000 and paid["uri"] == request["uri"]
    done = world.finish(waiting, timeout=120).ok()
    assert (done["state"], done["paid"], done["received"]) == ("paid", True, 250_000_000)
    payment = done["payments"][0]
    assert payment["txid"] == paid["txid"] and payment["validators"] == 4
    assert payment["signers"] >= 3  # a certificate the shop checked itself
    notes = "\n".join(done["notes"])
    assert "watching the address stream" in notes and "final at height" in notes, notes
    shown = world.run(*shop, "request", "show", str(request["id"]), node=shop_node).ok()
    assert shown["state"] == "paid"

    # 3. an expired request is refused, and nothing is sent
    before = world.balance("member")["confirmed"]
    short = world.run(*shop, "request", "create", "1", "--expires", "1s", "--no-qr",
                      node=shop_node).ok()
    time.sleep(1.5)
    refused = world.run(*member, "send", short["uri"], "--yes", node=member_node)
    assert "expired" in refused.failed(ExitStatus.USAGE, "request_expired")
    main_uri = "faircoop:" + encode_address(decode_address(short["address"], "test"), "main") \
        + "?amount=1"
    world.run(*member, "send", main_uri, "--yes").failed(ExitStatus.CHAIN_MISMATCH,
                                                          "chain_mismatch")
    assert world.balance("member")["confirmed"] == before
    late = world.run(*shop, "request", "wait", str(short["id"]), "--timeout", "5",
                     node=shop_node)
    late.failed(ExitStatus.USAGE, "request_expired")

    # 4. euros, at the governors' rate
    eur = world.run(*member, "send", short["address"], "12.50EUR", "--yes", "--wait").ok()
    assert eur["amount"] == 10 * COIN
    assert (eur["quote"]["currency"], eur["quote"]["amount"], eur["quote"]["since"]) == (
        "EUR", "12.50000000", since)
    priced = world.run(*shop, "request", "create", "5EUR", "--no-qr", node=shop_node).ok()
    assert priced["amount"] == 4 * COIN and priced["quote"]["units_per_coin"] == 125_000_000
    history = world.run(*member, "history").ok()["transactions"]
    valued = next(t for t in history if t["txid"] == eur["txid"])
    assert [(v["currency"], v["amount"]) for v in valued["values"]] == [("EUR", "12.50000000")]
    rates = world.run(*member, "rates").ok()
    assert rates["rates"][0]["since"] == since
