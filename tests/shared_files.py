"""Where the project's read-only `shared/` folder (design brief, test vectors) is.

CI clones the repo with `shared/` beside it, so `../shared` relative to the repo root is the
rule. A fresh clone made elsewhere (`shared/scripts/fresh-clone-check` clones into /tmp) finds it
beside the checkout it was cloned from. `FAIRCOOP_SHARED` overrides both.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url)
    return path if url and path.is_dir() else None


def shared_dir() -> Path:
    """The shared folder; raises FileNotFoundError naming every place looked (never skips)."""
    candidates = []
    if os.environ.get("FAIRCOOP_SHARED"):
        candidates.append(Path(os.environ["FAIRCOOP_SHARED"]))
    candidates.append(REPO.parent / "shared")
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin.resolve().parent / "shared")
    for candidate in candidates:
        if (candidate / "vectors").is_dir():
            return candidate
    raise FileNotFoundError(
        "shared/ not found (looked in " + ", ".join(map(str, candidates))
        + "); set FAIRCOOP_SHARED to its path"
    )
