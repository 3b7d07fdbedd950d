"""schemathesis over the node's OpenAPI document, against the real API app.

Two targets: `create_app` over the API tests' small real chain (`tests/api/api_chain.py`: real
blocks, certificates, txs, a governance action, a mempool tx), served on a loopback port from a
background thread; and a live single-validator node process (whose GET /api/v1/openapi.json is
checked to be this very document). schemathesis generates requests from
`faircoop_node.api.openapi.DOCUMENT`, both conforming and non-conforming
(bad hex, out-of-range numbers, wrong types), for every operation but the never-ending
`blocks/stream`.

Checked on every answer: no 5xx (`not_a_server_error`), every status and JSON body matches the
document (`status_code_conformance`, `response_schema_conformance`,
`content_type_conformance`), and an answer came within the request timeout (no hang).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")

from aiohttp import web  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from faircoop_node.api import create_app  # noqa: E402
from faircoop_node.api.openapi import DOCUMENT  # noqa: E402
from faircoop_node.devnet import DevnetNode  # noqa: E402
from tests.api.api_chain import standard_chain  # noqa: E402
from tests.fuzz.live import Prober  # noqa: E402

SCHEMA = schemathesis.openapi.from_dict(DOCUMENT).exclude(path_regex="stream")
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.content_type_conformance]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fake_chain_url() -> Iterator[str]:
    scene = standard_chain()
    app = create_app(scene.node)  # type: ignore[arg-type]
    port = _free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="api-under-test")
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@pytest.fixture(params=["fake_chain", pytest.param("live_node", marks=pytest.mark.slow)])
def base_url(request: pytest.FixtureRequest) -> str:
    """The fake chain's app (rich: txs, actions, a mempool), or a live node process."""
    if request.param == "fake_chain":
        return str(request.getfixturevalue("fake_chain_url"))
    node, _ = request.getfixturevalue("live_node")
    return str(node.api_url)


@pytest.mark.slow
def test_live_node_serves_the_document_under_test(
        live_node: tuple[DevnetNode, Prober]) -> None:
    node, _ = live_node
    with urllib.request.urlopen(f"{node.api_url}/api/v1/openapi.json", timeout=5) as resp:
        served = json.loads(resp.read())
    assert served == json.loads(json.dumps(DOCUMENT))


@SCHEMA.parametrize()
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_answers_every_generated_request_without_5xx(case: object, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)  # type: ignore[attr-defined]
