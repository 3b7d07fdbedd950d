#!/usr/bin/env python3
"""Run a Byzantine validator against a devnet (see faircoop_node/byzantine/attacker.py).

    python scripts/byzantine_node.py --key DIR/coop-4/node.key --genesis DIR/genesis.json \\
        --peer ws://127.0.0.1:7170/p2p --api http://127.0.0.1:7070 --duration 30 --report r.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faircoop_node.byzantine.attacker import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
