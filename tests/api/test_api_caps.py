"""The API's connection and stream caps as settings: `[api] max_connections` and `max_streams`
(0, the default: sized from the open-file limit), read from the file, the environment and
--set, checked, and turned into the `ApiLimits` the node serves with."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from faircoop_node.api.limits import FD_BASE_RESERVE, MIN_CONNECTIONS, ApiLimits
from faircoop_node.config import ConfigError, NodeConfig, load_config
from faircoop_node.service import api_limits


def _config(tmp_path: Path, text: str = "", env: dict[str, str] | None = None,
            overrides: tuple[str, ...] = ()) -> NodeConfig:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, env=env or {}, overrides=overrides)


@pytest.mark.parametrize(
    ("text", "env", "overrides", "caps"),
    [
        ("", {}, (), (0, 0)),  # not set: sized from the open-file limit
        ("[api]\nmax_connections = 300\nmax_streams = 20\n", {}, (), (300, 20)),
        ("[api]\nmax_connections = 300\n", {"FAIRCOOP_API_MAX_STREAMS": "30"}, (), (300, 30)),
        ("[api]\nmax_streams = 5\n", {}, ("api.max_connections=40",), (40, 5)),
    ],
)
def test_caps_come_from_the_file_the_environment_and_set(
        tmp_path: Path, text: str, env: dict[str, str], overrides: tuple[str, ...],
        caps: tuple[int, int]) -> None:
    cfg = _config(tmp_path, text, env, overrides)
    assert (cfg.api.max_connections, cfg.api.max_streams) == caps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[api]\nmax_connections = -1\n", "api.max_connections must be 0"),
        ("[api]\nmax_streams = 2000000\n", "api.max_streams must be 0"),
        ("[api]\nmax_connections = 10\nmax_streams = 11\n", "api.max_streams must be at most"),
        ('[api]\nmax_connections = "many"\n', "api.max_connections must be an integer"),
    ],
)
def test_bad_caps_are_config_errors_naming_the_key(tmp_path: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, text)


DEFAULT = ApiLimits()
SPARE_1024 = 1024 - 372 - FD_BASE_RESERVE  # 50 peers and a 256-file store reserved


@pytest.mark.parametrize(
    ("nofile", "reserved", "configured", "expected"),
    [
        # sized: the defaults fit, less room gives what is left, no room gives the minimum
        (1024, 372, (0, 0), (DEFAULT.max_connections, DEFAULT.max_streams)),
        (1024, 700, (0, 0), (1024 - 700 - FD_BASE_RESERVE, (1024 - 700 - FD_BASE_RESERVE) // 2)),
        (256, 236, (0, 0), (MIN_CONNECTIONS, MIN_CONNECTIONS // 2)),
        # set: taken as given, whatever the limit (the node warns when it exceeds it)
        (1024, 372, (100, 0), (100, 50)),
        (1024, 372, (2000, 1500), (2000, 1500)),
        (256, 236, (30, 3), (30, 3)),
        (1024, 372, (1, 0), (1, 1)),
        # only the streams set: never more than the sized connections
        (1024, 372, (0, 40), (DEFAULT.max_connections, 40)),
        (256, 236, (0, 40), (MIN_CONNECTIONS, MIN_CONNECTIONS)),
    ],
)
def test_limits_take_the_configured_caps_or_size_them(
        nofile: int, reserved: int, configured: tuple[int, int],
        expected: tuple[int, int]) -> None:
    limits = ApiLimits.for_descriptors(nofile, reserved, max_connections=configured[0],
                                       max_streams=configured[1])
    assert (limits.max_connections, limits.max_streams) == expected


def test_the_node_serves_the_configured_caps_and_knows_the_room_it_has(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("faircoop_node.service.descriptor_limit", lambda: 1024)
    store = SimpleNamespace(descriptors=272)  # + 2 x 50 peer slots = 372 reserved
    sized, spare = api_limits(_config(tmp_path), store)  # type: ignore[arg-type]
    assert (sized.max_connections, sized.max_streams, spare) == (512, 256, SPARE_1024)
    cfg = _config(tmp_path, "[api]\nmax_connections = 900\nmax_streams = 100\n")
    set_, spare = api_limits(cfg, store)  # type: ignore[arg-type]
    assert (set_.max_connections, set_.max_streams) == (900, 100)
    assert set_.max_connections > spare  # what makes the node log `open_file_limit_low`
