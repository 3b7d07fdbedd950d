"""Bad data directories: each gets its own error class and a message naming the problem."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest

from consensus import codec
from faircoop_node.storage import (
    CorruptStore,
    IncompleteReindex,
    LevelDBStore,
    StorageError,
    StoreLocked,
    StoreMissing,
    UnsupportedSchema,
    WrongGenesis,
    schema,
)
from tests.storage.storage_chain import extend_chain, make_genesis, wallet

W = [wallet(i, "bad-dirs") for i in range(3)]
GENESIS = make_genesis(W)


def _chain(path: Path, blocks: int = 3) -> bytes:
    """A store with a few blocks; returns the tip hash."""
    with LevelDBStore(path, GENESIS) as store:
        return extend_chain(store, W, "bad-dirs", blocks).tip().block_hash


def _poke(path: Path, change: Callable[[plyvel.DB, bytes], None], tip: bytes) -> None:
    db = plyvel.DB(str(path))
    try:
        change(db, tip)
    finally:
        db.close()


def test_store_of_another_network_is_refused_naming_both_chains(tmp_path):
    _chain(tmp_path, 1)
    other = make_genesis(W, chain_id="faircoop-other-net")
    with pytest.raises(WrongGenesis, match="faircoop-other-net") as info:
        LevelDBStore(tmp_path, other)
    assert info.value.stored == codec.genesis_hash(GENESIS)
    assert info.value.expected == codec.genesis_hash(other)
    assert "another network" in str(info.value)


def test_missing_database_with_create_false(tmp_path):
    with pytest.raises(StoreMissing, match="no chain store"):
        LevelDBStore(tmp_path / "nowhere", GENESIS, create=False)
    with pytest.raises(StoreMissing):
        LevelDBStore(tmp_path, GENESIS, create=False)  # an empty directory
    assert not (tmp_path / "nowhere").exists()


def test_empty_leveldb_with_create_false_is_missing(tmp_path):
    plyvel.DB(str(tmp_path), create_if_missing=True).close()
    with pytest.raises(StoreMissing, match="empty"):
        LevelDBStore(tmp_path, GENESIS, create=False)


def test_second_open_in_this_process_is_locked(tmp_path):
    with LevelDBStore(tmp_path, GENESIS), pytest.raises(StoreLocked, match="in use"):
        LevelDBStore(tmp_path, GENESIS)


def test_second_process_opening_the_store_is_locked(tmp_path):
    _chain(tmp_path, 1)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, plyvel; db = plyvel.DB(sys.argv[1]); print('held', flush=True);"
         " sys.stdin.read()", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match="another process"):
            LevelDBStore(tmp_path, GENESIS)
    finally:
        holder.communicate("", timeout=10)
    with LevelDBStore(tmp_path, GENESIS) as store:  # free again once the holder exits
        assert store.tip().height == 1


def _truncate_tip(db, tip):
    db.put(schema.META_TIP, db.get(schema.META_TIP)[:-5])


def _tip_points_elsewhere(db, tip):
    db.put(schema.META_TIP, schema.encode_tip(3, b"\x01" * 32))


def _tip_height_garbled(db, tip):
    db.put(schema.META_TIP, schema.encode_tip(2, tip))


def _garble_tip_block(db, tip):
    raw = db.get(schema.block_key(tip))
    db.put(schema.block_key(tip), raw[:-7] + b"\xc1" * 7)


def _truncate_tip_block(db, tip):
    db.put(schema.block_key(tip), db.get(schema.block_key(tip))[:40])


def _flip_a_signature_in_tip_block(db, tip):
    raw = bytearray(db.get(schema.block_key(tip)))
    sig = raw.index(b"\xc4\x40") + 10  # bin8 of 64 bytes: a signature; txid and root unchanged
    raw[sig] ^= 0x01
    db.put(schema.block_key(tip), bytes(raw))


def _drop_tip_block(db, tip):
    db.delete(schema.block_key(tip))


def _drop_certificate(db, tip):
    db.delete(schema.certificate_key(3))


def _garble_genesis(db, tip):
    db.put(schema.META_GENESIS, db.get(schema.META_GENESIS)[:-3])


def _drop_chain_state(db, tip):
    db.delete(schema.META_CHAIN_STATE)


def _block_above_tip(db, tip):
    db.put(schema.height_key(4), tip)


def _drop_schema(db, tip):
    db.delete(schema.META_SCHEMA)


CORRUPTIONS = [
    ("truncated tip record", _truncate_tip, r"meta:tip is 35 bytes.*garbled or truncated"),
    ("tip names an unknown block", _tip_points_elsewhere, "height index"),
    ("tip height garbled", _tip_height_garbled, "height index"),
    ("garbled tip block", _garble_tip_block, "checksum"),
    ("truncated tip block", _truncate_tip_block, "checksum"),
    ("tip block signature flipped", _flip_a_signature_in_tip_block, "checksum"),
    ("tip block missing", _drop_tip_block, "missing"),
    ("certificate missing", _drop_certificate, "no commit certificate"),
    ("garbled genesis", _garble_genesis, "genesis record .*garbled"),
    ("chain state missing", _drop_chain_state, "no chain state"),
    ("block indexed above tip", _block_above_tip, "above the tip"),
    ("schema record missing", _drop_schema, "not a faircoop chain store"),
]


@pytest.mark.parametrize("name,change,message", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_garbled_store_is_refused_on_open_with_a_clear_message(tmp_path, name, change, message):
    tip = _chain(tmp_path)
    _poke(tmp_path, change, tip)
    with pytest.raises(CorruptStore, match=message):
        LevelDBStore(tmp_path, GENESIS)
    # and the store can still be opened by fixing nothing: it keeps refusing
    with pytest.raises(CorruptStore):
        LevelDBStore(tmp_path, GENESIS)


def test_newer_schema_is_refused(tmp_path):
    tip = _chain(tmp_path, 1)
    _poke(tmp_path, lambda db, _: db.put(schema.META_SCHEMA, (99).to_bytes(4, "big")), tip)
    with pytest.raises(UnsupportedSchema, match="schema 99"):
        LevelDBStore(tmp_path, GENESIS)


def test_interrupted_reindex_is_refused_until_reindex_runs_again(tmp_path):
    tip = _chain(tmp_path, 2)
    _poke(tmp_path, lambda db, _: db.put(schema.META_REINDEX, b"1"), tip)
    with pytest.raises(IncompleteReindex, match="run reindex again"):
        LevelDBStore(tmp_path, GENESIS)


def test_garbled_utxo_value_raises_on_read(tmp_path):
    tip = _chain(tmp_path, 1)
    gid = codec.genesis_hash(GENESIS)
    from consensus.types import OutPoint, TxId

    op = OutPoint(TxId(gid), 1)
    _poke(tmp_path, lambda db, _: db.put(schema.utxo_key(op), b"\x00\x01"), tip)
    with LevelDBStore(tmp_path, GENESIS) as store, pytest.raises(CorruptStore, match="utxo"):
        store.get_utxo(op)


def test_every_error_is_a_storage_error():
    for cls in (WrongGenesis, StoreMissing, StoreLocked, CorruptStore, IncompleteReindex,
                UnsupportedSchema):
        assert issubclass(cls, StorageError)
