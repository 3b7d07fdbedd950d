"""How the chain store opens LevelDB (docs/STORAGE.md, "LevelDB options"): without compression,
since the chain's bytes are hashes, keys and signatures and snappy cost 2.4x the CPU of each
memtable flush for 29% of the disk."""

from __future__ import annotations

from pathlib import Path

from faircoop_node.storage.leveldb import _open_db


def test_tables_are_written_uncompressed(tmp_path: Path) -> None:
    db = _open_db(tmp_path, True, 64)
    try:
        db.put(b"zeros", bytes(1 << 20))  # snappy would store this in about 50 KB
        db.compact_range()  # the memtable goes out to a table file
    finally:
        db.close()
    tables = sum(f.stat().st_size for f in tmp_path.glob("*.ldb"))
    assert tables >= 1 << 20
