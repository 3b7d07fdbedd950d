"""The explorer over a chain with campaigns (tests/api/api_campaign_scene.py): a pledge, a
claim, a refund and a treasury grant each get their page, and so does the address a pledge's
lock (its campaign id) reads as; a version 2 tx or an 80-byte UTXO record breaks no page."""

from __future__ import annotations

from consensus import codec
from consensus.address import encode_address
from tests.api.api_campaign_scene import campaign_chain
from tests.explorer.explorer_chain import explore, text_of


async def test_every_page_of_a_chain_with_campaigns_is_served() -> None:
    scene = campaign_chain()
    campaign_address = encode_address(scene.won, "test")
    paths = [f"/tx/{codec.txid(t).hex()}" for t in (scene.grant, scene.claim, scene.refund)]
    paths += [f"/address/{campaign_address}", "/treasury", "/campaigns", "/", "/blocks"]
    async with explore(scene.node) as client:
        for path in paths:
            resp = await client.get(path)
            assert resp.status == 200, path
            assert "Traceback" not in text_of(await resp.text()), path
