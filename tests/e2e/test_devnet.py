"""End to end: a devnet of real node processes on loopback, driven only through the HTTP API.

4 validators + 1 observer start; 200 txs (from the demo wallet's allocation) go in through
`POST /api/v1/tx` on every node; every node reaches the same tip hash; a SIGKILLed validator
does not stop the other three; restarted, it catches up; a sixth node with an empty data dir
syncs; and no two nodes ever hold different blocks at one height. Every process is stopped in
`finally`, even on failure.
"""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consensus import codec
from consensus.types import COIN, OutPoint, Tx, TxId
from faircoop_node.cli import Environment, ExitStatus
from faircoop_node.cli import run as cli_run
from faircoop_node.devnet import Devnet, DevnetLayout, DevnetNode, add_observer, create_devnet
from faircoop_node.genesis_file import load_genesis
from tests.builders import key, make_tx, single
from wallet.keys import RECEIVE
from wallet.walletfile import load_wallet, unlock

pytestmark = pytest.mark.slow

TX_COUNT = 200


def free_base_port() -> int:
    """A base port whose API (P..P+9) and P2P (P+100..P+109) ranges are free right now."""
    for base in range(29_000, 60_000, 250):
        ports = [*range(base, base + 10), *range(base + 100, base + 110)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


def get(node: DevnetNode, path: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(f"{node.api_url}/api/v1/{path}", timeout=timeout) as resp:
        body = resp.read().decode()
        return json.loads(body) if resp.headers.get_content_type() == "application/json" \
            else body


def post_tx(node: DevnetNode, tx: Tx) -> str:
    req = urllib.request.Request(f"{node.api_url}/api/v1/tx",
                                 data=codec.encode_tx(tx).hex().encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return str(json.loads(resp.read())["txid"])
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{node.name} refused a tx: {exc.read().decode()}") from None


def status(node: DevnetNode) -> dict[str, Any] | None:
    try:
        doc = get(node, "status", timeout=2)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def height(node: DevnetNode) -> int:
    s = status(node)
    return -1 if s is None else int(s["height"])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def demo_key_and_policy(layout: DevnetLayout) -> tuple[Any, Any]:
    data = load_wallet(layout.wallet_path)
    password = layout.password_path.read_text().strip()
    account = unlock(layout.wallet_path, data, password)
    k = account.private_key(RECEIVE, 0)
    return k, single(k)


def fan_out(layout: DevnetLayout, count: int) -> tuple[Tx, list[Tx]]:
    """One tx splitting the demo allocation into `count` coins, and `count` payments of them."""
    genesis = load_genesis(layout.genesis_path)
    gid = codec.genesis_hash(genesis)
    demo, policy = demo_key_and_policy(layout)
    lock = codec.policy_lock(policy)
    total = genesis.allocations[0].amount
    coin = 2 * COIN
    split = make_tx([(OutPoint(TxId(gid), 0), policy, [demo])],
                    [*((lock, coin) for _ in range(count)), (lock, total - count * coin - 100 * count - 50_000)],
                    chain_id=genesis.chain_id)
    split_id = codec.txid(split)
    payments = [
        make_tx([(OutPoint(split_id, i), policy, [demo])],
                [(codec.policy_lock(single(key(5_000 + i))), coin - 2_000)],
                chain_id=genesis.chain_id, memo=f"pay {i}".encode())
        for i in range(count)
    ]
    return split, payments


def final_on(node: DevnetNode, txid: str) -> bool:
    try:
        return bool(get(node, f"tx/{txid}/status")["final"])
    except (OSError, ValueError):
        return False


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
        assert cli_run(["status", "--api", nodes[0].api_url], env) == ExitStatus.SUCCESS
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
        assert time.monotonic() - started < 170
    finally:
        codes = net.stop_all()
    assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"
