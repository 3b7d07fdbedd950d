"""The search box: a height, a block hash, a txid, a campaign id or an address, to the page that
shows it.

A height or a hash that this node does not know is a 404 page saying so; text that is none of
the four is a 400 page saying what the box takes. An address is decoded for this node's
network, so a typo fails its checksum and another network's address says which network.
"""

from __future__ import annotations

import string

from consensus.address import decode_address, encode_address
from faircoop_node.api.errors import BadRequest, NotFound
from faircoop_node.api.lookup import hash_at
from faircoop_node.api.parse import parse_uint
from faircoop_node.api.view import NodeView

MAX_QUERY = 200  # longer than any address; anything longer is not something we find
_HEX = frozenset(string.hexdigits)


def resolve(view: NodeView, text: str, in_mempool: bool) -> str:
    """The path of the page for `text` (a thread: up to four key reads).

    `in_mempool`: whether `text`, read as a txid, is in the mempool (read on the loop)."""
    query = text.strip()
    if not query:
        raise BadRequest("type a height, a block hash, a txid or an address")
    if len(query) > MAX_QUERY:
        raise BadRequest(f"that is {len(query)} characters; a block hash or txid has 64, an "
                         "address about 60")
    store = view.store
    if query.isascii() and query.isdigit():
        height = parse_uint(query, "height")
        hash_at(store, height)  # NotFound past the tip
        return f"/block/{height}"
    if len(query) == 64 and _HEX.issuperset(query):
        ident = bytes.fromhex(query)
        if ident == store.genesis_hash or store.get_header(ident) is not None:
            return f"/block/{ident.hex()}"
        if in_mempool or store.get_tx_location(ident) is not None:
            return f"/tx/{ident.hex()}"
        if store.get_campaign(ident) is not None:
            return f"/campaign/{ident.hex()}"
        raise NotFound(f"no block, tx or campaign {ident.hex()} on this node")
    network = store.genesis.network
    if "1" in query:  # bech32m: the prefix, "1", then the data (either case, not mixed)
        lock = decode_address(query.lower() if query.isupper() else query, network)
        return f"/address/{encode_address(lock, network)}"
    raise BadRequest("not a height, a block hash, a txid or an address")


def as_txid(text: str) -> bytes | None:
    query = text.strip()
    return bytes.fromhex(query) if len(query) == 64 and _HEX.issuperset(query) else None
