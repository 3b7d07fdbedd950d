#!/usr/bin/env python3
"""Start a local devnet: a thin launcher for `faircoop-node devnet` (same arguments).

    python scripts/devnet.py [--validators N] [--dir DIR] [--base-port P] [--reset]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faircoop_node.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["devnet", *sys.argv[1:]]))
