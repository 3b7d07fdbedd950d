"""End to end: a devnet of real node processes on loopback, driven only through the HTTP API.

4 validators + 1 observer start; 200 txs (from the demo wallet's allocation) go in through
`POST /api/v1/tx` on every node; every node reaches the same tip hash; a SIGKILLed validator
does not stop the other three; restarted, it catches up; a sixth node with an empty data dir
syncs; and no two nodes ever hold different blocks at one height. Every process is stopped in
`finally`, even on failure.

And `faircoop-node devnet` stopped with Ctrl-C starts again at once on the same ports.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consensus import codec
from faircoop_common.clikit import Environment, ExitStatus
from faircoop_node.cli import main as node_main
from faircoop_node.devnet import Devnet, add_observer, create_devnet, kill_leftovers, load_devnet
from tests.e2e.helpers import (
    ctrl_c,
    devnet_cli,
    fan_out,
    final_on,
    free_base_port,
    get,
    height,
    post_tx,
    status,
    wait_for,
)

pytestmark = pytest.mark.slow

TX_COUNT = 200


def test_devnet_end_to_end(tmp_path: Path) -> None:
    started = time.monotonic()
    layout = create_devnet(tmp_path / "devnet", validators=4, base_port=free_base_port())
    net = Devnet(layout)
    nodes = list(layout.nodes)
    validators = [n for n in nodes if n.validator]
    try:
        net.start_all()
        wait_for(lambda: all(height(n) >= 1 for n in nodes), 60, "every node at height 1")

        # `faircoop-node status` reads a live node
        out = io.StringIO()
        env = Environment(stdout=out, stderr=io.StringIO(), environ={})
        assert node_main(["status", "--json", "--api", nodes[0].api_url], env) == ExitStatus.OK
        assert json.loads(out.getvalue())["chain_id"] == layout.chain_id

        # 200 txs through the API, spread over every node (the observer relays too)
        split, payments = fan_out(layout, TX_COUNT)
        split_id = post_tx(nodes[0], split)
        wait_for(lambda: final_on(nodes[1], split_id), 30, "the fan-out tx to be final")
        txids = [post_tx(nodes[i % len(nodes)], tx) for i, tx in enumerate(payments)]
        assert txids == [codec.txid(tx).hex() for tx in payments]
        wait_for(lambda: all(final_on(validators[2], t) for t in txids), 60,
                 "all 200 payments final")

        # every node reaches the same tip hash
        def same_tip() -> bool:
            tips = {(s or {}).get("tip_hash") for s in map(status, nodes)}
            return len(tips) == 1 and None not in tips

        wait_for(same_tip, 30, "every node on the same tip")

        # a validator crashes: the other three keep finalizing
        victim = validators[1]
        net.kill(victim.name)
        others = [n for n in nodes if n is not victim]
        h0 = max(height(n) for n in others)
        wait_for(lambda: all(height(n) >= h0 + 3 for n in others), 60,
                 "three more blocks without the crashed validator")

        # restarted on its data dir, it catches up
        net.start(victim)
        target = max(height(n) for n in others)
        wait_for(lambda: height(victim) >= target, 60, "the restarted validator to catch up")

        # a sixth node with an empty data dir syncs
        newcomer = add_observer(layout, "newcomer", len(nodes))
        net.start(newcomer)
        target = max(height(n) for n in others)
        wait_for(lambda: height(newcomer) >= target, 60, "the new node to sync")
        everyone = [*nodes, newcomer]

        # no node ever finalized a different block at the same height
        top = min(height(n) for n in everyone)
        assert top >= h0 + 3
        for h in range(1, top + 1):
            hashes = {get(n, f"block-height/{h}") for n in everyone}
            assert len(hashes) == 1, f"nodes disagree at height {h}: {hashes}"
        assert all(final_on(newcomer, t) for t in txids[:20])

        # the demo wallet works as written: it follows the chain from genesis, checking every
        # certificate against the validator sets the node serves, and pays with --wait
        wallet = [sys.executable, "-m", "wallet", "--wallet", str(layout.wallet_path),
                  "--password-file", str(layout.password_path), "--node", newcomer.api_url,
                  "--json"]
        synced = json.loads(subprocess.run([*wallet, "sync"], capture_output=True, text=True,
                                           timeout=60, check=True).stdout)
        assert synced["ok"] and synced["height"] >= top
        paid = subprocess.run([*wallet, "send", layout.demo_address, "1.5", "--yes", "--wait"],
                              capture_output=True, text=True, timeout=60)
        assert paid.returncode == 0, paid.stderr
        metrics = get(nodes[0], "metrics")
        assert "faircoop_height" in metrics and 'validator="coop-1"' in metrics
        assert time.monotonic() - started < 170
    finally:
        codes = net.stop_all()
    assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"


def _time_wait_on(ports: list[int]) -> list[int]:
    """The ports a plain bind (no SO_REUSEADDR) refuses: held by connections in TIME_WAIT."""
    held = []
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                held.append(port)
    return held


def test_devnet_restarts_at_once_after_ctrl_c(tmp_path: Path) -> None:
    """Issue 12: Ctrl-C, then the same command again within a minute, failed with "port(s) ...
    already in use (another devnet still running?)": the stopped nodes' connections held the
    ports in TIME_WAIT, and the port check bound without SO_REUSEADDR (the nodes themselves
    would have started)."""
    directory = tmp_path / "devnet"
    first = devnet_cli(directory, 1, free_base_port())
    second = None
    try:
        wait_for(lambda: (directory / "devnet.json").exists() or first.poll() is not None, 60,
                 "the devnet directory")
        layout = load_devnet(directory)
        wait_for(lambda: all(height(n) >= 2 for n in layout.nodes), 60, "every node at height 2")
        stopped_at = max(height(n) for n in layout.nodes)
        assert ctrl_c(first)[0] == 0
        ports = [p for n in layout.nodes for p in (n.api_port, n.p2p_port)]
        assert _time_wait_on(ports), "no port in TIME_WAIT: this run shows nothing"

        second = devnet_cli(directory, 1, layout.base_port)
        wait_for(lambda: all(height(n) > stopped_at for n in layout.nodes)
                 or second.poll() is not None, 60, "the restarted devnet to make blocks")
        assert second.poll() is None, f"the restart failed: {ctrl_c(second)[1]}"
        code, err = ctrl_c(second)
        assert code == 0, err
    finally:
        for proc in (first, second):
            if proc is not None:
                ctrl_c(proc)
        if (directory / "devnet.json").exists():
            kill_leftovers(load_devnet(directory))
