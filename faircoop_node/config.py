"""NodeConfig: everything a node needs to start, from a TOML file, the environment and argv.

Precedence, lowest first: built-in defaults, the TOML file, `FAIRCOOP_*` environment
variables, then `--set section.key=value` overrides from the command line. Every value is
checked once, here, so the rest of the node never sees a port of 70000 or a peer URL without
a host. Unknown keys are errors, not silently ignored, so a typo in a config file is caught.

Relative paths in a config file are relative to the file's directory, so a node directory can
be moved as a whole.

File layout (every key optional except where noted)::

    name = "coop-a"              # the coop's name (validators)
    data_dir = "data"
    key_file = "node.key"
    genesis_file = "genesis.json"
    validator = true
    [p2p]   host, port, peers = ["ws://127.0.0.1:7071/p2p", ...]
    [api]   host, port, max_connections, max_streams (0: sized from the open-file limit)
    [log]   level = "INFO", format = "json" | "text"
    [explorer] enabled = true   (the web explorer at `/`, on the API's port)
    [limits] max_frame_bytes, rate_per_s, rate_burst, rate_bytes_per_s, rate_bytes_burst,
             reassembly_bytes, ban_seconds, max_peers, max_handshakes_per_host, send_queue,
             send_queue_bytes, handshake_timeout_s, heartbeat_s, reconnect_min_s,
             reconnect_max_s

Environment: FAIRCOOP_<KEY> for top-level keys and FAIRCOOP_<SECTION>_<KEY> for the others,
e.g. FAIRCOOP_DATA_DIR, FAIRCOOP_P2P_PORT, FAIRCOOP_P2P_PEERS (comma-separated).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from consensus.errors import FaircoopError
from faircoop_common.fileio import write_atomic

DEFAULT_API_PORT = 7070
DEFAULT_P2P_PORT = 7071
P2P_PATH = "/p2p"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")
ENV_PREFIX = "FAIRCOOP_"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}\Z")


class ConfigError(FaircoopError):
    """A config file, variable or override that can't be read or holds a bad value.

    The message names the key (`p2p.port`) and where the value came from.
    """


@dataclass(frozen=True, slots=True)
class Limits:
    """What one peer may cost this node before it is cut off."""

    max_frame_bytes: int = 16 * 1024 * 1024  # one P2P message; must hold a full block range
    rate_per_s: float = 5_000.0  # frames per second a peer may send, sustained
    rate_burst: int = 20_000  # ... and in one burst (a full bucket)
    rate_bytes_per_s: float = 32 * 1024 * 1024  # bytes per second a peer may send, sustained
    rate_bytes_burst: int = 128 * 1024 * 1024  # ... and in one burst
    reassembly_bytes: int = 64 * 1024 * 1024  # unfinished multi-frame messages, all peers
    ban_seconds: float = 600.0  # how long a misbehaving peer stays banned
    max_peers: int = 50  # connections (handshakes under way included) refused beyond this
    max_handshakes_per_host: int = 4  # handshakes under way from one non-loopback address
    send_queue: int = 50_000  # frames queued to one peer; a peer that can't keep up is dropped
    send_queue_bytes: int = 64 * 1024 * 1024  # ... and bytes queued to it
    handshake_timeout_s: float = 5.0
    heartbeat_s: float = 15.0  # WebSocket ping interval; a silent peer is dropped
    reconnect_min_s: float = 0.5  # backoff of a dropped outbound connection: first delay
    reconnect_max_s: float = 30.0  # ... and its cap


@dataclass(frozen=True, slots=True)
class P2PConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_P2P_PORT  # 0 picks a free port (tests)
    peers: tuple[str, ...] = ()  # ws://host:port/p2p URLs to dial and keep dialing


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_API_PORT
    max_connections: int = 0  # open HTTP connections, streams included; 0: from the open-file limit
    max_streams: int = 0  # open block and address streams; 0: half the connections


MAX_API_CONNECTIONS = 1_000_000


@dataclass(frozen=True, slots=True)
class ExplorerConfig:
    enabled: bool = True  # serve the read-only web explorer at `/` on the API's port


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "INFO"
    format: str = "json"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    data_dir: Path
    key_file: Path
    genesis_file: Path
    validator: bool = False
    name: str = ""  # the coop's name; informational, used by `init` for validator.json
    p2p: P2PConfig = field(default_factory=P2PConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    log: LogConfig = field(default_factory=LogConfig)
    limits: Limits = field(default_factory=Limits)
    explorer: ExplorerConfig = field(default_factory=ExplorerConfig)

    @classmethod
    def for_dir(cls, directory: Path, **values: Any) -> NodeConfig:
        """The default config of a node directory (what `init` writes), checked."""
        base = cls(data_dir=directory / "data", key_file=directory / "node.key",
                   genesis_file=directory / "genesis.json")
        return validate(replace(base, **values))


_SECTIONS: dict[str, type] = {"p2p": P2PConfig, "api": ApiConfig, "log": LogConfig,
                              "limits": Limits, "explorer": ExplorerConfig}
_PATH_KEYS = ("data_dir", "key_file", "genesis_file")


# -- loading ----------------------------------------------------------------------------------


def load_config(
    path: Path | str,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> NodeConfig:
    """Read a TOML config, then apply environment and `key=value` overrides, then validate."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (create one with "
                          "`faircoop-node init`)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return config_from_dict(raw, base_dir=path.parent, source=str(path), env=env,
                            overrides=overrides)


def config_from_dict(
    raw: Mapping[str, Any],
    base_dir: Path,
    source: str = "config",
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> NodeConfig:
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: [{key}] must be a table")
            for sub, subval in value.items():
                _check_known(key, sub, source)
                sections[key][sub] = _typed(f"{key}.{sub}", subval, _field_type(key, sub), source)
        else:
            _check_known(None, key, source)
            top[key] = _typed(key, value, _field_type(None, key), source)

    for dotted, text in [*_env_items(env), *_override_items(overrides)]:
        where = "environment" if dotted.startswith("$") else "--set"
        dotted = dotted.lstrip("$")
        section, _, key = dotted.rpartition(".")
        _check_known(section or None, key, where)
        value = _parse_text(dotted, text, _field_type(section or None, key), where)
        (sections[section] if section else top)[key] = value

    for key in _PATH_KEYS:
        default = {"data_dir": "data", "key_file": "node.key", "genesis_file": "genesis.json"}[key]
        p = Path(top.get(key, default)).expanduser()
        top[key] = p if p.is_absolute() else base_dir / p
    try:
        built = {name: cls(**sections[name]) for name, cls in _SECTIONS.items()}
        config = NodeConfig(**top, **built)
    except TypeError as exc:  # a missing or extra field: a bug in the tables above
        raise ConfigError(f"{source}: {exc}") from None
    return validate(config, source)


def _field_type(section: str | None, key: str) -> Any:
    cls = _SECTIONS[section] if section else NodeConfig
    return {f.name: f.type for f in fields(cls)}[key]


def _check_known(section: str | None, key: str, source: str) -> None:
    if section is not None and section not in _SECTIONS:
        raise ConfigError(f"{source}: unknown section [{section}] "
                          f"(known: {', '.join(_SECTIONS)})")
    cls = _SECTIONS[section] if section else NodeConfig
    names = [f.name for f in fields(cls) if section or f.name not in _SECTIONS]
    if key not in names:
        where = f"[{section}]" if section else "the top level"
        raise ConfigError(f"{source}: unknown key {key!r} in {where} (known: {', '.join(names)})")


def _typed(name: str, value: Any, kind: str, source: str) -> Any:
    """A TOML value, checked against the field's annotated type."""
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "Path": isinstance(value, str),
        "tuple[str, ...]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }.get(kind)
    if not ok:
        raise ConfigError(f"{source}: {name} must be {_KIND_WORDS.get(kind, kind)}, "
                          f"not {value!r}")
    if kind == "tuple[str, ...]":
        return tuple(value)
    if kind == "float":
        return float(value)
    return value


_KIND_WORDS = {"bool": "true or false", "int": "an integer", "float": "a number",
               "str": "text", "Path": "a path (text)", "tuple[str, ...]": "a list of text"}


def _parse_text(name: str, text: str, kind: str, source: str) -> Any:
    """A value from the environment or argv, where everything arrives as text."""
    text = text.strip()
    try:
        if kind == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "tuple[str, ...]":
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return text
    except ValueError:
        raise ConfigError(f"{source}: {name} must be {_KIND_WORDS.get(kind, kind)}, "
                          f"not {text!r}") from None


def _env_items(env: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """FAIRCOOP_P2P_PORT -> ("$p2p.port", value); the "$" marks the source for messages."""
    items: list[tuple[str, str]] = []
    if env is None:
        return items
    top_keys = {f.name for f in fields(NodeConfig) if f.name not in _SECTIONS}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX):].lower()
        if rest in top_keys:
            items.append(("$" + rest, value))
            continue
        section, _, key = rest.partition("_")
        if section in _SECTIONS and key in {f.name for f in fields(_SECTIONS[section])}:
            items.append((f"${section}.{key}", value))
        # other FAIRCOOP_* variables belong to other tools (the wallet): not ours to reject
    return items


def _override_items(overrides: Sequence[str]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set: expected section.key=value, got {item!r}")
        items.append((key.strip(), value))
    return items


# -- validation -------------------------------------------------------------------------------


def validate(config: NodeConfig, source: str = "config") -> NodeConfig:
    """The config itself if every value is in range; ConfigError naming the first bad key."""

    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{source}: {key} {why}")

    if config.name and not _NAME_RE.match(config.name):
        raise bad("name", "must be 1-64 letters, digits, spaces, '.', '_' or '-', "
                          "starting with a letter or digit")
    for section, cfg in (("p2p", config.p2p), ("api", config.api)):
        if not cfg.host or any(c.isspace() for c in cfg.host):
            raise bad(f"{section}.host", f"must be a host name or address, not {cfg.host!r}")
        if not 0 <= cfg.port <= 65535:
            raise bad(f"{section}.port", f"must be 0-65535, not {cfg.port}")
    api = config.api
    for key in ("max_connections", "max_streams"):
        if not 0 <= getattr(api, key) <= MAX_API_CONNECTIONS:
            raise bad(f"api.{key}", f"must be 0 (sized from the open-file limit) to "
                                    f"{MAX_API_CONNECTIONS}, not {getattr(api, key)}")
    if api.max_connections and api.max_streams > api.max_connections:
        raise bad("api.max_streams", f"must be at most api.max_connections "
                                     f"({api.max_connections}): a stream is a connection")
    if (config.p2p.port != 0 and config.p2p.port == config.api.port
            and config.p2p.host == config.api.host):
        raise bad("api.port", "must differ from p2p.port")
    if len(set(config.p2p.peers)) != len(config.p2p.peers):
        raise bad("p2p.peers", "lists a peer twice")
    for url in config.p2p.peers:
        problem = peer_url_problem(url)
        if problem:
            raise bad("p2p.peers", f"has a bad URL {url!r}: {problem}")
    if config.log.level.upper() not in LOG_LEVELS:
        raise bad("log.level", f"must be one of {', '.join(LOG_LEVELS)}")
    if config.log.format not in LOG_FORMATS:
        raise bad("log.format", f"must be one of {', '.join(LOG_FORMATS)}")
    lim = config.limits
    positive = {
        "max_frame_bytes": (1024, 256 * 1024 * 1024), "rate_per_s": (0.001, 1e9),
        "rate_burst": (1, 10**9), "ban_seconds": (0.0, 365 * 86_400.0), "max_peers": (1, 100_000),
        "send_queue": (1, 10**7), "handshake_timeout_s": (0.01, 3600.0),
        "rate_bytes_per_s": (1024.0, 1e12), "rate_bytes_burst": (64 * 1024, 2**40),
        "reassembly_bytes": (64 * 1024, 2**40), "max_handshakes_per_host": (1, 100_000),
        "send_queue_bytes": (64 * 1024, 2**40),
        "heartbeat_s": (0.1, 3600.0), "reconnect_min_s": (0.001, 3600.0),
        "reconnect_max_s": (0.001, 86_400.0),
    }
    for key, (lo, hi) in positive.items():
        value = getattr(lim, key)
        if not lo <= value <= hi:
            raise bad(f"limits.{key}", f"must be between {lo} and {hi}, not {value}")
    if lim.reconnect_max_s < lim.reconnect_min_s:
        raise bad("limits.reconnect_max_s", "must be at least limits.reconnect_min_s")
    return replace(config, log=replace(config.log, level=config.log.level.upper()))


def peer_url_problem(url: str) -> str | None:
    """Why `url` can't be dialed as a peer, or None if it can."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("ws", "wss"):
        return "the scheme must be ws:// or wss://"
    if not parts.hostname:
        return "it names no host"
    if port is None:
        return "it names no port"
    if parts.path not in ("", P2P_PATH):
        return f"the path must be {P2P_PATH}"
    if parts.query or parts.fragment or parts.username:
        return "it may not carry a query, fragment or user"
    return None


def normalize_peer_url(url: str) -> str:
    """The URL a transport dials: the /p2p path filled in."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{P2P_PATH}"


# -- writing ----------------------------------------------------------------------------------


def config_to_dict(config: NodeConfig, base_dir: Path | None = None) -> dict[str, Any]:
    """The TOML document for `config`; paths under `base_dir` are written relative to it."""

    def path_text(p: Path) -> str:
        if base_dir is not None:
            try:
                return str(p.resolve().relative_to(base_dir.resolve()))
            except ValueError:
                pass
        return str(p)

    doc: dict[str, Any] = {}
    if config.name:
        doc["name"] = config.name
    doc["validator"] = config.validator
    for key in _PATH_KEYS:
        doc[key] = path_text(getattr(config, key))
    for section in _SECTIONS:
        values = dataclasses.asdict(getattr(config, section))
        doc[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    return doc


def write_config(config: NodeConfig, path: Path | str) -> None:
    """Write `config` as TOML, atomically (a crash leaves the old file or the new one)."""
    path = Path(path)
    text = tomli_w.dumps(config_to_dict(config, base_dir=path.parent.resolve()))
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from None
