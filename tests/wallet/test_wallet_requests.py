"""Payment requests on a watch-only shop wallet, against the node's real API app (real blocks,
certificates, the address stream): paid only when final and verified, partial and over-payments
shown as such, expiry, cancelling, a currency amount at the assembly's rate, and the shop
example of docs/WALLET.md."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from consensus import codec
from consensus.address import decode_address
from consensus.governance import Reference, SetReferenceRate, encode_action, make_action
from consensus.types import COIN, OutPoint, Tx, TxId
from faircoop_node.api import create_app
from faircoop_node.api.limits import ApiLimits
from tests.builders import CHAIN_ID, make_tx
from tests.wallet.doc_example import shop_example
from tests.wallet.wallet_cli_harness import ACCOUNTS, FAST
from wallet import Wallet, parse_amount, parse_uri
from wallet.errors import NoRate, WalletError
from wallet.receipts import genesis_light_state
from wallet.requests import (
    MAX_REQUEST_PAYMENTS,
    PaymentRequest,
    RequestPayment,
    RequestStatus,
    StreamEvent,
    status_of,
    wait_for_payment,
    with_payment,
)
from wallet.walletfile import WalletData, create_watch_only, load_wallet

api_chain = pytest.importorskip("tests.api.api_chain",
                                reason="the node API test scene is not available")
SHOP = ACCOUNTS[0]


@dataclass
class World:
    node: api_chain.FakeNode
    url: str
    shop_file: Path
    coin: OutPoint
    left: int

    def tx(self, address: str, amount: int) -> Tx:
        """Alice pays `amount` to `address` from her last change."""
        change = self.left - amount - api_chain.FEE
        tx = make_tx([(self.coin, api_chain.ALICE.policy, [api_chain.ALICE.key])],
                     [(decode_address(address, "test"), amount), (api_chain.ALICE.lock, change)])
        self.coin, self.left = OutPoint(codec.txid(tx), 1), change
        return tx

    async def pay(self, address: str, amount: int, *, commit: bool = True) -> Tx:
        tx = self.tx(address, amount)
        await self.node.submit_tx(tx)
        if commit:
            self.node.commit((tx,))
        return tx

    def genesis_s(self) -> int:
        return self.node.genesis.time_ms // 1000


@contextlib.asynccontextmanager
async def world(tmp_path: Path, limits: ApiLimits | None = None,
                node: api_chain.FakeNode | None = None) -> AsyncIterator[World]:
    node = node or api_chain.fresh_node()
    server = TestServer(create_app(node, keepalive_s=0.5, limits=limits), host="127.0.0.1")
    await server.start_server()
    path = tmp_path / "shop.json"
    create_watch_only(path, xpub=SHOP.xpub, network="test", chain_id=CHAIN_ID,
                      genesis_hash=node.store.genesis_hash,
                      light=genesis_light_state(node.genesis))
    try:
        yield World(node, str(server.make_url("")), path,
                    api_chain.genesis_op(node.store.genesis_hash, 0), 50 * COIN)
    finally:
        await server.close()


def shop(w: World) -> Wallet:
    from wallet.client import NodeClient

    return Wallet(w.shop_file, load_wallet(w.shop_file), NodeClient(w.url, retry=FAST),
                  owns_node=True)


async def until(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_docs_shop_example_is_paid_through_the_stream(tmp_path: Path) -> None:
    sell = shop_example()
    async with world(tmp_path) as w:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            task = asyncio.create_task(sell(str(w.shop_file), w.url))
            await until(lambda: bool(load_wallet(w.shop_file).requests), "the request")
            await until(lambda: w.node.watch.subscriber_count == 1, "the shop's stream")
            request = load_wallet(w.shop_file).requests[0]
            await w.pay(request.address, 250_000_000)
            await asyncio.wait_for(task, 30)
    uri_line, paid_line = out.getvalue().splitlines()
    uri = parse_uri(uri_line)
    assert (uri.address, uri.amount, uri.memo, uri.network, uri.chain_id) == (
        request.address, 250_000_000, "order 1042", "test", CHAIN_ID)
    assert uri.expires is not None and uri.expires - time.time() > 3500
    assert paid_line == "paid 250000000 [1]"
    recorded = load_wallet(w.shop_file).requests[0].payments[0]
    assert (recorded.signers, recorded.set_size, recorded.height) == (4, 4, 1)
    assert request.index == 1  # a fresh receive address, past the one handed out at creation


async def test_a_payment_seen_only_in_the_mempool_never_pays_a_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w, shop(w) as wallet:
        request = await wallet.request(COIN, memo="order 7")
        tx = await w.pay(request.address, COIN, commit=False)
        status = await wallet.check_request(request)
        assert (status.state, status.received, status.unconfirmed, status.paid) == (
            "pending", 0, COIN, False)
        w.node.commit((tx,))
        status = await wallet.check_request(request.id)
        assert (status.state, status.received, status.unconfirmed) == ("paid", COIN, 0)
        assert status.request.payments[0].txid == codec.txid(tx)


async def test_partial_then_over_payments_are_shown_as_such(tmp_path: Path) -> None:
    async with world(tmp_path) as w, shop(w) as wallet:
        request = await wallet.request(3 * COIN)
        await w.pay(request.address, COIN)
        status = await wallet.check_request(request)
        assert (status.state, status.received, status.missing) == ("partial", COIN, 2 * COIN)
        await w.pay(request.address, 5 * COIN // 2)
        status = await wallet.check_request(request)
        assert (status.state, status.received, status.excess) == (
            "overpaid", 7 * COIN // 2, COIN // 2)
        assert [p.height for p in status.request.payments] == [1, 2]
        again = await wallet.check_request(request)  # nothing new: nothing fetched twice
        assert again.request.payments == status.request.payments


async def test_an_expired_request_counts_only_payments_before_its_expiry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with world(tmp_path) as w, shop(w) as wallet:
        now = [float(w.genesis_s())]
        monkeypatch.setattr("wallet.session.time.time", lambda: now[0])
        request = await wallet.request(2 * COIN, expires_in_s=2)
        assert request.expires == w.genesis_s() + 2
        await w.pay(request.address, COIN)  # block 1: genesis + 1 s, in time
        assert (await wallet.check_request(request)).state == "partial"
        await w.pay(request.address, COIN)  # block 2: genesis + 2 s, at the expiry: late
        now[0] += 3
        status = await wallet.check_request(request)
        assert (status.state, status.received, status.late) == ("expired", COIN, COIN)
        assert (await wallet.wait_paid(request, timeout_s=5)).state == "expired"


async def test_a_request_is_cancelled_until_it_is_paid(tmp_path: Path) -> None:
    async with world(tmp_path) as w, shop(w) as wallet:
        first, second = await wallet.request(COIN), await wallet.request(COIN)
        assert (first.id, second.id, second.index) == (1, 2, 2)
        await wallet.cancel_request(first)
        assert (await wallet.check_request(first)).state == "cancelled"
        await w.pay(second.address, COIN)
        assert (await wallet.check_request(second)).paid
        with pytest.raises(WalletError, match="is paid"):
            await wallet.cancel_request(second)
        with pytest.raises(WalletError, match="no payment request 9"):
            await wallet.check_request(9)


async def test_waiting_polls_when_the_node_has_no_stream_slot_free(tmp_path: Path) -> None:
    async with world(tmp_path, limits=ApiLimits(max_connections=16, max_streams=1)) as w, \
            shop(w) as wallet:
        request = await wallet.request(COIN)
        import aiohttp

        async with aiohttp.ClientSession() as session, \
                session.get(f"{w.url}/api/v1/blocks/stream") as taken:  # the only slot
            await taken.content.readline()
            said: list[str] = []
            task = asyncio.create_task(wallet.wait_paid(request, timeout_s=30,
                                                        progress=said.append))
            await until(lambda: any("no address stream" in s for s in said), "a poll")
            await w.pay(request.address, COIN)
            status = await asyncio.wait_for(task, 30)
        assert status.paid and w.node.watch.subscriber_count == 0


async def test_a_request_in_a_currency_is_converted_at_the_assembly_rate(tmp_path: Path) -> None:
    node = api_chain.fresh_node()
    action = make_action(CHAIN_ID, 0, SetReferenceRate("EUR", 125_000_000),
                         (api_chain.VALIDATOR_KEYS[0],), Reference("https://coop.example/p", "1"))
    node.commit(actions=(encode_action(action),))
    node.commit()
    async with world(tmp_path, node=node) as w, shop(w) as wallet:
        request = await wallet.request(parse_amount("12.50EUR"), memo="bread")
        assert request.amount == 10 * COIN
        assert request.quote is not None
        assert (request.quote.currency, request.quote.units_per_coin, request.quote.since) == (
            "EUR", 125_000_000, 3)
        assert parse_uri(request.uri).amount == 10 * COIN
        with pytest.raises(NoRate, match="rates in force: EUR"):
            await wallet.quote(parse_amount("3USD"))
        assert await wallet.quote(3 * COIN) is None  # coins need no rate


async def test_a_currency_without_a_rate_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w, shop(w) as wallet:
        with pytest.raises(NoRate, match="no reference rate for EUR"):
            await wallet.request(parse_amount("12.50EUR"))
        assert wallet.requests == ()


async def test_requests_survive_the_wallet_file_and_older_files_read_as_none(
        tmp_path: Path) -> None:
    async with world(tmp_path) as w, shop(w) as wallet:
        made = await wallet.request(COIN, memo="café", expires_in_s=60)
        await w.pay(made.address, COIN)
        await wallet.check_request(made)
    data = load_wallet(w.shop_file)
    assert data.requests[0].payments and WalletData.from_json(data.to_json()) == data
    doc = json.loads(data.to_json())
    del doc["requests"]
    assert WalletData.from_json(json.dumps(doc)).requests == ()


# -- the pieces, without a node ---------------------------------------------------------------


def _request(amount: int = 100, expires: int | None = 10) -> PaymentRequest:
    return PaymentRequest(1, 1, "tfair1x", amount, "", 0, expires, "faircoop:tfair1x")


def _paid(amount: int, time_ms: int, n: int = 0) -> RequestPayment:
    return RequestPayment(bytes([n]) * 32, amount, 1, bytes(32), time_ms, 4, 4)


@pytest.mark.parametrize(("payments", "now", "cancelled", "state", "received", "late"), [
    ((), 0, False, "pending", 0, 0),
    ((_paid(40, 1000),), 5, False, "partial", 40, 0),
    ((_paid(40, 1000), _paid(60, 2000, 1)), 5, False, "paid", 100, 0),
    ((_paid(150, 1000),), 5, False, "overpaid", 150, 0),
    ((), 10, False, "expired", 0, 0),
    ((_paid(40, 1000),), 11, False, "expired", 40, 0),
    ((_paid(100, 10_000),), 11, False, "expired", 0, 100),  # its block is at the expiry
    ((_paid(100, 9_999),), 11, False, "paid", 100, 0),  # just before: paid, expired or not
    ((), 0, True, "cancelled", 0, 0),
])
def test_status_table(payments: tuple[RequestPayment, ...], now: float, cancelled: bool,
                      state: str, received: int, late: int) -> None:
    r = _request()
    for p in payments:
        r = with_payment(r, p)
    if cancelled:
        from dataclasses import replace

        r = replace(r, cancelled=True)
    status = status_of(r, now, unconfirmed=-5)
    assert (status.state, status.received, status.late, status.unconfirmed) == (
        state, received, late, 0)


def test_payments_recorded_are_bounded_and_never_twice() -> None:
    r = _request(10**9, None)
    for n in range(MAX_REQUEST_PAYMENTS + 3):
        r = with_payment(r, _paid(1, 0, n % 250))
        r = with_payment(r, _paid(1, 0, n % 250))
    assert len(r.payments) == MAX_REQUEST_PAYMENTS and r.truncated


class FakeStream:
    def __init__(self, events: list[StreamEvent | None | str]) -> None:
        self.events = events
        self.closed = False

    async def next_event(self, timeout: float) -> StreamEvent | None:
        if not self.events:
            await asyncio.sleep(timeout)
            raise TimeoutError
        item = self.events.pop(0)
        if item == "idle":
            raise TimeoutError
        assert not isinstance(item, str)
        return item

    async def close(self) -> None:
        self.closed = True


async def test_the_wait_loop_checks_on_final_events_and_reconnects_a_stream_that_ends() -> None:
    states = iter(["pending", "pending", "partial", "paid"])
    checks: list[str] = []

    async def check() -> RequestStatus:
        checks.append(state := next(states))
        return RequestStatus(_request(), state, 0, 0, 0)

    streams = [FakeStream([StreamEvent(False, "ab" * 32, 5), None]),
               FakeStream([StreamEvent(True, "ab" * 32, 5, 3), StreamEvent(True, "cd" * 32, 5)])]
    opened: list[FakeStream] = []

    async def open_stream() -> FakeStream:
        opened.append(streams[len(opened)])
        return opened[-1]

    said: list[str] = []
    status = await wait_for_payment(check, open_stream, deadline=None, progress=said.append)
    assert status.state == "paid" and checks == ["pending", "pending", "partial", "paid"]
    assert len(opened) == 2 and all(s.closed for s in opened)
    assert any("seen in the mempool" in s for s in said)


async def test_the_wait_loop_ends_at_its_deadline_with_the_status_as_it_stands() -> None:
    async def check() -> RequestStatus:
        return RequestStatus(_request(), "pending", 0, 0, 0)

    async def open_stream() -> FakeStream:
        return FakeStream([])

    started = time.monotonic()
    status = await wait_for_payment(check, open_stream, deadline=time.monotonic() + 0.2)
    assert status.state == "pending" and time.monotonic() - started < 2


def test_a_request_payment_is_for_a_txid_once() -> None:
    r = with_payment(_request(), _paid(5, 0))
    assert with_payment(r, _paid(7, 0)) is r
    assert TxId(bytes(32)) in r.paid_txids()


@pytest.mark.parametrize("listed", [
    None, {"txid": "ab" * 32}, [{"txid": "zz" * 32, "height": 1}], [{"txid": "ab", "height": 1}],
    [{"height": 1}], ["ab" * 32], [{"txid": "AB" * 32, "height": 1}],
])
def test_a_hostile_address_listing_is_refused_not_half_read(listed: object) -> None:
    from wallet.errors import NodeError
    from wallet.requests import committed_txids

    with pytest.raises(NodeError):
        committed_txids(listed)


def test_only_committed_txs_are_checked_for_receipts() -> None:
    from wallet.requests import committed_txids

    assert committed_txids([{"txid": "ab" * 32, "height": 3}, {"txid": "cd" * 32,
                                                                "height": None}]) == ["ab" * 32]
