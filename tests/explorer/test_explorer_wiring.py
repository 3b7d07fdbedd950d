"""How the node process serves the explorer (`service.api_app`): on by default at `/` on the
API's app, off with `[explorer] enabled = false` (then `/` is the API's JSON 404), and fed by
the node's commits, so the overview shows real finality latencies; and the explorer imports
nothing of the node runtime."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faircoop_common.clikit import Environment, ExitStatus
from faircoop_node.api import ApiLimits
from faircoop_node.cli import main as node_main
from faircoop_node.config import ExplorerConfig, NodeConfig, config_from_dict
from faircoop_node.explorer.routes import EXPLORER
from faircoop_node.service import NodeApi, api_app
from tests.e2e.helpers import free_base_port
from tests.explorer.explorer_chain import text_of
from tests.node.test_import_graph import import_graph, reachable
from tests.node_runtime.harness import VALIDATOR_KEYS, Cluster, runtime_genesis, wait_for


def test_the_config_section_turns_the_explorer_off(tmp_path: Path) -> None:
    assert config_from_dict({}, tmp_path).explorer == ExplorerConfig(enabled=True)
    off = config_from_dict({"explorer": {"enabled": False}}, tmp_path)
    assert off.explorer.enabled is False
    env = config_from_dict({}, tmp_path, env={"FAIRCOOP_EXPLORER_ENABLED": "0"})
    assert env.explorer.enabled is False


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_node_serves_the_explorer_at_the_root_unless_turned_off(
        tmp_path: Path, enabled: bool) -> None:
    cluster = Cluster(runtime_genesis(VALIDATOR_KEYS))
    for k in VALIDATOR_KEYS:
        cluster.add(k, validator=True)
    node = cluster.slots[0].node
    assert node is not None
    config = NodeConfig.for_dir(tmp_path, explorer=ExplorerConfig(enabled=enabled))
    app = api_app(config, node, NodeApi(node), ApiLimits())
    try:
        for slot in cluster.slots:
            await cluster.start(slot)
        await wait_for(lambda: node.state.height >= 3, 20, "height 3")
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            root = await client.get("/")
            if not enabled:
                assert root.status == 404 and root.content_type == "application/json"
                assert EXPLORER not in app
                return
            assert root.status == 200 and root.content_type == "text/html"
            assert "Finality latency median" in text_of(await root.text())
            commits = app[EXPLORER].commits
            assert commits.get(node.state.height) is not None
            assert (await client.get("/api/v1/status")).status == 200
    finally:
        await cluster.stop_all()


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
