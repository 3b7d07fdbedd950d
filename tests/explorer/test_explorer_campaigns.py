"""The explorer's crowdfunding pages over the API's campaign chain (tests/api/api_campaign_scene.py:
`won` reaches its goal by height 5, `lost` fails at 4, `kept` is open until 30; the treasury
pledges a grant to `won`; height 6 claims `won` and refunds `lost`).

What a member asks is on the pages: goal, pledged, pledgers, deadline and time left, and the
status (open, reached, failed, then claimed and refunded once no pledge is left, a coin sent to
the campaign's id not counting as one); the list filters by status and pages; a campaign's page
lists its waiting pledges and its pledgers; a tx page shows a pledge as a pledge to its campaign
(a link), never as the id's address; the treasury page shows its fees per day and its grant;
every other page of such a chain (version 2 txs, 80-byte pledge UTXO records) is served too.
"""

from __future__ import annotations

import re

import pytest

from consensus import codec
from consensus.campaign import campaign_id
from consensus.types import COIN, CampaignMode, CampaignTerms, Lock, Tx, TxOut
from faircoop_node.explorer import campaigns as funding
from tests.api.api_campaign_scene import (
    GRANT_MEMO,
    CampaignScene,
    campaign_chain,
    campaign_genesis,
    signed_tx,
)
from tests.api.api_chain import ALICE, BOB, CAROL, FEE, TREASURY, fresh_node, genesis_op
from tests.explorer.explorer_chain import SCRIPT, Client, addr, explore, text_of
from tests.explorer.test_explorer_hostile import assert_escaped


async def shown(client: Client, path: str) -> str:
    resp = await client.get(path)
    body = await resp.text()
    assert resp.status == 200, (path, text_of(body)[:500])
    return body


def phrases(scene: CampaignScene) -> list[tuple[str, list[str], list[str]]]:
    """(path, phrases its text must contain, phrases it must not) on the settled chain."""
    won, lost, kept = (c.hex() for c in (scene.won, scene.lost, scene.kept))
    grant = codec.txid(scene.grant).hex()
    return [
        ("/campaigns", ["Bakery oven claimed 6.00 coins 6.0002 coins (100%) 2 block 5 ended",
                        "Cargo bike refunded 100.00 coins 1.00 coins (1%) 1 block 4 ended",
                        "Seed library open 50.00 coins 2.00 coins (4%) 1 block 30 "
                        "23 blocks left, about"], ["Older"]),
        ("/campaigns?status=claimed", ["Bakery oven"], ["Cargo bike", "Seed library"]),
        ("/campaigns?status=refunded", ["Cargo bike"], ["Bakery oven", "Seed library"]),
        ("/campaigns?status=open", ["Seed library"], ["Bakery oven", "Cargo bike"]),
        ("/campaigns?status=reached", ["No reached campaign yet"], ["Bakery oven"]),
        (f"/campaign/{won}", ["Campaign: Bakery oven", "Status claimed",
                              "Goal 6.00 coins (all or nothing)",
                              "Pledged 6.0002 coins , 100% of the goal, in 2 pledges",
                              "Pledgers 2", "Deadline block 5: ended", addr(BOB.lock),
                              "None: the beneficiary claimed every pledge",
                              f"{addr(ALICE.lock)} 6.00 coins 1",
                              f"{addr(TREASURY.lock)} 0.0002 coins 1"], []),
        (f"/campaign/{kept}", ["Status open", "(keep what you raise)",
                               "Deadline block 30: 23 blocks left",
                               f"4 2.00 coins {addr(CAROL.lock)}"], ["None:"]),
        (f"/campaign/{lost}", ["Status refunded", "every pledger took their pledge back"],
         []),
        (f"/tx/{grant}", ["a pledge to the campaign Bakery oven , refunded to "
                          f"{addr(TREASURY.lock)} if it fails", GRANT_MEMO.decode()],
         [addr(scene.won)]),
        (f"/tx/{codec.txid(scene.claim).hex()}", ["a pledge to the campaign Bakery oven 6.00"],
         [addr(scene.won)]),
        ("/treasury", ["Fees received per day", "2023-11-15 0.0004 coins 3",
                       "2023-11-14 0.0005 coins 2",
                       f"2 {grant[:16]}… a pledge to the campaign Bakery oven 0.0002 coins "
                       + GRANT_MEMO.decode()], ["Not on this chain yet"]),
        (f"/tx/{codec.txid(scene.refund).hex()}", ["a pledge to the campaign Cargo bike 1.00"],
         [addr(scene.lost)]),
        (f"/address/{addr(scene.won)}", ["This is the id of the campaign Bakery oven"], []),
        ("/block/2", ["Transactions 2", codec.txid(scene.grant).hex()[:16]], []),
        ("/", ["Tip height 6"], []),
        ("/blocks", ["Blocks"], []),
    ]


async def test_campaign_pages_show_what_a_member_asks() -> None:
    scene = campaign_chain()
    async with explore(scene.node) as client:
        for path, wanted, unwanted in phrases(scene):
            text = text_of(await shown(client, path))
            assert not [p for p in wanted if p not in text], (path, text[:3000])
            assert not [p for p in unwanted if p in text], (path, text[:3000])


async def test_a_pledge_links_to_its_campaign_and_a_creating_tx_names_it() -> None:
    scene = campaign_chain()
    won = scene.won.hex()
    create_won = scene.node.store.get_campaign(scene.won)
    assert create_won is not None
    async with explore(scene.node) as client:
        grant = await shown(client, f"/tx/{codec.txid(scene.grant).hex()}")
        creating = text_of(await shown(client, f"/tx/{create_won.txid.hex()}"))
    assert f'href="/campaign/{won}"' in grant
    assert f'href="/address/{addr(scene.won)}"' not in grant  # the id is not an address to pay
    assert "Creates the campaign Bakery oven (goal 6.00 coins , deadline block 5)" in creating


async def test_decided_campaigns_are_reached_or_failed_until_no_pledge_is_left() -> None:
    scene = campaign_chain(settle=False)
    node = scene.node
    async with explore(node) as client:
        before = text_of(await shown(client, "/campaigns"))
        assert "Bakery oven reached" in before and "Cargo bike failed" in before
        reached = text_of(await shown(client, "/campaigns?status=reached"))
        assert "Bakery oven" in reached and "Cargo bike" not in reached
        waiting = text_of(await shown(client, f"/campaign/{scene.won.hex()}"))
        assert "Status reached" in waiting and "Pledges waiting" in waiting
        assert addr(ALICE.lock) in waiting.split("Who pledged")[0]  # her pledge waits
        node.commit((scene.claim,))
        after_claim = text_of(await shown(client, "/campaigns"))
        assert "Bakery oven claimed" in after_claim and "Cargo bike failed" in after_claim
        # a coin sent to the campaign's id is not a pledge: the campaign stays claimed
        node.commit((_coin_to_campaign(scene),))
        assert node.store.get_address_summary(scene.won).utxo_count == 1
        assert "Status claimed" in text_of(await shown(client, f"/campaign/{scene.won.hex()}"))
        node.commit((scene.refund,))
        assert "Cargo bike refunded" in text_of(await shown(client, "/campaigns"))


def _coin_to_campaign(scene: CampaignScene) -> Tx:
    """Carol's change from her pledge, paid to `won`'s id as a plain coin (no refund lock)."""
    change = scene.node.store.get_address_utxos(CAROL.lock, limit=1)[0]
    return signed_tx([(change.outpoint, CAROL)], [TxOut(change.amount - FEE, Lock(scene.won))])


async def test_the_list_pages_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(funding, "CAMPAIGNS_PAGE", 1)
    scene = campaign_chain()
    seen: list[str] = []
    path: str | None = "/campaigns"
    async with explore(scene.node) as client:
        while path is not None and len(seen) < 5:
            body = await shown(client, path)
            seen += re.findall(r'<a href="/campaign/[0-9a-f]{64}">([^<]+)</a>', body)
            older = re.search(r'href="(/campaigns\?after=[0-9]+\.[0-9a-f]{64})">Older', body)
            path = older.group(1) if older else None
    assert sorted(seen) == ["Bakery oven", "Cargo bike", "Seed library"]  # each once


@pytest.mark.parametrize("path, status, reason", [
    ("/campaigns?status=succeeded", 400, "status must be one of open, reached"),
    ("/campaigns?after=12", 400, "after must be the `next` of a page"),
    ("/campaign/12", 400, "campaign id must be 64 hex characters"),
    (f"/campaign/{'ab' * 32}", 404, f"no campaign {'ab' * 32}"),
    ("/treasury?spends_after=x", 400, "after must be the `next` of a page"),
])
async def test_bad_campaign_input_gets_an_html_page_with_the_reason(
        path: str, status: int, reason: str) -> None:
    async with explore(campaign_chain().node) as client:
        resp = await client.get(path)
        text = text_of(await resp.text())
    assert resp.status == status and resp.content_type == "text/html", path
    assert reason in text, text[:2000]


async def test_a_campaign_titled_like_a_script_is_shown_as_text() -> None:
    """A title and URI are whatever the campaign's creator typed: escaped, and a
    `javascript:` URI is shown as text, not made a link."""
    node = fresh_node(genesis=campaign_genesis())
    terms = CampaignTerms(BOB.lock, COIN, 50, CampaignMode.ALL_OR_NOTHING, SCRIPT,
                          "javascript:alert(1)")
    make = signed_tx([(genesis_op(node.store.genesis_hash, 1), BOB)],
                     [TxOut(20 * COIN - FEE, BOB.lock)], campaign=terms)
    node.commit((make,))
    cid = campaign_id(codec.txid(make)).hex()
    async with explore(node) as client:
        for path in ("/campaigns", f"/campaign/{cid}", f"/tx/{codec.txid(make).hex()}"):
            body = await shown(client, path)
            assert_escaped(body, path)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path
        assert "<code>javascript:alert(1)</code>" in await shown(client, f"/campaign/{cid}")


async def test_the_search_box_finds_a_campaign_by_its_id() -> None:
    scene = campaign_chain()
    async with explore(scene.node) as client:
        resp = await client.get(f"/search?q={scene.kept.hex()}", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == f"/campaign/{scene.kept.hex()}"
