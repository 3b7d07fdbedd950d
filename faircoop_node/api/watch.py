"""Payments to watched addresses, as they enter the mempool and as they become final.

A shop that waits for an order's payment opens `GET /api/v1/address/{address}/stream`
(`stream.py`) instead of polling `GET /address`: the stream holds a `Subscription` here, keyed
by the address's lock. The node tells the watch about each tx its mempool admits (`pooled`,
from the API or a peer) and about each block it commits (`committed`); for every watched lock
a tx pays, the subscribers get one event with what the tx pays it (outputs to the lock,
summed). A committed block is final: its event names the block (height, hash, the tx's
position), so the client can fetch the proof (`tx/{txid}/proof`) and verify it itself.

Bounds: the subscriptions are the open streams (capped by the API's stream slots); each
queues at most `ADDRESS_BACKLOG` events of a fixed shape (a txid, a block hash and three
integers: ~400 bytes with the object overhead, so ~25 KiB per stream), and one that falls
that far behind is closed (its client reconnects and reads `address/{addr}/txs` for what it
missed). With no one watching, a tx or a block costs one dict check.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.codec import txid as compute_txid
from consensus.types import Block, BlockHash, CreditTransfer, Lock, Tx, TxId
from faircoop_node.api.feed import Subscription

ADDRESS_BACKLOG = 64


@dataclass(frozen=True, slots=True)
class AddressEvent:
    """A payment to a watched address: seen in the mempool, or final in a block."""

    final: bool
    txid: TxId
    amount: int  # what the tx pays the address (its outputs to the lock, summed)
    height: int | None = None  # final: the block
    block_hash: BlockHash | None = None
    position: int | None = None  # final: the tx's index in the block

    @property
    def kind(self) -> str:
        return "final" if self.final else "mempool"

    def as_json(self, address: str) -> dict[str, object]:
        doc: dict[str, object] = {"address": address, "txid": self.txid.hex(),
                                  "amount": self.amount}
        if self.final:
            assert self.block_hash is not None
            doc.update(height=self.height, block_hash=self.block_hash.hex(),
                       position=self.position)
        return doc


def paid_to(tx: Tx, watched: dict[Lock, set[Subscription[AddressEvent]]]) -> dict[Lock, int]:
    """What `tx` pays each watched lock."""
    paid: dict[Lock, int] = {}
    for out in tx.outputs:
        if out.lock in watched:
            paid[out.lock] = paid.get(out.lock, 0) + out.amount
    return paid


class AddressWatch:
    """Subscriptions by lock (touched from the event loop only)."""

    def __init__(self, max_backlog: int = ADDRESS_BACKLOG) -> None:
        self._max_backlog = max_backlog
        self._watched: dict[Lock, set[Subscription[AddressEvent]]] = {}
        self._locks: dict[Subscription[AddressEvent], Lock] = {}

    def subscribe(self, lock: Lock) -> Subscription[AddressEvent]:
        sub: Subscription[AddressEvent] = Subscription(self._forget, self._max_backlog)
        self._watched.setdefault(lock, set()).add(sub)
        self._locks[sub] = lock
        return sub

    @property
    def subscriber_count(self) -> int:
        return len(self._locks)

    def pooled(self, tx: Tx, txid: TxId) -> None:
        """A tx the mempool admitted."""
        if not self._watched:
            return
        for lock, amount in paid_to(tx, self._watched).items():
            self._offer(lock, AddressEvent(False, txid, amount))

    def committed(self, block: Block, block_id: BlockHash) -> None:
        """A block the node committed (final)."""
        if not self._watched:
            return
        height = block.header.height
        for position, tx in enumerate(block.txs):
            if isinstance(tx, CreditTransfer):
                continue  # moves credit, pays no coins to an address
            paid = paid_to(tx, self._watched)
            if not paid:
                continue
            tid = compute_txid(tx)
            for lock, amount in paid.items():
                self._offer(lock, AddressEvent(True, tid, amount, height, block_id, position))

    def close_all(self) -> None:
        for sub in tuple(self._locks):
            sub.close()

    def _offer(self, lock: Lock, event: AddressEvent) -> None:
        for sub in tuple(self._watched.get(lock, ())):
            sub.offer(event)

    def _forget(self, sub: Subscription[AddressEvent]) -> None:
        lock = self._locks.pop(sub, None)
        if lock is None:
            return
        subs = self._watched.get(lock)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._watched[lock]

