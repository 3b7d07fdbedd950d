"""A disk that fills up: a small tmpfs mounted over a directory, and a filler file that takes
its free space and gives it back.

Mounting needs root (or CAP_SYS_ADMIN); `can_mount()` says whether this machine allows it, so
tests skip elsewhere. The kernel's ENOSPC is real: LevelDB, the filesystem and the node see a
full disk exactly as on a full volume.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

FILLER = ".filler"  # the file that takes a mount's free space
CHUNK = 1024 * 1024


def mount_tmpfs(path: Path, size_mb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs",
                    str(path)], check=True, capture_output=True)


def unmount(path: Path) -> None:
    """Unmount (lazily: a killed node's files may still be open a moment)."""
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@contextlib.contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    mount_tmpfs(path, size_mb)
    try:
        yield path
    finally:
        unmount(path)


def can_mount() -> bool:
    """Whether a tmpfs can be mounted here (root, and a kernel that lets us)."""
    if os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory(prefix="faircoop-mount-probe-") as d:
        try:
            mount_tmpfs(Path(d), 1)
        except (OSError, subprocess.CalledProcessError):
            return False
        unmount(Path(d))
    return True


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(mount: Path, leave: int = 0) -> int:
    """Take the mount's free space, all but `leave` bytes, with the filler file; bytes taken."""
    taken = 0
    with open(mount / FILLER, "ab") as f:
        while True:
            room = free_bytes(mount) - leave
            if room <= 0:
                break
            try:
                f.write(b"\0" * min(CHUNK, room))
                f.flush()
            except OSError:
                break
            taken += min(CHUNK, room)
    return taken


def release(mount: Path) -> None:
    """Give the filler's space back."""
    (mount / FILLER).unlink(missing_ok=True)
