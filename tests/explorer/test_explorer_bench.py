"""scripts/bench/explorer.py runs end to end at its smallest size and reports the ratios
docs/PERFORMANCE.md quotes. A smoke test: the figures depend on the machine and are not held
to their targets here, only checked to be sane (every page answered, blocks in every window)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.helpers import free_base_port
from tests.explorer.tools import ROOT

pytestmark = pytest.mark.slow


def test_the_explorer_bench_reports_its_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench" / "explorer.py"), "--window", "3",
         "--rounds", "1", "--load-margin", "20", "--rate", "50", "--senders", "20",
         "--page-rate", "40", "--base-port", str(free_base_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert [w["window"] for w in doc["windows"]] == ["without", "with", "without"]
    assert all(w["blocks"] > 0 for w in doc["windows"])
    assert doc["pages_ok"] == doc["pages_sent"] > 0 and doc["pages_errors"] == 0
    assert doc["block_interval_ratio_with_to_without"] > 0
    assert isinstance(doc["load_held"], bool) and isinstance(doc["met"], bool)
    assert doc["loadgen"]["committed_tx_per_s"] > 0
