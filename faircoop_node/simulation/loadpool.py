"""A simulated node's tx pool for a scripted load: the node's own `Mempool` over its store,
offered the load's txs as the store's tip moves (each load says which, in `offer`), and handed
to the consensus driver as its `TxPool`."""

from __future__ import annotations

from collections.abc import Sequence

from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import BlockTx
from faircoop_node.mempool import Mempool
from faircoop_node.storage import MemoryStore


class LoadPool:
    """The driver's `TxPool`; a load's subclass fills the mempool in `offer`."""

    def __init__(self, store: MemoryStore, chain_id: str, params: ChainParams) -> None:
        self._store = store
        self._params = params
        self.mempool = Mempool(chain_id, SignatureCache(1_000))

    def offer(self) -> None:
        """Add to the mempool what the load sends by the store's tip (a subclass's rule)."""

    def __len__(self) -> int:
        self.offer()
        return len(self.mempool)

    def select(self, max_txs: int, max_bytes: int) -> list[BlockTx]:
        self.offer()
        return self.mempool.select(max_txs, max_bytes)

    def remove_committed(self, txs: Sequence[BlockTx]) -> int:
        return self.mempool.remove_committed(txs)

    def revalidate(self, params: ChainParams) -> int:
        self._params = params
        return self.mempool.readmit_all(self._store, params)
