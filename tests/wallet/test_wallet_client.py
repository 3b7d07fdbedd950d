"""The node client against a fake node on 127.0.0.1: answers, retries, errors, sync facade."""

from __future__ import annotations

import socket
import time

import pytest
from wallet_fakechain import funded_chain
from wallet_fakenode import FakeNode, serve

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.types import COIN, SpendPolicy
from wallet.client import NodeClient, RetryPolicy, SyncNodeClient, check_node_url
from wallet.errors import BadNodeUrl, NodeUnreachable, NotFound, TxRejected

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
