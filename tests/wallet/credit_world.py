"""A real chain for the wallet's credit tests: the node's API app over the API tests' `FakeNode`
(real blocks, certificates, store and mempool), served on 127.0.0.1 in a thread that also makes
a block of whatever the mempool holds every 50 ms, so `--wait` sees its transfer final.

Wallets w0, w1, w2 of the CLI harness; `grant` commits SetCreditLimit actions signed by the
chain's governors (the API scene's validators) and the block after them, so the limits are in
force when it returns. `treasury_policy` is a 2-of-2 of w0's and w1's first member keys.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from consensus import codec
from consensus.address import encode_address
from consensus.types import Lock, SpendPolicy
from faircoop_node.api import create_app
from tests.api.api_chain import FakeNode, fresh_node
from tests.credit.credit_chain import limit_action
from tests.wallet.wallet_cli_harness import ACCOUNTS, Harness
from wallet.keys import COSIGNER, RECEIVE

T = TypeVar("T")
CREDIT_LOCKS = [a.watch().lock(RECEIVE, 0) for a in ACCOUNTS]  # each wallet's credit account
TREASURY = SpendPolicy.multisig(2, [ACCOUNTS[0].watch().pubkey(COSIGNER, 0),
                                    ACCOUNTS[1].watch().pubkey(COSIGNER, 0)])


def address(lock: bytes) -> str:
    return encode_address(lock, "test")


@dataclass
class CreditWorld:
    node: FakeNode
    h: Harness
    tmp: Path
    call: Callable[[Callable[[], object]], object]
    nonce: int = 0

    def path(self, name: str) -> str:
        return str(self.tmp / name)

    def grant(self, *limits: tuple[Lock, int]) -> None:
        """Governance sets each (lock, limit); returns once they are in force."""
        actions = []
        for lock, limit in limits:
            actions.append(limit_action(self.nonce, lock, limit))
            self.nonce += 1
        self.call(lambda: self.node.commit(actions=tuple(actions)))
        self.call(lambda: self.node.commit())


@contextmanager
def credit_world(tmp: Path) -> Iterator[CreditWorld]:
    node = fresh_node()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def produce() -> None:
        while True:
            await asyncio.sleep(0.05)
            if len(node.mempool):
                node.commit(tuple(node.mempool.select(1000, 1 << 24)))

    async def start() -> None:
        runner = web.AppRunner(create_app(node), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        holder["producer"] = loop.create_task(produce())
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    def call(fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop (the chain is changed by one thread only)."""
        async def wrapped() -> T:
            return fn()
        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the chain's API did not start"
    try:
        h = Harness(str(holder["url"]), tmp)
        for n in range(3):
            assert h.restore(n).code == 0
        yield CreditWorld(node, h, tmp, call)  # type: ignore[arg-type]
    finally:
        runner = holder["runner"]

        async def stop() -> None:
            holder["producer"].cancel()  # type: ignore[attr-defined]
            await runner.cleanup()  # type: ignore[attr-defined]

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def treasury_lock() -> Lock:
    return codec.policy_lock(TREASURY)
