"""A node directory and the public identity file (node.json) that lets others name the node.

`init_node_dir(DIR)` writes DIR/node.key (mode 0600), DIR/config.toml and DIR/node.json
(`{"name", "pubkey", "validator"}`), so a genesis can be built from the node.json files of
the founding coops: `faircoop-node genesis --validators a/node.json b/node.json ...`.
`parse_validators` and `parse_governors` read those files back (or inline keys).
`governors_line` is what a coop joining a running chain sends the governors instead.

Both the CLI's `init` and the devnet build their nodes here; neither imports the other.

Left out: the genesis itself (genesis_file.py) and running the node (node/).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.types import PublicKey, Validator
from faircoop_common.fileio import write_atomic
from faircoop_node.config import (
    DEFAULT_API_PORT,
    DEFAULT_P2P_PORT,
    ApiConfig,
    ConfigError,
    NodeConfig,
    P2PConfig,
    write_config,
)
from faircoop_node.genesis_file import GenesisFileError, parse_pubkey
from faircoop_node.keys import generate_node_key

CONFIG_NAME = "config.toml"
KEY_NAME = "node.key"
IDENTITY_NAME = "node.json"


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

    `config_values` are further NodeConfig fields (`log=LogConfig(...)`,
    `limits=Limits(...)`). Refuses an existing config or key.
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
    try:
        write_atomic(identity_path, json.dumps(identity, indent=2) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write {identity_path}: {exc.strerror}") from None
    return NodeDir(config_path, config, PublicKey(key.public_key), identity_path)


def governors_line(made: NodeDir) -> str:
    """What a joining coop sends the governors: the arguments of `faircoop-wallet gov propose
    add-validator` that name it, `--name NAME --pubkey HEX` (the name quoted for a shell)."""
    return f"--name {shlex.quote(made.config.name)} --pubkey {made.node_id.hex()}"


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
    """Each item is a public key (hex) or a node.json-style file, as for validators."""
    out: list[PublicKey] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            out.extend(parse_pubkey(e["pubkey"], str(path))
                       for e in _read_identity_file(path, "--governors"))
        else:
            out.append(parse_pubkey(item, "--governors"))
    return out
