"""The node's HTTP API: an Esplora-shaped REST interface under `/api/v1`, for wallets,
explorers and the cooperative's operators.

`create_app(view)` builds the aiohttp application over a `NodeView` (see `view.py`); the node
runs it, tests run it over a view on a `MemoryStore`. Handlers are thin: they parse, read the
view and shape JSON; no ledger rule is applied here (submitting a tx hands it to the node).

What clients can make the node spend is bounded by `ApiLimits` (`limits.py`): open connections
(`site.py`), block streams, heavy reads (done in the API's own threads, `offload.py`) and the
bytes of answers being sent; past a bound the answer is 503 with `Retry-After`.

Left out on purpose: authentication and per-client rate limiting (bind the API to loopback, or
put it behind a proxy that does them), CORS, and writing anything but transactions and signed
governance actions (`actions.py`: the node checks their signatures before it pools them).
"""

from __future__ import annotations

from aiohttp import web

from consensus.params import PARAM_RANGES
from faircoop_node.api import (
    actions,
    addresses,
    campaigns,
    chain,
    credit,
    governance,
    metrics,
    offload,
    openapi,
    rates,
    stream,
    treasury,
    txs,
)
from faircoop_node.api.errors import error_middleware
from faircoop_node.api.limits import ApiLimits
from faircoop_node.api.view import KEEPALIVE_S, MAX_BODY, VIEW, NodeView

# The largest tx any parameter setting allows, as hex, plus room for a JSON wrapper.
DEFAULT_MAX_BODY = 2 * PARAM_RANGES["max_tx_size"][1] + 4096
DEFAULT_KEEPALIVE_S = 15.0

__all__ = ["DEFAULT_KEEPALIVE_S", "DEFAULT_MAX_BODY", "ApiLimits", "NodeView", "create_app"]


def create_app(
    view: NodeView,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    keepalive_s: float = DEFAULT_KEEPALIVE_S,
    limits: ApiLimits | None = None,
) -> web.Application:
    """The API over `view`; `limits` defaults to `ApiLimits()` (the node passes its own,
    sized from its descriptor limit: `ApiLimits.for_descriptors`)."""
    limits = limits or ApiLimits()
    app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    app[VIEW] = view
    app[MAX_BODY] = max_body
    app[KEEPALIVE_S] = keepalive_s
    app[stream.SLOTS] = stream.StreamSlots(limits.max_streams)
    offload.install(app, limits)
    for module in (chain, txs, addresses, credit, governance, actions, rates, stream, metrics,
                   openapi, campaigns, treasury):
        app.router.add_routes(module.routes)
    app.on_shutdown.append(stream.close_streams)
    return app
