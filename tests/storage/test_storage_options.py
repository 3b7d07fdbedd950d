"""How the chain store opens LevelDB (docs/STORAGE.md, "LevelDB options"):
- without compression, since the chain's bytes are hashes, keys and signatures and snappy cost
  2.4x the CPU of each memtable flush for 29% of the disk;
- with a memtable size of its own, so validators writing the same bytes don't all flush at the
  same height."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faircoop_node.storage import leveldb
from faircoop_node.storage.leveldb import WRITE_BUFFER, _open_db, write_buffer_size

MIB = 1 << 20


def test_tables_are_written_uncompressed(tmp_path: Path) -> None:
    db = _open_db(tmp_path, True, 64)
    try:
        db.put(b"zeros", bytes(1 << 20))  # snappy would store this in about 50 KB
        db.compact_range()  # the memtable goes out to a table file
    finally:
        db.close()
    tables = sum(f.stat().st_size for f in tmp_path.glob("*.ldb"))
    assert tables >= 1 << 20


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("draw", "size"), [
    (0.0, WRITE_BUFFER),                         # never below the 5,000-tx block's batch
    (0.5, WRITE_BUFFER + WRITE_BUFFER // 4),
    (0.999999, WRITE_BUFFER + WRITE_BUFFER // 2 - 9),
])
def test_the_write_buffer_is_the_base_plus_a_random_share(draw: float, size: int) -> None:
    assert write_buffer_size(_Fixed(draw)) == size


@given(seed=st.integers(0, 2**32))
def test_write_buffers_spread_over_half_the_base(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [write_buffer_size(rng) for _ in range(16)]
    assert all(WRITE_BUFFER <= s < WRITE_BUFFER * 3 // 2 for s in sizes)
    assert len(set(sizes)) > 1  # sixteen validators don't share one size


def _flushed_after(path: Path, write_buffer: int | None, mib: int) -> bool:
    """Write `mib` MiB in small records; whether a table file appeared (the memtable was
    written out) within a second."""
    db = _open_db(path, True, 64, write_buffer)
    try:
        record = bytes(1000)
        for i in range(mib * MIB // len(record)):
            db.put(i.to_bytes(8, "big"), record)
        deadline = time.monotonic() + 1.0
        while not any(path.glob("*.ldb")) and time.monotonic() < deadline:
            time.sleep(0.02)
        return any(path.glob("*.ldb"))
    finally:
        db.close()


def test_leveldb_flushes_at_the_size_it_was_given(tmp_path: Path) -> None:
    # a memtable counts its skiplist's overhead too: one of 4 MiB is written out after about
    # 3 MiB of records, one of 16 MiB after about 12
    assert _flushed_after(tmp_path / "small", 4 * MIB, 7)
    assert not _flushed_after(tmp_path / "large", 16 * MIB, 7)


def test_a_store_opens_with_a_drawn_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []

    def draw(rng: random.Random | None = None) -> int:
        drawn.append(4 * MIB)
        return 4 * MIB

    monkeypatch.setattr(leveldb, "write_buffer_size", draw)
    assert _flushed_after(tmp_path / "db", None, 7)
    assert drawn == [4 * MIB]
