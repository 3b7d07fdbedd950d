"""A Byzantine validator process (scripts/byzantine_node.py) against three honest validators
and an observer, all real processes.

The genesis has 4 validators; coop-4's key is held by the attacker, which speaks the real P2P
protocol and equivocates, proposes invalid blocks, signs with a non-validator key, replays old
messages, floods votes, and sends malformed and oversized frames from throwaway identities.

Checked: every attack was sent; the honest nodes kept finalizing during and after it (no gap
between two blocks above MAX_BLOCK_GAP_S); the
equivocation evidence is in a block on chain and names the attacker; the attacker is out of
the voting set (suspended); every honest process is alive, logged no handler bug, and no two
honest nodes finalized different blocks; the frames that break the protocol got their sender
punished.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consensus.codec import decode_block, decode_header
from consensus.evidence import decode_evidence
from faircoop_node.devnet import Devnet, DevnetNode, create_devnet, kill_leftovers
from faircoop_node.keys import load_node_key
from tests.e2e.helpers import free_base_port, get, height, wait_for
from tests.faults.cluster import assert_no_fork, chain_hashes, time_to_progress

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "byzantine_node.py"
ATTACK_S = 24.0
EQUIVOCATE_AFTER_S = 9.0
# No stall: with heartbeat 1 s, propose timeout 1 s (+0.25 s a round), the longest gap between
# two blocks while one validator of four misbehaves stays well under this.
MAX_BLOCK_GAP_S = 10.0


def max_block_gap_s(node: DevnetNode, since: int) -> float:
    """The longest time between two consecutive final blocks from height `since` on."""
    page = get(node, f"headers?from={max(1, since)}&count=1000")
    times = [decode_header(bytes.fromhex(h["header_hex"])).time_ms for h in page]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0) / 1000


def run_attack(tmp_path: Path, seed: int, attack_s: float, equivocate_after_s: float) -> None:
    layout = create_devnet(tmp_path / f"byz{seed}", validators=4, base_port=free_base_port())
    byz_node = next(n for n in layout.nodes if n.name == "coop-4")
    honest = [n for n in layout.nodes if n.name != "coop-4"]
    honest_validators = [n for n in honest if n.validator]
    byz_key = load_node_key(byz_node.directory / "node.key").public_key.hex()
    net = Devnet(layout)
    report_path = tmp_path / f"byz{seed}.json"
    attacker: subprocess.Popen[bytes] | None = None
    try:
        net.start_all(honest)
        wait_for(lambda: all(height(n) >= 1 for n in honest), 60, "the honest nodes at height 1")
        start_height = min(height(n) for n in honest)
        attacker = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--key", str(byz_node.directory / "node.key"),
             "--genesis", str(layout.genesis_path), "--api", honest[0].api_url,
             *(a for n in honest_validators for a in ("--peer", n.p2p_url)),
             "--duration", str(attack_s), "--equivocate-after", str(equivocate_after_s),
             "--seed", str(seed), "--report", str(report_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = attacker.communicate(timeout=attack_s + 60)
        assert attacker.returncode == 0, err.decode()[-2000:]
        report = json.loads(report_path.read_text())
        sent = report["sent"]
        print("BYZANTINE " + json.dumps({"seed": seed, **report}))

        # every attack struck
        assert report["connected"] == len(honest_validators)
        for behaviour in ("equivocate", "invalid_proposal", "invalid_proposal_in_turn",
                          "foreign_key", "replay",
                          "vote_flood", "malformed", "oversize", "malformed_pre_handshake"):
            assert sent.get(behaviour, 0) > 0, f"the attacker never sent {behaviour}: {sent}"
        assert report["refused"].get("malformed_cut", 0) == sent["malformed"], \
            "a malformed frame after the handshake did not end the connection"
        assert all(p.poll() is None for p in net.procs.values()), net.exited()

        # the honest nodes kept finalizing during the attack, and go on after it
        during = min(height(n) for n in honest) - start_height
        assert during >= 5, f"only {during} heights finalized during a {attack_s}s attack"
        gap_s = max_block_gap_s(honest[0], start_height)
        print("BYZANTINE-GAP " + json.dumps({"seed": seed, "heights": during,
                                             "max_block_gap_s": gap_s}))
        assert gap_s <= MAX_BLOCK_GAP_S, f"the chain stalled for {gap_s}s during the attack"
        time_to_progress(honest, 3, 20, "three heights after the attack")

        # the evidence is on chain and names the attacker; the attacker is suspended
        def offender_out() -> bool:
            doc = get(honest[0], "validators")
            return byz_key not in {v["pubkey"] for v in doc["validators"]} or any(
                v["pubkey"] == byz_key and v["suspended"] for v in doc["validators"])

        wait_for(offender_out, 20, "the equivocator suspended")
        offenders = set()
        for h, block_hash in enumerate(chain_hashes(honest[0]), start=1):
            block = decode_block(bytes.fromhex(get(honest[0], f"block/{block_hash}/raw")["hex"]))
            for raw in block.evidence:
                ev = decode_evidence(raw)
                offenders.add(ev.vote_a.validator.hex())
                assert ev.vote_a.validator == ev.vote_b.validator, f"evidence at {h}"
        assert offenders == {byz_key}, f"evidence on chain names {offenders}"
        validators = get(honest[-1], "validators")
        assert byz_key not in {v["pubkey"] for v in validators["validators"]}
        assert validators["count"] == 3

        # no honest node crashed, hit a handler bug, or forked; the junk got its sender punished
        assert all(p.poll() is None for p in net.procs.values()), net.exited()
        assert_no_fork(honest)
        logs = "".join(n.log_path.read_text() for n in honest_validators)
        for bug in ('"event":"node_bug"', '"event":"message_handler_failed"', "Traceback"):
            assert bug not in logs, f"an honest node logged {bug}"
        assert '"event":"peer_banned"' in logs and "oversize frame" in logs
        assert "over the message rate budget" in logs
        assert '"event":"equivocation"' in logs
    finally:
        if attacker is not None and attacker.poll() is None:
            attacker.kill()
            attacker.wait(timeout=10)
        codes = net.stop_all()
        kill_leftovers(layout)
    assert all(c == 0 for c in codes.values()), f"unclean exits: {codes}"


def test_byzantine_validator_is_convicted_and_the_network_keeps_finalizing(
        tmp_path: Path) -> None:
    started = time.monotonic()
    run_attack(tmp_path, seed=1, attack_s=ATTACK_S, equivocate_after_s=EQUIVOCATE_AFTER_S)
    assert time.monotonic() - started < 120


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(2, 2 + int(os.environ.get("FAIRCOOP_FAULT_SEEDS", "5"))))
def test_soak_byzantine_validator(tmp_path: Path, seed: int) -> None:
    run_attack(tmp_path, seed=seed, attack_s=60.0, equivocate_after_s=30.0)
