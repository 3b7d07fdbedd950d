"""Rebuild the derived keyspaces (UTXO set, tx index, address index, evidence, governance,
credit, campaigns and the treasury's days) from the blocks.

The blocks, height index, certificates and fee records are the source of truth; everything in
`schema.DERIVED_PREFIXES` follows from them. A reindex marks the store first (synced), so an
interrupted run is caught on the next open (`IncompleteReindex`) instead of serving half an
index. Blocks are not re-verified: they were validated when committed and their hashes are
checked as they are read. Credit is replayed the way blocks applied it: each block's transfers,
then the limits the block before it set (`consensus.credit.replay_credit`).
"""

from __future__ import annotations

from dataclasses import replace

from consensus import codec
from consensus.credit import CreditAccount, LimitChange, replay_credit
from consensus.errors import DecodeError
from consensus.governance import credit_limit_changes
from consensus.ledger import genesis_diff
from consensus.types import BlockHash, Genesis
from faircoop_node.storage import schema
from faircoop_node.storage.credit_index import index_credit, read_credit_account
from faircoop_node.storage.errors import CorruptStore, InvalidCommit
from faircoop_node.storage.funding import replay_campaigns
from faircoop_node.storage.indexes import index_block, replay_diff, tx_spans
from faircoop_node.storage.keyvalue import KeyValue

_DELETE_CHUNK = 20_000


def _clear(kv: KeyValue, prefix: bytes) -> None:
    while True:
        doomed: dict[bytes, bytes | None] = {}
        for key, _ in kv.items(prefix):
            doomed[key] = None
            if len(doomed) >= _DELETE_CHUNK:
                break
        if not doomed:
            return
        kv.write(doomed, sync=False)


def _limit_changes(actions: tuple[bytes, ...]) -> tuple[LimitChange, ...]:
    """The credit limits a block's governance set. The store does not judge what blocks carry:
    a block whose actions don't decode (written by a tool or test that skips validation; a
    validated block's always do) sets none."""
    try:
        return credit_limit_changes(actions)
    except DecodeError:
        return ()


def rebuild(kv: KeyValue, genesis: Genesis, genesis_id: BlockHash, tip_height: int) -> None:
    kv.write({schema.META_REINDEX: b"1"}, sync=True)
    for prefix in schema.DERIVED_PREFIXES:
        _clear(kv, prefix)
    writes: dict[bytes, bytes | None] = {}
    index_block(kv.get, writes, height=0, block_id=genesis_id, txs=(), txids=(),
                diff=genesis_diff(genesis, genesis_id))
    kv.write(writes, sync=False)
    limits: tuple[LimitChange, ...] = ()  # set by the block before, applied by this one

    def account(lock: bytes) -> CreditAccount | None:
        found = read_credit_account(kv.get, lock)
        return None if found is None else found[0]

    for height in range(1, tip_height + 1):
        hkey = schema.height_key(height)
        raw_id = kv.get(hkey)
        if raw_id is None:
            raise CorruptStore(f"no block indexed at height {height} (tip {tip_height})", hkey)
        block_id = BlockHash(schema.decode_hash(raw_id, hkey, "height index"))
        bkey = schema.block_key(block_id)
        raw = kv.get(bkey)
        if raw is None:
            raise CorruptStore(f"block {block_id.hex()} at height {height} is missing", bkey)
        try:
            block = codec.decode_block(schema.decode_block_record(raw, bkey))
        except DecodeError as exc:
            raise CorruptStore(f"block at height {height} is garbled: {exc}", bkey) from None
        if codec.block_hash(block.header) != block_id:
            raise CorruptStore(f"block at height {height} does not hash to its key", bkey)
        fkey = schema.fee_key(height)
        raw_fee = kv.get(fkey)
        fee = None if raw_fee is None else schema.decode_fee(raw_fee, fkey)
        txids = [codec.txid(t) for t in block.txs]
        diff = replace(replay_diff(block.txs, txids, block_id, fee),
                       campaigns=replay_campaigns(kv.get, block.txs, txids, height))
        writes = {}
        try:
            index_block(kv.get, writes, height=height, block_id=block_id, txs=block.txs,
                        txids=txids, diff=diff, spans=tx_spans(block.header, block.txs),
                        evidence=block.evidence, actions=block.actions,
                        time_ms=block.header.time_ms)
            index_credit(kv.get, writes, height=height,
                         diff=replay_credit(block, account, limits))
            limits = _limit_changes(block.actions)
        except (InvalidCommit, DecodeError) as exc:
            raise CorruptStore(f"replaying height {height}: {exc}", bkey) from None
        kv.write(writes, sync=False)
    kv.write({schema.META_REINDEX: None}, sync=True)
