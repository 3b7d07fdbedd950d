"""What the HTTP API needs from a node: the `NodeView` protocol, and the values it returns.

The API only reads (the store, the mempool, the chain state) and submits txs; it never
applies ledger rules itself. The node implements `NodeView` over what it already holds (its
`ChainStore`, `Mempool`, decoded `ChainState`, and a `BlockFeed` it publishes commits to); tests
implement it over a `MemoryStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from consensus.chainstate import ChainState
from consensus.types import (
    Tx,
    TxId,
)
from faircoop_node.api.feed import BlockFeed
from faircoop_node.mempool import PoolEntry
from faircoop_node.storage.protocol import ChainReader


class MempoolReader(Protocol):
    """The mempool reads the API makes: a subset of `faircoop_node.mempool.Mempool`."""

    def __len__(self) -> int: ...
    def __contains__(self, txid: object) -> bool: ...

    @property
    def size_bytes(self) -> int: ...

    def get(self, txid: TxId) -> PoolEntry | None: ...
    def entries(self) -> list[PoolEntry]: ...


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """Live facts about this node that are not in the store."""

    node_id: str  # the node's public identity, hex (its key for a validator)
    round: int  # the consensus round at the current height
    peers: int  # connected P2P peers
    validator: bool  # True when this node signs votes


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

    def status(self) -> NodeStatus: ...

    def chain_state(self) -> ChainState:
        """The chain state as of the tip: validators, participation, params, governance."""
        ...

    async def submit_tx(self, tx: Tx) -> TxId:
        """Admit a tx to the mempool and gossip it; raises the ValidationError refusing it."""
        ...


VIEW = web.AppKey("faircoop.view", NodeView)
MAX_BODY = web.AppKey("faircoop.max_body", int)
KEEPALIVE_S = web.AppKey("faircoop.keepalive_s", float)
