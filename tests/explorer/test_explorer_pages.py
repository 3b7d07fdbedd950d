"""Every explorer page over the API's standard chain: what each shows, what the search box
finds, and the 4xx page each kind of bad input gets.

The chain (tests/api/api_chain.py): height 1 alice pays bob 5 coins (memo "rent"); height 2
was committed in round 1; height 3 carries a treasury spend and a governance action setting
min_fee_rate = 2 (pending); the mempool holds one of alice's payments.
"""

from __future__ import annotations

import re

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.governance import Reference, SetParam, encode_action, make_action
from faircoop_node.api.view import VIEW
from faircoop_node.explorer import CommitLog
from faircoop_node.explorer.routes import ASSETS, EXPLORER, SECURITY_HEADERS, STATIC_DIR
from tests.api.api_chain import (
    ALICE,
    BOB,
    CAROL,
    CHAIN_ID,
    TREASURY,
    VALIDATOR_KEYS,
    Scene,
    standard_chain,
)
from tests.credit.credit_chain import A as CREDIT_A
from tests.credit.credit_chain import B as CREDIT_B
from tests.credit.credit_chain import credit_chain
from tests.explorer.explorer_chain import addr, explore, text_of


def pages(scene: Scene) -> list[tuple[str, list[str]]]:
    """(path, phrases its text must contain)."""
    pay_bob = codec.txid(scene.pay_bob).hex()
    pending = codec.txid(scene.pending).hex()
    return [
        ("/", ["TEST NETWORK", "Tip height 3", "1 transaction waiting", "coop-0", "voting",
               "Signed, last 3 blocks", "4/4 (round 1)", "a block needs 3 signatures"]),
        ("/blocks", ["Blocks", "coop-3", "4/4"]),
        ("/block/1", ["Block 1", "Certified in round 0 by 4 of 4 validators", "✓ coop-0",
                      pay_bob[:16], "rent", "49.9999 coins"]),
        (f"/block/{scene.blocks[1].hex()}", ["Block 2", "Certified in round 1"]),
        ("/block/3", ["Governance actions 1", "set min_fee_rate = 2"]),
        ("/block/0", ["The genesis", "Allocations", addr(ALICE.lock), "50.00 coins"]),
        (f"/tx/{pay_bob}", ["Final in block 1", "Memo rent", "Fee 0.0001 coins",
                            "genesis allocation 0", "50.00 coins", addr(BOB.lock),
                            "Download the finality proof", "4 of 4 validators"]),
        (f"/tx/{pending}", ["Pending", "in this node's mempool", addr(CAROL.lock)]),
        (f"/tx/{codec.txid(scene.treasury_spend).hex()}", ["fees of block"]),
        (f"/address/{addr(BOB.lock)}", ["Balance 0.00 coins", "Transactions 3",
                                        "genesis allocation", "Credit account",
                                        "No mutual credit has touched this address"]),
        (f"/address/{addr(ALICE.lock)}", ["-1.0001 coins in the mempool", "Received Spent 1",
                                          "57.00 coins"]),
        ("/validators", ["4 coops vote", "Certificates signed over blocks 1 to 3", "100%",
                         "No validator is suspended"]),
        ("/validators?blocks=10", ["Blocks shown"]),
        ("/governance", ["Threshold: 1 of 4", "set min_fee_rate = 2", "in force from block 5",
                         "Parameters", "min_fee_rate", "None on this node",
                         "The next proposal takes nonce 1",
                         # the history: included in 3, in force from 5, signed by coop-0
                         "3 5 set min_fee_rate = 2 no reference coop-0 0"]),
        ("/treasury", ["Commons treasury", addr(TREASURY.lock), "fees of block",
                       "Fees received per day", "Spends and grants",
                       codec.txid(scene.treasury_spend).hex()[:16]]),
        ("/campaigns", ["Crowdfunding campaigns", "No campaign yet"]),
        ("/credit", ["Mutual credit", "Accounts 0", "Sum of balances 0.00 coins",
                     "Per account per block"]),
    ]


async def test_every_page_shows_what_it_is_for() -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        for path, phrases in pages(scene):
            resp = await client.get(path)
            html = await resp.text()
            assert resp.status == 200, (path, html[:500])
            assert resp.content_type == "text/html" and resp.charset == "utf-8"
            shown = text_of(html)
            missing = [p for p in phrases if p not in shown]
            assert not missing, f"{path} lacks {missing}: {shown[:3000]}"
            for name, value in SECURITY_HEADERS.items():
                assert resp.headers[name] == value


async def test_the_pages_link_to_their_assets_and_each_asset_is_served() -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        html = await (await client.get("/")).text()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
        assert {"/static/explorer.css", "/static/explorer.js", "/static/favicon.svg"} <= set(assets)
        for path in assets:
            resp = await client.get(path)
            assert resp.status == 200 and len(await resp.read()) > 100
        assert "http://" not in html.split("<body")[0] and "https://" not in html
    assert set(ASSETS) == {p.name for p in STATIC_DIR.iterdir()}  # every file shipped is served


def searches(scene: Scene) -> list[tuple[str, int, str]]:
    """(query, status, where it leads or what the page says)."""
    pay_bob = codec.txid(scene.pay_bob).hex()
    pending = codec.txid(scene.pending).hex()
    return [
        ("2", 303, "/block/2"),
        (" 0 ", 303, "/block/0"),
        (scene.blocks[2].hex(), 303, f"/block/{scene.blocks[2].hex()}"),
        (scene.blocks[2].hex().upper(), 303, f"/block/{scene.blocks[2].hex()}"),
        (scene.gid.hex(), 303, f"/block/{scene.gid.hex()}"),
        (pay_bob, 303, f"/tx/{pay_bob}"),
        (pending, 303, f"/tx/{pending}"),
        (addr(BOB.lock), 303, f"/address/{addr(BOB.lock)}"),
        (addr(BOB.lock).upper(), 303, f"/address/{addr(BOB.lock)}"),
        ("4", 404, "no block at height 4"),
        ("ab" * 32, 404, "no block, tx or campaign"),
        ("", 400, "type a height"),
        ("hello", 400, "not a height, a block hash, a txid or an address"),
        (addr(BOB.lock)[:-1] + "x", 400, "not a valid address"),
        (encode_address(BOB.lock, "main"), 400, "address is for the main network"),
        ("1" * 21, 400, "non-negative integer"),
        ("x" * 201, 400, "201 characters"),
    ]


async def test_search_finds_each_kind_of_object_and_says_why_it_found_nothing() -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        for query, status, expect in searches(scene):
            resp = await client.get("/search", params={"q": query}, allow_redirects=False)
            if status == 303:
                assert (resp.status, resp.headers["Location"]) == (303, expect), query
                followed = await client.get(expect)
                assert followed.status == 200, expect
            else:
                assert resp.status == status, (query, resp.status)
                assert expect in text_of(await resp.text()), query


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/block/4", 404, "no block at height 4"),
    ("/block/" + "cd" * 32, 404, "no block"),
    ("/block/abc", 400, "block hash must be 64 hex characters"),
    ("/block/-1", 400, "block hash must be 64 hex characters"),
    ("/block/99999999999999999999999", 400, "non-negative integer"),
    ("/block/1?from=x", 400, "from must be a non-negative integer"),
    ("/tx/" + "cd" * 32, 404, "no tx"),
    ("/tx/xyz", 400, "txid must be 64 hex characters"),
    ("/address/tfair1qqqq", 400, "address"),
    ("/address/x?before_height=1", 400, "address"),
    ("/validators?blocks=5", 400, "blocks must be between 10 and 1000"),
    ("/validators?blocks=abc", 400, "blocks must be a non-negative integer"),
    ("/blocks?before=0", 400, "before must be between 1"),
    ("/treasury?before_height=3", 400, "give both before_height and before_position"),
    ("/governance?after=3", 400, "after must be the `next` of a page"),
    ("/nowhere", 404, "no such page"),
    ("/static/../pages.py", 404, "no such page"),
    ("/static/nothing.css", 404, "no asset 'nothing.css'"),
    ("/static/", 404, "no such page"),
])
async def test_bad_input_gets_an_html_page_with_the_reason(path: str, status: int,
                                                           says: str) -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        resp = await client.get(path)
        assert resp.status == status
        assert resp.content_type == "text/html"
        assert says in text_of(await resp.text())


async def test_governance_links_each_action_to_its_assembly_decision() -> None:
    scene = standard_chain()
    reference = Reference("https://coop.example/assembly/2026-11#7", "Assembly of 20 Nov, item 7")
    action = make_action(CHAIN_ID, 1, SetParam("min_fee_rate", 3), (VALIDATOR_KEYS[0],),
                         reference=reference)
    scene.node.commit(actions=(encode_action(action),))
    async with explore(scene.node) as client:
        html = await (await client.get("/governance")).text()
        older = await (await client.get("/governance?after=4.0")).text()
    assert ('<a href="https://coop.example/assembly/2026-11#7" rel="noopener noreferrer '
            'nofollow">Assembly of 20 Nov, item 7</a>') in html
    assert "4 6 set min_fee_rate = 3 Assembly of 20 Nov, item 7" in text_of(html)
    assert "set min_fee_rate = 3" not in text_of(older).split("History")[1]
    assert "3 5 set min_fee_rate = 2" in text_of(older)


async def test_the_api_keeps_its_json_errors_beside_the_explorer() -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        resp = await client.get("/api/v1/nowhere")
        assert resp.status == 404 and resp.content_type == "application/json"
        assert (await client.get("/metrics")).content_type == "text/plain"
        assert (await client.post("/", data=b"x")).status == 405


async def test_a_page_is_rendered_once_per_tip_and_again_after_a_block() -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        cache = client.app[EXPLORER].pages  # type: ignore[union-attr]
        first = await (await client.get("/")).text()
        second = await (await client.get("/")).text()
        assert first == second and (cache.misses, cache.hits) == (1, 1)
        scene.node.mempool.remove_committed((scene.pending,))
        scene.node.commit((scene.pending,))
        third = text_of(await (await client.get("/")).text())
        assert "Tip height 4" in third and cache.misses == 2


async def test_the_overview_shows_finality_latency_from_the_commit_log() -> None:
    scene = standard_chain()
    header_ms = scene.node.state.last_block_time_ms
    commits = CommitLog(clock_ms=lambda: header_ms + 2_500)
    commits.record(3, header_ms)
    async with explore(scene.node, commits) as client:
        shown = text_of(await (await client.get("/")).text())
        block = text_of(await (await client.get("/block/3")).text())
    latency = "2.5 s"
    assert f"median {latency}" in shown
    assert f"Finality latency {latency}" in block


async def test_the_explorer_reads_the_same_view_as_the_api() -> None:
    scene = standard_chain()
    async with explore(scene.node) as client:
        assert client.app[VIEW] is scene.node  # type: ignore[index]
        api = await (await client.get("/api/v1/status")).json()
        shown = text_of(await (await client.get("/")).text())
    assert f"Tip height {api['height']}" in shown


async def test_credit_transfers_accounts_and_totals_have_their_pages() -> None:
    """A credit transfer in Block.txs has no inputs, outputs or fee: its pages show its sender
    and payments (they once read its absent inputs: a 500); /credit shows GET credit's totals
    and an address its credit account (A owes 30, its line cut to 20)."""
    scene = credit_chain()
    tid = codec.txid(scene.a_to_b).hex()
    phrases = {f"/tx/{tid}": ["Credit transfer", "Final in block 3", addr(CREDIT_A),
                              "sequence 0", "pay no fee", "Payments in credit", addr(CREDIT_B),
                              "30.00 coins", "bread, November"],
               "/block/3": [tid[:16], "30.00 coins in credit", "bread, November"],
               "/credit": ["Accounts 3", "Credit lines 2", "Outstanding 30.00 coins owed",
                           "Held 30.00 coins", "Sum of balances 0.00 coins"],
               f"/address/{addr(CREDIT_A)}": ["Credit account", "Balance -30.00 coins",
                                              "Limit 20.00 coins (available to send: 0.00",
                                              "Transfers sent 1"]}
    async with explore(scene.node) as client:
        for path, wanted in phrases.items():
            resp = await client.get(path)
            shown = text_of(await resp.text())
            assert resp.status == 200, (path, shown[:500])
            assert not [p for p in wanted if p not in shown], (path, shown[:3000])
        tx_page = text_of(await (await client.get(f"/tx/{tid}")).text())
        assert "Inputs" not in tx_page and "Outputs" not in tx_page
