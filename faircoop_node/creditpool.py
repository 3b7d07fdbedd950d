"""Credit transfers waiting for a block: per sender, a run of consecutive sequence numbers.

Admission runs every credit rule against the sender's account as its pooled transfers will leave
it (its balance less what they send, its sequence past them), so any prefix of a sender's run
is valid in a block on the current tip. Credit a sender is about to *receive* from pooled
transfers does not count: it can spend it once it is final. Verified signatures go into the
shared `SignatureCache`, so the block that includes a transfer does not verify it again.

Bounds: at most `credit_pool_cap` (a chain parameter) transfers per sender, and `max_items` and
`max_bytes` in all; a transfer that would pass either is refused (`credit_pool_cap`,
`mempool_full`): credit pays no fee, so there is nothing to rank by, and first come is first
served. The indexes grow only with what is pooled (one list entry per transfer).

A committed block drops its transfers; a sender's transfers that a block made stale (a
sequence it used, or a run after a transfer of the sender's that this pool never saw) go too.
What a limit lowered by governance makes invalid is found when a proposal fails on it and
the driver re-admits the pool (`readmit_all`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from consensus.codec import tx_size, txid
from consensus.credit import CreditAccount, CreditView, validate_transfer
from consensus.errors import ValidationError
from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import CreditTransfer, Lock, TxId


class CreditPoolError(ValidationError):
    """A transfer the pool refuses though it may be valid on chain: a duplicate, no room."""


@dataclass(frozen=True, slots=True)
class CreditEntry:
    tx: CreditTransfer
    txid: TxId
    size: int
    total: int  # what it debits its sender
    order: int  # admission number, shared with the coin pool's so blocks can interleave
    fee: int = 0  # credit pays none; here so a mempool entry of either kind reads alike


class _QueuedView:
    """The chain's accounts, with each sender's pooled transfers already applied to it."""

    def __init__(self, pool: CreditPool, chain: CreditView) -> None:
        self._pool = pool
        self._chain = chain

    def get_credit_account(self, lock: Lock) -> CreditAccount | None:
        found = self._chain.get_credit_account(lock)
        queue = self._pool._by_sender.get(lock)
        if not queue:
            return found
        base = found or CreditAccount()
        return replace(base, balance=base.balance - sum(e.total for e in queue),
                       sequence=base.sequence + len(queue))


class CreditPool:
    def __init__(self, chain_id: str, sig_cache: SignatureCache, max_items: int = 20_000,
                 max_bytes: int = 16 * 1024 * 1024) -> None:
        self.chain_id = chain_id
        self.sig_cache = sig_cache
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._entries: dict[TxId, CreditEntry] = {}  # admission order
        self._by_sender: dict[Lock, list[CreditEntry]] = {}  # sequence order
        self._bytes = 0
        self.block_cap = ChainParams().credit_block_cap  # as of the last admission

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, txid: object) -> bool:
        return txid in self._entries

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, txid: TxId) -> CreditEntry | None:
        return self._entries.get(txid)

    def entries(self) -> list[CreditEntry]:
        return list(self._entries.values())

    def pending(self, sender: Lock) -> tuple[int, int]:
        """(how many of `sender`'s transfers wait here, what they debit in all)."""
        queue = self._by_sender.get(sender, ())
        return len(queue), sum(e.total for e in queue)

    def add(self, t: CreditTransfer, chain: CreditView, params: ChainParams,
            order: int) -> CreditEntry:
        """Admit a transfer or raise the ValidationError that refuses it (the pool unchanged).
        `order` is its admission number among all pooled txs."""
        self.block_cap = params.credit_block_cap
        tid = txid(t)
        if tid in self._entries:
            raise CreditPoolError("already_in_mempool", f"tx {tid.hex()} is already pooled")
        queue = self._by_sender.get(t.sender, [])
        if len(queue) >= params.credit_pool_cap:
            raise CreditPoolError("credit_pool_cap",
                                  f"the sender has {len(queue)} transfers waiting; "
                                  f"credit_pool_cap is {params.credit_pool_cap}")
        if len(self._entries) >= self.max_items or \
                self._bytes + tx_size(t) > self.max_bytes:
            raise CreditPoolError("mempool_full", "the credit pool is full")
        valid = validate_transfer(t, _QueuedView(self, chain), params, chain_id=self.chain_id,
                                  sig_cache=self.sig_cache)
        entry = CreditEntry(t, valid.txid, valid.size, valid.total, order)
        self._entries[valid.txid] = entry
        self._by_sender.setdefault(t.sender, []).append(entry)
        self._bytes += valid.size
        return entry

    def select(self, max_items: int, max_bytes: int) -> list[CreditEntry]:
        """Transfers for a block, in admission order: per sender a prefix of its run, at most
        `credit_block_cap` of them (so any selection is valid together)."""
        chosen: list[CreditEntry] = []
        taken: dict[Lock, int] = {}
        stopped: set[Lock] = set()
        used = 0
        for entry in self._entries.values():
            if len(chosen) >= max_items:
                break
            sender = entry.tx.sender
            if sender in stopped:
                continue
            if taken.get(sender, 0) >= self.block_cap or used + entry.size > max_bytes:
                stopped.add(sender)  # the rest of its run must wait: sequences are consecutive
                continue
            chosen.append(entry)
            taken[sender] = taken.get(sender, 0) + 1
            used += entry.size
        return chosen

    def remove_committed(self, committed: Iterable[CreditTransfer], ids: Iterable[TxId]
                         ) -> int:
        """Drop a block's transfers (`ids` are theirs), and each sender's pooled transfers
        that no longer follow on from the block's. Returns how many left the pool."""
        removed = 0
        last: dict[Lock, tuple[int, bool]] = {}  # sender -> (last sequence used, all ours)
        for t, tid in zip(committed, ids, strict=True):
            ours = tid in self._entries
            if ours:
                self._drop(tid)
                removed += 1
            was = last.get(t.sender, (0, True))
            last[t.sender] = (t.sequence, was[1] and ours)
        for sender, (sequence, all_ours) in last.items():
            queue = self._by_sender.get(sender, [])
            stale = [e for e in queue if e.tx.sequence <= sequence or not all_ours]
            if queue and not stale and queue[0].tx.sequence != sequence + 1:
                stale = list(queue)  # a gap: a transfer this pool never saw came in between
            for e in stale:
                self._drop(e.txid)
            removed += len(stale)
        return removed

    def _drop(self, tid: TxId) -> None:
        entry = self._entries.pop(tid)
        self._bytes -= entry.size
        queue = self._by_sender[entry.tx.sender]
        queue.remove(entry)
        if not queue:
            del self._by_sender[entry.tx.sender]

    def readmit_all(self, chain: CreditView, params: ChainParams) -> int:
        """Admit every pooled transfer again, in admission order, against `chain` and
        `params`; how many were dropped."""
        entries = self.entries()
        self._entries, self._by_sender, self._bytes = {}, {}, 0
        for entry in entries:
            with contextlib.suppress(ValidationError):
                self.add(entry.tx, chain, params, entry.order)
        return len(entries) - len(self)
