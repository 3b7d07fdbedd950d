"""The explorer's routes: one handler per page, each a snapshot on the loop, a build and a render
in the read pool, and the rendered page kept a moment in the page cache (`cache.py`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from consensus.address import decode_address
from consensus.types import TxId
from faircoop_node.api.addresses import parse_before
from faircoop_node.api.campaigns import parse_campaign_cursor
from faircoop_node.api.errors import NotFound
from faircoop_node.api.governance import parse_cursor
from faircoop_node.api.offload import POOL
from faircoop_node.api.parse import parse_after, parse_hash
from faircoop_node.api.view import VIEW
from faircoop_node.explorer import campaigns as funding
from faircoop_node.explorer import pages, search
from faircoop_node.explorer.cache import PageCache
from faircoop_node.explorer.chainread import ChainCache
from faircoop_node.explorer.commits import CommitLog
from faircoop_node.explorer.pages import Context, Reader, Snapshot
from faircoop_node.storage.protocol import TxLocation

STATIC_DIR = Path(__file__).with_name("static")
# The shipped assets, by name: nothing else under /static/ is served (no directory walk).
ASSETS = {"explorer.css": "text/css", "explorer.js": "text/javascript",
          "favicon.svg": "image/svg+xml"}
HTML = "text/html"
# Scripts, styles and images from this node only; no inline script or style, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

Build = Callable[[Reader, Snapshot], Context]


class Explorer:
    """The explorer's state on the API's app: templates, caches and the commit log."""

    def __init__(self, env: jinja2.Environment, commits: CommitLog) -> None:
        self.env = env
        self.commits = commits
        self.chain = ChainCache()
        self.pages = PageCache()

    def render(self, template: str, context: Context) -> bytes:
        return self.env.get_template(template).render(context).encode()


EXPLORER = web.AppKey("faircoop.explorer", Explorer)

routes = web.RouteTableDef()


def html(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=HTML, charset="utf-8")


async def page(request: web.Request, template: str, build: Build, *, nav: str = "",
               cache: bool = True) -> web.Response:
    """Render `template` with what `build` reads (in the read pool), or serve it from the page
    cache if it was rendered at this tip less than a second ago."""
    explorer = request.app[EXPLORER]
    view = request.app[VIEW]
    snap = Snapshot.take(view)
    body = explorer.pages.get(request.path_qs, snap.tip) if cache else None
    if body is None:
        reader = Reader(view, explorer.chain, explorer.commits)

        def make() -> bytes:
            context = build(reader, snap)
            return explorer.render(template, {**snap.common(), **context, "nav": nav,
                                              "live": True})

        body = await request.app[POOL].run(make)
        if cache:
            explorer.pages.put(request.path_qs, snap.tip, body)
    return html(body)


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """A 4xx or 5xx page (rendered on the loop: a small template, no store reads). A 404 page
    follows new blocks, so a tx or block that arrives later replaces it."""
    explorer = request.app[EXPLORER]
    snap = Snapshot.take(request.app[VIEW])
    body = explorer.render("error.html", {**snap.common(), "status": status, "message": message,
                                          "nav": "", "live": status == 404})
    return html(body, status)


@routes.get("/static/{name}")
async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    kind = ASSETS.get(name)
    if kind is None:
        raise NotFound(f"no asset {name[:80]!r}")
    return web.FileResponse(STATIC_DIR / name, headers={"Content-Type": kind,
                                                        "Cache-Control": "max-age=300"})


@routes.get("/")
async def overview(request: web.Request) -> web.Response:
    return await page(request, "overview.html", pages.overview, nav="overview")


@routes.get("/blocks")
async def blocks(request: web.Request) -> web.Response:
    before = pages.optional_uint(request.query, "before", lo=1)
    return await page(request, "blocks.html", lambda r, s: pages.blocks(r, s, before),
                      nav="blocks")


@routes.get("/block/{id}")
async def block(request: web.Request) -> web.Response:
    text = request.match_info["id"]
    start = pages.optional_uint(request.query, "from", hi=2**32) or 0

    def build(r: Reader, s: Snapshot) -> Context:
        return pages.block(r, s, pages.block_id(r, text), start)

    return await page(request, "block.html", build, nav="blocks")


@routes.get("/tx/{txid}")
async def tx(request: web.Request) -> web.Response:
    tid = TxId(parse_hash(request.match_info["txid"], "txid"))
    return await page(request, "tx.html", lambda r, s: pages.tx(r, s, tid))


@routes.get("/address/{address}")
async def address(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    lock = decode_address(request.match_info["address"], view.store.genesis.network)
    before = parse_before(request)
    delta = view.mempool.lock_delta(lock)
    return await page(request, "address.html",
                      lambda r, s: pages.address(r, s, lock, delta, before))


@routes.get("/validators")
async def validators(request: web.Request) -> web.Response:
    span = pages.optional_uint(request.query, "blocks", lo=10, hi=pages.MAX_WINDOW)
    return await page(request, "validators.html",
                      lambda r, s: pages.validators(r, s, span or pages.WINDOW),
                      nav="validators")


@routes.get("/governance")
async def governance(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    after = parse_cursor(request.query.get("after"))
    pooled, recoveries = view.pooled_actions(), view.held_recoveries()  # the loop's copies
    return await page(request, "governance.html",
                      lambda r, s: pages.governance(r, s, pooled, recoveries, after),
                      nav="governance")


@routes.get("/treasury")
async def treasury(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    before = parse_before(request)
    after = parse_after(request.query.get("spends_after"))
    spends_after = None if after is None else TxLocation(*after)
    delta = view.mempool.lock_delta(view.chain_state().treasury_lock)
    return await page(request, "treasury.html",
                      lambda r, s: pages.treasury(r, s, delta, before, spends_after),
                      nav="treasury")


@routes.get("/campaigns")
async def campaigns(request: web.Request) -> web.Response:
    status = funding.parse_status(request.query.get("status"))
    after = parse_campaign_cursor(request.query.get("after"))
    return await page(request, "campaigns.html",
                      lambda r, s: funding.campaign_list(r.store, s.state.params, status, after),
                      nav="campaigns")


@routes.get("/campaign/{id}")
async def campaign(request: web.Request) -> web.Response:
    cid = parse_hash(request.match_info["id"], "campaign id")
    return await page(request, "campaign.html",
                      lambda r, s: funding.campaign(r.store, s.state.params, cid),
                      nav="campaigns")


@routes.get("/credit")
async def credit(request: web.Request) -> web.Response:
    return await page(request, "credit.html", pages.credit, nav="credit")


@routes.get("/search")
async def find(request: web.Request) -> web.Response:
    """Answers with a redirect (303) to the page of what was found."""
    view = request.app[VIEW]
    text = request.query.get("q", "")
    txid = search.as_txid(text)
    pooled = txid is not None and txid in view.mempool
    target: Any = await request.app[POOL].run(search.resolve, view, text, pooled)
    raise web.HTTPSeeOther(location=str(target))
