"""Chain handlers: status, genesis, tip, blocks by height or hash, headers, validator sets.

The tip height and hash and `block-height/{h}` answer `text/plain`, as Esplora's do, so a shell
script can `curl` them; everything else is JSON.

Status, tip, height and validator-set answers are one or two small reads, made on the loop.
Blocks (decoded whole), headers (up to 3,000 reads) and the genesis (all its allocations) are
read and encoded in the API's read pool (`offload.py`).
"""

from __future__ import annotations

from aiohttp import web

from consensus.codec import (
    Obj,
    decode_canonical,
    encode_genesis,
    encode_header,
    expect_items,
    txid,
    validator_from,
)
from consensus.types import BlockHash, Validator
from faircoop_node.api.errors import NotFound
from faircoop_node.api.lookup import block_by_hash, hash_at
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_hash, parse_uint
from faircoop_node.api.render import Json, block_json, genesis_block_json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.protocol import ChainReader

MAX_HEADERS = 1000

routes = web.RouteTableDef()


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain")


@routes.get("/api/v1/status")
async def status(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    store = view.store
    tip = store.tip()
    live = view.status()
    return web.json_response({
        "chain_id": store.genesis.chain_id,
        "network": store.genesis.network,
        "genesis_hash": store.genesis_hash.hex(),
        "height": tip.height,
        "tip_hash": tip.block_hash.hex(),
        "round": live.round,
        "peers": live.peers,
        "mempool_size": len(view.mempool),
        "node_id": live.node_id,
        "validator": live.validator,
    })


@routes.get("/api/v1/genesis")
async def genesis(request: web.Request) -> web.StreamResponse:
    store = request.app[VIEW].store
    return await json_from_pool(request, lambda: {
        "hash": store.genesis_hash.hex(), "hex": encode_genesis(store.genesis).hex()})


@routes.get("/api/v1/blocks/tip/height")
async def tip_height(request: web.Request) -> web.Response:
    return _text(str(request.app[VIEW].store.tip().height))


@routes.get("/api/v1/blocks/tip/hash")
async def tip_hash(request: web.Request) -> web.Response:
    return _text(request.app[VIEW].store.tip().block_hash.hex())


@routes.get("/api/v1/block-height/{height}")
async def block_at_height(request: web.Request) -> web.Response:
    height = parse_uint(request.match_info["height"], "height")
    return _text(hash_at(request.app[VIEW].store, height).hex())


def _block_summary(store: ChainReader, block_id: bytes) -> Json:
    if block_id == store.genesis_hash:
        return genesis_block_json(store.genesis_hash, store.genesis.time_ms)
    found = block_by_hash(store, block_id)
    certificate = store.get_certificate(found.header.height)
    return block_json(found, BlockHash(block_id), certificate)


@routes.get("/api/v1/block/{hash}")
async def block(request: web.Request) -> web.StreamResponse:
    block_id = parse_hash(request.match_info["hash"], "block hash")
    return await json_from_pool(request, _block_summary, request.app[VIEW].store, block_id)


def _block_txids(store: ChainReader, block_id: bytes) -> list[str]:
    if block_id == store.genesis_hash:
        return []
    return [txid(tx).hex() for tx in block_by_hash(store, block_id).txs]


@routes.get("/api/v1/block/{hash}/txids")
async def block_txids(request: web.Request) -> web.StreamResponse:
    block_id = parse_hash(request.match_info["hash"], "block hash")
    return await json_from_pool(request, _block_txids, request.app[VIEW].store, block_id)


def _block_raw(store: ChainReader, block_id: bytes) -> Json:
    if block_id == store.genesis_hash:
        raise NotFound("the genesis is not encoded as a block: GET /api/v1/genesis")
    raw = store.get_block_bytes(block_id)
    if raw is None:
        raise NotFound(f"no block {block_id.hex()}")
    return {"hex": raw.hex()}


@routes.get("/api/v1/block/{hash}/raw")
async def block_raw(request: web.Request) -> web.StreamResponse:
    block_id = parse_hash(request.match_info["hash"], "block hash")
    return await json_from_pool(request, _block_raw, request.app[VIEW].store, block_id)


def _headers(store: ChainReader, start: int, count: int) -> list[Json]:
    tip = store.tip().height
    out: list[Json] = []
    for height in range(start, min(tip, start + count - 1) + 1):
        block_id = store.get_hash_at(height)
        header = store.get_header(block_id) if block_id is not None else None
        if block_id is None or header is None:
            break
        certificate = store.get_certificate(height)
        out.append({
            "height": height,
            "hash": block_id.hex(),
            "header_hex": encode_header(header).hex(),
            "certificate_hex": certificate.hex() if certificate is not None else None,
        })
    return out


@routes.get("/api/v1/headers")
async def headers(request: web.Request) -> web.StreamResponse:
    """Headers with their certificates, for light clients and wallets following the chain."""
    start = parse_uint(request.query.get("from"), "from", lo=1)
    count = parse_uint(request.query.get("count"), "count", default=100, lo=1, hi=MAX_HEADERS)
    return await json_from_pool(request, _headers, request.app[VIEW].store, start, count)


@routes.get("/api/v1/validator-set/{hash}")
async def validator_set(request: web.Request) -> web.Response:
    store = request.app[VIEW].store
    vhash = parse_hash(request.match_info["hash"], "validators hash")
    encoded = store.get_validator_set(vhash)
    if encoded is None:
        raise NotFound(f"no validator set {vhash.hex()}")
    members = decode_canonical(encoded, "validator set", validator_set_from)
    return web.json_response({
        "hash": vhash.hex(),
        "hex": encoded.hex(),
        "validators": [{"name": v.name, "pubkey": v.pubkey.hex()} for v in members],
    })


def validator_set_from(obj: Obj) -> tuple[Validator, ...]:
    """The inverse of codec.validators_obj (the encoding `validator-set` serves as hex)."""
    return expect_items(obj, "validators", validator_from)
