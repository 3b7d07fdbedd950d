"""`faircoop-node`: the node operator's command line (parsing, rendering; nothing else).

    faircoop-node init --dir DIR [--validator] [--name COOP] [--p2p-port P] [--api-port P]
                       [--peer URL ...] [--json]
    faircoop-node genesis --validators NAME:PUBKEY|FILE ... --governors PUBKEY|FILE ...
                          --threshold T [--alloc ADDRESS_OR_LOCK:AMOUNT ...] --chain-id ID
                          [--network test|main] [--treasury ADDRESS] [--param NAME=VALUE ...]
                          [--time-ms MS] --out FILE
    faircoop-node run --config FILE [--set SECTION.KEY=VALUE ...]
    faircoop-node status [--node URL | --config FILE] [--json]
    faircoop-node devnet [--validators N] [--dir DIR] [--base-port P] [--reset] [--init-only]

It follows the convention both CLIs share (`faircoop_common.clikit`, docs/CLI.md):
`main(argv, env)` returns an `ExitStatus`, errors print `faircoop-node: error: ...`, Ctrl-C
exits 130, `--version`, `--print-completion bash|zsh`. Tests call `main` in-process with
their own `Environment`. The work is done elsewhere: node directories in `nodedir`, genesis
files in `genesis_file`, the devnet in `devnet`, the node process in `service`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consensus.types import NETWORKS
from faircoop_common.clikit import (
    DEFAULT_NODE_URL,
    CliParser,
    Environment,
    ExitStatus,
    Program,
    add_node_option,
    complete_path,
)
from faircoop_node.config import DEFAULT_API_PORT, DEFAULT_P2P_PORT, ConfigError
from faircoop_node.genesis_file import (
    GenesisFileError,
    build_genesis,
    genesis_to_json,
    parse_allocations,
    parse_lock,
    parse_params,
    write_genesis,
)
from faircoop_node.keys import KeyFileError
from faircoop_node.membership import MembershipError, read_status
from faircoop_node.nodedir import governors_line, init_node_dir, parse_governors, parse_validators

PROGRAM = Program(
    name="faircoop-node",
    description="Set up and run a faircoop validator or observer node, or a local devnet. "
                "Exit codes, environment variables and shell completion: docs/CLI.md.",
    examples=("faircoop-node devnet",
              "faircoop-node init --dir /srv/faircoop --validator --name 'Coop Bread'",
              "faircoop-node run --config /srv/faircoop/config.toml"),
)

ERRORS = (
    (ConfigError, ExitStatus.CONFIG),
    (KeyFileError, ExitStatus.KEY),
    (GenesisFileError, ExitStatus.GENESIS),
    (MembershipError, ExitStatus.ERROR),
)
KINDS = ((ConfigError, "config"), (KeyFileError, "key"), (GenesisFileError, "genesis"),
         (MembershipError, "node"))


def _emit(env: Environment, command: str, doc: dict[str, Any]) -> None:
    """--json: the command's one object on stdout (the wallet's shape, docs/CLI.md)."""
    env.out(json.dumps({"ok": True, "command": command, **doc}, sort_keys=True))


# -- the commands -----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, env: Environment) -> ExitStatus:
    made = init_node_dir(Path(args.dir), validator=args.validator, name=args.name,
                         host=args.host, p2p_port=args.p2p_port, api_port=args.api_port,
                         peers=args.peer)
    line = governors_line(made) if args.validator else None
    if args.json:
        _emit(env, "init", {
            "node_id": made.node_id.hex(), "key_file": str(made.config.key_file),
            "config": str(made.config_path), "identity": str(made.identity_path),
            "validator": args.validator, "name": made.config.name, "governors_line": line})
        return ExitStatus.OK
    env.out(f"node id:  {made.node_id.hex()}")
    env.out(f"key:      {made.config.key_file} (mode 0600; back it up, never share it)")
    env.out(f"config:   {made.config_path}")
    env.out(f"identity: {made.identity_path} (public: give it to the genesis builder)")
    if line is not None:
        env.out("to join a running chain, send this line to the governors with the assembly's "
                "decision (for `faircoop-wallet gov propose add-validator`):")
        env.out(line)
    return ExitStatus.OK


def cmd_genesis(args: argparse.Namespace, env: Environment) -> ExitStatus:
    network: str = args.network
    genesis = build_genesis(
        chain_id=args.chain_id, network=network,
        validators=parse_validators(args.validators),
        governors=parse_governors(args.governors), threshold=args.threshold,
        allocations=parse_allocations(args.alloc, network),
        time_ms=args.time_ms if args.time_ms is not None else env.now_ms(),
        params=parse_params(args.param),
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
    return ExitStatus.OK


def cmd_run(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """Run a node in the foreground; SIGTERM/SIGINT stop it cleanly (exit 0)."""
    from faircoop_node.config import load_config
    from faircoop_node.service import run_node

    config = load_config(args.config, env=env.environ, overrides=args.set)
    run_node(config)
    return ExitStatus.OK


def cmd_status(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """The node's status and where its key stands in the voting set, from its API."""
    from faircoop_node.config import load_config

    wants_to_validate: bool | None = None
    if args.config:
        config = load_config(args.config, env=env.environ)
        host = "127.0.0.1" if config.api.host in ("0.0.0.0", "::") else config.api.host
        base = f"http://{host}:{config.api.port}"
        wants_to_validate = config.validator
    else:
        base = PROGRAM.node_url(env, args.node)
    report = read_status(base, timeout=args.timeout)
    if args.json:
        _emit(env, "status", {**report.status, "membership": report.membership.to_json()})
        return ExitStatus.OK
    doc, member = report.status, report.membership
    env.out(f"node:       {member.pubkey}")
    env.out(f"chain:      {doc.get('chain_id')} at height {doc.get('height')} "
            f"(tip {str(doc.get('tip_hash'))[:16]}…, round {doc.get('round')})")
    env.out(f"peers:      {doc.get('peers')}, mempool {doc.get('mempool_size')} txs")
    first, *rest = member.lines(wants_to_validate=wants_to_validate)
    env.out(f"validator:  {first}")
    for line in rest:
        env.out(f"            {line}")
    return ExitStatus.OK


def cmd_devnet(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """Create (or reuse) a devnet directory, start its nodes, stop them on Ctrl-C/SIGTERM."""
    from faircoop_node.devnet import Devnet, ensure_devnet, governor_usage

    layout, created = ensure_devnet(Path(args.dir), args.validators, args.base_port,
                                    reset=args.reset, governors=args.governors)
    env.out(f"explorer: {layout.nodes[0].api_url}/  (open it in a browser)")
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
    for line in governor_usage(layout):
        env.out(line)
    env.out(f"to start afresh: faircoop-node devnet --dir {args.dir} --reset")
    if args.init_only:
        return ExitStatus.OK
    codes = Devnet(layout).serve(
        on_started=lambda: env.out("running; Ctrl-C stops every node"),
        on_exit=lambda name, code: env.err(f"{name} exited with status {code} "
                                           "(see its node.log)"))
    env.out("stopped: " + ", ".join(f"{n}={c}" for n, c in codes.items()))
    return ExitStatus.OK


# -- wiring -----------------------------------------------------------------------------------


def build_parser(env: Environment) -> CliParser:
    parser = PROGRAM.parser(env)
    commands = parser.add_commands()

    p = commands.add(
        "init", func=cmd_init,
        summary="create a node directory: key (0600), config.toml, node.json",
        description="Create a node directory: a new node key (node.key, mode 0600), its "
                    "config.toml, and node.json, the node's public identity to give to whoever "
                    "builds the genesis. With --validator it also prints the line to send to "
                    "the governors for joining a running chain (--name ... --pubkey ..., "
                    "what `faircoop-wallet gov propose add-validator` takes). Refuses a "
                    "directory that already holds a node, and never overwrites a key.",
        examples=("faircoop-node init --dir /srv/faircoop --validator --name 'Coop Bread' "
                  "--peer ws://peer-a.example:7071/p2p",
                  "faircoop-node init --dir ./observer"))
    complete_path(p.add_argument("--dir", required=True,
                                 help="the node directory (created if missing)"), directory=True)
    p.add_argument("--validator", action="store_true",
                   help="this node validates (its key will be in the voting set)")
    p.add_argument("--name", default="",
                   help="the coop's name (validators; default: the directory's name)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--p2p-port", type=int, default=DEFAULT_P2P_PORT, metavar="PORT",
                   help="the peer-to-peer port (default %(default)s)")
    p.add_argument("--api-port", type=int, default=DEFAULT_API_PORT, metavar="PORT",
                   help="the HTTP API port (default %(default)s)")
    p.add_argument("--peer", action="append", default=[], metavar="URL",
                   help="a peer to dial, ws://host:port/p2p (repeatable)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout, success or error (docs/CLI.md)")

    p = commands.add(
        "genesis", func=cmd_genesis,
        summary="build a genesis file from public keys and allocations",
        description="Build and write a genesis file: the founding validators and governors "
                    "(public keys, or the node.json files `init` wrote), the governors' "
                    "threshold, the initial allocations and any chain parameter overrides. "
                    "Every node of the chain needs the same file. Validators (1 to 100) and "
                    "governors are separate sets: a chain of many cooperatives keeps a few "
                    "governors (the devnet takes min(N, 5)), and without --treasury the "
                    "treasury is the governors' t-of-n multisig, which allows at most 16.",
        examples=("faircoop-node genesis --validators a/node.json b/node.json c/node.json "
                  "--governors a/node.json b/node.json c/node.json --threshold 2 "
                  "--alloc tfair1...:100000000000 --chain-id coop-net --out genesis.json",))
    p.add_argument("--validators", nargs="+", required=True, metavar="NAME:PUBKEY|FILE",
                   help="the founding validators: NAME:PUBKEY, or node.json files")
    p.add_argument("--governors", nargs="+", required=True, metavar="PUBKEY|FILE",
                   help="the governors' public keys (hex), or node.json files")
    p.add_argument("--threshold", type=int, required=True, metavar="T",
                   help="governor signatures needed for a governance action")
    p.add_argument("--alloc", action="append", default=[], metavar="ADDRESS_OR_LOCK:AMOUNT",
                   help="an allocation in base units (repeatable)")
    p.add_argument("--chain-id", required=True, metavar="ID", help="the chain's name")
    p.add_argument("--network", choices=NETWORKS, default="test",
                   help="the address network (default %(default)s)")
    p.add_argument("--treasury", metavar="ADDRESS_OR_LOCK",
                   help="where fees go (default: the governors' t-of-n multisig)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a chain parameter (repeatable)")
    p.add_argument("--time-ms", type=int, metavar="MS",
                   help="genesis time in ms since the epoch (default: now)")
    complete_path(p.add_argument("--out", required=True, metavar="FILE",
                                 help="the genesis file to write"))
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = commands.add(
        "run", func=cmd_run,
        summary="run a node until SIGTERM or Ctrl-C",
        description="Run a node in the foreground until SIGTERM or Ctrl-C, which stop it "
                    "cleanly (exit 0). Logs go to stderr (JSON lines unless [log] format = "
                    "\"text\"). FAIRCOOP_<SECTION>_<KEY> environment variables and --set "
                    "override the file.",
        examples=("faircoop-node run --config /srv/faircoop/config.toml",
                  "faircoop-node run --config node/config.toml --set log.format=text"))
    complete_path(p.add_argument("--config", required=True, metavar="FILE",
                                 help="the node's config.toml"))
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable)")

    p = commands.add(
        "status", func=cmd_status,
        summary="a running node's tip, and whether its key votes, and since when",
        description="Ask a running node (its API) for its tip and peers, and where its key "
                    "stands: in the voting set (since which height), quarantined, suspended, "
                    "or outside it, with its participation and any change included on chain "
                    "but not in force yet. The node is --node, else the API address in "
                    "--config, else $FAIRCOOP_NODE, else " + DEFAULT_NODE_URL + ".",
        examples=("faircoop-node status --config /srv/faircoop/config.toml",
                  "FAIRCOOP_NODE=http://127.0.0.1:7071 faircoop-node status --json"))
    where = p.add_mutually_exclusive_group()
    add_node_option(where, "--node", "--api")
    complete_path(where.add_argument("--config", metavar="FILE",
                                     help="read the API address from this config.toml"))
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="seconds to wait for each answer (default %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout: the node's GET /api/v1/status "
                        "fields and `membership`, or the error (docs/CLI.md)")

    p = commands.add(
        "devnet", func=cmd_devnet,
        summary="start N local validators and an observer, with a funded demo wallet",
        description="Create (or reuse) a local development network on 127.0.0.1: N "
                    "validators, one observer and a funded demo wallet, all under --dir. Runs "
                    "the nodes until Ctrl-C or SIGTERM, which stop them all (exit 0).",
        examples=("faircoop-node devnet",
                  "faircoop-node devnet --validators 7 --dir /tmp/net --base-port 9000 --reset"))
    p.add_argument("--validators", type=int, default=None, metavar="N",
                   help="validators, 1 to 100 (default 4)")
    p.add_argument("--governors", type=int, default=None, metavar="K",
                   help="demo governors, 1 to 16, each with a wallet (default min(N, 5)); the "
                        "treasury is their multisig, and a majority of them governs")
    complete_path(p.add_argument("--dir", default=".devnet",
                                 help="the devnet directory (default %(default)s)"),
                  directory=True)
    p.add_argument("--base-port", type=int, default=None, metavar="PORT",
                   help="the first node's API port (default 7070); P2P ports start at +1000")
    p.add_argument("--reset", action="store_true", help="delete an existing devnet in --dir")
    p.add_argument("--init-only", action="store_true",
                   help="create the directory and exit without starting nodes")
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> ExitStatus:
    """Parse and run one command; `argv` None reads sys.argv."""
    env = env if env is not None else Environment()
    args_list = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in args_list

    def body() -> ExitStatus:
        args = build_parser(env).parse_args(args_list)
        status: ExitStatus = args.func(args, env)
        return status

    def as_json(exc: BaseException, status: ExitStatus, message: str) -> None:
        if want_json:
            kind = next((k for cls, k in KINDS if isinstance(exc, cls)),
                        "usage" if status == ExitStatus.USAGE else "error")
            env.out(json.dumps({"ok": False, "error": {
                "code": int(status), "kind": kind, "message": message}}, sort_keys=True))

    return PROGRAM.run(env, body, ERRORS, on_error=as_json)
