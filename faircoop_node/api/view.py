"""What the HTTP API needs from a node: the `NodeView` protocol, and the values it returns.

The API only reads (the store, the mempool, the chain state, the governance actions the node
holds) and submits txs and governance actions; it never applies ledger rules itself. The node
process implements `NodeView` over a running node (`faircoop_node.service.NodeApi`: the node's
store, mempool, chain state and action pools, and a `BlockFeed` its commits are published to);
tests implement it over a `MemoryStore`. The API imports nothing
of the node runtime, nor the runtime anything of the API.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from consensus.chainstate import ChainState
from consensus.types import BlockTx, Lock, TxId
from faircoop_node.api.feed import BlockFeed
from faircoop_node.api.watch import AddressWatch
from faircoop_node.creditpool import CreditEntry
from faircoop_node.mempool import PoolEntry
from faircoop_node.storage.protocol import ChainReader


class MempoolReader(Protocol):
    """The mempool reads the API makes: a subset of `faircoop_node.mempool.Mempool`."""

    def __len__(self) -> int: ...
    def __contains__(self, txid: object) -> bool: ...

    @property
    def size_bytes(self) -> int: ...

    def get(self, txid: TxId) -> PoolEntry | CreditEntry | None: ...
    def entries(self) -> list[PoolEntry | CreditEntry]: ...

    def credit_pending(self, sender: Lock) -> tuple[int, int]:
        """(the sender's credit transfers waiting, what they debit in all)."""
        ...

    def lock_delta(self, lock: Lock) -> int:
        """What the pooled txs would add to (or take from) `lock`'s balance (the pool's
        address index: no walk)."""
        ...


class NodeStatus(Protocol):
    """Live facts about the node that are not in the store (the runtime's `NodeStatus`)."""

    @property
    def node_id(self) -> str:
        """The node's public identity, hex (its key for a validator)."""
        ...

    @property
    def round(self) -> int:
        """The consensus round at the current height."""
        ...

    @property
    def peers(self) -> int:
        """Connected P2P peers."""
        ...

    @property
    def validator(self) -> bool:
        """True when this node signs votes."""
        ...


class NodeView(Protocol):
    """Everything the API reads from or asks of a running node."""

    @property
    def store(self) -> ChainReader: ...

    @property
    def mempool(self) -> MempoolReader: ...

    @property
    def feed(self) -> BlockFeed:
        """The node publishes each committed block here (streams and metrics read it)."""
        ...

    @property
    def watch(self) -> AddressWatch:
        """The node tells it each tx its mempool admits and each block it commits (the
        address streams read it)."""
        ...

    def status(self) -> NodeStatus: ...

    def chain_state(self) -> ChainState:
        """The chain state as of the tip: validators, participation, params, governance."""
        ...

    async def submit_tx(self, tx: BlockTx) -> TxId:
        """Admit a tx (or a credit transfer) to the mempool and gossip it; raises the
        ValidationError refusing it."""
        ...

    async def submit_action(self, raw: bytes) -> str:
        """Check a governance action or recovery (its block encoding) against the tip, pool it
        and gossip it: "pooled", or "already_pooled" if held; DecodeError, or ValidationError
        with its rule (`pool_full` among them), says why not."""
        ...

    def pooled_actions(self) -> tuple[bytes, ...]:
        """The governance actions the node holds for proposers to carry, in pool order."""
        ...

    def held_recoveries(self) -> tuple[bytes, ...]:
        """The recoveries the node holds until they are due (installed, then carried)."""
        ...


VIEW = web.AppKey("faircoop.view", NodeView)
MAX_BODY = web.AppKey("faircoop.max_body", int)
KEEPALIVE_S = web.AppKey("faircoop.keepalive_s", float)
