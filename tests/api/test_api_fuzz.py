"""Bad input never gets a 500: hypothesis hammers every route with junk.

Junk path parameters (any text, near-hex, huge and negative numbers, dot segments), junk
queries, junk bodies under junk content types, and wrong methods. Every answer must be below
500, and every 4xx must be a JSON `{"error": ...}`. One server serves all examples (a fresh
one per example would cost more than the requests), driven from a private event loop.

`blocks/stream` is left out: it never ends by design, and takes no parameters; so is
`address/{address}/stream` (a junk address is a 400 like any other address route's, and a valid
one would open a stream that never ends: `test_api_address_stream.py` covers its bad input).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from faircoop_node.api import create_app
from tests.api.api_chain import standard_chain

STREAM = "/api/v1/blocks/stream"
POSTS = ("/api/v1/tx", "/api/v1/txs", "/api/v1/actions")
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[asyncio.Runner, Client, list[str]]]:
    """A server over the standard chain, its client, and every routed path template."""
    scene = standard_chain()
    app = create_app(scene.node, max_body=64 * 1024)  # type: ignore[arg-type]
    templates = sorted({r.resource.canonical for r in app.router.routes()  # type: ignore[union-attr]
                        if not r.resource.canonical.endswith("/stream")})  # type: ignore[union-attr]

    async def start() -> Client:
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        return client

    with asyncio.Runner() as runner:
        client = runner.run(start())
        yield runner, client, templates
        runner.run(client.close())


def check(runner: asyncio.Runner, client: Client, method: str, url: str,
          data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    async def go() -> tuple[int, str, bytes]:
        async with client.request(method, url, data=data, headers=headers or {}) as resp:
            return resp.status, resp.content_type, await resp.read()

    status, content_type, body = runner.run(go())
    assert status < 500, f"{method} {url} -> {status}: {body[:300]!r}"
    if status >= 400:
        assert content_type == "application/json", f"{method} {url} -> {content_type}"
        if method == "HEAD":
            return status  # no body to a HEAD
        answer = json.loads(body)
        assert isinstance(answer, dict) and isinstance(answer.get("error"), str), answer
        assert set(answer) <= {"error", "rule"}
    return status


junk_segment = st.one_of(
    st.text(min_size=1, max_size=80),
    st.text(alphabet="0123456789abcdefABCDEFxg", min_size=0, max_size=70),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from([".", "..", "%", "%00", "-0", "0" * 100, " 1", "1 ", "+1", "1e3", "１",
                     "tfair1", "fair1qqqq", "\x00", "a/b", "?", "#", "00" * 32, "ff" * 32]),
    st.binary(min_size=32, max_size=32).map(bytes.hex),
)


def _fill(template: str, values: list[str]) -> str:
    parts = iter(values)
    return re.sub(r"\{\w+\}", lambda _: quote(next(parts), safe=""), template)


def test_junk_path_parameters_never_get_a_500(
    api: tuple[asyncio.Runner, Client, list[str]],
) -> None:
    runner, client, templates = api
    with_params = [t for t in templates if "{" in t]
    assert len(with_params) >= 8

    @SETTINGS
    @given(template=st.sampled_from(with_params), values=st.lists(junk_segment, min_size=3,
                                                                   max_size=3))
    def hammer(template: str, values: list[str]) -> None:
        statuses.append(check(runner, client, "GET", _fill(template, values)))

    statuses: list[int] = []
    hammer()
    assert len(statuses) >= 100 and {400, 404} <= set(statuses)


def test_junk_queries_never_get_a_500(api: tuple[asyncio.Runner, Client, list[str]]) -> None:
    runner, client, templates = api
    names = st.sampled_from(["from", "count", "limit", "before_height", "before_position",
                             "after", "x"])

    @SETTINGS
    @given(template=st.sampled_from(templates),
           query=st.dictionaries(names, junk_segment, max_size=4),
           values=st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), min_size=3,
                           max_size=3))
    def hammer(template: str, query: dict[str, str], values: list[str]) -> None:
        method = "POST" if template in POSTS else "GET"
        url = _fill(template, values) + ("?" + urlencode(query) if query else "")
        statuses.append(check(runner, client, method, url, data=b"" if method == "POST" else None))

    statuses: list[int] = []
    hammer()
    assert len(statuses) >= 100 and {200, 400} <= set(statuses)


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def test_junk_tx_bodies_never_get_a_500(api: tuple[asyncio.Runner, Client, list[str]]) -> None:
    runner, client, _ = api
    scene = standard_chain()
    real = codec.encode_tx(scene.pay_bob)
    bodies = st.one_of(
        st.binary(max_size=600),
        st.binary(max_size=300).map(lambda b: b.hex().encode()),
        st.text(max_size=300).map(str.encode),
        json_junk.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200).map(lambda b: json.dumps({"hex": b.hex()}).encode()),
        # a real tx with a few bytes flipped: near-valid msgpack
        st.lists(st.integers(0, len(real) - 1), min_size=1, max_size=4).map(
            lambda idx: bytes(b ^ 0xFF if i in idx else b for i, b in enumerate(real)).hex()
            .encode()),
        st.just(b"00" * 40_000),  # over the 64 KiB limit
    )
    content_types = st.sampled_from(["text/plain", "application/json", "application/octet-stream",
                                     "multipart/form-data; boundary=x", "", "junk/;;;=",
                                     "text/plain; charset=utf-16"])

    @SETTINGS
    @given(body=bodies, content_type=content_types)
    def hammer(body: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        status = check(runner, client, "POST", "/api/v1/tx", data=body, headers=headers)
        assert status in (400, 413)
        statuses.append(status)

    statuses: list[int] = []
    hammer()
    assert len(statuses) >= 100 and {400, 413} <= set(statuses)


def test_junk_action_bodies_never_get_a_500(
        api: tuple[asyncio.Runner, Client, list[str]]) -> None:
    runner, client, _ = api
    real = standard_chain().action
    bodies = st.one_of(
        st.binary(max_size=400),
        json_junk.map(lambda v: json.dumps(v).encode()),
        json_junk.map(lambda v: json.dumps({"action": v}).encode()),
        st.binary(max_size=300).map(lambda b: json.dumps({"action": b.hex()}).encode()),
        # a real action with a few bytes flipped: near-valid msgpack, bad signatures
        st.lists(st.integers(0, len(real) - 1), min_size=1, max_size=4).map(
            lambda idx: json.dumps({"action": bytes(
                b ^ 0xFF if i in idx else b for i, b in enumerate(real)).hex()}).encode()),
        st.just(json.dumps({"action": "00" * 70_000}).encode()),  # over the action's bound
    )

    @SETTINGS
    @given(body=bodies)
    def hammer(body: bytes) -> None:
        status = check(runner, client, "POST", "/api/v1/actions", data=body,
                       headers={"Content-Type": "application/json"})
        assert status in (400, 409, 413)
        statuses.append(status)

    statuses: list[int] = []
    hammer()
    assert len(statuses) >= 100 and {400, 413} <= set(statuses)


def test_wrong_methods_get_json_405s(api: tuple[asyncio.Runner, Client, list[str]]) -> None:
    runner, client, templates = api
    for template in templates + [STREAM]:
        url = _fill(template, ["00" * 32] * 3)
        for method in ("PUT", "DELETE", "PATCH"):
            assert check(runner, client, method, url, data=b"x") == 405
    assert check(runner, client, "HEAD", STREAM) == 405  # would hold a stream open
    assert check(runner, client, "GET", "/api/v2/status") == 404
    assert check(runner, client, "GET", "/") == 404
