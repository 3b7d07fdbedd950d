"""Store lookups shared by the handlers (`hash_at` and `block_by_hash` raise `NotFound`).

The one non-trivial lookup is the output an input spends, which the UTXO set no longer holds
once the tx is committed. It is found where it was created: a genesis allocation, an output of
a committed or pooled tx, or a block's fee output (whose amount is that block's total fee, so
it is summed from the block's own txs, to a bounded depth). The store keeps no undo data, so
this is the price of showing a committed tx's fee.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import Block, BlockHash, OutPoint, Tx, TxId, TxOut
from faircoop_node.api.errors import NotFound
from faircoop_node.api.view import NodeView
from faircoop_node.storage.protocol import ChainReader, TxLocation

MAX_FEE_DEPTH = 4  # fee outputs spending fee outputs: deeper than this, the fee is unknown


@dataclass(frozen=True, slots=True)
class CommittedTx:
    tx: Tx
    location: TxLocation
    block_hash: BlockHash
    block: Block


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


def committed_tx(store: ChainReader, tid: bytes) -> CommittedTx | None:
    location = store.get_tx_location(tid)
    if location is None:
        return None
    block_hash = store.get_hash_at(location.height)
    block = store.get_block(block_hash) if block_hash is not None else None
    if block_hash is None or block is None or not 0 <= location.position < len(block.txs):
        return None  # the index is ahead of the blocks it points at: treat as not committed
    return CommittedTx(block.txs[location.position], location, block_hash, block)


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
    parent = pooled.tx if pooled is not None else None
    if parent is None:
        found = committed_tx(store, outpoint.txid)
        parent = found.tx if found is not None else None
    if parent is None:
        return None
    return parent.outputs[outpoint.index] if outpoint.index < len(parent.outputs) else None


def tx_fee(view: NodeView, tx: Tx, depth: int = 0) -> int | None:
    """Inputs minus outputs, or None when an input's amount can't be found."""
    total_in = 0
    for txin in tx.inputs:
        amount = _input_amount(view, txin.prevout, depth)
        if amount is None:
            return None
        total_in += amount
    return total_in - sum(o.amount for o in tx.outputs)


def _input_amount(view: NodeView, outpoint: OutPoint, depth: int) -> int | None:
    prev = spent_output(view, outpoint)
    if prev is not None:
        return prev.amount
    # A spent fee output, OutPoint(block hash, 0): its amount is that block's total fee.
    if outpoint.index != 0 or depth >= MAX_FEE_DEPTH:
        return None
    block = view.store.get_block(outpoint.txid)
    if block is None:
        return None
    fees = 0
    for tx in block.txs:
        fee = tx_fee(view, tx, depth + 1)
        if fee is None:
            return None
        fees += fee
    return fees or None
