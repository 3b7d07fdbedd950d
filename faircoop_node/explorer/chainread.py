"""What the explorer reads from the store beyond what the API serves: recent blocks with their
certificates' signers by coop name, participation over a window of blocks, and the outputs a
tx spent.

Everything here runs in the API's read pool (it reads many keys) and reads only through the
`ChainReader` protocol the API uses. Headers and certificates are read, never whole blocks,
except for a block's own page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from consensus.codec import decode_canonical, hash_items
from consensus.errors import DecodeError
from consensus.types import (
    BlockHash,
    BlockHeader,
    OutPoint,
    PublicKey,
    Tx,
    TxOut,
    Validator,
)
from consensus.votes import CommitCertificate, decode_certificate
from faircoop_node.api.chain import validator_set_from
from faircoop_node.storage.protocol import ChainReader

EMPTY_LIST_HASH = hash_items(())  # a header's evidence or actions hash when it carries none
SET_CACHE = 64  # decoded validator sets kept (a set changes only by governance or evidence)
K = TypeVar("K")
V = TypeVar("V")
ROW_CACHE = 2048  # block rows kept (~1 KiB each): the overview's and validators' windows


@dataclass(frozen=True, slots=True)
class Signers:
    """Who signed a block's certificate, by coop name, and who of its voting set did not."""

    round: int
    signed: tuple[Validator, ...]
    missing: tuple[Validator, ...]

    @property
    def set_size(self) -> int:
        return len(self.signed) + len(self.missing)


@dataclass(frozen=True, slots=True)
class BlockRow:
    """One committed block as lists show it."""

    height: int
    hash: BlockHash
    time_ms: int
    proposer: str  # the coop's name (its key, shortened, if the set does not name it)
    signers: Signers | None  # None at the genesis, or while the certificate is being written
    header: BlockHeader | None  # None for the genesis

    @property
    def has_actions(self) -> bool:
        return self.header is not None and self.header.actions_hash != EMPTY_LIST_HASH

    @property
    def has_evidence(self) -> bool:
        return self.header is not None and self.header.evidence_hash != EMPTY_LIST_HASH


class Lru(Generic[K, V]):
    """A small least-recently-used map, shared by the read pool's threads."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


class ChainCache:
    """What never changes once committed, decoded once: validator sets by hash, and block rows
    by height (a final block is final: no reorganisation can change a row)."""

    def __init__(self, sets: int = SET_CACHE, rows: int = ROW_CACHE) -> None:
        self._sets: Lru[bytes, tuple[Validator, ...]] = Lru(sets)
        self.rows: Lru[int, BlockRow] = Lru(rows)

    def members(self, store: ChainReader, vhash: bytes) -> tuple[Validator, ...]:
        found = self._sets.get(vhash)
        if found is not None:
            return found
        encoded = store.get_validator_set(vhash)
        if encoded is None:
            return ()
        members = decode_canonical(encoded, "validator set", validator_set_from)
        self._sets.put(vhash, members)
        return members


def name_of(members: tuple[Validator, ...], pubkey: bytes) -> str:
    for v in members:
        if v.pubkey == pubkey:
            return v.name
    return pubkey.hex()[:16] + "…"


def signers_of(members: tuple[Validator, ...], certificate: bytes | None) -> Signers | None:
    if certificate is None:
        return None
    try:
        cert: CommitCertificate = decode_certificate(certificate)
    except DecodeError:
        return None
    indexes = {i for i, _ in cert.signatures}
    return Signers(cert.round, tuple(v for i, v in enumerate(members) if i in indexes),
                   tuple(v for i, v in enumerate(members) if i not in indexes))


def block_row(store: ChainReader, cache: ChainCache, height: int) -> BlockRow | None:
    """The block at `height` (header and certificate reads only), or None past the tip."""
    row = cache.rows.get(height)
    if row is not None:
        return row
    if height == 0:
        return BlockRow(0, store.genesis_hash, store.genesis.time_ms, "genesis", None, None)
    block_id = store.get_hash_at(height)
    header = store.get_header(block_id) if block_id is not None else None
    if block_id is None or header is None:
        return None
    members = cache.members(store, header.validators_hash)
    row = BlockRow(height, block_id, header.time_ms, name_of(members, header.proposer),
                   signers_of(members, store.get_certificate(height)), header)
    if row.signers is not None:  # else its certificate is still being written: read it again
        cache.rows.put(height, row)
    return row


def recent_blocks(store: ChainReader, cache: ChainCache, below: int, count: int
                  ) -> list[BlockRow]:
    """Up to `count` blocks at heights below `below`, newest first."""
    rows: list[BlockRow] = []
    for height in range(below - 1, max(-1, below - 1 - count), -1):
        row = block_row(store, cache, height)
        if row is not None:
            rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class Participation:
    """One validator over a window of blocks: which it signed and how many it proposed."""

    pubkey: PublicKey
    name: str
    signed: tuple[bool | None, ...]  # per block of the window, oldest first; None: not in its set
    proposed: int
    last_signed: int | None  # the latest height of the window it signed

    @property
    def in_set(self) -> int:
        return sum(mark is not None for mark in self.signed)

    @property
    def signed_count(self) -> int:
        return sum(mark is True for mark in self.signed)

    @property
    def share(self) -> float | None:
        """Signed / blocks it could sign in the window; None if it was in no set."""
        return self.signed_count / self.in_set if self.in_set else None

    def buckets(self, count: int) -> list[float | None]:
        """The window cut into at most `count` runs of blocks: the share signed in each
        (None where it was in no set), for a chart."""
        size = max(1, -(-len(self.signed) // count))
        out: list[float | None] = []
        for start in range(0, len(self.signed), size):
            marks = [m for m in self.signed[start:start + size] if m is not None]
            out.append(sum(marks) / len(marks) if marks else None)
        return out


@dataclass(frozen=True, slots=True)
class Window:
    first: int
    last: int
    validators: tuple[Participation, ...]  # everyone who was in a voting set of the window

    @property
    def size(self) -> int:
        return self.last - self.first + 1 if self.last >= self.first else 0

    def of(self, pubkey: bytes) -> Participation | None:
        for p in self.validators:
            if p.pubkey == pubkey:
                return p
        return None


def participation_window(store: ChainReader, cache: ChainCache, tip: int, blocks: int
                         ) -> Window:
    """Who signed and proposed each of the last `blocks` blocks up to `tip` (2 reads a block)."""
    first = max(1, tip - blocks + 1)
    rows = [block_row(store, cache, h) for h in range(first, tip + 1)]
    names: dict[bytes, str] = {}
    marks: dict[bytes, list[bool | None]] = {}
    proposed: dict[bytes, int] = {}
    last: dict[bytes, int] = {}
    for n, row in enumerate(rows):
        if row is None or row.header is None:
            continue
        proposed[row.header.proposer] = proposed.get(row.header.proposer, 0) + 1
        signer_keys = {v.pubkey for v in row.signers.signed} if row.signers else set()
        for v in cache.members(store, row.header.validators_hash):
            names.setdefault(v.pubkey, v.name)
            signed = v.pubkey in signer_keys
            marks.setdefault(v.pubkey, [None] * len(rows))[n] = signed
            if signed:
                last[v.pubkey] = row.height
    records = tuple(
        Participation(PublicKey(pk), names[pk], tuple(m), proposed.get(pk, 0), last.get(pk))
        for pk, m in sorted(marks.items(), key=lambda item: names[item[0]]))
    return Window(first, tip, records)


def spent_output(store: ChainReader, outpoint: OutPoint) -> TxOut | None:
    """The output an input spent: a genesis allocation or a committed tx's output; None for a
    block's fee output (its amount is the block's fees: not worth a page's reads)."""
    if bytes(outpoint.txid) == store.genesis_hash:
        allocations = store.genesis.allocations
        return allocations[outpoint.index] if outpoint.index < len(allocations) else None
    committed = store.get_committed_tx(outpoint.txid)
    if committed is None or not isinstance(committed.tx, Tx) \
            or outpoint.index >= len(committed.tx.outputs):
        return None  # a credit transfer has no outputs to spend
    return committed.tx.outputs[outpoint.index]
