"""The tx index record (schema 2): each committed tx's fee and the span of its bytes in its block,
so `get_committed_tx` answers from one record and one tx's bytes (its values are checked in
test_storage_behaviour and, for every tx of random chains, by `Replay.assert_matches`); a
schema-1 store is upgraded on open; a garbled record is CorruptStore, never another tx.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest

from consensus import codec
from faircoop_node.storage import BaseStore, CorruptStore, LevelDBStore, schema
from tests.storage.storage_chain import (
    Replay,
    commit,
    extend_chain,
    make_genesis,
    next_block,
    wallet,
)

W = [wallet(i, "tx-index") for i in range(4)]
GENESIS = make_genesis(W)


def _chain(path: Path, blocks: int = 4) -> BaseStore:
    return extend_chain(LevelDBStore(path, GENESIS), W, "tx-index", blocks)


def test_a_commit_with_validator_sets_still_stores_the_block(make_store):
    """The block's own bytes, not a validator set's, are filed under its hash."""
    store = make_store(GENESIS)
    block = next_block(store, W, "sets")
    vset = codec.pack(codec.validators_obj(GENESIS.validators))
    commit(store, block, validator_sets={codec.validators_hash(GENESIS.validators): vset})
    assert store.get_block(codec.block_hash(block.header)) == block
    for tx in block.txs:
        assert store.get_tx(codec.txid(tx))[0] == tx


def _rewrite_record(path: Path, txid: bytes,
                    change: Callable[[tuple[int, ...]], tuple[int, ...]]) -> None:
    db = plyvel.DB(str(path))
    try:
        key = schema.tx_key(txid)
        fields = schema.decode_tx_record(db.get(key), key)
        db.put(key, schema.encode_tx_record(*change(fields)))
    finally:
        db.close()


GARBLED = [
    ("span one byte late", lambda f: (f[0], f[1], f[2] + 1, f[3], f[4]), "not a tx"),
    ("span one byte short", lambda f: (f[0], f[1], f[2], f[3] - 1, f[4]), "not a tx"),
    ("span past the block", lambda f: (f[0], f[1], 10**8, f[3], f[4]), "past the end"),
    ("another tx's span", lambda f: (f[0], f[1], f[2] + f[3], f[3], f[4]), "another tx|not a"),
    ("a height with no block", lambda f: (10**6, *f[1:]), "no block"),
]


@pytest.mark.parametrize(("name", "change", "message"), GARBLED, ids=[g[0] for g in GARBLED])
def test_a_garbled_tx_record_is_corrupt_store_never_another_tx(tmp_path, name, change, message):
    with _chain(tmp_path) as store:
        block = store.get_block_at(store.tip().height)
        assert block is not None and len(block.txs) >= 2
        txid = codec.txid(block.txs[0])
    _rewrite_record(tmp_path, txid, change)
    with LevelDBStore(tmp_path, GENESIS) as store, pytest.raises(CorruptStore, match=message):
        store.get_committed_tx(txid)


def test_a_schema_1_store_is_upgraded_on_open(tmp_path):
    """Schema 1 kept (height, position) only; opening rebuilds the index in today's layout,
    even when an earlier upgrade was interrupted (its reindex mark is still there)."""
    with _chain(tmp_path, blocks=5) as store:
        replay = Replay(GENESIS)
        replay.extend(store)
        replay.assert_matches(store)
    db = plyvel.DB(str(tmp_path))
    try:
        for key, value in list(db.iterator(prefix=schema.TX)):
            db.put(key, struct.pack(">QI", *schema.decode_tx_location(value, key)))
        db.put(schema.META_SCHEMA, (1).to_bytes(4, "big"))
        db.put(schema.META_REINDEX, b"1")
    finally:
        db.close()
    with LevelDBStore(tmp_path, GENESIS) as store:
        replay.assert_matches(store)
    db = plyvel.DB(str(tmp_path))
    try:
        assert schema.decode_schema(db.get(schema.META_SCHEMA)) == schema.SCHEMA_VERSION
        assert db.get(schema.META_REINDEX) is None
    finally:
        db.close()
