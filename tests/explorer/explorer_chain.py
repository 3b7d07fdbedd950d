"""The API's standard test chain served with the explorer mounted, and a chain whose every
free-text field (validator names, a memo, an action's reference) is a script injection."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.governance import AddValidator, Reference, encode_action, make_action
from consensus.types import COIN, PublicKey, Validator
from faircoop_node.api import ApiLimits, create_app
from faircoop_node.config import NodeConfig
from faircoop_node.explorer import CommitLog, mount
from faircoop_node.node.runner import Node
from faircoop_node.service import NodeApi, api_app
from tests.api.api_chain import (
    ALICE,
    BOB,
    CHAIN_ID,
    VALIDATOR_KEYS,
    FakeNode,
    fresh_node,
    genesis_op,
    make_chain_genesis,
)
from tests.builders import key, make_tx
from tests.node_runtime.harness import Cluster, runtime_genesis, wait_for

Client = TestClient[Request, Application]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
INJECTIONS = (SCRIPT, IMG, '"><svg onload=alert(1)>', "javascript:alert(1)",
              "'><iframe src=//evil>", "{{7*7}}", "${7*7}")


def addr(lock: bytes) -> str:
    """A lock as the test chains' (test network) address."""
    return encode_address(lock, "test")  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Served:
    node: Node
    app: Application
    client: Client


@asynccontextmanager
async def node_process_app(config: NodeConfig, height: int) -> AsyncIterator[Served]:
    """Four in-process validators running until `height`; the first one's API app as the node
    process builds it (`service.api_app`: the explorer, the runtime's counters), served."""
    cluster = Cluster(runtime_genesis(VALIDATOR_KEYS))
    for k in VALIDATOR_KEYS:
        cluster.add(k, validator=True)
    node = cluster.slots[0].node
    assert node is not None
    app = api_app(config, node, NodeApi(node), ApiLimits())
    try:
        for slot in cluster.slots:
            await cluster.start(slot)
        await wait_for(lambda: node.state.height >= height, 20, f"height {height}")
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Served(node, app, client)
    finally:
        await cluster.stop_all()


@asynccontextmanager
async def explore(node: FakeNode, commits: CommitLog | None = None,
                  **options: Any) -> AsyncIterator[Client]:
    """An HTTP client talking to `create_app(node)` with the explorer mounted."""
    app = create_app(node, **options)
    mount(app, commits)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def text_of(page: str) -> str:
    """The page's text, tags dropped and whitespace folded, for matching what a reader sees."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def hostile_chain() -> tuple[FakeNode, bytes]:
    """A chain whose validators are named like scripts, whose height-1 tx carries a script as
    its memo, and whose height-2 block carries an action adding a validator named like a script
    with a `javascript:` reference (pending: in force at height 4). Returns (node, txid)."""
    genesis = make_chain_genesis()
    names = (SCRIPT, IMG, '"><svg onload=alert(1)>', "coop-3")
    genesis = replace(genesis, validators=tuple(
        Validator(name, v.pubkey) for name, v in zip(names, genesis.validators, strict=True)))
    node = fresh_node(genesis=genesis)
    gid = node.store.genesis_hash
    memo = SCRIPT.encode()
    pay = make_tx([(genesis_op(gid, 0), ALICE.policy, [ALICE.key])],
                  [(BOB.lock, 5 * COIN), (ALICE.lock, 45 * COIN - 10_000)], memo=memo)
    node.commit((pay,))
    newcomer: PrivateKey = key(77)
    action = make_action(CHAIN_ID, 0, AddValidator(SCRIPT + "!", PublicKey(newcomer.public_key)),
                         (VALIDATOR_KEYS[0],),
                         reference=Reference("javascript:alert(1)", IMG))
    node.commit(actions=(encode_action(action),))
    return node, codec.txid(pay)
