"""Helpers for the multi-process tests: free ports, the HTTP API, and demo-wallet txs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consensus import codec
from consensus.types import COIN, OutPoint, Tx, TxId
from faircoop_node.devnet import DevnetLayout, DevnetNode
from faircoop_node.devnet import free_base_port as devnet_free_base_port
from faircoop_node.genesis_file import load_genesis
from tests.builders import key, make_tx, single
from wallet.keys import RECEIVE
from wallet.walletfile import load_wallet, unlock

# Where each pytest-xdist worker scans for its devnets' ports: (how far below the default
# start, where to stop). Apart from each other (two workers scanning the same range would both
# pick the first free one and race to bind it), from devnet_world's 20,000-27,750 and, below
# 29,000, from the kernel's ephemeral ports; a range's P2P ports sit 1,000 above its API ports.
WORKER_PORTS = {"gw0": (0, 60_000), "gw1": (19_000, 18_000), "gw2": (27_000, 8_750)}


def free_base_port(start: int = 29_000, nodes: int = 10, step: int = 250) -> int:
    """A base port whose API (P..P+9) and P2P (P+1000..P+1009) ranges are free right now, in
    this pytest-xdist worker's own range (WORKER_PORTS)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if worker not in WORKER_PORTS:
        raise AssertionError(f"no port range for test worker {worker}: run at most "
                             f"{len(WORKER_PORTS)} (FAIRCOOP_TEST_WORKERS)")
    below, stop = WORKER_PORTS[worker]
    return devnet_free_base_port(start - below, nodes=nodes, step=step, stop=stop)


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


def treasury_signers(layout: DevnetLayout) -> tuple[Any, list[Any]]:
    """The devnet treasury's policy and the private keys of its members, from the governors'
    wallets (each governor's first co-signer key is its member key)."""
    from wallet.keys import COSIGNER

    password = layout.password_path.read_text().strip()
    policy, keys = None, []
    for i in range(1, layout.governors + 1):
        path = layout.governor_wallet_path(i)
        data = load_wallet(path)
        policy = data.treasuries[0].policy
        keys.append(unlock(path, data, password).private_key(COSIGNER, 0))
    return policy, keys


def fan_out(layout: DevnetLayout, count: int) -> tuple[Tx, list[Tx]]:
    """One tx splitting the demo allocation into `count` coins, and `count` payments of them."""
    genesis = load_genesis(layout.genesis_path)
    gid = codec.genesis_hash(genesis)
    demo, policy = demo_key_and_policy(layout)
    lock = codec.policy_lock(policy)
    total = genesis.allocations[0].amount
    coin = 2 * COIN
    fee = 100 * count + 50_000  # about 45 bytes an output, at any fee rate up to 2
    split = make_tx([(OutPoint(TxId(gid), 0), policy, [demo])],
                    [*((lock, coin) for _ in range(count)), (lock, total - count * coin - fee)],
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


def devnet_cli(directory: Path, validators: int, base_port: int) -> subprocess.Popen[str]:
    """`faircoop-node devnet` as a user runs it (its nodes log to their directories)."""
    return subprocess.Popen(
        [sys.executable, "-m", "faircoop_node", "devnet", "--dir", str(directory),
         "--validators", str(validators), "--base-port", str(base_port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ctrl_c(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str]:
    """Stop a `devnet_cli` as Ctrl-C does (SIGINT; SIGKILL if it hangs): (exit code, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return proc.returncode, err
