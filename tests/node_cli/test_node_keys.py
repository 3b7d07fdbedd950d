"""The node key file: mode 0600, atomic, never overwritten, clear errors."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from consensus.crypto import PrivateKey
from faircoop_node.keys import (
    KeyFileError,
    generate_node_key,
    key_file_problem,
    load_node_key,
    write_node_key,
)


def test_generated_key_is_0600_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        key = generate_node_key(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_node_key(path).public_key == key.public_key
    assert path.read_text() == key.secret_bytes().hex() + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["node.key"]  # no temp file left
    assert key_file_problem(path) is None


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    first = generate_node_key(path)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_node_key(path, PrivateKey.generate())
    assert load_node_key(path).public_key == first.public_key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "64 hex digits"),
        (b"abcd\n", "64 hex digits"),
        (b"zz" * 32, "not hex"),
        (b"\xff\xfe" * 32, "not hex text"),
        (b"00" * 32, "does not hold a valid key"),
        (b"ff" * 32, "does not hold a valid key"),
    ],
)
def test_malformed_key_files_say_what_is_wrong(tmp_path: Path, content: bytes,
                                               message: str) -> None:
    path = tmp_path / "node.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=message) as info:
        load_node_key(path)
    if content.strip():  # the secret (or what stands for it) is never echoed
        assert content.decode("latin-1").strip() not in str(info.value)


def test_missing_key_file_points_at_init(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="faircoop-node init"):
        load_node_key(tmp_path / "absent.key")
    with pytest.raises(KeyFileError, match="is a directory"):
        load_node_key(tmp_path)


def test_loose_permissions_warn_but_load(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "node.key"
    key = generate_node_key(path)
    path.chmod(0o644)
    problem = key_file_problem(path)
    assert problem is not None and "chmod 600" in problem
    with caplog.at_level(logging.WARNING, logger="faircoop.keys"):
        assert load_node_key(path).public_key == key.public_key
    assert [r.getMessage() for r in caplog.records] == ["key_file_permissions"]
    assert key.secret_bytes().hex() not in caplog.text
