"""The write of a final block: one atomic LevelDB batch with everything the block changes.

Shared by the two ways a block becomes final here: decided by consensus (`Node._commit`,
always synced) and fetched from a peer (`sync.store_range`, synced at the end of a range).
"""

from __future__ import annotations

from consensus.chain import ValidBlock
from consensus.chainstate import ChainState, encode_chain_state
from consensus.codec import pack, validators_hash, validators_obj
from consensus.types import Block, BlockHash
from faircoop_node.storage.base import BaseStore


def store_block(store: BaseStore, before: ChainState, block: Block, block_id: BlockHash,
                certificate: bytes, valid: ValidBlock, *, sync: bool = True) -> None:
    """Commit `block` (checked by `validate_block` on `before`) with its certificate, the
    chain state after it and the validator sets either state names (runs in a worker thread).
    Synced unless a synced range says otherwise (see `sync.store_range`)."""
    after = valid.state
    sets = {bytes(validators_hash(v)): pack(validators_obj(v))
            for v in (before.current.validators, before.upcoming.validators,
                      after.current.validators, after.upcoming.validators)}
    store.commit_block(block, block_id, valid.diff, certificate, encode_chain_state(after),
                       validator_sets=sets, sync=sync)
