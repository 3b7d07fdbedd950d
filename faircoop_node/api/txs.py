"""Transaction handlers: look up, status, finality proof, submit; and the mempool summary.

A tx is *final* once its block is committed: the block's commit certificate proves it. The
proof endpoint returns everything a wallet needs to check that offline (the header, the Merkle
path from the txid to the header's tx root, the certificate, and the validator set the
certificate must be checked against), so it need not trust this node.

A lookup reads the tx's index record and slices the tx out of its block's bytes; the proof
decodes the whole block. Both run in the API's read pool (`offload.py`), off the event loop.
"""

from __future__ import annotations

from aiohttp import web

from consensus.codec import decode_block_tx, encode_header
from consensus.codec import txid as compute_txid
from consensus.errors import DecodeError, FaircoopError
from consensus.merkle import merkle_proof
from consensus.types import TxId
from faircoop_node.api.errors import BadRequest, NotFound, describe, error_body
from faircoop_node.api.lookup import Placed, place
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_hash, parse_hex, parse_json
from faircoop_node.api.render import Json, block_tx_json, status_json
from faircoop_node.api.view import VIEW, NodeView

routes = web.RouteTableDef()


def _txid_param(request: web.Request) -> TxId:
    return TxId(parse_hash(request.match_info["txid"], "txid"))


def _status(view: NodeView, tid: TxId, placed: Placed | None) -> Json:
    if placed is None:
        return status_json(in_mempool=tid in view.mempool)
    return status_json(
        in_mempool=False,
        height=placed.location.height,
        block_hash=placed.block_hash,
        position=placed.location.position,
        certificate=view.store.get_certificate(placed.location.height),
    )


def tx_answer(view: NodeView, tid: TxId) -> Json:
    """The tx from its index record and its block's bytes, or from the mempool (a thread)."""
    store = view.store
    committed = store.get_committed_tx(tid)
    if committed is not None:
        tx, fee, placed = committed.tx, committed.fee, place(store, committed.location)
    else:
        entry = view.mempool.get(tid)
        if entry is None:
            raise NotFound(f"no tx {tid.hex()} in the chain or the mempool")
        tx, fee, placed = entry.tx, entry.fee, None
    return block_tx_json(tx, tid, store.genesis.network, fee, _status(view, tid, placed))


@routes.get("/api/v1/tx/{txid}")
async def get_tx(request: web.Request) -> web.StreamResponse:
    return await json_from_pool(request, tx_answer, request.app[VIEW], _txid_param(request))


@routes.get("/api/v1/tx/{txid}/status")
async def tx_status(request: web.Request) -> web.Response:
    """Three small reads (index record, height, certificate): answered on the loop."""
    view = request.app[VIEW]
    tid = _txid_param(request)
    placed = place(view.store, view.store.get_tx_location(tid))
    if placed is None and tid not in view.mempool:
        raise NotFound(f"no tx {tid.hex()} in the chain or the mempool")
    return web.json_response(_status(view, tid, placed))


def _proof(view: NodeView, tid: TxId) -> Json:
    """The finality receipt: decodes the tx's whole block for the Merkle path (a thread)."""
    store = view.store
    placed = place(store, store.get_tx_location(tid))
    block = store.get_block(placed.block_hash) if placed is not None else None
    if placed is None or block is None:
        pending = " (it is in the mempool, not yet final)" if tid in view.mempool else ""
        raise NotFound(f"no committed tx {tid.hex()}{pending}")
    header = block.header
    txids: list[bytes] = [compute_txid(tx) for tx in block.txs]
    certificate = store.get_certificate(header.height)
    validator_set = store.get_validator_set(header.validators_hash)
    return {
        "txid": tid.hex(),
        "height": header.height,
        "block_hash": placed.block_hash.hex(),
        "header_hex": encode_header(header).hex(),
        "position": placed.location.position,
        "tx_count": len(txids),
        "merkle_proof": [node.hex() for node in merkle_proof(txids, placed.location.position)],
        "certificate_hex": certificate.hex() if certificate is not None else None,
        "validator_set_hex": validator_set.hex() if validator_set is not None else None,
    }


@routes.get("/api/v1/tx/{txid}/proof")
async def tx_proof(request: web.Request) -> web.StreamResponse:
    return await json_from_pool(request, _proof, request.app[VIEW], _txid_param(request))


@routes.post("/api/v1/tx")
async def post_tx(request: web.Request) -> web.Response:
    """Submit a tx or a credit transfer: the body is its hex (or JSON {"hex": ...}); the answer
    is its txid."""
    view = request.app[VIEW]
    raw = parse_hex(await _body_hex(request), "tx hex", rule="decode")
    if not raw:
        raise BadRequest("empty body: send the hex of the encoded tx", rule="decode")
    tx = decode_block_tx(raw)
    tid = await view.submit_tx(tx)
    return web.json_response({"txid": tid.hex()})


MAX_BATCH_TXS = 1_000


@routes.post("/api/v1/txs")
async def post_txs(request: web.Request) -> web.Response:
    """Submit several txs in one request, admitted one by one in order (a parent before its
    child); the answer has one entry per tx, a txid or the error that refused it.

    For clients that submit many txs (a payment processor, the load generator): one round
    trip instead of many. (It did not lower the node's CPU per tx measurably: PERFORMANCE.md.)
    """
    view = request.app[VIEW]
    items = _batch_items(await request.read())
    results: list[dict[str, str]] = []
    for n, text in enumerate(items):
        try:
            raw = parse_hex(text.strip(), f"tx {n} hex", rule="decode")
            if not raw:
                raise BadRequest(f"tx {n} is empty", rule="decode")
            tid = await view.submit_tx(decode_block_tx(raw))
        except FaircoopError as exc:
            status, message, rule = describe(exc)
            if status >= 500:  # the node, not the tx, failed: stop and say so
                raise
            results.append(error_body(message, rule))
        else:
            results.append({"txid": tid.hex()})
    return web.json_response(results)


def _batch_items(body: bytes) -> list[str]:
    obj = parse_json(body, "body (a JSON array of tx hex strings)")
    if not isinstance(obj, list) or not all(isinstance(item, str) for item in obj):
        raise BadRequest("body must be a JSON array of tx hex strings", rule="decode")
    if not obj:
        raise BadRequest("the array is empty: send at least one tx", rule="decode")
    if len(obj) > MAX_BATCH_TXS:
        raise BadRequest(f"{len(obj)} txs in one request; at most {MAX_BATCH_TXS}",
                         rule="decode")
    return obj


async def _body_hex(request: web.Request) -> str:
    body = await request.read()
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise DecodeError("body is not hex text (send the hex of the encoded tx)") from None
    if request.content_type == "application/json" or text.startswith("{"):
        obj = parse_json(text, "body")
        if not isinstance(obj, dict) or not isinstance(obj.get("hex"), str):
            raise BadRequest('JSON body must be {"hex": "<encoded tx hex>"}', rule="decode")
        return str(obj["hex"]).strip()
    return text


@routes.get("/api/v1/mempool")
async def mempool(request: web.Request) -> web.StreamResponse:
    """Up to the pool's 50,000 txids: listed on the loop (a copy of references), encoded in a
    thread."""
    pool = request.app[VIEW].mempool
    count, size, entries = len(pool), pool.size_bytes, pool.entries()
    return await json_from_pool(request, lambda: {
        "count": count, "bytes": size, "txids": [e.txid.hex() for e in entries]})
