"""Property tests: both backends agree byte for byte, reindex is exact, and queries are coherent."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.crypto import sha256
from consensus.types import COIN
from faircoop_node.storage import BaseStore, LevelDBStore, MemoryStore, TxLocation
from tests.storage.storage_chain import commit, make_genesis, next_block, wallet

W = [wallet(i, "prop") for i in range(4)]
GENESIS = make_genesis(W, [20 * COIN] * 8)
SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _grow(store: BaseStore, seed: str, blocks: int) -> None:
    for _ in range(blocks):
        commit(store, next_block(store, W, seed, max_txs=6))


def _content(store: BaseStore) -> list[tuple[bytes, bytes]]:
    return list(store.backend.items(b""))


@SETTINGS
@given(seed=st.text(min_size=1, max_size=8), blocks=st.integers(1, 6))
def test_memory_and_leveldb_stores_hold_identical_bytes(seed, blocks):
    memory = MemoryStore(GENESIS)
    with tempfile.TemporaryDirectory() as tmp, LevelDBStore(Path(tmp), GENESIS) as disk:
        _grow(memory, seed, blocks)
        _grow(disk, seed, blocks)
        assert _content(memory) == _content(disk)
        assert disk.tip() == memory.tip()


@SETTINGS
@given(seed=st.text(min_size=1, max_size=8), blocks=st.integers(0, 6))
def test_reindex_reproduces_every_derived_key_exactly(seed, blocks):
    store = MemoryStore(GENESIS)
    _grow(store, seed, blocks)
    before = _content(store)
    store.reindex()
    assert _content(store) == before


@SETTINGS
@given(seed=st.text(min_size=1, max_size=8), blocks=st.integers(1, 6),
       page=st.integers(1, 4))
def test_address_queries_agree_with_each_other(seed, blocks, page):
    store = MemoryStore(GENESIS)
    _grow(store, seed, blocks)
    for w in W:
        summary = store.get_address_summary(w.lock)
        utxos = store.get_address_utxos(w.lock)
        assert summary.balance == sum(u.amount for u in utxos)
        assert summary.utxo_count == len(utxos)
        assert all(store.get_utxo(u.outpoint).lock == w.lock for u in utxos)
        history = store.get_address_history(w.lock)
        assert summary.tx_count == len(history)
        assert [(e.height, e.position) for e in history] == sorted(
            ((e.height, e.position) for e in history), reverse=True)
        paged, before = [], None
        while True:  # paging with limit/before walks the same history
            chunk = store.get_address_history(w.lock, limit=page, before=before)
            if not chunk:
                break
            paged.extend(chunk)
            before = TxLocation(chunk[-1].height, chunk[-1].position)
        assert paged == list(history)
        for e in history:  # every entry is a real tx, or the block's pseudo-tx (its hash)
            block = store.get_block_at(e.height)
            txs = block.txs if block is not None else ()
            if e.position < len(txs):
                assert codec.txid(txs[e.position]) == e.txid
                assert store.get_tx_location(e.txid) == (e.height, e.position)
            else:
                assert (e.position, e.txid) == (len(txs), store.get_hash_at(e.height))


@SETTINGS
@given(seed=st.text(min_size=1, max_size=8))
def test_spliced_block_encoding_equals_packing_the_whole_object(seed):
    store = MemoryStore(GENESIS)
    block = next_block(store, W, seed, max_txs=6)
    assert codec.encode_block(block) == codec.pack(codec.block_obj(block))
    assert codec.decode_block(codec.encode_block(block)) == block
    for tx in block.txs:  # the txid memo answers like a fresh computation on an equal copy
        copy = codec.decode_tx(codec.encode_tx(tx))
        assert copy is not tx and codec.txid(copy) == codec.txid(tx)
        assert codec.txid(tx) == sha256(codec.pack(codec.tx_obj(tx)[:5]))
