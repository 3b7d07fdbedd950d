"""A local development network in one command: N validators and one observer on 127.0.0.1.

`create_devnet(DIR, N, P)` lays the network out on disk:

- DIR/coop-1 .. DIR/coop-N: validator node directories (`init_node_dir`: node.key 0600,
  config.toml, node.json), each with its own copy of the genesis file;
- DIR/observer: an observer that serves the API without voting;
- DIR/genesis.json: validators coop-1..N, the governors, and a large allocation to the demo
  wallet's first receive address;
- DIR/demo.wallet (+ demo.wallet.keys, the encrypted key store) and DIR/demo.password (0600),
  for `faircoop-wallet --wallet DIR/demo.wallet --password-file DIR/demo.password ...`;
- DIR/governor-1.wallet .. governor-K.wallet (K = min(N, 5), same password): the demo
  governors. Their wallets' governor keys *are* the genesis governors, with a majority
  threshold t = K // 2 + 1, so `faircoop-wallet gov ...` runs on a fresh devnet as it is
  (docs/GOVERNANCE.md). The commons treasury is their t-of-K multisig, made of each wallet's
  first treasury member key (m/.../2/0) and registered in each as `devnet-treasury`, so the
  governors spend it with `faircoop-wallet multisig`. Each governor wallet names the others
  (`gov name`).
- DIR/devnet.json: the manifest, so running the devnet again reuses the same directory.

Ports: node i (0-based; the observer is node N) serves its API on P + i and P2P on
P + P2P_OFFSET + i. Every node dials every validator, so the mesh is complete.

`Devnet` runs the nodes as child processes (`python -m faircoop_node run --config ...`), each
logging to its directory's node.log, and stops them with SIGTERM (SIGKILL after a grace time).
The CLI's `devnet` command and the end-to-end test both use it.

Left out: anything but loopback, and upgrades of an existing devnet's genesis (delete DIR, or
pass --reset, to start a new chain).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from consensus.address import encode_address
from consensus.codec import genesis_hash, policy_lock
from consensus.crypto import PrivateKey
from consensus.errors import FaircoopError
from consensus.types import COIN, PublicKey, SpendPolicy, TxOut, Validator
from faircoop_common.fileio import PRIVATE_MODE, write_atomic
from faircoop_node.config import P2P_PATH, Limits, LogConfig
from faircoop_node.genesis_file import build_genesis, load_genesis, write_genesis
from faircoop_node.nodedir import init_node_dir

if TYPE_CHECKING:  # the wallet is imported where it is used: the node runs without it
    from wallet.keys import HDAccount
    from wallet.lightclient import LightState

MANIFEST = "devnet.json"
FORMAT = "faircoop-devnet/1"
CHAIN_ID = "faircoop-devnet"
P2P_OFFSET = 1000  # P2P ports sit this far above API ports: room for 100 validators
DEMO_ALLOCATION = 10_000_000 * COIN
DEVNET_PARAMS = {
    "block_interval_ms": 100,
    "heartbeat_ms": 1_000,
    "timeout_propose_ms": 1_000,
    "timeout_vote_ms": 500,
    "timeout_delta_ms": 250,
}
STOP_GRACE_S = 10.0
MAX_VALIDATORS = 100  # FairCoin 2's cap on validating cooperatives
MAX_GOVERNORS = 16  # the treasury is their multisig, and a policy names at most 16 keys
DEFAULT_GOVERNORS = 5  # K = min(N, 5): governors are a small set apart from the validators
TREASURY_NAME = "devnet-treasury"


class DevnetError(FaircoopError):
    """A devnet directory that can't be created, reused or started."""


@dataclass(frozen=True, slots=True)
class DevnetNode:
    name: str
    directory: Path
    validator: bool
    api_port: int
    p2p_port: int

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def p2p_url(self) -> str:
        return f"ws://127.0.0.1:{self.p2p_port}{P2P_PATH}"

    @property
    def log_path(self) -> Path:
        return self.directory / "node.log"

    @property
    def pid_path(self) -> Path:
        """The running process's pid, while the devnet runs it (for operators and cleanup)."""
        return self.directory / "node.pid"


@dataclass(frozen=True, slots=True)
class DevnetLayout:
    directory: Path
    validators: int
    base_port: int
    chain_id: str
    demo_address: str
    nodes: tuple[DevnetNode, ...]
    governors: int = 0  # demo governor wallets (0: a devnet from before issue 14)

    @property
    def wallet_path(self) -> Path:
        return self.directory / "demo.wallet"

    def governor_wallet_path(self, number: int) -> Path:
        """The wallet of demo governor `number` (1-based)."""
        return self.directory / f"governor-{number}.wallet"

    @property
    def governor_wallets(self) -> tuple[Path, ...]:
        return tuple(self.governor_wallet_path(i) for i in range(1, self.governors + 1))

    @property
    def governor_threshold(self) -> int:
        return self.governors // 2 + 1

    @property
    def password_path(self) -> Path:
        return self.directory / "demo.password"

    @property
    def genesis_path(self) -> Path:
        return self.directory / "genesis.json"

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "validators": self.validators, "base_port": self.base_port,
            "chain_id": self.chain_id, "demo_address": self.demo_address,
            "governors": self.governors,
            "nodes": [{"name": n.name, "dir": n.directory.name, "validator": n.validator,
                       "api_port": n.api_port, "p2p_port": n.p2p_port} for n in self.nodes],
        }, indent=2) + "\n"


def ports_for(base_port: int, index: int) -> tuple[int, int]:
    """(API port, P2P port) of node `index`."""
    return base_port + index, base_port + P2P_OFFSET + index


def check_ports(validators: int, base_port: int) -> None:
    if not 1 <= validators <= MAX_VALIDATORS:
        raise DevnetError(f"--validators must be 1 to {MAX_VALIDATORS}, not {validators}")
    if not 1024 <= base_port <= 65535 - P2P_OFFSET - validators - 10:
        raise DevnetError(f"--base-port must be 1024 to {65535 - P2P_OFFSET - validators - 10}")


def default_governors(validators: int) -> int:
    """K = min(N, 5): every devnet has governors to try governance with, and a treasury that
    is their multisig however many validators it has."""
    return min(validators, DEFAULT_GOVERNORS)


def check_governors(governors: int) -> None:
    if not 1 <= governors <= MAX_GOVERNORS:
        raise DevnetError(f"--governors must be 1 to {MAX_GOVERNORS} (the treasury is their "
                          f"multisig, and a policy names at most 16 keys), not {governors}")


def create_devnet(directory: Path, validators: int = 4, base_port: int = 7070,
                  *, now_ms: int | None = None, governors: int | None = None) -> DevnetLayout:
    """Lay a new devnet out under `directory` (which must not hold one already), with
    `governors` demo governors (default `default_governors(validators)`)."""
    from wallet.keys import RECEIVE, HDAccount, generate_mnemonic, lock_for_pubkey
    from wallet.keystore import WalletSecrets
    from wallet.receipts import genesis_light_state
    from wallet.walletfile import create_wallet_files

    check_ports(validators, base_port)
    governors = default_governors(validators) if governors is None else governors
    check_governors(governors)
    directory = directory.resolve()
    if (directory / MANIFEST).exists():
        raise DevnetError(f"{directory} already holds a devnet")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    p2p_urls = [f"ws://127.0.0.1:{ports_for(base_port, i)[1]}{P2P_PATH}"
                for i in range(validators)]
    nodes: list[DevnetNode] = []
    members: list[Validator] = []
    for i in range(validators + 1):
        is_validator = i < validators
        name = f"coop-{i + 1}" if is_validator else "observer"
        api_port, p2p_port = ports_for(base_port, i)
        made = init_node_dir(
            directory / name, validator=is_validator, name=name if is_validator else "",
            p2p_port=p2p_port, api_port=api_port,
            peers=[u for j, u in enumerate(p2p_urls) if j != i],
            log=LogConfig(level="INFO", format="json"), limits=mesh_limits(validators))
        if is_validator:
            members.append(Validator(name, made.node_id))
        nodes.append(DevnetNode(name, directory / name, is_validator, api_port, p2p_port))

    mnemonic = generate_mnemonic(24)
    account = HDAccount.from_mnemonic(mnemonic, "test")
    demo_lock = lock_for_pubkey(account.pubkey(RECEIVE, 0))
    demo = DemoGovernors.new(governors)
    genesis = build_genesis(
        chain_id=CHAIN_ID, network="test", validators=members, governors=demo.keys,
        threshold=demo.threshold, allocations=[TxOut(DEMO_ALLOCATION, demo_lock)],
        time_ms=now_ms if now_ms is not None else int(time.time() * 1000),
        params=DEVNET_PARAMS, treasury_lock=policy_lock(demo.treasury))
    write_genesis(directory / "genesis.json", genesis)
    for node in nodes:
        write_genesis(node.directory / "genesis.json", genesis)
    password = secrets.token_urlsafe(18)
    layout = DevnetLayout(directory, validators, base_port, CHAIN_ID,
                          encode_address(demo_lock, "test"), tuple(nodes),
                          len(demo.mnemonics))
    light = genesis_light_state(genesis)
    create_wallet_files(layout.wallet_path, secrets_=WalletSecrets(mnemonic), password=password,
                        network="test", chain_id=CHAIN_ID, genesis_hash=genesis_hash(genesis),
                        light=light)
    demo.write_wallets(layout, password, genesis_hash(genesis), light)
    write_atomic(layout.password_path, password + "\n", mode=PRIVATE_MODE)
    write_atomic(directory / MANIFEST, layout.to_json())  # last: its presence means "complete"
    return layout


@dataclass(frozen=True, slots=True)
class DemoGovernors:
    """The demo governors: one mnemonic each, whose wallets' governor keys govern the devnet
    and whose first treasury member keys make its treasury."""

    mnemonics: tuple[str, ...]

    @classmethod
    def new(cls, count: int) -> DemoGovernors:
        from wallet.keys import generate_mnemonic

        return cls(tuple(generate_mnemonic(24) for _ in range(count)))

    def _accounts(self) -> list[HDAccount]:
        from wallet.keys import HDAccount

        return [HDAccount.from_mnemonic(m, "test") for m in self.mnemonics]

    @property
    def keys(self) -> list[PublicKey]:
        """The governor keys, in wallet order (governor-1 first)."""
        return [PublicKey(a.governor_key().public_key) for a in self._accounts()]

    @property
    def threshold(self) -> int:
        return len(self.mnemonics) // 2 + 1

    @property
    def treasury(self) -> SpendPolicy:
        from wallet.keys import COSIGNER
        from wallet.multisig import treasury_policy

        return treasury_policy(self.threshold, [a.pubkey(COSIGNER, 0) for a in self._accounts()])

    def write_wallets(self, layout: DevnetLayout, password: str, genesis_id: bytes,
                      light: LightState) -> None:
        """governor-i.wallet for each, its governor key shown, the others named, the treasury
        registered (its member key handed out)."""
        from wallet.keystore import WalletSecrets
        from wallet.walletfile import Treasury, create_wallet_files, save_wallet

        keys = self.keys
        names = tuple(sorted((k, f"governor-{i}") for i, k in enumerate(keys, start=1)))
        treasury = Treasury(TREASURY_NAME, self.treasury)
        for i, (mnemonic, key) in enumerate(zip(self.mnemonics, keys, strict=True), start=1):
            path = layout.governor_wallet_path(i)
            data, _ = create_wallet_files(
                path, secrets_=WalletSecrets(mnemonic), password=password, network="test",
                chain_id=layout.chain_id, genesis_hash=genesis_id, light=light)
            save_wallet(path, replace(data, governor_key=key, governor_names=names,
                                      cosigner_index=1, treasuries=(treasury,)))


def governor_usage(layout: DevnetLayout) -> list[str]:
    """How to use the demo governors, for the `devnet` command to print."""
    if not layout.governors:
        return []
    first = layout.governor_wallet_path(1)
    return [
        f"governors: {layout.governor_threshold} of {layout.governors} sign each action; "
        f"wallets {first.name} .. governor-{layout.governors}.wallet in {layout.directory} "
        f"(password in {layout.password_path})",
        f"  try: faircoop-wallet --wallet {first} --password-file {layout.password_path} "
        f"--node {layout.nodes[0].api_url} gov key",
        "  propose, sign and submit an action: docs/GOVERNANCE.md, \"A worked session\"",
    ]


def governor_signing_keys(layout: DevnetLayout) -> list[tuple[PrivateKey, PrivateKey]]:
    """(governor key, treasury member key) of each demo governor, from their wallets: for
    tests and scripts that sign as the governors without the CLI."""
    from wallet.keys import COSIGNER
    from wallet.walletfile import load_wallet, unlock

    password = layout.password_path.read_text(encoding="utf-8").splitlines()[0]
    out = []
    for path in layout.governor_wallets:
        account = unlock(path, load_wallet(path), password)
        out.append((account.governor_key(), account.private_key(COSIGNER, 0)))
    return out


def load_devnet(directory: Path) -> DevnetLayout:
    """The devnet laid out in `directory` by `create_devnet`."""
    directory = directory.resolve()
    try:
        doc = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise DevnetError(f"{directory / MANIFEST} is not a {FORMAT} manifest")
        nodes = tuple(DevnetNode(str(n["name"]), directory / str(n["dir"]), bool(n["validator"]),
                                 int(n["api_port"]), int(n["p2p_port"])) for n in doc["nodes"])
        layout = DevnetLayout(directory, int(doc["validators"]), int(doc["base_port"]),
                              str(doc["chain_id"]), str(doc["demo_address"]), nodes,
                              int(doc.get("governors", 0)))
    except FileNotFoundError:
        raise DevnetError(f"{directory} holds no devnet (no {MANIFEST})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DevnetError(f"{directory / MANIFEST} is unreadable: {exc}") from None
    load_genesis(layout.genesis_path)  # fails clearly if someone edited it
    return layout


def ensure_devnet(directory: Path, validators: int | None, base_port: int | None,
                  *, reset: bool = False, governors: int | None = None
                  ) -> tuple[DevnetLayout, bool]:
    """Reuse the devnet in `directory`, or create one; (layout, created).

    A reused devnet must match the --validators/--base-port asked for (when given);
    `reset` deletes an existing devnet directory first (only one with a manifest).
    """
    directory = directory.resolve()
    check_ports(4 if validators is None else validators, 7070 if base_port is None else base_port)
    if reset and (directory / MANIFEST).exists():
        shutil.rmtree(directory)
    if (directory / MANIFEST).exists():
        layout = load_devnet(directory)
        if validators is not None and validators != layout.validators:
            raise DevnetError(f"{directory} holds a devnet of {layout.validators} validators; "
                              f"pass --reset (or delete it) to start one of {validators}")
        if base_port is not None and base_port != layout.base_port:
            raise DevnetError(f"{directory} uses base port {layout.base_port}; pass --reset "
                              f"(or delete it) to use {base_port}")
        return layout, False
    if directory.exists() and any(directory.iterdir()):
        raise DevnetError(f"{directory} exists and is not a devnet directory; choose another "
                          "--dir")
    return create_devnet(directory, 4 if validators is None else validators,
                         7070 if base_port is None else base_port, governors=governors), True


def _binds(port: int, *, reuse_address: bool, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        if reuse_address:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_taken(port: int) -> bool:
    """Whether a node's server could not listen on 127.0.0.1:`port` now: something listens on
    it (there or on every address), or holds it without SO_REUSEADDR.

    The probe binds as the node's servers do (aiohttp, through asyncio, sets SO_REUSEADDR on
    Unix), so the connections of a devnet that just stopped, which stay in TIME_WAIT on its
    ports for a minute, don't count: the servers start on those ports, and so may a restart.
    """
    return not _binds(port, reuse_address=True)


def ports_in_use(nodes: Sequence[DevnetNode]) -> list[int]:
    """The nodes' API and P2P ports that something else listens on (see `port_taken`)."""
    return [port for node in nodes for port in (node.api_port, node.p2p_port)
            if port_taken(port)]


def free_base_port(start: int = 29_000, nodes: int = 10, step: int = 250,
                   stop: int = 60_000) -> int:
    """The first base port from `start` (in steps of `step`) whose API and P2P ports for
    `nodes` nodes are all unused right now.

    For tests and benchmarks that start devnets beside other devnets. Stricter than
    `ports_in_use`: a port still in TIME_WAIT from a devnet that just stopped counts as used
    (a bind without SO_REUSEADDR must work), so whatever a test binds in the range gets it, a
    bare socket as well as a node, and runs close together spread over ranges.
    """
    for base in range(start, stop, step):
        if all(_binds(port, reuse_address=False)
               for i in range(nodes) for port in ports_for(base, i)):
            return base
    raise DevnetError(f"no free port range from {start} to {stop}")


def kill_leftovers(layout: DevnetLayout) -> list[int]:
    """SIGKILL node processes a devnet left behind (by their pid files); the pids killed."""
    killed = []
    for path in layout.directory.glob("*/node.pid"):
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except (OSError, ValueError):
            pass
        path.unlink(missing_ok=True)
    return killed


def mesh_limits(validators: int) -> Limits:
    """Room for a full mesh: every validator and a few observers, each possibly twice while
    both ends dial at once (the default `max_peers` of 50 would cut a 50-validator mesh)."""
    default = Limits()
    return replace(default, max_peers=max(default.max_peers, 2 * (validators + 4)))


def add_observer(layout: DevnetLayout, name: str, index: int) -> DevnetNode:
    """A new observer directory (empty data dir) at port slot `index`, dialing every validator."""
    api_port, p2p_port = ports_for(layout.base_port, index)
    peers = [n.p2p_url for n in layout.nodes if n.validator]
    init_node_dir(layout.directory / name, validator=False, p2p_port=p2p_port, api_port=api_port,
         peers=peers, log=LogConfig(level="INFO", format="json"),
         limits=mesh_limits(len(peers)))
    write_genesis(layout.directory / name / "genesis.json", load_genesis(layout.genesis_path))
    return DevnetNode(name, layout.directory / name, False, api_port, p2p_port)


class Devnet:
    """The devnet's node processes."""

    def __init__(self, layout: DevnetLayout, python: str = sys.executable) -> None:
        self.layout = layout
        self.python = python
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.nodes: dict[str, DevnetNode] = {}

    def node_command(self, node: DevnetNode) -> list[str]:
        return [self.python, "-m", "faircoop_node", "run", "--config", str(node.config_path)]

    def start(self, node: DevnetNode) -> subprocess.Popen[bytes]:
        old = self.procs.get(node.name)
        if old is not None and old.poll() is None:
            raise DevnetError(f"{node.name} is already running (pid {old.pid})")
        log = open(node.log_path, "ab")  # noqa: SIM115 - the child owns it from here
        try:
            proc = subprocess.Popen(self.node_command(node), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=str(self.layout.directory))
        finally:
            log.close()
        self.procs[node.name] = proc
        self.nodes[node.name] = node
        node.pid_path.write_text(f"{proc.pid}\n", encoding="ascii")
        return proc

    def start_all(self, nodes: Sequence[DevnetNode] | None = None) -> None:
        """Start the nodes; DevnetError first if one of their ports is taken."""
        chosen = list(nodes if nodes is not None else self.layout.nodes)
        busy = ports_in_use(chosen)
        if busy:
            raise DevnetError(f"port(s) {', '.join(map(str, busy))} already in use (another "
                              "devnet still running?); stop it, or create a devnet with "
                              "another --base-port (and --reset)")
        for node in chosen:
            self.start(node)

    def signal(self, name: str, sig: int) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)

    def kill(self, name: str) -> None:
        """SIGKILL one node (a crash), and reap it."""
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
            self.nodes[name].pid_path.unlink(missing_ok=True)

    def exited(self) -> dict[str, int]:
        return {name: code for name, p in self.procs.items() if (code := p.poll()) is not None}

    def stop_all(self, grace_s: float = STOP_GRACE_S) -> dict[str, int]:
        """SIGTERM every node, wait up to `grace_s`, SIGKILL what is left; exit codes."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        codes: dict[str, int] = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(timeout=10)
            self.nodes[name].pid_path.unlink(missing_ok=True)
        return codes

    def serve(self, *, on_started: Callable[[], None], on_exit: Callable[[str, int], None],
              poll_s: float = 0.25) -> dict[str, int]:
        """Start every node, keep them running until SIGTERM or Ctrl-C, then stop them all;
        their exit codes. `on_exit(name, code)` hears of a node that exits on its own.

        Ctrl-C here means "stop", as for `faircoop-node run`: it returns normally.
        """
        stop = {"requested": False}

        def request_stop(signum: int, frame: object) -> None:
            stop["requested"] = True

        previous = signal.signal(signal.SIGTERM, request_stop)
        try:
            self.start_all()
            on_started()
            reported: set[str] = set()
            while not stop["requested"]:
                time.sleep(poll_s)
                for name, code in self.exited().items():
                    if name not in reported:
                        reported.add(name)
                        on_exit(name, code)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            codes = self.stop_all()
        return codes
