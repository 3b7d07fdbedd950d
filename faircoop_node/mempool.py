"""The mempool: valid, unconfirmed transactions waiting for a block.

Admission runs the full ledger rules against the chain's UTXO set overlaid with the pool's own
outputs, so a member can spend change before it is final. Verified signatures go into the shared
`SignatureCache`, so the block that later includes the tx is applied without verifying it again.

Ordering: txs are kept in admission order, which is always topological (a parent is admitted
before its child), and blocks take them in that order.

Eviction: when the pool is full, a new tx may evict the lowest fee-rate txs if it pays a strictly
higher rate than each, and every evicted tx takes its in-pool descendants with it, as does a
pooled tx that a committed block conflicts with: a child never outlives its parent, so a block
built from the pool never spends an unknown input. A tx that could only get in by evicting one of
its own ancestors is refused (`mempool_full`): it would be orphaned at once.

Address index: what the pooled txs would add to (or take from) each lock's balance once
committed, kept as txs come and go, so `lock_delta` (the API's `GET /address`) answers in O(1)
instead of walking the pool and looking up every input's spent output. A tx's inputs are
charged to the locks of the outputs they spend, which admission has just looked up.

Bounds: at most `max_txs` txs and `max_bytes` bytes of encoded txs. The indexes grow only with
what is pooled: one `_spent_by` entry and at most one `_children` link per pooled input (an
encoded input takes at least 36 bytes, so at most max_bytes / 36 of each); per pooled tx, one
`_moves` entry of at most one (lock, amount) pair per input and output (an encoded output also
takes at least 36 bytes), and in `_by_lock` at most one tally per lock those pairs name; and
the fee-rate heap holds at most 2 * len + 65 items (items of removed txs are skipped lazily;
past that bound the heap is rebuilt, at most once per len + 64 removals). In RAM (measured,
10,000 decoded txs of one input and output, 214 encoded bytes each): ~1.2 KB per tx object;
what the pool adds per tx (its entry, indexes and signature-cache entry, by tracemalloc) was
~0.90 KB before the address index and ~1.07 KB with it.

Cost: no eviction or removal scans the pool. Evicting k txs (roots and descendants together)
takes O(k log n) amortized time (a heap pop per evicted root; each descendant's heap item is
dropped later, once) and no memory beyond the k victims; a refused tx costs the same for the
txs it would have evicted, whose items go back on the heap. Removing a block's txs and their
rivals with descendants costs O(block inputs + removed) plus, amortized, O(1) heap upkeep per
removal. Indexing a tx's locks costs O(its inputs + outputs), on admission and removal alike.
Only `select` and `entries` walk the pool.

Credit transfers (consensus.credit) wait in `credit`, a `CreditPool` with bounds of its own;
`add`, `get`, `select`, `remove_committed` and `readmit_all` take or give both kinds, and
`__len__`, `size_bytes` and `entries` count both.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from consensus.campaign import Campaign
from consensus.codec import txid as compute_txid
from consensus.credit import ChainView
from consensus.errors import ValidationError
from consensus.ledger import LedgerView, SignatureCache, validate_tx
from consensus.params import ChainParams
from consensus.types import BlockTx, CreditTransfer, Lock, OutPoint, Tx, TxId, TxOut
from faircoop_node.creditpool import CreditEntry, CreditPool


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
    """Chain UTXOs, plus outputs of pooled txs, minus outputs pooled txs already spend; the
    chain's campaigns at the next height (a pooled tx's new campaign counts only once final).

    Keeps what it found, in order (`found`), so the pool learns the outputs a tx spends from
    the lookups its validation made."""

    def __init__(self, pool: Mempool, chain: LedgerView) -> None:
        self._pool = pool
        self._chain = chain
        self.found: list[tuple[OutPoint, TxOut]] = []

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        if outpoint in self._pool._spent_by:
            return None
        parent = self._pool._entries.get(outpoint.txid)
        if parent is not None:
            outs = parent.tx.outputs
            out = outs[outpoint.index] if outpoint.index < len(outs) else None
        else:
            out = self._chain.get_utxo(outpoint)
        if out is not None:
            self.found.append((outpoint, out))
        return out

    def get_campaign(self, campaign_id: bytes) -> Campaign | None:
        return self._chain.get_campaign(campaign_id)

    def campaign_height(self) -> int:
        return self._chain.campaign_height()


def _moves(tx: Tx, view: _PoolView) -> tuple[tuple[Lock, int], ...]:
    """What a valid `tx` adds to (or takes from) each lock it touches: its outputs' amounts,
    less the amounts of the outputs it spends, as its validation found them (input by input,
    in order: checked by identity, so no outpoint is hashed again; looked up if not)."""
    moves: dict[Lock, int] = {}
    for out in tx.outputs:
        moves[out.lock] = moves.get(out.lock, 0) + out.amount
    found = view.found
    in_order = len(found) == len(tx.inputs)
    for n, txin in enumerate(tx.inputs):
        if in_order and found[n][0] is txin.prevout:
            spent: TxOut | None = found[n][1]
        else:
            spent = view.get_utxo(txin.prevout)
        if spent is None:  # validation would have refused the tx
            raise AssertionError(f"input {txin.prevout} of a valid tx is unknown")
        moves[spent.lock] = moves.get(spent.lock, 0) - spent.amount
    return tuple(moves.items())


AdmitListener = Callable[[PoolEntry], None]

# Items of removed txs the fee-rate heap may hold beyond the pooled ones before a rebuild.
HEAP_SLACK = 64

# A fee-rate heap item: (fee rate, minus admission number, txid). The lowest rate comes first,
# the youngest among equals (a young tx is the likelier leaf, so it evicts fewer descendants).
_RateItem = tuple[float, int, TxId]


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
        self._children: dict[TxId, set[TxId]] = {}  # pooled parent -> its pooled children
        self._by_rate: list[_RateItem] = []  # a min-heap; may hold items of removed txs
        self._moves: dict[TxId, tuple[tuple[Lock, int], ...]] = {}  # pooled tx -> per lock
        self._by_lock: dict[Lock, tuple[int, int]] = {}  # lock -> (net amount, txs touching)
        self._admitted = 0
        self._bytes = 0
        self.credit = CreditPool(chain_id, sig_cache)
        self._listeners: list[AdmitListener] = []

    def on_admit(self, listener: AdmitListener) -> None:
        """Call `listener` with each coin tx the pool admits, once it is pooled (the API's
        address streams; a credit transfer pays no coins, so it is not announced). It must not
        block or raise; a tx readmitted after a failed block is not announced again."""
        self._listeners.append(listener)

    def __len__(self) -> int:
        return len(self._entries) + len(self.credit)

    def __contains__(self, txid: object) -> bool:
        return txid in self._entries or txid in self.credit

    @property
    def size_bytes(self) -> int:
        return self._bytes + self.credit.size_bytes

    def get(self, txid: TxId) -> PoolEntry | CreditEntry | None:
        return self._entries.get(txid) or self.credit.get(txid)

    def entries(self) -> list[PoolEntry | CreditEntry]:
        return [*self._entries.values(), *self.credit.entries()]

    def credit_pending(self, sender: Lock) -> tuple[int, int]:
        """(the sender's credit transfers waiting here, what they debit in all)."""
        return self.credit.pending(sender)

    def lock_delta(self, lock: Lock) -> int:
        """What the pooled txs would add to (or take from) `lock`'s balance once committed."""
        tally = self._by_lock.get(lock)
        return 0 if tally is None else tally[0]

    def add(self, tx: BlockTx, chain: ChainView, params: ChainParams
            ) -> PoolEntry | CreditEntry:
        """Admit a tx or a credit transfer, or raise the ValidationError (or MempoolError)
        that refuses it. A refused tx leaves the pool as it was."""
        if isinstance(tx, CreditTransfer):
            self._admitted += 1
            return self.credit.add(tx, chain, params, self._admitted)
        return self._add_coin(tx, chain, params)

    def _add_coin(self, tx: Tx, chain: LedgerView, params: ChainParams) -> PoolEntry:
        tid = compute_txid(tx)
        if tid in self._entries:
            raise MempoolError("already_in_mempool", f"tx {tid.hex()} is already pooled")
        for n, txin in enumerate(tx.inputs):
            other = self._spent_by.get(txin.prevout)
            if other is not None:
                raise MempoolError(
                    "mempool_conflict", f"input {n} is already spent by pooled tx {other.hex()}"
                )
        view = _PoolView(self, chain)
        valid = validate_tx(tx, view, params, chain_id=self.chain_id, sig_cache=self.sig_cache)
        moves = _moves(tx, view)
        entry = PoolEntry(tx, tid, valid.fee, valid.size)
        if len(self._entries) >= self.max_txs or self._bytes + entry.size > self.max_bytes:
            self._evict(self._victims(entry))
        for txin in tx.inputs:
            prevout = txin.prevout
            self._spent_by[prevout] = tid
            if prevout.txid in self._entries:
                self._children.setdefault(prevout.txid, set()).add(tid)
        self._entries[tid] = entry
        self._bytes += entry.size
        self._moves[tid] = moves
        for lock, amount in moves:
            total, count = self._by_lock.get(lock, (0, 0))
            self._by_lock[lock] = (total + amount, count + 1)
        self._admitted += 1
        heapq.heappush(self._by_rate, (entry.fee_rate, -self._admitted, tid))
        for listener in self._listeners:
            listener(entry)
        return entry

    def _victims(self, entry: PoolEntry) -> dict[TxId, None]:
        """The txs to evict so `entry` fits: cheapest first, each with its descendants.

        Raises `mempool_full` (and leaves the pool as it was) when they would include one that
        pays at least `entry`'s rate, or one of its parents."""
        over_txs = len(self._entries) + 1 - self.max_txs
        over_bytes = self._bytes + entry.size - self.max_bytes
        parents = {i.prevout.txid for i in entry.tx.inputs}
        victims: dict[TxId, None] = {}  # an ordered set
        if entry.size > self.max_bytes:
            raise MempoolError("mempool_full", f"a {entry.size}-byte tx can't fit a pool of "
                                               f"{self.max_bytes} bytes")
        popped: list[_RateItem] = []
        try:
            while over_txs > 0 or over_bytes > 0:
                item = self._pop_cheapest()
                if item is None:
                    raise MempoolError("mempool_full", "the pool is full and too small for it")
                popped.append(item)
                if item[0] >= entry.fee_rate:
                    raise MempoolError("mempool_full", "the pool is full and this tx pays no "
                                                       "more than the cheapest")
                for tid in self._descendants(item[2], victims):
                    if tid in parents:
                        raise MempoolError(
                            "mempool_full", f"the pool is full and its parent {tid.hex()} pays "
                                            "the lowest fee rate (it would be orphaned)")
                    over_txs -= 1
                    over_bytes -= self._entries[tid].size
        except MempoolError:
            for item in popped:
                heapq.heappush(self._by_rate, item)
            raise
        return victims

    def _pop_cheapest(self) -> _RateItem | None:
        """The heap's lowest-rate item of a pooled tx; items of removed txs are dropped."""
        while self._by_rate:
            item = heapq.heappop(self._by_rate)
            if item[2] in self._entries:
                return item
        return None

    def _descendants(self, root: TxId, seen: dict[TxId, None]) -> Iterator[TxId]:
        """`root` and its pooled descendants not yet in `seen`, each added to it as yielded."""
        stack = [root]
        while stack:
            tid = stack.pop()
            if tid in seen:
                continue
            seen[tid] = None
            yield tid
            stack.extend(self._children.get(tid, ()))

    def _evict(self, victims: Iterable[TxId]) -> None:
        for tid in victims:
            self._drop(tid)
        self._compact_heap()

    def _drop(self, tid: TxId) -> None:
        """Remove one tx and its index entries; its pooled children (if any) lose the link."""
        entry = self._entries.pop(tid)
        self._bytes -= entry.size
        for txin in entry.tx.inputs:
            self._spent_by.pop(txin.prevout, None)
            siblings = self._children.get(txin.prevout.txid)
            if siblings is not None:
                siblings.discard(tid)
                if not siblings:
                    del self._children[txin.prevout.txid]
        self._children.pop(tid, None)
        for lock, amount in self._moves.pop(tid):
            total, count = self._by_lock[lock]
            if count == 1:
                del self._by_lock[lock]
            else:
                self._by_lock[lock] = (total - amount, count - 1)

    def _compact_heap(self) -> None:
        """Rebuild the fee-rate heap once items of removed txs outnumber pooled ones (+ slack)."""
        if len(self._by_rate) > 2 * len(self._entries) + HEAP_SLACK:
            self._by_rate = [(e.fee_rate, -n, e.txid)
                             for n, e in enumerate(self._entries.values(), 1)]
            heapq.heapify(self._by_rate)

    def select(self, max_txs: int, max_bytes: int) -> list[BlockTx]:
        """Txs and credit transfers for a block proposal, within the limits: coin txs first,
        then credit transfers; while coin txs wait, credit takes at most half the block, so
        neither kind can crowd the other out (coin spam pays fees, credit spam is bounded per
        account: `creditpool.py`)."""
        share = 2 if self._entries else 1
        credit = self.credit.select(max_txs // share or 1, max_bytes // share)
        room = max_bytes - sum(e.size for e in credit)
        return [*self._select_coins(max_txs - len(credit), room), *(e.tx for e in credit)]

    def _select_coins(self, max_txs: int, max_bytes: int) -> list[Tx]:
        """Coin txs in admission (so topological) order, within the limits.

        A tx is skipped when its parent was skipped, so the selection is always valid as a unit:
        every input is on chain or made by an earlier selected tx.
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

    def readmit_all(self, chain: ChainView, params: ChainParams) -> int:
        """Admit every pooled tx again, in admission order, against `chain` and `params` (after
        a block failed on one: a higher fee rate came into force, a credit limit was lowered,
        say); how many were dropped. The pool object stays the same, so whoever holds it keeps
        reading the current one."""
        entries, credit, listeners = list(self._entries.values()), self.credit, self._listeners
        before = len(self)
        Mempool.__init__(self, self.chain_id, self.sig_cache, self.max_txs, self.max_bytes)
        self.credit = credit
        for entry in entries:
            with contextlib.suppress(ValidationError):
                self._add_coin(entry.tx, chain, params)
        credit.readmit_all(chain, params)
        self._listeners = listeners
        return before - len(self)

    def remove_committed(self, txs: Iterable[BlockTx]) -> int:
        """Drop txs a block committed, and pooled txs that spend an input a committed tx spent
        (with their descendants); likewise for credit (`CreditPool.remove_committed`). Returns
        how many txs left the pool.

        A committed tx's pooled children stay: their inputs are now on chain."""
        removed = 0
        credit: list[CreditTransfer] = []
        for tx in txs:
            if isinstance(tx, CreditTransfer):
                credit.append(tx)
                continue
            tid = compute_txid(tx)
            if tid in self._entries:
                self._drop(tid)
                removed += 1
                continue
            rivals: dict[TxId, None] = {}
            for txin in tx.inputs:
                rival = self._spent_by.get(txin.prevout)
                if rival is not None:
                    for _ in self._descendants(rival, rivals):
                        pass
            for rival in rivals:
                self._drop(rival)
            removed += len(rivals)
        self._compact_heap()
        if credit:
            removed += self.credit.remove_committed(credit, [compute_txid(t) for t in credit])
        return removed
