"""API reads don't hold up consensus (issue 13, item 3), shown on a devnet of real processes.

Four validators and an observer. The setup fills the chain with big blocks: PAYMENTS txs, each
paying a shop address (more txs than the codec's decode memos hold, so reading the blocks in
turn decodes them afresh; the shop ends with more than 10,000 UTXOs), and a treasury spend of
the biggest block's fee output (the costliest tx lookup, issue 12 finding 10). Then a trickle
of chained payments keeps a block due every `block_interval_ms` (100 ms on a devnet).

The block interval (the headers' times, each set by its proposer's clock) is measured for
PHASE_S with no API load, then for PHASE_S while CLIENTS clients per node fetch the heaviest
reads, back to back, from two of the four validators: the big blocks (whole, txids, raw
bytes), their txs and finality proofs, the treasury spend, every header (up to 1,000), the
shop's UTXOs and history (10,000 entries each at most), its summary and the mempool. Any
quorum of three includes one of the two, so every block waits on a loaded node.

It passes when the median interval under load is within MEDIAN_FACTOR of the baseline's
(the reads still take CPU: on a 2-core machine running five nodes they slow consensus some)
and at most one interval exceeds MAX_GAP_MS, the round-0 propose timeout (1 s), none by more
than a second round would take (LOST_ROUND_MS): a validator that can't take its peers' votes in
time loses rounds over and over, while one lost round is what a shared 2-core machine's hiccup
costs (seen once: 1.7 s while four other test runs shared the machine).

At a5e0524 (before issue 12's findings 10 and 11) this test fails: 3-7 blocks in the loaded
20 s, intervals up to 5-9 s. The figures are in docs/API.md ("Limits").
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.types import COIN, Lock, OutPoint, SpendPolicy, Tx, TxId
from faircoop_node.devnet import Devnet, DevnetLayout, DevnetNode, create_devnet, kill_leftovers
from faircoop_node.genesis_file import load_genesis
from tests.builders import key, make_tx, single
from tests.e2e.helpers import (
    demo_key_and_policy,
    final_on,
    free_base_port,
    get,
    height,
    post_tx,
    treasury_signers,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.alone]

PAYMENTS = 18_000  # txs paying the shop: more than the decoded-tx memo's 16,384
SPLIT_COINS = 1_600  # coins one split tx makes (within the 100 kB tx size limit)
BATCH = 1_000  # txs in one POST /api/v1/txs
COIN_VALUE = 2 * COIN
FEE = 5_000
TRICKLE_PER_S = 20.0  # chained payments while the interval is measured
PHASE_S = 15.0
WARMUP_S = 3.0
CLIENTS = 2  # concurrent clients on each loaded validator
LOADED = 2  # validators under load, of 4: every quorum of 3 includes one
MEDIAN_FACTOR = 2.0
MAX_GAP_MS = 1_000
LOST_ROUND_MS = 2_500
SHOP: Lock = codec.policy_lock(single(key(4_242)))
PAYEES: tuple[Lock, ...] = tuple(codec.policy_lock(single(key(7_000 + i))) for i in range(20))


@dataclass(frozen=True, slots=True)
class Wallet:
    """The demo wallet's key, what it spends with, and the chain it pays on."""

    key: PrivateKey
    policy: SpendPolicy
    chain_id: str

    @property
    def lock(self) -> Lock:
        return codec.policy_lock(self.policy)

    def pay(self, coin: OutPoint, outputs: list[tuple[Lock, int]], memo: str) -> Tx:
        return make_tx([(coin, self.policy, [self.key])], outputs, chain_id=self.chain_id,
                       memo=memo.encode())


@dataclass(frozen=True, slots=True)
class Chain:
    """What the setup put on chain, for the clients to read."""

    payments: tuple[TxId, ...]
    big_blocks: dict[str, int]  # the blocks holding the payments: hash -> tx count
    treasury_spend: TxId  # spends the fee output of the biggest block
    trickle_coin: OutPoint
    trickle_value: int


def split_txs(wallet: Wallet, layout: DevnetLayout, trickle_value: int
              ) -> tuple[list[Tx], list[OutPoint], OutPoint]:
    """Txs splitting the demo allocation into PAYMENTS coins (each spends the last one's
    change) and one coin for the trickle."""
    genesis = load_genesis(layout.genesis_path)
    change = OutPoint(TxId(codec.genesis_hash(genesis)), 0)
    value = genesis.allocations[0].amount
    splits: list[Tx] = []
    coins: list[OutPoint] = []
    while len(coins) < PAYMENTS:
        n = min(SPLIT_COINS, PAYMENTS - len(coins))
        outputs = [(wallet.lock, COIN_VALUE)] * n
        if len(coins) + n == PAYMENTS:
            outputs.append((wallet.lock, trickle_value))
        value -= sum(a for _, a in outputs) + 100 * n + 50_000
        split = wallet.pay(change, [*outputs, (wallet.lock, value)], f"split {len(splits)}")
        splits.append(split)
        coins += [OutPoint(codec.txid(split), i) for i in range(n)]
        change = OutPoint(codec.txid(split), len(outputs))
    return splits, coins, OutPoint(codec.txid(splits[-1]), n)  # after the last split's coins


def post_batches(node: DevnetNode, txs: list[Tx]) -> list[TxId]:
    txids: list[TxId] = []
    for start in range(0, len(txs), BATCH):
        body = json.dumps([codec.encode_tx(tx).hex() for tx in txs[start:start + BATCH]])
        request = urllib.request.Request(f"{node.api_url}/api/v1/txs", data=body.encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=120) as resp:
            answers = json.loads(resp.read())
        refused = [a for a in answers if "txid" not in a]
        assert not refused, refused[:3]
        txids += [TxId(bytes.fromhex(a["txid"])) for a in answers]
    return txids


def spend_fees(node: DevnetNode, layout: DevnetLayout, block_hash: str) -> Tx:
    """The treasury (the governors' multisig) spends the fee output of `block_hash`."""
    genesis = load_genesis(layout.genesis_path)
    treasury, members = treasury_signers(layout)
    assert codec.policy_lock(treasury) == genesis.treasury_lock
    address = encode_address(genesis.treasury_lock, genesis.network)
    fees = {u["txid"]: u["amount"] for u in get(node, f"address/{address}/utxo?limit=10000")}
    signers = [k for k in members if k.public_key in treasury.pubkeys]
    return make_tx([(OutPoint(TxId(bytes.fromhex(block_hash)), 0), treasury,
                     signers[:treasury.threshold])],
                   [(SHOP, fees[block_hash] - 10 * FEE)], chain_id=genesis.chain_id)


def set_up_chain(node: DevnetNode, layout: DevnetLayout, wallet: Wallet) -> Chain:
    trickle_value = 10_000 * COIN
    splits, coins, trickle_coin = split_txs(wallet, layout, trickle_value)
    payments = [wallet.pay(coin, [(SHOP, COIN_VALUE - FEE)], f"p{i}")
                for i, coin in enumerate(coins)]
    post_batches(node, splits)
    start = height(node)
    txids = post_batches(node, payments)
    wait_for(lambda: final_on(node, txids[-1].hex()), 180, "the payments final")
    big: dict[str, int] = {}
    for h in range(start + 1, height(node) + 1):
        block_hash = get(node, f"block-height/{h}")
        tx_count = get(node, f"block/{block_hash}")["tx_count"]
        if tx_count >= 100:
            big[block_hash] = tx_count
    assert big, "the payments made no big block"
    spend = post_tx(node, spend_fees(node, layout, max(big, key=big.__getitem__)))
    wait_for(lambda: final_on(node, spend), 60, "the treasury spend final")
    return Chain(tuple(txids), big, TxId(bytes.fromhex(spend)), trickle_coin, trickle_value)


class Trickle:
    """Chained payments (each spends the last one's change) posted at a steady rate."""

    def __init__(self, node: DevnetNode, wallet: Wallet, chain: Chain) -> None:
        self.node, self.wallet = node, wallet
        self.coin, self.value = chain.trickle_coin, chain.trickle_value
        self.sent = 0

    def next_tx(self) -> Tx:
        self.value -= COIN + FEE
        tx = self.wallet.pay(self.coin, [(PAYEES[self.sent % len(PAYEES)], COIN),
                                         (self.wallet.lock, self.value)], f"t{self.sent}")
        self.coin = OutPoint(codec.txid(tx), 1)
        return tx

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            data = codec.encode_tx(self.next_tx()).hex()
            async with session.post(f"{self.node.api_url}/api/v1/tx", data=data) as resp:
                assert resp.status == 200, await resp.text()
            self.sent += 1
            next_at += 1 / TRICKLE_PER_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    slowest_s: float = 0.0


def heavy_paths(chain: Chain) -> list[str]:
    shop = encode_address(SHOP, "test")
    paths = ["headers?from=1&count=1000", f"address/{shop}/utxo?limit=10000",
             f"address/{shop}/txs?limit=10000", f"address/{shop}", "mempool",
             f"tx/{chain.treasury_spend.hex()}"]
    for block_hash in chain.big_blocks:
        paths += [f"block/{block_hash}", f"block/{block_hash}/txids", f"block/{block_hash}/raw"]
    return paths


async def hammer(session: aiohttp.ClientSession, node: DevnetNode, chain: Chain, seed: int,
                 stop: asyncio.Event, tally: Tally) -> None:
    rng = random.Random(seed)
    fixed = heavy_paths(chain)
    while not stop.is_set():
        if rng.random() < 0.3:
            txid = rng.choice(chain.payments).hex()
            path = rng.choice([f"tx/{txid}", f"tx/{txid}/proof"])
        else:
            path = rng.choice(fixed)
        started = time.monotonic()
        try:
            async with session.get(f"{node.api_url}/api/v1/{path}") as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        tally.slowest_s = max(tally.slowest_s, time.monotonic() - started)
        tally.requests += 1
        tally.statuses[status] = tally.statuses.get(status, 0) + 1


async def tip(session: aiohttp.ClientSession, node: DevnetNode) -> int:
    async with session.get(f"{node.api_url}/api/v1/status") as resp:
        return int((await resp.json())["height"])


async def measure(chain: Chain, observer: DevnetNode, loaded: list[DevnetNode],
                  trickle: Trickle) -> tuple[tuple[int, int], tuple[int, int], Tally]:
    """The heights that start and end the baseline and the loaded phase; what the clients
    did."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        stop_trickle, stop_clients = asyncio.Event(), asyncio.Event()
        trickling = asyncio.create_task(trickle.run(session, stop_trickle))
        tally = Tally()
        clients: list[asyncio.Task[None]] = []
        try:
            await asyncio.sleep(WARMUP_S)
            h0 = await tip(session, observer)
            await asyncio.sleep(PHASE_S)
            h1 = await tip(session, observer)
            clients = [asyncio.create_task(hammer(session, node, chain, 100 * n + c,
                                                  stop_clients, tally))
                       for n, node in enumerate(loaded) for c in range(CLIENTS)]
            await asyncio.sleep(WARMUP_S)
            h2 = await tip(session, observer)
            await asyncio.sleep(PHASE_S)
            h3 = await tip(session, observer)
        finally:
            stop_clients.set()
            stop_trickle.set()
            await asyncio.gather(trickling, *clients)
    return (h0, h1), (h2, h3), tally


def block_times(node: DevnetNode, first: int, last: int) -> dict[int, int]:
    """Height -> the header's time (ms), for first..last."""
    times: dict[int, int] = {}
    for at in range(first, last + 1, 1000):
        count = min(1000, last - at + 1)
        for entry in get(node, f"headers?from={at}&count={count}", timeout=30):
            header = codec.decode_header(bytes.fromhex(entry["header_hex"]))
            times[entry["height"]] = header.time_ms
    return times


def intervals(times: dict[int, int], first: int, last: int) -> list[int]:
    return [times[h] - times[h - 1] for h in range(first + 1, last + 1)]


def figures(values: list[int]) -> dict[str, float]:
    ranked = sorted(values)
    return {"blocks": len(values), "median_ms": statistics.median(values),
            "p90_ms": ranked[int(0.9 * (len(ranked) - 1))], "max_ms": ranked[-1]}


def test_heavy_reads_leave_the_block_interval_in_its_usual_range(tmp_path: Path) -> None:
    layout = create_devnet(tmp_path / "dn", validators=4, base_port=free_base_port())
    net = Devnet(layout)
    observer = next(n for n in layout.nodes if not n.validator)
    loaded = [n for n in layout.nodes if n.validator][:LOADED]
    demo, policy = demo_key_and_policy(layout)
    wallet = Wallet(demo, policy, layout.chain_id)
    try:
        net.start_all()
        wait_for(lambda: all(height(n) >= 1 for n in layout.nodes), 60, "every node at 1")
        chain = set_up_chain(observer, layout, wallet)
        trickle = Trickle(observer, wallet, chain)
        (h0, h1), (h2, h3), tally = asyncio.run(measure(chain, observer, loaded, trickle))
        times = block_times(observer, h0, h3)
        assert not net.exited(), f"a node died: {net.exited()}"
    finally:
        net.stop_all()
        kill_leftovers(layout)
    base, load = intervals(times, h0, h1), intervals(times, h2, h3)
    summary = {"baseline": figures(base), "loaded": figures(load) if load else {},
               "big_blocks": sorted(chain.big_blocks.values()), "requests": tally.requests,
               "statuses": tally.statuses, "slowest_request_s": round(tally.slowest_s, 3),
               "trickle_txs": trickle.sent}
    print("reads under load:", json.dumps(summary))
    assert tally.requests >= 100 and set(tally.statuses) <= {200, 503}, summary
    assert len(base) >= 20 and load, summary
    assert sum(gap > MAX_GAP_MS for gap in load) <= 1 and max(load) <= LOST_ROUND_MS, summary
    assert statistics.median(load) <= MEDIAN_FACTOR * statistics.median(base), summary
    assert len(load) >= 10, summary
