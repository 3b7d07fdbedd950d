"""Mutual credit handlers: an account, its history, and the whole system's totals.

Everything is read from the store's credit keyspaces (`storage/credit_index.py`): an account
from one record, a history page from one key range, the totals from one record. What this node
holds in its mempool for an account (transfers waiting, what they debit, so the sequence number
a new transfer must name) is one dict read on the loop; a limit that governance set in the last
block and that takes effect two heights later is read from the chain state.
"""

from __future__ import annotations

from aiohttp import web

from consensus.address import encode_address
from consensus.chainstate import ChainState
from consensus.credit import LIMIT, RECEIVED, SENT
from consensus.governance import credit_limit_changes
from consensus.types import Lock
from faircoop_node.api.addresses import limit_param, lock_param, parse_before
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.render import Json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.protocol import ChainReader, TxLocation

routes = web.RouteTableDef()

KINDS = {SENT: "sent", RECEIVED: "received", LIMIT: "limit"}


def _pending_limits(state: ChainState, lock: Lock) -> list[Json]:
    """Limits the last block's governance set for `lock`, not yet in force."""
    return [{"limit": c.limit, "effective_height": state.pending_effective_height}
            for c in credit_limit_changes(state.pending_actions) if c.lock == lock]


def _account(store: ChainReader, lock: Lock, pending: tuple[int, int],
             pending_limits: list[Json]) -> Json:
    summary = store.get_credit_summary(lock)
    a = summary.account
    count, amount = pending
    return {
        "address": encode_address(lock, store.genesis.network),
        "lock": lock.hex(),
        "balance": a.balance,
        "limit": a.limit,
        "available": a.available,
        "sequence": a.sequence,
        "history_count": summary.lines,
        "mempool_pending": count,
        "mempool_debit": amount,
        "next_sequence": a.sequence + count,
        "pending_limits": pending_limits,
    }


@routes.get("/api/v1/credit/{address}")
async def credit_account(request: web.Request) -> web.StreamResponse:
    """The pool and the chain state are read here, on the loop that alone changes them; the
    account record in the read pool."""
    view = request.app[VIEW]
    lock = lock_param(request)
    return await json_from_pool(request, _account, view.store, lock,
                                view.mempool.credit_pending(lock),
                                _pending_limits(view.chain_state(), lock))


def _history(store: ChainReader, lock: Lock, limit: int, before: TxLocation | None
             ) -> list[Json]:
    network = store.genesis.network
    zero = bytes(32)
    return [{
        "height": line.height,
        "position": line.position,
        "kind": KINDS[line.kind],
        "amount": line.amount,
        "balance": line.balance,
        "txid": line.ref.hex() if line.kind != LIMIT else None,
        "action_id": line.ref.hex() if line.kind == LIMIT else None,
        "counterparty": (encode_address(line.counterparty, network)
                         if line.counterparty != zero else None),
        "memo_hex": line.memo.hex(),
    } for line in store.get_credit_history(lock, limit=limit, before=before)]


@routes.get("/api/v1/credit/{address}/history")
async def credit_history(request: web.Request) -> web.StreamResponse:
    lock = lock_param(request)
    limit = limit_param(request)
    before = parse_before(request)
    return await json_from_pool(request, _history, request.app[VIEW].store, lock, limit,
                                before)


@routes.get("/api/v1/credit")
async def credit_totals(request: web.Request) -> web.Response:
    """One record read: answered on the loop."""
    view = request.app[VIEW]
    t = view.store.get_credit_totals()
    params = view.chain_state().params
    return web.json_response({
        "accounts": t.accounts,
        "credit_lines": t.credit_lines,
        "outstanding": t.outstanding,
        "granted": t.granted,
        "positive": t.positive,
        "balance_sum": t.positive - t.outstanding,
        "sender_min_balance": params.credit_sender_min_balance,
        "block_cap": params.credit_block_cap,
        "pool_cap": params.credit_pool_cap,
    })
