"""An in-process network of real `Node`s over the in-memory transport, with fast chain params.

Each node has a `MemoryStore` (or a `LevelDBStore` when a test passes one), its own key, and a
`MemoryTransport` on one shared `MemoryNetwork`. A node that restarts keeps its transport
object (the network knows nodes by id); the transport's tip source follows the current node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from consensus import codec
from consensus.chainstate import encode_chain_state, genesis_state
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import COIN, Genesis, Lock, OutPoint, Tx, TxId
from faircoop_node.net.memory import MemoryNetwork, MemoryTransport
from faircoop_node.net.transport import ChainIdentity, Tip
from faircoop_node.node import Node, NodeOptions
from faircoop_node.storage import MemoryStore
from faircoop_node.storage.base import BaseStore
from tests.builders import CHAIN_ID, key, make_genesis, make_tx, single

FAST_PARAMS = ChainParams(block_interval_ms=20, heartbeat_ms=300, timeout_propose_ms=300,
                          timeout_vote_ms=150, timeout_delta_ms=100, max_clock_drift_ms=60_000)
FAST_OPTIONS = NodeOptions(tick_s=0.01, gossip_s=0.4, status_s=0.5, sync_timeout_s=2.0,
                           sync_delay_s=0.2, join_wait_s=1.0)
FUNDER = key(900)
FUNDER_POLICY = single(FUNDER)
FUNDER_LOCK: Lock = codec.policy_lock(FUNDER_POLICY)
VALIDATOR_KEYS = tuple(sorted((key(i) for i in range(1, 5)), key=lambda k: k.public_key))


def runtime_genesis(validators: tuple[PrivateKey, ...] = VALIDATOR_KEYS,
                    params: ChainParams = FAST_PARAMS) -> Genesis:
    """A genesis from a second ago, so block times (parent + 1 .. + drift) track the clock."""
    g = make_genesis([(FUNDER_LOCK, 1_000_000 * COIN)], validators=validators,
                     params=params)
    return replace(g, time_ms=int(time.time() * 1000) - 1000)


def fresh_store(genesis: Genesis) -> MemoryStore:
    return MemoryStore(genesis, genesis_chain_state=encode_chain_state(genesis_state(genesis)))


@dataclass
class Slot:
    """One node position: its key, transport and the node currently running there."""

    key: PrivateKey
    validator: bool
    transport: MemoryTransport
    node: Node | None = None
    store: BaseStore | None = None
    options: NodeOptions = FAST_OPTIONS
    skew_ms: int = 0  # this node's clock runs this far ahead of the cluster's (clock tests)


@dataclass
class Cluster:
    genesis: Genesis
    network: MemoryNetwork = field(default_factory=MemoryNetwork)
    slots: list[Slot] = field(default_factory=list)
    clock_offset_ms: int = 0  # every node's wall clock runs this far ahead (recovery tests)

    def clock_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    @property
    def gid(self) -> bytes:
        return codec.genesis_hash(self.genesis)

    def add(self, k: PrivateKey, validator: bool, store: BaseStore | None = None,
            options: NodeOptions = FAST_OPTIONS) -> Slot:
        chain = ChainIdentity(self.genesis.chain_id, codec.genesis_hash(self.genesis))
        slot_ref: list[Slot] = []

        def tip() -> Tip:
            node = slot_ref[0].node
            return node.p2p_tip() if node is not None else Tip(0, codec.genesis_hash(
                self.genesis))

        transport = self.network.transport(k.public_key, chain, tip, is_validator=validator)
        slot = Slot(k, validator, transport, options=options)
        slot_ref.append(slot)
        self.slots.append(slot)
        self._make_node(slot, store)
        return slot

    def _make_node(self, slot: Slot, store: BaseStore | None) -> None:
        slot.store = store if store is not None else fresh_store(self.genesis)
        slot.node = Node(self.genesis, slot.store, slot.key, validator=slot.validator,
                         options=slot.options,
                         clock_ms=lambda: self.clock_ms() + slot.skew_ms)
        slot.node.attach(slot.transport)

    async def start(self, slot: Slot, connect: bool = True) -> None:
        assert slot.node is not None
        await slot.node.start()
        if not connect:
            return
        for other in self.slots:
            if other is not slot and other.node is not None and other.node.running:
                await self.network.connect(slot.transport.node_id, other.transport.node_id)

    async def stop(self, slot: Slot) -> None:
        if slot.node is not None:
            await slot.node.stop()

    async def restart(self, slot: Slot, store: BaseStore | None) -> None:
        """Stop the node and start a new one on `store` (None: an empty data dir)."""
        await self.stop(slot)
        self._make_node(slot, store)
        await self.start(slot)

    async def stop_all(self) -> None:
        for slot in self.slots:
            await self.stop(slot)

    def nodes(self) -> list[Node]:
        return [s.node for s in self.slots if s.node is not None and s.node.running]


async def start_cluster(n: int = 4, options: dict[int, NodeOptions] | None = None,
                        links: list[tuple[int, int]] | None = None,
                        params: ChainParams = FAST_PARAMS) -> Cluster:
    """`n` validators, all connected (or only along `links`); `options` replaces some nodes'."""
    cluster = Cluster(runtime_genesis(VALIDATOR_KEYS[:n], params))
    for i, k in enumerate(VALIDATOR_KEYS[:n]):
        cluster.add(k, validator=True, options=(options or {}).get(i, FAST_OPTIONS))
    for slot in cluster.slots:
        await cluster.start(slot, connect=links is None)
    for a, b in links or ():
        await cluster.network.connect(cluster.slots[a].key.public_key,
                                      cluster.slots[b].key.public_key)
    return cluster


def inbox_options(root: Path, count: int = 2) -> dict[int, NodeOptions]:
    """Options for the first `count` nodes: each reads its own action inbox under `root`,
    every 50 ms (the recovery tests drop a governors' recovery there)."""
    options = {}
    for i in range(count):
        inbox = root / f"inbox{i}"
        inbox.mkdir()
        options[i] = replace(FAST_OPTIONS, inbox=inbox, inbox_s=0.05)
    return options


async def lose_quorum(cluster: Cluster) -> list[Node]:
    """Let two blocks pass, then stop validators 2 and 3 of the four: the two left (returned)
    can't finalize anything, and are at the same height once this returns."""
    alive = cluster.nodes()[:2]
    await wait_for(lambda: min(n.state.height for n in alive) >= 2, 15, "two blocks")
    for slot in cluster.slots[2:]:
        await cluster.stop(slot)  # no quorum any more
    await wait_for(lambda: alive[0].state.height == alive[1].state.height, 5, "the stall")
    return alive


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def payments(genesis: Genesis, count: int, fee: int = 5_000) -> list[Tx]:
    """`count` chained payments from the funder: each spends the previous change."""
    out: list[Tx] = []
    prev = OutPoint(TxId(codec.genesis_hash(genesis)), 0)
    balance = genesis.allocations[0].amount
    for i in range(count):
        pay = 10 * COIN
        change = balance - pay - fee
        tx = make_tx([(prev, FUNDER_POLICY, [FUNDER])],
                     [(codec.policy_lock(single(key(1000 + i))), pay), (FUNDER_LOCK, change)],
                     chain_id=CHAIN_ID)
        out.append(tx)
        prev = OutPoint(codec.txid(tx), 1)
        balance = change
    return out
