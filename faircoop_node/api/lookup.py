"""Store lookups shared by the handlers (`hash_at` and `block_by_hash` raise `NotFound`).

A committed tx comes with its fee and place from the store's tx index (`get_committed_tx`: a few
key reads and one tx decoded, however large the blocks around it); a pooled tx's fee is in its
mempool entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import Block, BlockHash
from faircoop_node.api.errors import NotFound
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
