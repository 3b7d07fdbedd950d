"""Crowdfunding campaigns: the list, one campaign, its pledges and pledgers, a pledger's pledges.

Read from the store's campaign records and indexes (`storage/funding.py`), in the API's read
pool. A campaign's `status` is what the next block (tip + 1) applies: `open` means a pledge
sent now can still be included (if it makes that block or one before the deadline), and
`succeeded`/`failed` means claims or refunds are spendable now. `time_left_ms` estimates when
the last block that takes pledges is committed, from the blocks left and the block interval
observed over the last 100 blocks (the parameter's heartbeat before there are two).

Lists are paged: `limit`, and a cursor `after` (the `next` of the previous page). The campaign
list reads at most `MAX_SCAN` records per page whatever the filter, so a page may hold fewer
than `limit` campaigns and still have a `next`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from consensus.address import decode_address, encode_address
from consensus.campaign import Campaign, CampaignStatus
from consensus.params import ChainParams
from consensus.types import Lock
from faircoop_node.api.errors import BadRequest, NotFound
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_hash, parse_hex, parse_uint
from faircoop_node.api.render import Json, terms_json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.protocol import ChainReader

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_PLEDGES = 10_000
MAX_SCAN = 5000
INTERVAL_WINDOW = 100  # blocks the observed interval is averaged over

routes = web.RouteTableDef()
Keep = Callable[[Campaign, int], bool]  # (campaign, the next block's height) -> listed?


def observed_interval_ms(store: ChainReader, params: ChainParams) -> int:
    """The mean time between the last (up to) 100 blocks; the heartbeat before there are two
    (an idle chain makes one block per heartbeat)."""
    tip = store.tip().height
    first = max(1, tip - INTERVAL_WINDOW)
    if tip < 2:
        return params.heartbeat_ms
    times = []
    for height in (first, tip):
        block_id = store.get_hash_at(height)
        header = None if block_id is None else store.get_header(block_id)
        if header is None:
            return params.heartbeat_ms
        times.append(header.time_ms)
    return max(1, (times[1] - times[0]) // (tip - first))


def campaign_json(c: Campaign, store: ChainReader, tip: int, interval_ms: int) -> Json:
    network = store.genesis.network
    blocks_left = max(0, c.terms.deadline - (tip + 1))
    return {
        "id": c.id.hex(),
        "txid": c.txid.hex(),
        "created_height": c.created,
        **terms_json(c.terms, network),
        "pledged": c.pledged,
        "pledges": c.pledges,
        "pledgers": store.count_pledgers(c.id),
        "percent": c.pledged * 100 // c.terms.goal,
        "status": c.status(tip + 1).value,
        "blocks_left": blocks_left,
        "time_left_ms": blocks_left * interval_ms,
        "block_interval_ms": interval_ms,
    }


def _campaign_id(request: web.Request) -> bytes:
    return parse_hash(request.match_info["id"], "campaign id")


def _limit(request: web.Request, hi: int = MAX_LIMIT) -> int:
    return parse_uint(request.query.get("limit"), "limit", default=min(DEFAULT_LIMIT, hi),
                      lo=1, hi=hi)


def parse_campaign_cursor(text: str | None) -> tuple[int, bytes] | None:
    """A page's `after`: the `next` (HEIGHT.ID) of the page before, or None."""
    if text is None:
        return None
    height, dot, cid = text.partition(".")
    if not dot:
        raise BadRequest(f"after must be the `next` of a page (HEIGHT.ID), got {text[:80]!r}")
    return parse_uint(height, "after's height"), parse_hex(cid, "after's id", size=32)


def status_is(status: CampaignStatus) -> Keep:
    return lambda c, next_height: c.status(next_height) is status


def parse_status(text: str) -> CampaignStatus:
    try:
        return CampaignStatus(text)
    except ValueError:
        raise BadRequest(f"status must be open, succeeded or failed, got {text[:40]!r}") from None


def campaign_page(store: ChainReader, params: ChainParams, keep: Keep | None,
                  beneficiary: Lock | None, limit: int, after: tuple[int, bytes] | None) -> Json:
    """GET campaigns' answer: up to `limit` campaigns `keep` keeps (all if None), newest
    first, of `beneficiary` if given, after the cursor `after`."""
    tip = store.tip().height
    scanned = (store.get_campaigns(MAX_SCAN + 1, before=after) if beneficiary is None
               else store.get_campaigns_of(beneficiary, MAX_SCAN + 1, before=after))
    interval = observed_interval_ms(store, params)
    page: list[Json] = []
    last: Campaign | None = None
    for c in scanned[:MAX_SCAN]:
        if len(page) >= limit:
            break
        last = c
        if keep is None or keep(c, tip + 1):
            page.append(campaign_json(c, store, tip, interval))
    more = last is not None and (last is not scanned[-1] or len(scanned) > MAX_SCAN)
    return {"tip": tip, "campaigns": page,
            "next": f"{last.created}.{last.id.hex()}" if more and last is not None else None}


@routes.get("/api/v1/campaigns")
async def campaigns(request: web.Request) -> web.StreamResponse:
    """Campaigns newest first; `status` (open, succeeded, failed) and `beneficiary` filter."""
    view = request.app[VIEW]
    text = request.query.get("status")
    status = None if text is None else parse_status(text)
    who = request.query.get("beneficiary")
    network = view.store.genesis.network
    beneficiary = None if who is None else decode_address(who, network)
    return await json_from_pool(request, campaign_page, view.store, view.chain_state().params,
                                None if status is None else status_is(status), beneficiary,
                                _limit(request), parse_campaign_cursor(request.query.get("after")))


def campaign_answer(store: ChainReader, params: ChainParams, cid: bytes) -> Json:
    record = store.get_campaign(cid)
    if record is None:
        raise NotFound(f"no campaign {cid.hex()}")
    return campaign_json(record, store, store.tip().height, observed_interval_ms(store, params))


@routes.get("/api/v1/campaign/{id}")
async def campaign(request: web.Request) -> web.StreamResponse:
    view = request.app[VIEW]
    return await json_from_pool(request, campaign_answer, view.store, view.chain_state().params,
                                _campaign_id(request))


def pledges_answer(store: ChainReader, cid: bytes, limit: int) -> Json:
    """The campaign's unspent pledges among the first `limit` outputs locked to its id."""
    if store.get_campaign(cid) is None:
        raise NotFound(f"no campaign {cid.hex()}")
    network = store.genesis.network
    found: list[Json] = []
    for u in store.get_address_utxos(cid, limit=limit):
        out = store.get_utxo(u.outpoint)
        if out is None or out.refund is None:  # spent meanwhile, or a coin sent to the id
            continue
        found.append({"txid": u.outpoint.txid.hex(), "index": u.outpoint.index,
                      "amount": u.amount, "height": u.height,
                      "refund_address": encode_address(out.refund, network)})
    return {"campaign": cid.hex(), "pledges": found}


@routes.get("/api/v1/campaign/{id}/pledges")
async def campaign_pledges(request: web.Request) -> web.StreamResponse:
    """The campaign's unspent pledges, by outpoint (what a claim spends)."""
    return await json_from_pool(request, pledges_answer, request.app[VIEW].store,
                                _campaign_id(request), _limit(request, MAX_PLEDGES))


def pledgers_answer(store: ChainReader, cid: bytes, limit: int) -> Json:
    if store.get_campaign(cid) is None:
        raise NotFound(f"no campaign {cid.hex()}")
    network = store.genesis.network
    return {"campaign": cid.hex(), "pledgers": [
        {"address": encode_address(p.refund, network), "amount": p.amount, "pledges": p.pledges}
        for p in store.get_pledgers(cid, limit)]}


@routes.get("/api/v1/campaign/{id}/pledgers")
async def campaign_pledgers(request: web.Request) -> web.StreamResponse:
    """Who pledged and how much in all, by refund address (spent pledges included)."""
    return await json_from_pool(request, pledgers_answer, request.app[VIEW].store,
                                _campaign_id(request), _limit(request, MAX_PLEDGES))


def _refunds(store: ChainReader, refund: Lock, limit: int) -> Json:
    tip = store.tip().height
    status: dict[bytes, str] = {}
    found: list[Json] = []
    for p in store.get_pledges(refund, limit):
        if p.campaign not in status:
            record = store.get_campaign(p.campaign)
            status[p.campaign] = "unknown" if record is None else record.status(tip + 1).value
        found.append({"txid": p.outpoint.txid.hex(), "index": p.outpoint.index,
                      "campaign": p.campaign.hex(), "amount": p.amount, "height": p.height,
                      "status": status[p.campaign]})
    return {"address": encode_address(refund, store.genesis.network), "tip": tip,
            "pledges": found}


@routes.get("/api/v1/pledges/{address}")
async def pledges_of(request: web.Request) -> web.StreamResponse:
    """The unspent pledges refunded to an address if their campaigns fail, with each
    campaign's status (what a refund spends)."""
    view = request.app[VIEW]
    refund = decode_address(request.match_info["address"], view.store.genesis.network)
    return await json_from_pool(request, _refunds, view.store, refund,
                                _limit(request, MAX_PLEDGES))
