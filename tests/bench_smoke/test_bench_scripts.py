"""Every benchmark script runs at its smallest size and ends with one valid JSON line.

These are smoke tests, not benchmarks: the figures are not checked against targets (they
depend on the machine), only that each script works end to end and reports the fields
run_all.py and docs/PERFORMANCE.md rely on, with sane values. The devnet and sync benches
start node processes, so they are marked slow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.bench import run_all
from scripts.bench.spy import summarize
from tests.e2e.helpers import free_base_port

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"


def run_script(*args: str, timeout: float = 120) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    doc = json.loads(last)
    assert isinstance(doc, dict)
    return doc


def test_crypto_bench_reports_a_ratio() -> None:
    doc = run_script(str(BENCH / "crypto.py"), "--iterations", "60", "--ecdsa-iterations", "5",
                     "--rounds", "1")
    assert doc["verify_per_s"] > 0 and doc["raw_coincurve_verify_per_s"] > 0
    assert 0 < doc["ratio_vs_raw"] < 10


def test_apply_block_bench_reports_cold_and_warm() -> None:
    doc = run_script(str(BENCH / "apply_block.py"), "--blocks", "1", "--txs", "40", "--keys",
                     "4", "--repeat", "1")
    assert doc["txs_per_block"] == 40
    assert doc["warm_tx_per_s"] > 0 and doc["cold_tx_per_s"] > 0
    assert doc["cold_ratio_vs_raw_verify"] > 0


def test_credit_bench_reports_its_ratios_to_coin_txs() -> None:
    doc = run_script(str(BENCH / "credit.py"), "--blocks", "1", "--txs", "40", "--keys", "4",
                     "--repeat", "1")
    assert doc["txs_per_block"] == 40
    assert doc["credit_cold_per_s"] > 0 and doc["coin_cold_per_s"] > 0
    assert doc["cold_ratio"] > 0 and doc["warm_ratio"] > 0


def test_wallet_bench_reports_build_time() -> None:
    doc = run_script(str(BENCH / "wallet.py"), "--inputs", "5", "--repeat", "1")
    assert doc["inputs"] == 5 and doc["build_sign_ms"] > 0


def test_spy_summarizes_collapsed_stacks(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text("thread (1);main (a.py:1);work (a.py:5) 30\n"
                   "thread (1);main (a.py:1);idle (a.py:9) 10\n\n")
    doc = summarize(raw, top=5)
    assert doc["samples"] == 40
    assert doc["self"][0] == [75.0, "work (a.py:5)"]
    assert [100.0, "main (a.py:1)"] in doc["inclusive"]


def test_run_all_renders_every_section_and_keeps_hand_written_text(tmp_path: Path) -> None:
    devnet_run = {"validators": 4, "offered_rate_tx_per_s": 1500.0, "committed_tx_per_s": 1200.0,
                  "finality_p50_s": 0.5, "finality_p95_s": 1.0, "finality_p99_s": 2.0,
                  "unfinalized": 0, "nodes_cpu_pct_total": 180.0, "loadgen_cpu_pct": 9.0,
                  "machine_busy_pct": 99.0, "nodes": {"coop-1": {"rss_peak_mb": 130.0}}}
    res = {
        "machine": run_all.machine(), "quick": True,
        "crypto": {"verify_per_s": 20000, "raw_coincurve_verify_per_s": 21000,
                   "ratio_vs_raw": 0.95, "raw_coincurve_preparsed_verify_per_s": 22000,
                   "ratio_vs_raw_preparsed": 0.9},
        "apply": {"cold_tx_per_s": 12000, "warm_tx_per_s": 30000,
                  "raw_coincurve_verify_per_s": 22000, "cold_ratio_vs_raw_verify": 0.55,
                  "warm_ratio_vs_raw_verify": 1.4},
        "devnet": {"runs": [devnet_run], "summary": {"4x1500": {
            "runs": 1, "committed_tx_per_s": 1200.0, "finality_p50_s": 0.5,
            "finality_p99_s": 2.0}}},
        "sync": {"blocks": 10000, "sync_blocks_per_s": 900.0, "ratio_vs_target": 0.45,
                 "raw_leveldb_synced_blocks_per_s": 9000.0, "ratio_vs_raw_leveldb_synced": 0.1,
                 "sync_seconds": 11.1, "sync_blocks_per_s_with_startup": 850.0,
                 "fresh_node_cpu_s": 8.0, "serving_node_cpu_s": 1.0,
                 "raw_leveldb_unsynced_blocks_per_s": 90000.0},
        "wallet": {"inputs": 100, "build_sign_ms": 9.5, "peer_library": None, "peer_ms": None,
                   "ratio_vs_peer": None},
    }
    section = run_all.render(res)
    for needle in ("| crypto |", "block apply, cold cache", "devnet 4 validators, offered 1500",
                   "| 0.80 |", "sync 10,000 empty blocks", "wallet build+sign 100 inputs",
                   "```json"):
        assert needle in section, needle
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text("# Performance\n\nhand-written analysis\n")
    run_all.write_doc(section, doc)
    run_all.write_doc(section.replace("1,200", "1,300"), doc)  # replaced, not appended
    text = doc.read_text()
    assert "hand-written analysis" in text
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1


@pytest.mark.slow
def test_sync_bench_syncs_a_short_chain() -> None:
    doc = run_script(str(BENCH / "sync.py"), "--blocks", "40", "--base-port", str(free_base_port()),
                     timeout=180)
    assert doc["blocks"] == 40
    assert doc["sync_blocks_per_s"] > 0 and doc["raw_leveldb_synced_blocks_per_s"] > 0


@pytest.mark.slow
def test_devnet_bench_drives_a_one_validator_devnet() -> None:
    doc = run_script(str(BENCH / "devnet.py"), "--validators", "1", "--rate", "40",
                     "--duration", "3", "--warmup", "1", "--drain", "10", "--senders", "8",
                     "--base-port", str(free_base_port()), timeout=240)
    (run,) = doc["runs"]
    for key in ("validators", "duration_s", "committed_tx_per_s", "finality_p50_s",
                "finality_p99_s"):
        assert key in run, key
    assert run["validators"] == 1
    assert run["submitted_in_window"] > 0 and run["unfinalized"] == 0
    assert run["committed_tx_per_s"] > 0 and run["finality_p50_s"] > 0
    # 40 tx/s is far below what one node accepts: the generator submits the offered rate
    assert run["send_slots_lapsed"] == 0 and run["submitted_tx_per_s"] >= 30
    assert set(run["nodes"]) == {"coop-1"} and run["nodes"]["coop-1"]["cpu_pct"] is not None
    assert doc["summary"]["1x40"]["runs"] == 1
