"""Hostile input never gets a 500 or a traceback from the explorer, and nothing anyone else
wrote (a coop's name, a memo, an assembly reference, a URL) reaches a page unescaped.

- A chain whose validators are named like scripts, with a script as a tx's memo and a pending
  action adding a validator named like a script under a `javascript:` reference: every page
  shows them as text, and the reference is not made a link.
- Script-injection strings in every path parameter and every query parameter of every page:
  each answer is a 4xx HTML page (or the page itself, where the parameter is ignored) that
  never contains the string unescaped.
- Hypothesis: junk path segments and queries on every route: below 500, and every 4xx an HTML
  page without a traceback.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.address import encode_address
from faircoop_node.api import create_app
from faircoop_node.explorer import mount
from faircoop_node.explorer.errors import is_page
from tests.api.api_chain import BOB, standard_chain
from tests.explorer.explorer_chain import IMG, INJECTIONS, SCRIPT, explore, hostile_chain

Client = TestClient[web.Request, web.Application]
RAW = (SCRIPT, IMG, "<svg onload", "<iframe")


def assert_escaped(body: str, where: str) -> None:
    for raw in RAW:
        assert raw not in body, f"{where}: {raw!r} unescaped"
    assert not re.search(r"""href=["']?\s*javascript:""", body, re.I), where
    assert "Traceback" not in body, where


async def test_names_memos_and_references_are_shown_as_text_never_as_markup() -> None:
    node, txid = hostile_chain()
    bob = encode_address(BOB.lock, "test")
    paths = ["/", "/blocks", "/block/1", "/block/2", f"/tx/{txid.hex()}", "/validators",
             "/governance", f"/address/{bob}", "/treasury"]
    async with explore(node) as client:
        for path in paths:
            resp = await client.get(path)
            body = await resp.text()
            assert resp.status == 200, path
            assert_escaped(body, path)
        validators = await (await client.get("/validators")).text()
        governance = await (await client.get("/governance")).text()
        memo = await (await client.get(f"/tx/{txid.hex()}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in validators  # the name, shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in governance  # the reference's text
    assert "<code>javascript:alert(1)</code>" in governance  # its URI: text, not a link
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in memo


def hostile_urls(txid: str, address: str) -> Iterator[str]:
    """Every path parameter and every query parameter of every page, each injection in turn."""
    pages = ["/", "/blocks", "/block/1", f"/tx/{txid}", f"/address/{address}", "/validators",
             "/governance", "/treasury", "/campaigns", "/credit", "/search"]
    params = ["q", "before", "from", "blocks", "before_height", "before_position", "after",
              "status", "spends_after"]
    for bad in INJECTIONS:
        quoted = quote(bad, safe="")
        yield from (f"/block/{quoted}", f"/tx/{quoted}", f"/address/{quoted}",
                    f"/static/{quoted}", f"/{quoted}", f"/block/1/{quoted}",
                    f"/campaign/{quoted}")
        for page in pages:
            for name in params:
                yield f"{page}?{urlencode({name: bad})}"


async def test_injections_in_every_parameter_get_an_escaped_4xx_page() -> None:
    node, txid = hostile_chain()
    address = encode_address(BOB.lock, "test")
    statuses: set[int] = set()
    async with explore(node) as client:
        for url in hostile_urls(txid.hex(), address):
            resp = await client.get(url, allow_redirects=False)
            body = await resp.text()
            assert resp.status < 500, (url, resp.status)
            statuses.add(resp.status)
            if resp.status >= 400:
                assert resp.content_type == "text/html", url
            assert_escaped(body, url)
    assert {200, 400, 404} <= statuses


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

junk_segment = st.one_of(
    st.text(min_size=1, max_size=80),
    st.text(alphabet="0123456789abcdefABCDEFxg", min_size=0, max_size=70),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from([".", "..", "%", "%00", "-0", "0" * 100, " 1", "+1", "1e3", "１",
                     "tfair1", "fair1qqqq", "\x00", "a/b", "?", "#", "00" * 32, *INJECTIONS]),
    st.binary(min_size=32, max_size=32).map(bytes.hex),
)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[asyncio.Runner, Client, list[str]]]:
    """One server over the standard chain with the explorer, and the explorer's routes."""
    scene = standard_chain()
    app = create_app(scene.node)  # type: ignore[arg-type]
    mount(app)
    templates = sorted({r.resource.canonical for r in app.router.routes()  # type: ignore[union-attr]
                        if is_page(r.resource.canonical)})  # type: ignore[union-attr]

    async def start() -> Client:
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        return client

    with asyncio.Runner() as runner:
        client = runner.run(start())
        yield runner, client, templates
        runner.run(client.close())


def fetch(runner: asyncio.Runner, client: Client, url: str) -> int:
    async def go() -> tuple[int, str, str]:
        async with client.get(url, allow_redirects=False) as resp:
            return resp.status, resp.content_type, await resp.text(errors="replace")

    status, content_type, body = runner.run(go())
    assert status < 500, f"{url} -> {status}: {body[:300]!r}"
    if status >= 400:
        assert content_type == "text/html", url
        assert_escaped(body, url)
    return status


def _fill(template: str, values: list[str]) -> str:
    parts = iter(values)
    return re.sub(r"\{\w+\}", lambda _: quote(next(parts), safe=""), template)


def test_junk_paths_and_queries_never_get_a_500(
        served: tuple[asyncio.Runner, Client, list[str]]) -> None:
    runner, client, templates = served
    assert len(templates) >= 12
    names = st.sampled_from(["q", "before", "from", "blocks", "before_height",
                             "before_position", "after", "status", "spends_after", "x"])

    @SETTINGS
    @given(template=st.sampled_from(templates), values=st.lists(junk_segment, min_size=1,
                                                                 max_size=1),
           query=st.dictionaries(names, junk_segment, max_size=3))
    def hammer(template: str, values: list[str], query: dict[str, str]) -> None:
        url = _fill(template, values) + ("?" + urlencode(query) if query else "")
        statuses.append(fetch(runner, client, url))

    statuses: list[int] = []
    hammer()
    assert len(statuses) >= 100 and {200, 400} <= set(statuses)
