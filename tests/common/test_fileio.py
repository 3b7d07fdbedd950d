"""`write_atomic`: text and bytes, exact modes, no overwrite when asked, nothing torn or left
behind on failure, and both the file and its directory fsynced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faircoop_common.fileio import PRIVATE_MODE, write_atomic


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize(("data", "expected"), [
    ("héllo\n", "héllo\n".encode()),
    (b"\x00\xff raw", b"\x00\xff raw"),
    ("", b""),
])
def test_writes_text_as_utf8_and_bytes_as_they_are(tmp_path: Path, data: str | bytes,
                                                   expected: bytes) -> None:
    target = tmp_path / "f"
    write_atomic(target, data)
    assert target.read_bytes() == expected
    assert _leftovers(tmp_path) == []


@given(first=st.binary(max_size=4096), second=st.binary(max_size=4096))
@settings(max_examples=30, deadline=None)
def test_a_replace_leaves_exactly_the_new_content(tmp_path_factory: pytest.TempPathFactory,
                                                  first: bytes, second: bytes) -> None:
    directory = tmp_path_factory.mktemp("w")
    write_atomic(directory / "f", first)
    write_atomic(directory / "f", second)
    assert (directory / "f").read_bytes() == second
    assert _leftovers(directory) == []


@pytest.mark.parametrize("mode", [PRIVATE_MODE, 0o640, 0o644])
def test_mode_is_exact_whatever_the_umask(tmp_path: Path, mode: int) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "f", "x", mode=mode)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == mode


def test_private_files_are_private_before_their_first_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_write = os.write

    def spying_write(fd: int, data: bytes) -> int:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spying_write)
    write_atomic(tmp_path / "secret", "k", mode=PRIVATE_MODE)
    assert seen and set(seen) == {PRIVATE_MODE}


def test_default_mode_follows_the_umask_like_open(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o640


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "key"
    write_atomic(target, "first", overwrite=False)
    with pytest.raises(FileExistsError):
        write_atomic(target, "second", overwrite=False)
    assert target.read_text() == "first"
    assert _leftovers(tmp_path) == []


def test_overwrite_false_refuses_a_file_that_appears_while_writing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the link (not rename) closes: someone creates the target mid-write."""
    target = tmp_path / "key"
    real_fsync = os.fsync

    def racing_fsync(fd: int) -> None:
        real_fsync(fd)
        if not target.exists():
            target.write_text("theirs")

    monkeypatch.setattr(os, "fsync", racing_fsync)
    with pytest.raises(FileExistsError):
        write_atomic(target, "ours", overwrite=False)
    assert target.read_text() == "theirs"
    assert _leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    write_atomic(target, "old")

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_ctrl_c_mid_write_leaves_no_temp_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "f", "x")
    assert list(tmp_path.iterdir()) == []


def test_fsyncs_the_file_then_its_directory(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomic(tmp_path / "f", "x")
    assert synced == ["file", "dir"]


def test_parents_creates_missing_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f"
    with pytest.raises(FileNotFoundError):
        write_atomic(target, "x")
    write_atomic(target, "x", parents=True)
    assert target.read_text() == "x"
