"""The governance drills' harness: a devnet run as a cooperative runs it, nothing else.

`Drill` starts `faircoop-node devnet` (its validators, observer and governor wallets), starts
further nodes with `faircoop-node init` + `faircoop-node run`, runs `faircoop-wallet gov ...`
as each governor, reads every node's HTTP API, and stops what it started. Everything goes
through the two CLIs as subprocesses and the API over HTTP: no node or wallet Python code is
called, so a drill shows what an operator or a governor can do from a shell.

The devnet writes `DIR/governor-1.wallet` ... (password in `DIR/demo.password`): the
governors are people with wallets, not the validators' node keys.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.e2e.helpers import ctrl_c, devnet_cli, wait_for

CLI_TIMEOUT_S = 120


@dataclass(frozen=True)
class Node:
    """A node of the drill, as its operator knows it: directory, API and P2P addresses."""

    name: str
    directory: Path
    api_url: str
    p2p_url: str

    @property
    def pubkey(self) -> str:
        return str(json.loads((self.directory / "node.json").read_text())["pubkey"])

    @property
    def config(self) -> Path:
        return self.directory / "config.toml"


class CliFailed(AssertionError):
    """A CLI exited with another status than the step expected."""


def http(url: str, path: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """(HTTP status, JSON answer or text) of GET /api/v1/`path`, or POST `body` (JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/api/v1/{path}", data=data,
                                     method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            code, raw, kind = resp.status, resp.read(), resp.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        code, raw, kind = exc.code, exc.read(), exc.headers.get_content_type()
    text = raw.decode("utf-8", "replace")
    return code, json.loads(text) if kind == "application/json" else text


def get(url: str, path: str) -> Any:
    code, doc = http(url, path)
    assert code == 200, f"GET {path} at {url}: {code} {doc}"
    return doc


def height(url: str) -> int:
    """The node's tip height; -1 while it does not answer."""
    try:
        return int(get(url, "status")["height"])
    except (OSError, AssertionError, ValueError, KeyError):
        return -1


class Drill:
    """One devnet and the nodes added to it; `close()` stops every process it started."""

    def __init__(self, directory: Path, base_port: int, validators: int = 4) -> None:
        self.directory = directory
        self.base_port = base_port
        self.validators = validators
        self.devnet: subprocess.Popen[str] | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.nodes: dict[str, Node] = {}

    # -- processes --------------------------------------------------------------------------

    def start_devnet(self, timeout: float = 90) -> list[Node]:
        self.devnet = devnet_cli(self.directory, self.validators, self.base_port)
        manifest = self.directory / "devnet.json"
        wait_for(lambda: manifest.exists() or self.devnet_exited(), 60, "the devnet's manifest")
        assert not self.devnet_exited(), f"devnet exited: {self.devnet_output()}"
        for entry in json.loads(manifest.read_text())["nodes"]:
            node = Node(entry["name"], self.directory / entry["dir"],
                        f"http://127.0.0.1:{entry['api_port']}",
                        f"ws://127.0.0.1:{entry['p2p_port']}/p2p")
            self.nodes[node.name] = node
        wait_for(lambda: all(height(n.api_url) >= 1 for n in self.nodes.values()), timeout,
                 "every devnet node at height 1")
        return list(self.nodes.values())

    def devnet_exited(self) -> bool:
        return self.devnet is not None and self.devnet.poll() is not None

    def devnet_output(self) -> str:
        if self.devnet is None or self.devnet.poll() is None:
            return ""
        out, err = self.devnet.communicate(timeout=10)
        return out + err

    def port_slot(self, index: int) -> tuple[int, int]:
        """(API port, P2P port) of slot `index` in the devnet's own scheme, read off its
        manifest (slots 0..N are its nodes; a drill adds nodes from N + 1)."""
        some = next(iter(self.nodes.values()))
        api = int(some.api_url.rsplit(":", 1)[1])
        p2p = int(some.p2p_url.rsplit(":", 1)[1].split("/")[0])
        return self.base_port + index, self.base_port + (p2p - api) + index

    def start_node(self, node: Node) -> None:
        """`faircoop-node run --config DIR/config.toml`, logging to DIR/node.log."""
        log: IO[bytes] = open(node.directory / "node.log", "ab")  # noqa: SIM115
        try:
            self.procs[node.name] = subprocess.Popen(
                [sys.executable, "-m", "faircoop_node", "run", "--config", str(node.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()
        self.nodes[node.name] = node

    def stop_for_good(self, node: Node, timeout: float = 30) -> None:
        """SIGTERM a devnet node (the devnet wrote its pid) and wait until it is gone."""
        pid = int((node.directory / "node.pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return _is_zombie(pid)  # exited, not yet reaped by the devnet

        wait_for(gone, timeout, f"{node.name} (pid {pid}) to stop")

    def close(self) -> dict[str, int]:
        codes: dict[str, int] = {}
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(timeout=10)
        if self.devnet is not None:
            codes["devnet"], _ = ctrl_c(self.devnet, timeout=40)
        return codes

    # -- the CLIs ---------------------------------------------------------------------------

    def node_cli(self, *args: str, expect: int = 0) -> dict[str, Any]:
        """`faircoop-node ARGS --json`: its one JSON object."""
        return _json_cli([sys.executable, "-m", "faircoop_node", *args, "--json"], expect)

    def governor(self, n: int, *args: str, node: Node | None = None,
                 expect: int = 0) -> dict[str, Any]:
        """`faircoop-wallet ... gov ARGS` as governor `n` (1-based), through `node`'s API."""
        wallet = [sys.executable, "-m", "wallet",
                  "--wallet", str(self.directory / f"governor-{n}.wallet"),
                  "--password-file", str(self.directory / "demo.password"), "--json"]
        if node is not None:
            wallet += ["--node", node.api_url]
        return _json_cli([*wallet, "gov", *args], expect)

    def copy(self, source: Path, name: str) -> Path:
        """A copy of a proposal file, as a governor mails it to the next one."""
        target = source.parent / name
        shutil.copyfile(source, target)
        return target


def _json_cli(argv: list[str], expect: int) -> dict[str, Any]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    shown = " ".join(argv[2:])
    if done.returncode != expect:
        raise CliFailed(f"{shown}: exit {done.returncode}, expected {expect}\n"
                        f"stdout: {done.stdout}\nstderr: {done.stderr}")
    try:
        doc = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CliFailed(f"{shown}: stdout is not one JSON object: {done.stdout!r}") from None
    assert isinstance(doc, dict) and doc.get("ok") is (expect == 0), doc
    return doc


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; that value."""
    found: list[Any] = []

    def check() -> bool:
        value = predicate()
        if value:
            found.append(value)
        return bool(value)

    wait_for(check, timeout, what)
    return found[-1]
