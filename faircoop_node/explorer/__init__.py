"""A block explorer served by every node, at `/`, on the API's own port and from its process.

For the coops' members and assemblies, who would rather look than read JSON: the chain's tip
and recent blocks with their finality latency, each validator's participation, blocks with
their certificate's signers by coop name, txs with their finality and receipt, addresses,
governance, the treasury, and a search box (height, block hash, txid or address).

- Read-only, and read the API's way: pages read the same `NodeView` the API reads (see
  `pages.py`), heavy reads and rendering run in the API's read pool, and the API's caps hold
  (connections, heavy reads). A rendered page is kept for a second per tip (`cache.py`), so a
  page reloaded by many costs one render per block.
- Templates are Jinja (`aiohttp_jinja2`) with autoescaping; styles, script and icon ship in
  `static/` (no CDN: it works offline). Pages work without JavaScript; with it, times are shown
  in the viewer's locale and a page follows `/api/v1/blocks/stream` (SSE) and refreshes its
  content when a block arrives, at most once a second.
- Hostile input is a 4xx page (`errors.py`), never a 500; a strict Content-Security-Policy
  forbids inline script, so even a template mistake could not run injected code.

`mount(app)` adds it to an API app (`faircoop_node.service` does, unless the config says
`[explorer] enabled = false`).
"""

from __future__ import annotations

from aiohttp import web

from faircoop_node.explorer import templating
from faircoop_node.explorer.commits import CommitLog
from faircoop_node.explorer.errors import explorer_errors
from faircoop_node.explorer.routes import EXPLORER, Explorer, routes

__all__ = ["CommitLog", "Explorer", "mount"]


def mount(app: web.Application, commits: CommitLog | None = None) -> Explorer:
    """Serve the explorer from `app` (an API app, before it starts); `commits` is where the
    node records when it commits each block (the overview's finality latency)."""
    explorer = Explorer(templating.setup(app), commits or CommitLog())
    app[EXPLORER] = explorer
    app.middlewares.append(explorer_errors)
    app.router.add_routes(routes)
    return explorer
