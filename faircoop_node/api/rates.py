"""The assembly's reference price: the rates in force, since which height, and their history.

Read from the chain state (`consensus.rates`): every node answers alike at one tip. A rate's
assembly reference is the one its `SetReferenceRate` action carried, found in the store's
governance index at the inclusion height (`since` - 2) by the action's nonce: a key range of
that one height, read in the API's read pool.
"""

from __future__ import annotations

from aiohttp import web

from consensus.chainstate import ChainState
from consensus.governance import RATE_CURRENCY_RE, SignedAction, decode_block_action
from consensus.rates import RATE_SCALE, RateChange
from faircoop_node.api.errors import BadRequest, NotFound
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_uint
from faircoop_node.api.render import Json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.protocol import ActionLocation, ChainReader

routes = web.RouteTableDef()

MAX_ACTIONS_SCANNED = 1024  # actions of one block looked through for a reference


def price_text(units_per_coin: int) -> str:
    """125000000 -> "1.25000000": the currency per coin, 8 places."""
    whole, frac = divmod(units_per_coin, RATE_SCALE)
    return f"{whole}.{frac:08d}"


def change_json(change: RateChange) -> Json:
    return {"since": change.since, "units_per_coin": change.units_per_coin,
            "price": price_text(change.units_per_coin), "nonce": change.nonce}


def reference_of(store: ChainReader, change: RateChange) -> dict[str, str] | None:
    """The assembly reference of the action that set `change` (null: a version 1 action, or
    the block is beyond what this store holds)."""
    included = change.since - 2
    if included < 1:
        return None
    found = store.get_governance_history(limit=MAX_ACTIONS_SCANNED,
                                         before=ActionLocation(included + 1, 0))
    for entry in found:
        if entry.height != included:
            break
        action = decode_block_action(entry.action)
        if isinstance(action, SignedAction) and action.nonce == change.nonce:
            ref = action.reference
            return None if ref is None else {"uri": ref.uri, "text": ref.text}
    return None


def _rates(store: ChainReader, state: ChainState, height: int) -> Json:
    book = state.rates
    return {
        "height": height,
        "tip": state.height,
        "scale": RATE_SCALE,
        "rates": [{"currency": currency, **change_json(change),
                   "reference": reference_of(store, change)}
                  for currency, change in book.in_force(height)],
        "unknown": [c.currency for c in book.currencies if not c.known(height)],
        "currencies": [c.currency for c in book.currencies],
    }


@routes.get("/api/v1/rates")
async def rates(request: web.Request) -> web.StreamResponse:
    """The rates in force at `height` (default: the next block's, tip + 1), each since when
    and on whose decision; `unknown` names the currencies whose kept history starts later,
    `currencies` every currency the chain keeps a history of (withdrawn ones too)."""
    view = request.app[VIEW]
    state = view.chain_state()
    height = parse_uint(request.query.get("height"), "height", default=state.height + 1,
                        hi=state.height + 2)
    return await json_from_pool(request, _rates, view.store, state, height)


@routes.get("/api/v1/rates/{currency}")
async def currency_history(request: web.Request) -> web.Response:
    """One currency's kept changes, oldest first; heights below `known_from` are unknown."""
    code = request.match_info["currency"]
    if not RATE_CURRENCY_RE.match(code):
        raise BadRequest(f"{code[:16]!r} is not a currency code (3 to 8 upper-case letters and "
                         "digits, a letter first)")
    found = request.app[VIEW].chain_state().rates.of(code)
    if found is None:
        raise NotFound(f"the assembly has set no rate for {code}")
    return web.json_response({"currency": code, "known_from": found.known_from,
                              "changes": [change_json(c) for c in found.changes]})
