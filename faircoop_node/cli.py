"""`faircoop-node`: the node operator's command line.

    faircoop-node init --dir DIR [--validator] [--name COOP] [--p2p-port P] [--api-port P]
                       [--peer URL ...]
    faircoop-node genesis --validators NAME:PUBKEY|FILE ... --governors PUBKEY|FILE ...
                          --threshold T [--alloc ADDRESS_OR_LOCK:AMOUNT ...] --chain-id ID
                          [--network test|main] [--treasury ADDRESS] [--param NAME=VALUE ...]
                          [--time-ms MS] --out FILE
    faircoop-node run --config FILE [--set SECTION.KEY=VALUE ...]
    faircoop-node status [--api URL | --config FILE]
    faircoop-node devnet [--validators N] [--dir DIR] [--base-port P] [--reset] [--init-only]

`init` writes DIR/node.key (mode 0600), DIR/config.toml and DIR/node.json (the node's public
identity: name and public key), so a genesis can be built from the node.json files of the
founding coops: `faircoop-node genesis --validators a/node.json b/node.json ...`.

Every command runs through `run(argv, env)`, which is the one place errors become exit
codes (`ExitStatus`); tests call it in-process with their own `Environment`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import IO, Any, NoReturn

from consensus.errors import FaircoopError
from consensus.types import NETWORKS, PublicKey, TxOut, Validator
from faircoop_node.config import (
    DEFAULT_API_PORT,
    DEFAULT_P2P_PORT,
    ApiConfig,
    ConfigError,
    NodeConfig,
    P2PConfig,
    write_config,
)
from faircoop_node.genesis_file import (
    GenesisFileError,
    build_genesis,
    genesis_to_json,
    parse_amount,
    parse_lock,
    parse_pubkey,
    write_genesis,
)
from faircoop_node.keys import KeyFileError, generate_node_key

CONFIG_NAME = "config.toml"
KEY_NAME = "node.key"
IDENTITY_NAME = "node.json"


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1  # any other faircoop error
    USAGE = 2  # bad arguments; also "not implemented yet"
    CONFIG = 3  # a bad config file or value
    KEY = 4  # the node key file is missing, malformed or would be overwritten
    GENESIS = 5  # a genesis that can't be built or a bad genesis file
    INTERRUPTED = 130  # Ctrl-C


@dataclass
class Environment:
    """What a command may touch besides its arguments; tests swap every part."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    now_ms: Callable[[], int] = field(default_factory=lambda: lambda: int(time.time() * 1000))

    def out(self, text: str) -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)


class UsageError(FaircoopError):
    """Arguments that don't make a valid command."""


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse that reports to the Environment and raises instead of calling sys.exit."""

    env: Environment

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            (self.env.stderr if file is sys.stderr else self.env.stdout).write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.env.stderr.write(message)
        raise _Exit(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _Exit(ExitStatus.USAGE) from UsageError(f"{self.prog}: {message}")


# -- the commands -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeDir:
    """What `init_node_dir` created."""

    config_path: Path
    config: NodeConfig
    node_id: PublicKey
    identity_path: Path


def init_node_dir(
    directory: Path,
    *,
    validator: bool = False,
    name: str = "",
    host: str = "127.0.0.1",
    p2p_port: int = DEFAULT_P2P_PORT,
    api_port: int = DEFAULT_API_PORT,
    peers: Sequence[str] = (),
    **config_values: Any,
) -> NodeDir:
    """Create a node directory: node.key (0600), config.toml and node.json.

    The devnet builds its nodes with this too. `config_values` are further NodeConfig fields
    (`log=LogConfig(...)`, `limits=Limits(...)`). Refuses an existing config or key.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create {directory}: {exc.strerror}") from None
    config_path = directory / CONFIG_NAME
    if config_path.exists():
        raise ConfigError(f"{config_path} already exists; this directory is already a node")
    name = name or (directory.resolve().name if validator else "")
    config = NodeConfig.for_dir(
        directory.resolve(), validator=validator, name=name,
        p2p=P2PConfig(host=host, port=p2p_port, peers=tuple(peers)),
        api=ApiConfig(host=host, port=api_port), **config_values,
    )
    key = generate_node_key(config.key_file)
    write_config(config, config_path)
    identity = {"name": name, "pubkey": key.public_key.hex(), "validator": validator}
    identity_path = directory / IDENTITY_NAME
    identity_path.write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")
    return NodeDir(config_path, config, PublicKey(key.public_key), identity_path)


def cmd_init(args: argparse.Namespace, env: Environment) -> ExitStatus:
    made = init_node_dir(Path(args.dir), validator=args.validator, name=args.name,
                         host=args.host, p2p_port=args.p2p_port, api_port=args.api_port,
                         peers=args.peer)
    env.out(f"node id:  {made.node_id.hex()}")
    env.out(f"key:      {made.config.key_file} (mode 0600; back it up, never share it)")
    env.out(f"config:   {made.config_path}")
    env.out(f"identity: {made.identity_path} (public: give it to the genesis builder)")
    return ExitStatus.SUCCESS


def _read_identity_file(path: Path, what: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenesisFileError(f"{what}: cannot read {path}: {exc}") from None
    items = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(i, dict) and isinstance(i.get("pubkey"), str) for i in items):
        raise GenesisFileError(f"{what}: {path} must hold objects with a 'pubkey' "
                               "(a node.json from `init`, or a list of them)")
    return items


def parse_validators(items: Sequence[str]) -> list[Validator]:
    """Each item is NAME:PUBKEY or a JSON file of {"name", "pubkey"} objects (node.json)."""
    out: list[Validator] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            for i, entry in enumerate(_read_identity_file(path, "--validators")):
                name = entry.get("name")
                if not isinstance(name, str) or not name:
                    raise GenesisFileError(f"--validators: {path} entry {i} has no name")
                out.append(Validator(name, parse_pubkey(entry["pubkey"], f"{path}[{i}]")))
            continue
        name, sep, key = item.rpartition(":")
        if not sep or not name:
            raise GenesisFileError(f"--validators: {item!r} is neither NAME:PUBKEY nor a file")
        out.append(Validator(name, parse_pubkey(key, f"validator {name!r}")))
    return out


def parse_governors(items: Sequence[str]) -> list[PublicKey]:
    out: list[PublicKey] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            out.extend(parse_pubkey(e["pubkey"], str(path))
                       for e in _read_identity_file(path, "--governors"))
        else:
            out.append(parse_pubkey(item, "--governors"))
    return out


def cmd_genesis(args: argparse.Namespace, env: Environment) -> ExitStatus:
    network: str = args.network
    allocations = []
    for item in args.alloc:
        target, sep, amount = item.rpartition(":")
        if not sep or not target:
            raise GenesisFileError(f"--alloc: expected ADDRESS_OR_LOCK:AMOUNT, got {item!r}")
        allocations.append(TxOut(parse_amount(amount, f"--alloc {target}"),
                                 parse_lock(target, network, "--alloc")))
    params: dict[str, int] = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        try:
            params[name.strip()] = int(value)
        except ValueError:
            raise GenesisFileError(f"--param: expected NAME=INTEGER, got {item!r}") from None
        if not sep:
            raise GenesisFileError(f"--param: expected NAME=INTEGER, got {item!r}")
    genesis = build_genesis(
        chain_id=args.chain_id, network=network,
        validators=parse_validators(args.validators),
        governors=parse_governors(args.governors), threshold=args.threshold,
        allocations=allocations,
        time_ms=args.time_ms if args.time_ms is not None else env.now_ms(),
        params=params,
        treasury_lock=parse_lock(args.treasury, network, "--treasury") if args.treasury
        else None,
    )
    out = Path(args.out)
    if out.exists() and not args.force:
        raise GenesisFileError(f"{out} already exists (pass --force to replace it)")
    write_genesis(out, genesis)
    doc = genesis_to_json(genesis)
    env.out(f"genesis:    {out}")
    env.out(f"hash:       {doc['hash']}")
    env.out(f"chain id:   {genesis.chain_id} ({genesis.network})")
    env.out(f"validators: {len(genesis.validators)}, governors: {len(genesis.governors)} "
            f"(threshold {genesis.governor_threshold})")
    env.out(f"supply:     {doc['total_supply']} base units in {len(genesis.allocations)} "
            "allocations")
    return ExitStatus.SUCCESS


def cmd_run(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """Run a node in the foreground; SIGTERM/SIGINT stop it cleanly (exit 0)."""
    from faircoop_node.config import load_config
    from faircoop_node.node.service import run_node

    config = load_config(args.config, env=env.environ, overrides=args.set)
    run_node(config)
    return ExitStatus.SUCCESS


def cmd_status(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """GET /api/v1/status of a running node and print it as JSON."""
    import urllib.error
    import urllib.request

    from faircoop_node.config import load_config

    if args.api and args.config:
        raise UsageError("give --api or --config, not both")
    if args.config:
        api = load_config(args.config, env=env.environ).api
        host = "127.0.0.1" if api.host in ("0.0.0.0", "::") else api.host
        base = f"http://{host}:{api.port}"
    else:
        base = args.api or env.environ.get("FAIRCOOP_NODE_URL", f"http://127.0.0.1:"
                                                                 f"{DEFAULT_API_PORT}")
    url = base.rstrip("/") + "/api/v1/status"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as resp:  # noqa: S310
            doc = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        env.err(f"error: no node answering at {url}: {exc}")
        return ExitStatus.ERROR
    env.out(json.dumps(doc, indent=2, sort_keys=True))
    return ExitStatus.SUCCESS


def cmd_devnet(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """Create (or reuse) a devnet directory, start its nodes, stop them on Ctrl-C/SIGTERM."""
    import signal as signals

    from faircoop_node.devnet import Devnet, ensure_devnet

    layout, created = ensure_devnet(Path(args.dir), args.validators, args.base_port,
                                    reset=args.reset)
    env.out(f"devnet {'created' if created else 'reused'} in {layout.directory} "
            f"({layout.validators} validators + 1 observer, chain {layout.chain_id})")
    for node in layout.nodes:
        role = "validator" if node.validator else "observer "
        env.out(f"  {node.name:<10} {role}  API {node.api_url}/api/v1   "
                f"P2P {node.p2p_url}   log {node.log_path}")
    env.out(f"demo wallet: {layout.wallet_path} (password in {layout.password_path})")
    env.out(f"  funded address {layout.demo_address}")
    env.out(f"  try: faircoop-wallet --wallet {layout.wallet_path} --password-file "
            f"{layout.password_path} --node {layout.nodes[0].api_url} balance")
    env.out(f"to start afresh: faircoop-node devnet --dir {args.dir} --reset")
    if args.init_only:
        return ExitStatus.SUCCESS
    net = Devnet(layout)
    stop = {"requested": False}

    def request_stop(signum: int, frame: object) -> None:
        stop["requested"] = True

    previous = signals.signal(signals.SIGTERM, request_stop)
    try:
        net.start_all()
        env.out("running; Ctrl-C stops every node")
        reported: set[str] = set()
        while not stop["requested"]:
            time.sleep(0.25)
            for name, code in net.exited().items():
                if name not in reported:
                    reported.add(name)
                    env.err(f"{name} exited with status {code} (see its node.log)")
    except KeyboardInterrupt:
        pass
    finally:
        signals.signal(signals.SIGTERM, previous)
        codes = net.stop_all()
        env.out("stopped: " + ", ".join(f"{n}={c}" for n, c in codes.items()))
    return ExitStatus.SUCCESS


# -- wiring -----------------------------------------------------------------------------------


def build_parser(env: Environment) -> _Parser:
    parser = _Parser(prog="faircoop-node",
                     description="Run and set up a faircoop validator or observer node.")
    parser.env = env
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                 parser_class=_Parser)

    def add(name: str, help_text: str, func: Callable[..., ExitStatus]) -> _Parser:
        p: _Parser = subs.add_parser(name, help=help_text, description=help_text)
        p.env = env
        p.set_defaults(func=func)
        return p

    p = add("init", "create a node directory: key (0600), config.toml, node.json", cmd_init)
    p.add_argument("--dir", required=True, help="the node directory (created if missing)")
    p.add_argument("--validator", action="store_true", help="this node validates")
    p.add_argument("--name", default="", help="the coop's name (validators)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--p2p-port", type=int, default=DEFAULT_P2P_PORT)
    p.add_argument("--api-port", type=int, default=DEFAULT_API_PORT)
    p.add_argument("--peer", action="append", default=[], metavar="URL",
                   help="a peer to dial, ws://host:port/p2p (repeatable)")

    p = add("genesis", "build a genesis file from public keys and allocations", cmd_genesis)
    p.add_argument("--validators", nargs="+", required=True, metavar="NAME:PUBKEY|FILE")
    p.add_argument("--governors", nargs="+", required=True, metavar="PUBKEY|FILE")
    p.add_argument("--threshold", type=int, required=True, help="governor signatures needed")
    p.add_argument("--alloc", action="append", default=[], metavar="ADDRESS_OR_LOCK:AMOUNT",
                   help="an allocation in base units (repeatable)")
    p.add_argument("--chain-id", required=True)
    p.add_argument("--network", choices=NETWORKS, default="test")
    p.add_argument("--treasury", metavar="ADDRESS_OR_LOCK",
                   help="where fees go (default: the governors' t-of-n multisig)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a chain parameter (repeatable)")
    p.add_argument("--time-ms", type=int, help="genesis time (default: now)")
    p.add_argument("--out", required=True, help="the genesis file to write")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = add("run", "run a node until SIGTERM or Ctrl-C", cmd_run)
    p.add_argument("--config", required=True, help="the node's config.toml")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable)")
    p = add("status", "print a running node's status (JSON, from its API)", cmd_status)
    p.add_argument("--api", help="the node's API base URL (default http://127.0.0.1:7070)")
    p.add_argument("--config", help="read the API address from this config.toml instead")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
    p = add("devnet", "start N local validators and an observer, with a funded demo wallet",
            cmd_devnet)
    p.add_argument("--validators", type=int, default=None, help="validators (default 4)")
    p.add_argument("--dir", default=".devnet", help="the devnet directory (default .devnet)")
    p.add_argument("--base-port", type=int, default=None,
                   help="the first node's API port (default 7070); P2P ports start at +100")
    p.add_argument("--reset", action="store_true", help="delete an existing devnet in --dir")
    p.add_argument("--init-only", action="store_true",
                   help="create the directory and exit without starting nodes")
    return parser


_ERROR_STATUS: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (UsageError, ExitStatus.USAGE),
    (ConfigError, ExitStatus.CONFIG),
    (KeyFileError, ExitStatus.KEY),
    (GenesisFileError, ExitStatus.GENESIS),
    (FaircoopError, ExitStatus.ERROR),
)


def run(argv: Sequence[str] | None, env: Environment) -> ExitStatus:
    """Parse and run one command; the one place exceptions become exit statuses."""
    parser = build_parser(env)
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        status: ExitStatus = args.func(args, env)
        return status
    except _Exit as exit_:
        cause = exit_.__cause__
        if cause is not None:
            env.err(f"error: {cause}")
        known = {s.value for s in ExitStatus}
        return ExitStatus(exit_.status) if exit_.status in known else ExitStatus.ERROR
    except KeyboardInterrupt:
        env.err("interrupted")
        return ExitStatus.INTERRUPTED
    except FaircoopError as exc:
        for kind, code in _ERROR_STATUS:
            if isinstance(exc, kind):
                env.err(f"error: {exc}")
                return code
        raise  # unreachable: FaircoopError is the last entry


def main(argv: Sequence[str] | None = None) -> int:
    return int(run(argv, Environment()))
