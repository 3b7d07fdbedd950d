#!/usr/bin/env python3
"""Run outsider attacks (issue 12) against a node or a devnet: see
faircoop_node/byzantine/campaign.py for the options, and outsider.py for the attacks.

    python scripts/outsider_node.py --devnet .devnet --node coop-1 --attacks forged_votes
    python scripts/outsider_node.py --devnet .devnet --attacks all --duration 180 --report r.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faircoop_node.byzantine.campaign import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
