"""The mempool: valid, unconfirmed transactions waiting for a block.

Admission runs the full ledger rules against the chain's UTXO set overlaid with the pool's own
outputs, so a member can spend change before it is final. Verified signatures go into the shared
`SignatureCache`, so the block that later includes the tx is applied without verifying it again.

Ordering: txs are kept in admission order, which is always topological (a parent is admitted
before its child), and blocks take them in that order. When the pool is full, a new tx may evict
the lowest fee-rate txs (with their descendants) if it pays a strictly higher rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consensus.codec import txid as compute_txid
from consensus.errors import ValidationError
from consensus.ledger import SignatureCache, UtxoView, validate_tx
from consensus.params import ChainParams
from consensus.types import OutPoint, Tx, TxId, TxOut


class MempoolError(ValidationError):
    """A tx the pool refuses though it may be valid on chain: a conflict, a duplicate, no room."""


@dataclass(frozen=True, slots=True)
class PoolEntry:
    tx: Tx
    txid: TxId
    fee: int
    size: int

    @property
    def fee_rate(self) -> float:
        return self.fee / self.size


class _PoolView:
    """Chain UTXOs, plus outputs of pooled txs, minus outputs pooled txs already spend."""

    def __init__(self, pool: Mempool, chain: UtxoView) -> None:
        self._pool = pool
        self._chain = chain

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        if outpoint in self._pool._spent_by:
            return None
        parent = self._pool._entries.get(outpoint.txid)
        if parent is not None:
            outs = parent.tx.outputs
            return outs[outpoint.index] if outpoint.index < len(outs) else None
        return self._chain.get_utxo(outpoint)


class Mempool:
    def __init__(
        self,
        chain_id: str,
        sig_cache: SignatureCache,
        max_txs: int = 50_000,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.chain_id = chain_id
        self.sig_cache = sig_cache
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._entries: dict[TxId, PoolEntry] = {}  # admission order
        self._spent_by: dict[OutPoint, TxId] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, txid: object) -> bool:
        return txid in self._entries

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, txid: TxId) -> PoolEntry | None:
        return self._entries.get(txid)

    def entries(self) -> list[PoolEntry]:
        return list(self._entries.values())

    def add(self, tx: Tx, chain: UtxoView, params: ChainParams) -> PoolEntry:
        """Admit a tx or raise the ValidationError (or MempoolError) that refuses it."""
        tid = compute_txid(tx)
        if tid in self._entries:
            raise MempoolError("already_in_mempool", f"tx {tid.hex()} is already pooled")
        for n, txin in enumerate(tx.inputs):
            other = self._spent_by.get(txin.prevout)
            if other is not None:
                raise MempoolError(
                    "mempool_conflict", f"input {n} is already spent by pooled tx {other.hex()}"
                )
        valid = validate_tx(
            tx, _PoolView(self, chain), params, chain_id=self.chain_id, sig_cache=self.sig_cache
        )
        entry = PoolEntry(tx, tid, valid.fee, valid.size)
        self._make_room(entry)
        self._entries[tid] = entry
        for txin in tx.inputs:
            self._spent_by[txin.prevout] = tid
        self._bytes += entry.size
        return entry

    def _make_room(self, entry: PoolEntry) -> None:
        def full() -> bool:
            return (len(self._entries) + 1 > self.max_txs
                    or self._bytes + entry.size > self.max_bytes)

        while full():
            cheapest = min(self._entries.values(), key=lambda e: e.fee_rate, default=None)
            if cheapest is None or cheapest.fee_rate >= entry.fee_rate:
                raise MempoolError(
                    "mempool_full", "the pool is full and this tx pays no more than the cheapest"
                )
            self._remove_with_descendants(cheapest.txid)

    def _remove_with_descendants(self, tid: TxId) -> list[TxId]:
        removed: list[TxId] = []
        stack = [tid]
        while stack:
            current = stack.pop()
            entry = self._entries.pop(current, None)
            if entry is None:
                continue
            removed.append(current)
            self._bytes -= entry.size
            for txin in entry.tx.inputs:
                if self._spent_by.get(txin.prevout) == current:
                    del self._spent_by[txin.prevout]
            for index in range(len(entry.tx.outputs)):
                child = self._spent_by.get(OutPoint(current, index))
                if child is not None:
                    stack.append(child)
        return removed

    def select(self, max_txs: int, max_bytes: int) -> list[Tx]:
        """Txs for a block proposal, in admission (so topological) order, within the limits.

        A tx is skipped when its parent was skipped, so the selection is always valid as a unit.
        """
        chosen: list[Tx] = []
        taken: set[TxId] = set()
        used = 0
        for entry in self._entries.values():
            if len(chosen) >= max_txs:
                break
            if used + entry.size > max_bytes:
                continue
            parents = {i.prevout.txid for i in entry.tx.inputs}
            if any(p in self._entries and p not in taken for p in parents):
                continue
            chosen.append(entry.tx)
            taken.add(entry.txid)
            used += entry.size
        return chosen

    def remove_committed(self, txs: Iterable[Tx]) -> int:
        """Drop txs a block committed, and pooled txs that conflict with them. Returns removals."""
        removed = 0
        for tx in txs:
            tid = compute_txid(tx)
            if tid in self._entries:
                entry = self._entries.pop(tid)
                self._bytes -= entry.size
                for txin in entry.tx.inputs:
                    self._spent_by.pop(txin.prevout, None)
                removed += 1
                continue
            for txin in tx.inputs:
                rival = self._spent_by.get(txin.prevout)
                if rival is not None:
                    removed += len(self._remove_with_descendants(rival))
        return removed
