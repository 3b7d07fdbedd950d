"""The node client against a fake node on 127.0.0.1: answers, retries, errors, sync facade."""

from __future__ import annotations

import json
import socket
import time

import pytest
from aiohttp import web

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.types import COIN, SpendPolicy
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet.client import (
    MAX_ANSWER_BYTES,
    MAX_ERROR_BYTES,
    NodeClient,
    RetryPolicy,
    SyncNodeClient,
    check_node_url,
)
from wallet.errors import (
    AnswerTooLarge,
    BadNodeUrl,
    NodeError,
    NodeUnreachable,
    NotFound,
    TxRejected,
)
from wallet.lightclient import genesis_light_state, sync_headers

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
KEY = PrivateKey((5).to_bytes(32, "big"))
LOCK = codec.policy_lock(SpendPolicy.single(KEY.public_key))


@pytest.fixture(scope="module")
def node():  # type: ignore[no-untyped-def]
    fake = FakeNode(funded_chain([LOCK], [3 * COIN]))
    with serve(fake) as url:
        yield fake, url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_status_genesis_and_address(node) -> None:  # type: ignore[no-untyped-def]
    fake, url = node
    async with NodeClient(url, retry=FAST) as client:
        status = await client.status()
        assert status["chain_id"] == "faircoop-test"
        assert status["genesis_hash"] == fake.chain.genesis_id.hex()
        genesis = await client.genesis()
        assert codec.genesis_hash(codec.decode_genesis(bytes.fromhex(genesis["hex"]))) == \
            fake.chain.genesis_id
        addr = fake.chain.address(LOCK)
        assert (await client.address(addr))["balance"] == 3 * COIN
        utxo = await client.address_utxo(addr)
        assert [(u["txid"], u["index"], u["amount"]) for u in utxo] == [
            (fake.chain.genesis_id.hex(), 0, 3 * COIN)]
        # the API lists 1,000 by default: the wallet asks for its largest page
        assert fake.requests[-1] == f"GET /api/v1/address/{addr}/utxo?limit=10000"
        await client.address_txs(addr, 7)
        assert fake.requests[-1] == f"GET /api/v1/address/{addr}/txs?limit=7"
        assert await client.tip_height() == fake.chain.height


async def test_retries_with_backoff_then_succeeds(node) -> None:  # type: ignore[no-untyped-def]
    fake, url = node
    fake.fail_next = 2
    before = len(fake.requests)
    async with NodeClient(url, retry=FAST) as client:
        assert (await client.status())["network"] == "test"
    assert len(fake.requests) - before == 3  # two 503s, then the answer


async def test_gives_up_after_the_retry_budget_with_unreachable(node) -> None:  # type: ignore[no-untyped-def]
    fake, url = node
    fake.fail_next = 10
    async with NodeClient(url, retry=FAST) as client:
        with pytest.raises(NodeUnreachable, match="HTTP 503"):
            await client.status()
    fake.fail_next = 0


async def test_unreachable_node_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    async with NodeClient(url, retry=FAST) as client:
        with pytest.raises(NodeUnreachable) as info:
            await client.status()
    message = str(info.value)
    assert url in message and "3 attempt" in message and "FAIRCOOP_NODE" in message
    assert time.monotonic() - started < 5


async def test_404_is_not_found_and_rejected_tx_names_the_rule(node) -> None:  # type: ignore[no-untyped-def]
    _, url = node
    async with NodeClient(url, retry=FAST) as client:
        with pytest.raises(NotFound):
            await client.tx("ab" * 32)
        with pytest.raises(TxRejected) as info:
            await client.broadcast("c0ffee")
        assert info.value.rule == "malformed_tx" and info.value.status == 400


def test_sync_facade(node) -> None:  # type: ignore[no-untyped-def]
    fake, url = node
    with SyncNodeClient(url, retry=FAST) as client:
        assert client.status()["height"] == fake.chain.height
        assert client.headers(1, 10) == []
        with pytest.raises(NotFound):
            client.tx_status("00" * 32)


@pytest.mark.parametrize("url,expected", [
    ("http://127.0.0.1:7070", "http://127.0.0.1:7070"),
    (" https://node.example/faircoop/ ", "https://node.example/faircoop"),
    ("http://[::1]:7070/", "http://[::1]:7070"),
    ("notaurl", None),
    ("127.0.0.1:7070", None),
    ("ftp://127.0.0.1:7070", None),
    ("http://", None),
    ("http://127.0.0.1:99999", None),
    ("http://127.0.0.1:7070/?x=1", None),
    ("http://[::1", None),
])
def test_node_urls_are_checked_before_any_request(url: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(BadNodeUrl, match="not an http"):
            NodeClient(url)
    else:
        assert check_node_url(url) == expected == NodeClient(url).base_url


class Oversized:
    """A node whose every answer is `size` bytes of JSON, declared (Content-Length) or streamed
    without a length; `requests` counts what it was asked."""

    def __init__(self, size: int, declared: bool, status: int = 200) -> None:
        self.size = size
        self.declared = declared
        self.status = status
        self.requests = 0

    def app(self) -> web.Application:
        async def answer(request: web.Request) -> web.StreamResponse:
            self.requests += 1
            resp = web.StreamResponse(status=self.status)
            if self.declared:
                resp.content_length = self.size
            await resp.prepare(request)
            chunk = b" " * (1 << 20)
            sent = 0
            try:
                while sent < self.size:
                    part = chunk[: self.size - sent]
                    await resp.write(part)
                    sent += len(part)
            except ConnectionError:
                pass  # the client stopped reading: what the cap is for
            return resp

        app = web.Application()
        app.router.add_get("/api/v1/{tail:.*}", answer)
        return app


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_an_answer_over_the_cap_is_refused_not_read_whole(declared: bool) -> None:
    server = Oversized(MAX_ANSWER_BYTES + 1, declared)
    with serve(server) as url:  # type: ignore[arg-type]
        async with NodeClient(url, retry=FAST) as client:
            with pytest.raises(AnswerTooLarge, match=f"larger than {MAX_ANSWER_BYTES} bytes"):
                await client.status()
    assert server.requests == 1  # not retried: the same node would send the same again


async def test_an_answer_at_the_cap_is_read() -> None:
    server = Oversized(1000, declared=False)
    with serve(server) as url:  # type: ignore[arg-type]
        async with NodeClient(url, retry=FAST, max_answer_bytes=1000) as client:
            with pytest.raises(NodeError, match="invalid JSON"):  # read whole, then parsed
                await client.status()
        async with NodeClient(url, retry=FAST, max_answer_bytes=999) as client:
            with pytest.raises(AnswerTooLarge):
                await client.status()


async def test_a_huge_error_body_is_not_read_whole() -> None:
    server = Oversized(MAX_ERROR_BYTES * 4, declared=False, status=400)
    with serve(server) as url:  # type: ignore[arg-type]
        async with NodeClient(url, retry=FAST) as client:
            with pytest.raises(NodeError, match="GET status failed") as info:
                await client.status()
    assert info.value.status == 400


async def test_following_asks_for_fewer_headers_when_a_batch_is_too_large() -> None:
    fake = FakeNode(funded_chain([LOCK], [3 * COIN]))
    for _ in range(6):
        fake.chain.mine()
    with serve(fake) as url:
        async with NodeClient(url, retry=FAST) as client:
            one = len(json.dumps(await client.headers(1, 1)))
            start = genesis_light_state(fake.chain.genesis)
        # room for about two headers per answer: 6 asked, then 3, then 1 at a time
        async with NodeClient(url, retry=FAST, max_answer_bytes=2 * one + 10) as client:
            state = await sync_headers(client, start)
    assert state.height == 6
    counts = [int(r.rsplit("count=", 1)[1]) for r in fake.requests if "/headers?" in r][1:]
    # halved until an answer fits (this node has 6 headers: 3 still don't), then one at a time
    assert counts == [1000, 500, 250, 125, 62, 31, 15, 7, 3, 1, 1, 1, 1, 1, 1, 1]
