"""Address handlers: balance, unspent outputs and history, read from the store's address index.

An address is decoded for this node's network: a typo fails its checksum and another network's
address fails its prefix, each a 400 whose message says which. Lists are paged with `limit`
(and, for history, `before_height`/`before_position`, the last entry of the previous page).
A page is at most 10,000 entries, read and encoded in the API's read pool (`offload.py`).
The mempool's effect on a balance comes from the pool's address index (`Mempool.lock_delta`,
one dict read on the loop), not from a walk of the pool.
"""

from __future__ import annotations

from aiohttp import web

from consensus.address import decode_address, encode_address
from consensus.types import Lock
from faircoop_node.api.errors import BadRequest
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_uint
from faircoop_node.api.render import Json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.protocol import ChainReader, TxLocation

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000

routes = web.RouteTableDef()


def lock_param(request: web.Request) -> Lock:
    return decode_address(request.match_info["address"],
                          request.app[VIEW].store.genesis.network)


def limit_param(request: web.Request) -> int:
    return parse_uint(request.query.get("limit"), "limit", default=DEFAULT_LIMIT, lo=1,
                      hi=MAX_LIMIT)


def _address(store: ChainReader, lock: Lock, mempool_delta: int) -> Json:
    summary = store.get_address_summary(lock)
    return {
        "address": encode_address(lock, store.genesis.network),
        "lock": lock.hex(),
        "balance": summary.balance,
        "utxo_count": summary.utxo_count,
        "tx_count": summary.tx_count,
        "mempool_balance_delta": mempool_delta,
    }


@routes.get("/api/v1/address/{address}")
async def address(request: web.Request) -> web.StreamResponse:
    """The mempool's delta is read here, on the loop that alone changes the pool; the
    summary's store reads run in the read pool."""
    view = request.app[VIEW]
    lock = lock_param(request)
    return await json_from_pool(request, _address, view.store, lock,
                                view.mempool.lock_delta(lock))


def _utxos(store: ChainReader, lock: Lock, limit: int) -> list[Json]:
    return [{"txid": u.outpoint.txid.hex(), "index": u.outpoint.index, "amount": u.amount,
             "height": u.height} for u in store.get_address_utxos(lock, limit=limit)]


@routes.get("/api/v1/address/{address}/utxo")
async def address_utxo(request: web.Request) -> web.StreamResponse:
    lock = lock_param(request)
    limit = limit_param(request)
    return await json_from_pool(request, _utxos, request.app[VIEW].store, lock, limit)


def history_page(store: ChainReader, lock: Lock, limit: int, before: TxLocation | None
             ) -> list[Json]:
    return [{"txid": h.txid.hex(), "height": h.height, "position": h.position}
            for h in store.get_address_history(lock, limit=limit, before=before)]


@routes.get("/api/v1/address/{address}/txs")
async def address_txs(request: web.Request) -> web.StreamResponse:
    lock = lock_param(request)
    limit = limit_param(request)
    before = parse_before(request)
    return await json_from_pool(request, history_page, request.app[VIEW].store, lock, limit,
                                before)


def parse_before(request: web.Request) -> TxLocation | None:
    height = request.query.get("before_height")
    position = request.query.get("before_position")
    if height is None and position is None:
        return None
    if height is None or position is None:
        raise BadRequest("give both before_height and before_position, or neither")
    return TxLocation(parse_uint(height, "before_height"),
                      parse_uint(position, "before_position", hi=2**32 - 1))
