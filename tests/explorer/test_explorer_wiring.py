"""How the node process serves the explorer (`service.api_app`): on by default at `/` on the
API's app, off with `[explorer] enabled = false` (then `/` is the API's JSON 404), and fed by
the node's commits, so the overview shows real finality latencies; and the explorer imports
nothing of the node runtime."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from faircoop_common.clikit import Environment, ExitStatus
from faircoop_node.cli import main as node_main
from faircoop_node.config import ExplorerConfig, NodeConfig, config_from_dict
from faircoop_node.explorer.routes import EXPLORER
from tests.e2e.helpers import free_base_port
from tests.explorer.explorer_chain import node_process_app, text_of
from tests.node.test_import_graph import import_graph, reachable


def test_the_config_section_turns_the_explorer_off(tmp_path: Path) -> None:
    assert config_from_dict({}, tmp_path).explorer == ExplorerConfig(enabled=True)
    off = config_from_dict({"explorer": {"enabled": False}}, tmp_path)
    assert off.explorer.enabled is False
    env = config_from_dict({}, tmp_path, env={"FAIRCOOP_EXPLORER_ENABLED": "0"})
    assert env.explorer.enabled is False


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_node_serves_the_explorer_at_the_root_unless_turned_off(
        tmp_path: Path, enabled: bool) -> None:
    config = NodeConfig.for_dir(tmp_path, explorer=ExplorerConfig(enabled=enabled))
    async with node_process_app(config, 3) as served:
        client, app, node = served.client, served.app, served.node
        root = await client.get("/")
        if not enabled:
            assert root.status == 404 and root.content_type == "application/json"
            assert EXPLORER not in app
            return
        assert root.status == 200 and root.content_type == "text/html"
        assert "Finality latency median" in text_of(await root.text())
        assert app[EXPLORER].commits.get(node.state.height) is not None
        assert (await client.get("/api/v1/status")).status == 200


def test_the_explorer_imports_nothing_of_the_node_runtime() -> None:
    graph = import_graph()
    via = reachable(graph, "faircoop_node.explorer", skip=set())
    for module in [m for m in graph if m.startswith("faircoop_node.explorer")]:
        via.update(reachable(graph, module, skip=set()))
    assert not [m for m in via if m.startswith("faircoop_node.node")]


def test_the_devnet_prints_the_explorers_address_first(tmp_path: Path) -> None:
    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), environ={})
    base = free_base_port()
    code = node_main(["devnet", "--dir", str(tmp_path / "net"), "--base-port", str(base),
                      "--init-only"], env)
    assert code == ExitStatus.OK
    assert out.getvalue().splitlines()[0] == (f"explorer: http://127.0.0.1:{base}/  "
                                              "(open it in a browser)")
