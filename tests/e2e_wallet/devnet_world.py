"""The world of the wallet's end-to-end tests: a devnet of four validator processes on free
loopback ports, its demo and governor wallets, and `faircoop-wallet` processes run against it
(each asserting on its `--json` object and exit code). Shared by `test_wallet_devnet.py` and
`test_funding_devnet.py`; every node process is stopped when the world ends, even on failure.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus import codec
from faircoop_node.devnet import (
    Devnet,
    DevnetError,
    DevnetLayout,
    DevnetNode,
    create_devnet,
    kill_leftovers,
    ports_for,
    ports_in_use,
)
from faircoop_node.genesis_file import load_genesis
from tests.e2e.helpers import get, height, status, wait_for
from wallet.cli import ExitStatus

_SCRIPT = Path(sys.executable).with_name("faircoop-wallet")
WALLET_CMD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "wallet"]
PASSWORD = "a long devnet passphrase"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def doc(self) -> dict[str, Any]:
        """The one JSON object a --json run prints, success or error."""
        lines = [ln for ln in self.out.splitlines() if ln.strip()]
        assert len(lines) == 1, f"expected one JSON line on stdout, got {self.out!r} ({self.err})"
        doc = json.loads(lines[0])
        assert isinstance(doc, dict)
        return doc

    def ok(self) -> dict[str, Any]:
        assert self.code == ExitStatus.OK, f"exit {self.code}: {self.err}"
        doc = self.doc
        assert doc["ok"] is True
        return doc

    def failed(self, status: ExitStatus, kind: str) -> str:
        """Assert a documented failure; its message (also on stderr, prefixed)."""
        assert self.code == status, f"expected exit {int(status)}, got {self.code}: {self.err}"
        doc = self.doc
        assert doc["ok"] is False and doc["error"]["code"] == status
        assert doc["error"]["kind"] == kind, doc
        message = str(doc["error"]["message"])
        assert f"faircoop-wallet: error: {message}" in self.err
        return message


def closed_url() -> str:
    """A loopback URL nothing listens on: "no node reachable"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class WalletWorld:
    """The devnet, its demo wallet, and `faircoop-wallet` processes run against it."""

    def __init__(self, layout: DevnetLayout, net: Devnet, url: str, tmp: Path) -> None:
        self.layout = layout
        self.net = net
        self.node = layout.nodes[0]
        self.url = url
        self.tmp = tmp
        self.password_file = tmp / "password"
        self.password_file.write_text(PASSWORD + "\n")
        self.min_fee_rate = int(get(self.node, "params")["params"]["min_fee_rate"])

    def start(self, *argv: str, node: str | None = None) -> subprocess.Popen[str]:
        """One wallet process; the node comes from FAIRCOOP_NODE unless `node` gives --node."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRCOOP_")}
        env["FAIRCOOP_NODE"] = self.url
        flags = ["--node", node] if node is not None else []
        return subprocess.Popen([*WALLET_CMD, *argv, *flags, "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.tmp, env=env,
                                stdin=subprocess.DEVNULL)

    @staticmethod
    def finish(proc: subprocess.Popen[str], timeout: float = 90) -> Run:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return Run(proc.returncode, out, err)

    def run(self, *argv: str, node: str | None = None, timeout: float = 90) -> Run:
        return self.finish(self.start(*argv, node=node), timeout)

    def wallet(self, name: str) -> list[str]:
        if name == "demo":
            return ["--wallet", str(self.layout.wallet_path), "--password-file",
                    str(self.layout.password_path)]
        return ["--wallet", str(self.tmp / f"{name}.wallet"), "--password-file",
                str(self.password_file)]

    def create(self, name: str) -> str:
        """A new wallet (chain identity from the node); its first receive address."""
        doc = self.run(*self.wallet(name), "create").ok()
        assert doc["network"] == "test" and doc["chain_id"] == self.layout.chain_id
        assert len(doc["mnemonic"].split()) == 24 and doc["watch_only"] is False
        keys = self.tmp / f"{name}.wallet.keys"
        assert keys.stat().st_mode & 0o777 == 0o600
        assert PASSWORD.encode() not in keys.read_bytes()
        return str(doc["address"])

    def pay(self, payer: str, address: str, amount: str, *extra: str) -> dict[str, Any]:
        doc = self.run(*self.wallet(payer), "send", address, amount, "--yes", "--wait",
                       *extra).ok()
        receipt = doc["receipt"]
        assert receipt["final"] and receipt["validators"] == 4 and receipt["signers"] >= 3
        assert doc["fee"] == doc["size"] * self.min_fee_rate
        return doc

    def balance(self, name: str) -> dict[str, Any]:
        return self.run(*self.wallet(name), "balance").ok()

    def address_balance(self, address: str) -> int:
        return int(get(self.node, f"address/{address}")["balance"])


def free_base_port() -> int:
    """A random free base port for a devnet (API and P2P ranges).

    Below 29,000, where `tests.e2e.helpers.free_base_port` starts scanning for the node's e2e
    tests (a run beside them would race them for a range), and below the kernel's ephemeral
    range (32,768 up), whose ports the outgoing connections of other devnets on the machine hold
    at any moment; `devnet_world` retries a start that still loses a race.
    """
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20_000, 27_750, 250)
        probes = [DevnetNode("probe", Path("."), True, *ports_for(base, i)) for i in range(10)]
        if not ports_in_use(probes):
            return base
    raise AssertionError("no free port range")


def start_validators(layout: DevnetLayout, net: Devnet) -> str | None:
    """Start the validators; None once all are up, else why not (e.g. ports taken meanwhile)."""
    validators = [n for n in layout.nodes if n.validator]
    try:
        net.start_all(validators)
    except DevnetError as exc:
        return str(exc)
    ours = codec.genesis_hash(load_genesis(layout.genesis_path)).hex()

    def up() -> bool:
        if net.exited():
            raise AssertionError(f"node(s) exited: {net.exited()}")
        return all(height(n) >= 1 and (status(n) or {}).get("genesis_hash") == ours
                   for n in validators)

    try:
        wait_for(up, 60, "every validator of this devnet at height 1")
    except AssertionError as exc:
        logs = "".join(f"\n--- {n.name}: " + n.log_path.read_text()[-600:]
                       for n in validators if n.log_path.exists())
        return f"{exc}{logs}"
    return None


def devnet_world(root: Path) -> Iterator[WalletWorld]:
    """A devnet of 4 validators in `root`, running while the generator is suspended (a
    module fixture's body). A start that fails, or finds another chain on its ports (a free
    range is only looked at: another run may take it first), retries on a new range."""
    failures: list[str] = []
    for attempt in range(3):
        layout = create_devnet(root / f"devnet-{attempt}", validators=4,
                               base_port=free_base_port())
        net = Devnet(layout)
        try:
            failure = start_validators(layout, net)
            if failure is None:
                work = root / "wallets"
                work.mkdir()
                yield WalletWorld(layout, net, layout.nodes[0].api_url, work)
            else:
                failures.append(failure)
        finally:
            codes = net.stop_all()
            kill_leftovers(layout)
        if failure is None:
            assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"
            return
    raise AssertionError("could not start a devnet in 3 attempts:\n" + "\n".join(failures))
