"""Store lookups shared by the handlers (`hash_at` and `block_by_hash` raise `NotFound`).

A committed tx comes with its fee and place from the store's tx index (`get_committed_tx`: a few
key reads and one tx decoded, however large the blocks around it); a pooled tx's fee is in its
mempool entry. `spent_output` finds the output an input spends, for the mempool's effect on a
balance: in the UTXO set, the genesis, the mempool, or a committed tx.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import Block, BlockHash, OutPoint, TxId, TxOut
from faircoop_node.api.errors import NotFound
from faircoop_node.api.view import NodeView
from faircoop_node.storage.protocol import ChainReader, TxLocation


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a committed tx sits: its block's height and hash, and its position there."""

    location: TxLocation
    block_hash: BlockHash


def hash_at(store: ChainReader, height: int) -> BlockHash:
    if height == 0:
        return store.genesis_hash
    found = store.get_hash_at(height)
    if found is None:
        raise NotFound(f"no block at height {height} (the tip is {store.tip().height})")
    return found


def block_by_hash(store: ChainReader, block_id: bytes) -> Block:
    block = store.get_block(block_id)
    if block is None:
        raise NotFound(f"no block {block_id.hex()}")
    return block


def place(store: ChainReader, location: TxLocation | None) -> Placed | None:
    """The block hash of a tx index location (two key reads, no block read)."""
    if location is None:
        return None
    block_hash = store.get_hash_at(location.height)
    return None if block_hash is None else Placed(location, block_hash)


def spent_output(view: NodeView, outpoint: OutPoint) -> TxOut | None:
    """The output `outpoint` names, spent or not, if a tx, pooled tx or the genesis made it."""
    store = view.store
    live = store.get_utxo(outpoint)
    if live is not None:
        return live
    if bytes(outpoint.txid) == bytes(store.genesis_hash):
        allocations = store.genesis.allocations
        return allocations[outpoint.index] if outpoint.index < len(allocations) else None
    pooled = view.mempool.get(TxId(outpoint.txid))
    if pooled is not None:
        parent = pooled.tx
    else:
        committed = store.get_committed_tx(outpoint.txid)
        if committed is None:
            return None
        parent = committed.tx
    return parent.outputs[outpoint.index] if outpoint.index < len(parent.outputs) else None
