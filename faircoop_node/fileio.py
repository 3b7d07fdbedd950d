"""Durable file writes the node's config, genesis and key files share.

A file is written to a temporary name in the same directory, fsynced, then renamed over the
target, so a crash leaves the old file or the new one, never a torn mix. Callers turn the
`OSError` into their own `FaircoopError` subclass, naming the file.

Left out: file modes (the node key file sets its own, 0600, and refuses to overwrite).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically; OSError with the temp file removed."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in `directory` durable (POSIX); quietly nothing where it can't."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
