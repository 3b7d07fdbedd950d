"""The write of a final block: one atomic LevelDB batch with everything the block changes.

Shared by the two ways a block becomes final here: decided by consensus (`Node._commit`,
always synced) and fetched from a peer (`sync.store_range`, synced at the end of a range).
"""

from __future__ import annotations

from consensus.chain import ValidBlock
from consensus.chainstate import ChainState, decode_chain_state, encode_chain_state
from consensus.codec import pack, validators_hash, validators_obj
from consensus.types import Block, BlockHash
from faircoop_node.storage.base import BaseStore


def store_block(store: BaseStore, before: ChainState, block: Block, block_id: BlockHash,
                certificate: bytes, valid: ValidBlock, *, sync: bool = True) -> None:
    """Commit `block` (checked by `validate_block` on `before`) with its certificate, the
    chain state after it and the validator sets it names that `before` did not (runs in a
    worker thread). Synced unless a synced range says otherwise (see `sync.store_range`).

    `before`'s sets are in the store already (written with the block that led to `before`, or
    with the genesis), so only new sets are encoded, hashed and written: the sets change
    rarely, and doing it for every block was a tenth of a synced empty block's CPU.
    """
    after = valid.state
    stored = (before.current.validators, before.upcoming.validators)
    sets = {bytes(validators_hash(v)): pack(validators_obj(v))
            for v in (after.current.validators, after.upcoming.validators)
            if not any(v is s or v == s for s in stored)}
    store.commit_block(block, block_id, valid.diff, certificate, encode_chain_state(after),
                       validator_sets=sets, sync=sync, credit=valid.credit)


def stored_tip(store: BaseStore) -> tuple[ChainState, bytes]:
    """The chain state a store is at and the certificate of its tip (empty at genesis): what a
    restarted process builds its consensus driver from."""
    height = store.tip().height
    certificate = (store.get_certificate(height) or b"") if height else b""
    return decode_chain_state(store.get_chain_state()), certificate
