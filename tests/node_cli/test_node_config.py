"""NodeConfig: TOML, environment and --set overrides, strict validation, and writing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.errors import FaircoopError
from faircoop_node.config import (
    ConfigError,
    Limits,
    NodeConfig,
    P2PConfig,
    load_config,
    normalize_peer_url,
    peer_url_problem,
    write_config,
)

FULL = """
name = "Coop A"
validator = true
data_dir = "chain"
key_file = "/etc/faircoop/node.key"
genesis_file = "genesis.json"
[p2p]
host = "0.0.0.0"
port = 9001
peers = ["ws://10.0.0.2:9001/p2p", "wss://coop-b.example:443"]
[api]
port = 9000
[log]
level = "debug"
format = "text"
[limits]
max_frame_bytes = 1048576
rate_per_s = 100
rate_burst = 200
ban_seconds = 30
max_peers = 8
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_full_file_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, FULL), env={})
    assert cfg.name == "Coop A" and cfg.validator
    assert cfg.data_dir == tmp_path / "chain"
    assert cfg.key_file == Path("/etc/faircoop/node.key")
    assert cfg.genesis_file == tmp_path / "genesis.json"
    assert cfg.p2p == P2PConfig("0.0.0.0", 9001, ("ws://10.0.0.2:9001/p2p",
                                                  "wss://coop-b.example:443"))
    assert (cfg.api.host, cfg.api.port) == ("127.0.0.1", 9000)
    assert (cfg.log.level, cfg.log.format) == ("DEBUG", "text")
    assert cfg.limits.rate_per_s == 100.0 and isinstance(cfg.limits.rate_per_s, float)
    assert cfg.limits.max_peers == 8 and cfg.limits.send_queue == Limits().send_queue


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ""), env={})
    assert cfg == NodeConfig(tmp_path / "data", tmp_path / "node.key", tmp_path / "genesis.json")


def test_environment_overrides_file_and_argv_overrides_environment(tmp_path: Path) -> None:
    env = {"FAIRCOOP_P2P_PORT": "9100", "FAIRCOOP_API_PORT": "9200",
           "FAIRCOOP_VALIDATOR": "no", "FAIRCOOP_P2P_PEERS": "ws://a:1, ws://b:2",
           "FAIRCOOP_DATA_DIR": "/var/lib/faircoop", "FAIRCOOP_WALLET_URL": "ignored",
           "FAIRCOOP_LIMITS_BAN_SECONDS": "5.5"}
    cfg = load_config(_write(tmp_path, FULL), env=env,
                      overrides=["api.port=9300", "log.format=json", "name=Coop Z"])
    assert cfg.p2p.port == 9100 and cfg.api.port == 9300
    assert cfg.validator is False and cfg.p2p.peers == ("ws://a:1", "ws://b:2")
    assert cfg.data_dir == Path("/var/lib/faircoop") and cfg.limits.ban_seconds == 5.5
    assert cfg.log.format == "json" and cfg.name == "Coop Z"


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("[p2p]\nport = 70000", (), "p2p.port must be 0-65535"),
        ("[p2p]\nport = \"7071\"", (), "p2p.port must be an integer"),
        ("validator = 1", (), "validator must be true or false"),
        ("[p2p]\npeers = [\"http://a:1\"]", (), "ws:// or wss://"),
        ("[p2p]\npeers = [\"ws://a\"]", (), "names no port"),
        ("[p2p]\npeers = [\"ws://a:1/other\"]", (), "path must be /p2p"),
        ("[p2p]\npeers = [\"ws://a:1\", \"ws://a:1\"]", (), "lists a peer twice"),
        ("[p2p]\nport = 7000\n[api]\nport = 7000", (), "must differ from p2p.port"),
        ("[log]\nlevel = \"LOUD\"", (), "log.level must be one of"),
        ("[log]\nformat = \"xml\"", (), "log.format must be one of"),
        ("[limits]\nmax_frame_bytes = 10", (), "limits.max_frame_bytes"),
        ("[limits]\nrate_per_s = 0", (), "limits.rate_per_s"),
        ("[limits]\nreconnect_min_s = 5.0\nreconnect_max_s = 1.0", (), "reconnect_max_s"),
        ("prot = 1", (), "unknown key 'prot'"),
        ("[p2p]\nprot = 1", (), "unknown key 'prot' in [p2p]"),
        ("[peers]\nx = 1", (), "unknown key 'peers'"),
        ("p2p = 5", (), "[p2p] must be a table"),
        ("name = \"!bad\"", (), "name must be"),
        ("[p2p", (), "not valid TOML"),
        ("", ("p2p.port",), "expected section.key=value"),
        ("", ("p2p.port=abc",), "p2p.port must be an integer"),
        ("", ("nosuch.key=1",), "unknown section [nosuch]"),
        ("", ("api.prot=1",), "unknown key 'prot'"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(tmp_path: Path, text: str,
                                                     overrides: tuple[str, ...],
                                                     message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), env={}, overrides=overrides)
    assert message in str(info.value)
    assert isinstance(info.value, FaircoopError)


def test_bad_environment_value_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment: p2p.port must be an integer"):
        load_config(_write(tmp_path, ""), env={"FAIRCOOP_P2P_PORT": "lots"})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_write_then_load_round_trips_with_relative_paths(tmp_path: Path) -> None:
    cfg = NodeConfig.for_dir(tmp_path, validator=True, name="Coop B",
                             p2p=P2PConfig(port=7500, peers=("ws://127.0.0.1:7501/p2p",)))
    path = tmp_path / "config.toml"
    write_config(cfg, path)
    text = path.read_text()
    assert 'data_dir = "data"' in text and str(tmp_path) not in text
    assert load_config(path, env={}) == cfg
    moved = tmp_path / "moved"
    path.rename(tmp_path / "c.toml")
    moved.mkdir()
    (tmp_path / "c.toml").rename(moved / "config.toml")
    assert load_config(moved / "config.toml", env={}).data_dir == moved / "data"


@pytest.mark.parametrize(
    ("url", "ok", "normal"),
    [
        ("ws://127.0.0.1:7071", True, "ws://127.0.0.1:7071/p2p"),
        ("ws://127.0.0.1:7071/p2p", True, "ws://127.0.0.1:7071/p2p"),
        ("wss://coop.example:443/p2p", True, "wss://coop.example:443/p2p"),
        ("ws://[::1]:7071", True, "ws://[::1]:7071/p2p"),
        ("ws://:7071", False, None),
        ("ws://h:99999", False, None),
        ("ws://h:1?x=1", False, None),
        ("ws://user@h:1", False, None),
    ],
)
def test_peer_urls(url: str, ok: bool, normal: str | None) -> None:
    assert (peer_url_problem(url) is None) is ok
    if ok:
        assert normalize_peer_url(url) == normal


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_any_text_as_a_peer_url_is_accepted_or_explained(url: str) -> None:
    problem = peer_url_problem(url)
    assert problem is None or (isinstance(problem, str) and problem)
