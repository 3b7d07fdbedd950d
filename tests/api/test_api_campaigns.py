"""GET campaigns, campaign/{id} (+ pledges, pledgers), pledges/{address} and treasury, on the
campaign scene (`api_campaign_scene.py`): the answers say what the chain decided, filters and
pages hold together, and bad input is a 4xx naming what is wrong."""

from __future__ import annotations

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.types import COIN
from faircoop_node.api import campaigns as campaigns_api
from faircoop_node.api import treasury as treasury_api
from tests.api.api_campaign_scene import GRANT_MEMO, CampaignScene, campaign_chain
from tests.api.api_chain import ALICE, CAROL, FEE, TREASURY, serve


def addr(lock: bytes) -> str:
    return encode_address(lock, "test")


@pytest.fixture(scope="module")
def scene() -> CampaignScene:
    return campaign_chain()


async def get(scene: CampaignScene, url: str, status: int = 200) -> dict[str, object]:
    async with serve(scene.node) as client:
        resp = await client.get(url)
        body = await resp.json()
        assert resp.status == status, body
        return body  # type: ignore[no-any-return]


async def test_one_campaign_says_goal_pledged_pledgers_status_and_time_left(
        scene: CampaignScene) -> None:
    kept = await get(scene, f"/api/v1/campaign/{scene.kept.hex()}")
    assert kept["status"] == "open" and kept["mode"] == "keep-what-you-raise"
    assert (kept["goal"], kept["pledged"], kept["pledges"], kept["pledgers"]) == (
        50 * COIN, 2 * COIN, 1, 1)
    assert kept["percent"] == 4 and kept["deadline"] == 30
    assert kept["beneficiary"] == addr(CAROL.lock) and kept["title"] == "Seed library"
    assert kept["blocks_left"] == 30 - 7  # heights 7..29 still take pledges
    assert kept["block_interval_ms"] == 1000  # blocks are 1 s apart in the scene
    assert kept["time_left_ms"] == 23 * 1000
    won = await get(scene, f"/api/v1/campaign/{scene.won.hex()}")
    assert won["status"] == "succeeded" and won["blocks_left"] == won["time_left_ms"] == 0
    assert won["pledgers"] == 2 and won["pledges"] == 2 and won["percent"] == 100
    lost = await get(scene, f"/api/v1/campaign/{scene.lost.hex()}")
    assert lost["status"] == "failed" and lost["percent"] == 1


async def test_the_list_filters_by_status_and_beneficiary_and_pages(
        scene: CampaignScene) -> None:
    every = await get(scene, "/api/v1/campaigns")
    assert {c["title"] for c in every["campaigns"]} == {  # type: ignore[union-attr,index]
        "Bakery oven", "Cargo bike", "Seed library"}
    assert every["next"] is None and every["tip"] == 6
    for status, title in (("open", "Seed library"), ("succeeded", "Bakery oven"),
                          ("failed", "Cargo bike")):
        page = await get(scene, f"/api/v1/campaigns?status={status}")
        assert [c["title"] for c in page["campaigns"]] == [title]  # type: ignore[union-attr,index]
    carol = await get(scene, f"/api/v1/campaigns?beneficiary={addr(CAROL.lock)}")
    assert {c["title"] for c in carol["campaigns"]} == {  # type: ignore[union-attr,index]
        "Cargo bike", "Seed library"}
    seen, after = [], ""
    while True:
        page = await get(scene, f"/api/v1/campaigns?limit=1{after}")
        seen += [c["id"] for c in page["campaigns"]]  # type: ignore[union-attr,index]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert seen == [c["id"] for c in every["campaigns"]]  # type: ignore[union-attr,index]


async def test_a_page_ends_after_the_scan_bound_with_a_cursor(
        scene: CampaignScene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaigns_api, "MAX_SCAN", 1)
    page = await get(scene, "/api/v1/campaigns?status=failed")
    assert page["next"] is not None  # one record read, more to come
    titles: list[str] = []
    while True:
        titles += [c["title"] for c in page["campaigns"]]  # type: ignore[union-attr,index]
        if page["next"] is None:
            break
        page = await get(scene, f"/api/v1/campaigns?status=failed&after={page['next']}")
    assert titles == ["Cargo bike"]


async def test_pledges_pledgers_and_a_pledgers_refunds(scene: CampaignScene) -> None:
    kept = await get(scene, f"/api/v1/campaign/{scene.kept.hex()}/pledges")
    assert [(p["amount"], p["refund_address"]) for p in kept["pledges"]] == [  # type: ignore[union-attr,index]
        (2 * COIN, addr(CAROL.lock))]
    won = await get(scene, f"/api/v1/campaign/{scene.won.hex()}/pledges")
    assert won["pledges"] == []  # claimed
    pledgers = await get(scene, f"/api/v1/campaign/{scene.won.hex()}/pledgers")
    assert {p["address"]: p["amount"] for p in pledgers["pledgers"]} == {  # type: ignore[union-attr,index]
        addr(ALICE.lock): 6 * COIN, addr(TREASURY.lock): 2 * FEE}
    carol = await get(scene, f"/api/v1/pledges/{addr(CAROL.lock)}")
    assert [(p["campaign"], p["amount"], p["status"]) for p in carol["pledges"]] == [  # type: ignore[union-attr,index]
        (scene.kept.hex(), 2 * COIN, "open")]
    alice = await get(scene, f"/api/v1/pledges/{addr(ALICE.lock)}")
    assert alice["pledges"] == []  # refunded, and the won pledge was claimed


async def test_the_treasury_shows_balance_fees_per_day_and_the_grant_with_its_memo(
        scene: CampaignScene) -> None:
    body = await get(scene, "/api/v1/treasury")
    store = scene.node.store
    assert body["address"] == addr(TREASURY.lock)
    assert body["balance"] == store.get_address_summary(TREASURY.lock).balance
    assert body["fees_per_day"] == [{"day": "2023-11-15", "fees": 4 * FEE, "blocks": 3},
                                    {"day": "2023-11-14", "fees": 5 * FEE, "blocks": 2}]
    (grant,) = body["spends"]  # type: ignore[misc]
    assert grant["txid"] == codec.txid(scene.grant).hex()
    assert grant["memo"] == GRANT_MEMO.decode()
    assert grant["paid"] == 2 * FEE and grant["fee"] == FEE
    assert grant["outputs"][0]["campaign"] == scene.won.hex()
    assert grant["outputs"][0]["refund_address"] == addr(TREASURY.lock)
    assert body["next"] is None


async def test_treasury_pages_on_past_the_scan_bound(scene: CampaignScene,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(treasury_api, "MAX_SCAN", 1)
    body = await get(scene, "/api/v1/treasury")
    found = list(body["spends"])  # type: ignore[call-overload]
    while body["next"] is not None:
        body = await get(scene, f"/api/v1/treasury?after={body['next']}")
        found += body["spends"]  # type: ignore[operator]
    assert [s["txid"] for s in found] == [codec.txid(scene.grant).hex()]


async def test_a_tx_shows_its_pledges_and_the_campaign_it_creates(scene: CampaignScene) -> None:
    record = scene.node.store.get_campaign(scene.won)
    assert record is not None
    made = await get(scene, f"/api/v1/tx/{record.txid.hex()}")
    assert made["campaign"]["id"] == scene.won.hex()  # type: ignore[index]
    assert made["campaign"]["mode"] == "all-or-nothing"  # type: ignore[index]
    assert made["outputs"][0]["campaign"] is None  # type: ignore[index]
    grant = await get(scene, f"/api/v1/tx/{codec.txid(scene.grant).hex()}")
    assert grant["campaign"] is None
    assert grant["outputs"][0]["refund_address"] == addr(TREASURY.lock)  # type: ignore[index]


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/api/v1/campaigns?status=won", 400, "status must be"),
    ("/api/v1/campaigns?limit=0", 400, "limit"),
    ("/api/v1/campaigns?limit=1001", 400, "limit"),
    ("/api/v1/campaigns?after=5", 400, "after must be"),
    ("/api/v1/campaigns?after=5.zz", 400, "hex"),
    ("/api/v1/campaigns?beneficiary=tfair1typo", 400, ""),
    ("/api/v1/campaign/nothex", 400, "campaign id"),
    (f"/api/v1/campaign/{'00' * 32}", 404, "no campaign"),
    (f"/api/v1/campaign/{'00' * 32}/pledges", 404, "no campaign"),
    (f"/api/v1/campaign/{'00' * 32}/pledgers", 404, "no campaign"),
    ("/api/v1/pledges/fair1mainnet", 400, ""),
    ("/api/v1/treasury?days=0", 400, "days"),
    ("/api/v1/treasury?limit=201", 400, "limit"),
    ("/api/v1/treasury?after=x", 400, "after must be"),
])
async def test_bad_input_is_a_4xx_that_says_why(scene: CampaignScene, url: str, status: int,
                                               words: str) -> None:
    body = await get(scene, url, status)
    assert words in str(body["error"])

