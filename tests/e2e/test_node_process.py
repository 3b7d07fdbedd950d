"""Real processes: `faircoop-node run` shuts down cleanly on SIGTERM and loses nothing;
`faircoop-node devnet` starts every node, reuses its directory, and stops them all on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from consensus import codec
from faircoop_node.devnet import (
    Devnet,
    DevnetError,
    create_devnet,
    kill_leftovers,
    load_devnet,
    ports_in_use,
)
from faircoop_node.genesis_file import load_genesis
from faircoop_node.storage import LevelDBStore
from tests.e2e.helpers import fan_out, final_on, free_base_port, height, post_tx, wait_for

pytestmark = pytest.mark.slow


def test_sigterm_stops_a_node_cleanly_and_nothing_final_is_lost(tmp_path: Path) -> None:
    layout = create_devnet(tmp_path / "one", validators=1, base_port=free_base_port())
    validator = layout.nodes[0]
    net = Devnet(layout)
    try:
        proc = net.start(validator)
        wait_for(lambda: height(validator) >= 1, 30, "the single validator's first block")
        split, payments = fan_out(layout, 40)
        split_id = post_tx(validator, split)
        wait_for(lambda: final_on(validator, split_id), 20, "the fan-out final")
        txids = [post_tx(validator, tx) for tx in payments]
        wait_for(lambda: final_on(validator, txids[-1]), 20, "the payments final")
        final = [t for t in txids if final_on(validator, t)]
        seen_height = height(validator)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        log = validator.log_path.read_text()
        assert '"event":"shutdown_requested"' in log and '"event":"node_stopped"' in log
    finally:
        net.stop_all()
    genesis = load_genesis(layout.genesis_path)
    store = LevelDBStore(validator.directory / "data" / "chain", genesis, create=False)
    try:
        assert store.tip().height >= seen_height
        for t in final:
            assert store.get_tx_location(bytes.fromhex(t)) is not None
        assert store.get_last_signed() is not None
        tip = store.tip().height
    finally:
        store.close()
    # and it starts again where it stopped
    net = Devnet(layout)
    try:
        net.start(validator)
        wait_for(lambda: height(validator) >= tip + 1, 30, "the restarted node to go on")
    finally:
        codes = net.stop_all()
    assert all(c == 0 for c in codes.values()), codes


def test_devnet_command_starts_every_node_and_stops_them_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "dn"
    base = free_base_port()
    cmd = [sys.executable, "-m", "faircoop_node", "devnet", "--validators", "2", "--dir",
           str(directory), "--base-port", str(base)]
    init = subprocess.run([*cmd, "--init-only"], capture_output=True, text=True, timeout=60,
                          env={**os.environ})
    assert init.returncode == 0, init.stderr
    assert "devnet created" in init.stdout and f"http://127.0.0.1:{base}/api/v1" in init.stdout
    layout = load_devnet(directory)
    assert [n.name for n in layout.nodes] == ["coop-1", "coop-2", "observer"]
    assert layout.wallet_path.exists() and layout.password_path.stat().st_mode & 0o077 == 0
    genesis = json.loads(layout.genesis_path.read_text())
    assert genesis["allocations"][0]["address"] == layout.demo_address
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        wait_for(lambda: all(height(n) >= 2 for n in layout.nodes), 60, "every node at 2")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "devnet reused" in out  # the second run kept the directory and its chain
        assert "stopped: coop-1=0, coop-2=0, observer=0" in out
        # every process is gone (the command reported their exit codes): nothing listens
        assert ports_in_use(layout.nodes) == [] and not list(directory.glob("*/node.pid"))
        assert all(height(n) == -1 for n in layout.nodes)
        assert codec.genesis_hash(load_genesis(layout.genesis_path)).hex() == \
            genesis["hash"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_leftovers(layout)


def test_run_reports_a_taken_api_port_and_exits_with_an_error(tmp_path: Path) -> None:
    layout = create_devnet(tmp_path / "busy", validators=1, base_port=free_base_port())
    node = layout.nodes[0]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", node.api_port))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "faircoop_node", "run", "--config", str(node.config_path)],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot serve the API on 127.0.0.1:{node.api_port}" in result.stderr
    # the store was closed cleanly: it opens again
    store = LevelDBStore(node.directory / "data" / "chain", load_genesis(layout.genesis_path),
                         create=False)
    store.close()


def test_devnet_refuses_to_start_on_taken_ports(tmp_path: Path) -> None:
    layout = create_devnet(tmp_path / "taken", validators=1, base_port=free_base_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", layout.nodes[1].p2p_port))
        taken.listen()
        with pytest.raises(DevnetError, match=str(layout.nodes[1].p2p_port)):
            Devnet(layout).start_all()
    assert not list(layout.directory.glob("*/node.pid"))  # nothing was started
