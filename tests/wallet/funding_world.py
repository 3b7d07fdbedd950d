"""A world for the funding tests: the node's real API app over a real chain, and wallets.

The chain is the API tests' `FakeNode` (blocks made by `consensus.chain`, real certificates, a
real `MemoryStore` and `Mempool`), served by `faircoop_node.api.create_app` on 127.0.0.1 in a
thread of its own (the CLI runs `asyncio.run` itself). Its genesis pays three coins of 100 to
the first receive address of each of the harness's three mnemonics, and 500 coins to the
commons treasury: a 2-of-3 of the three wallets' first treasury member keys. `mine()` commits
what the mempool holds, on the server's loop (the only thread that touches the pool); within
`with world.mining():` a task on that loop commits whatever gets pooled (for `--wait`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from consensus.address import encode_address
from consensus.codec import policy_lock
from consensus.types import COIN, SpendPolicy
from faircoop_node.api import create_app
from tests.api.api_chain import VALIDATOR_KEYS, FakeNode, fresh_node
from tests.builders import make_genesis
from tests.wallet.wallet_cli_harness import ACCOUNTS, Harness
from tests.wallet.wallet_fakenode import serve_app

T = TypeVar("T")

COSIGNER = 2  # the wallets' treasury-member key chain
TREASURY = SpendPolicy.multisig(2, [a.pubkey(COSIGNER, 0) for a in ACCOUNTS])
TREASURY_LOCK = policy_lock(TREASURY)
TREASURY_ADDRESS = encode_address(TREASURY_LOCK, "test")
ADDRESSES = [encode_address(a.watch().lock(0, 0), "test") for a in ACCOUNTS]


def funded_genesis():  # type: ignore[no-untyped-def]
    allocations = [(a.watch().lock(0, 0), 100 * COIN) for a in ACCOUNTS for _ in range(3)]
    allocations.append((TREASURY_LOCK, 500 * COIN))
    return make_genesis(allocations, validators=VALIDATOR_KEYS, treasury_lock=TREASURY_LOCK)


@dataclass
class World:
    node: FakeNode
    url: str
    loop: asyncio.AbstractEventLoop
    cli: Harness
    auto: bool = False

    @contextmanager
    def mining(self) -> Iterator[None]:
        """Commit whatever is pooled, as it is pooled, until the block ends."""
        self.auto = True
        try:
            yield
        finally:
            self.auto = False

    async def _miner(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            if self.auto and len(self.node.mempool):
                self.node.commit(tuple(e.tx for e in self.node.mempool.entries()))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop thread and return its result."""
        async def run() -> T:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def mine(self, blocks: int = 1) -> int:
        """Commit the mempool's txs in a block (then empty ones); the new tip height."""
        def commit() -> int:
            for _ in range(blocks):
                self.node.commit(tuple(e.tx for e in self.node.mempool.entries()))
            return self.node.state.height
        return self.call(commit)

    def mine_to(self, height: int) -> None:
        while self.height < height:
            self.mine()

    @property
    def height(self) -> int:
        return self.call(lambda: self.node.state.height)

    def pooled(self) -> int:
        return self.call(lambda: len(self.node.mempool))


@contextmanager
def funding_world(tmp: Path) -> Iterator[World]:
    """The world, with wallets w0, w1, w2 restored in `tmp` (each knows the treasury)."""
    node = fresh_node(genesis=funded_genesis())
    with serve_app(lambda: create_app(node)) as (url, loop):
        world = World(node, url, loop, Harness(url, tmp))
        miner = asyncio.run_coroutine_threadsafe(world._miner(), loop)
        try:
            keys = [a.pubkey(COSIGNER, 0).hex() for a in ACCOUNTS]
            for n in range(3):
                assert world.cli.restore(n).code == 0
                assert world.cli.run("multisig", "key", wallet=f"w{n}").code == 0
                made = world.cli.run("multisig", "create", "-m", "2",
                                     *(f"--key={k}" for k in keys), "--name", "coop",
                                     wallet=f"w{n}")
                assert made.code == 0, made.err
            yield world
        finally:
            miner.cancel()
