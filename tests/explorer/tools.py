"""Where the tests find the outside tools they drive, and why they skip without them.

`scripts/dev test` (and so CI) installs them on a fresh machine: Debian's `chromium`, the
`promtool` of Debian's `prometheus` package (unpacked under .cache/prometheus, so no
Prometheus service is installed or started), and axe-core from the npm registry (under
.cache/npm). A test that needs one it can't find skips, saying which and how to get it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"


def find_tool(name: str, *cached: Path) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((str(p) for p in cached if p.is_file() and os.access(p, os.X_OK)), None)


def need_promtool() -> str:
    found = find_tool("promtool", CACHE / "prometheus" / "usr" / "bin" / "promtool")
    if found is None:
        pytest.skip("promtool not found: `scripts/dev test` unpacks it from Debian's prometheus "
                    "package into .cache/prometheus (apt-get download prometheus)")
    return found


def need_chromium() -> str:
    found = os.environ.get("FAIRCOOP_CHROMIUM") or find_tool("chromium")
    if found is None:
        pytest.skip("chromium not found: `scripts/dev test` installs Debian's chromium package "
                    "(apt-get install chromium; needs root), or set FAIRCOOP_CHROMIUM")
    return found


def need_axe() -> Path:
    path = Path(os.environ.get("FAIRCOOP_AXE_JS")
                or CACHE / "npm" / "node_modules" / "axe-core" / "axe.min.js")
    if not path.is_file():
        pytest.skip(f"axe-core not found at {path}: `scripts/dev test` installs it with "
                    "`npm install --prefix .cache/npm axe-core@4`, or set FAIRCOOP_AXE_JS")
    return path
