"""The chain store's logic, written once over a small key-value interface.

`LevelDBStore` runs it over plyvel and `MemoryStore` over a sorted dict, so both behave the same
by construction: same keys, same checks, same errors. A backend only has to get a key, iterate
a key range in order, and write a set of changes atomically.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence

from consensus import codec
from consensus.credit import EMPTY_CREDIT_DIFF, NEW_ACCOUNT, CreditAccount, CreditDiff
from consensus.crypto import sha256
from consensus.errors import DecodeError
from consensus.ledger import UtxoDiff, genesis_diff, treasury_outpoint
from consensus.merkle import merkle_root
from consensus.types import (
    Block,
    BlockHash,
    BlockHeader,
    BlockTx,
    Genesis,
    Lock,
    OutPoint,
    TxId,
    TxOut,
)
from faircoop_node.storage import schema
from faircoop_node.storage.credit_index import (
    index_credit,
    read_credit_account,
    read_credit_totals,
)
from faircoop_node.storage.errors import (
    CorruptStore,
    IncompleteReindex,
    InvalidCommit,
    OutOfOrderBlock,
    RecordMismatch,
    StoreMissing,
    UnsupportedSchema,
    WrongGenesis,
)
from faircoop_node.storage.funding import FundingReads
from faircoop_node.storage.indexes import Writes, index_block, tx_spans
from faircoop_node.storage.keyvalue import KeyValue
from faircoop_node.storage.protocol import (
    ActionLocation,
    AddressSummary,
    AddressUtxo,
    CommittedTx,
    CreditLine,
    CreditSummary,
    CreditTotals,
    EvidenceRecord,
    GovernanceEntry,
    HistoryEntry,
    Tip,
    TxLocation,
)
from faircoop_node.storage.reindex import rebuild

log = logging.getLogger(__name__)

_MAX_UTXO_READS = 200_000  # bounds the read memo between two commits
RECENT_UTXOS = 200_000  # UTXO records of recent commits kept for reads (~100 bytes each)


def _check_spans(encoded: bytes, txs: Sequence[BlockTx],
                 spans: Sequence[tuple[int, int]]) -> None:
    """The first and last tx sit where `tx_spans` says (if the codec's block layout ever changed,
    the offsets would be wrong for all: refuse the commit rather than index the wrong bytes)."""
    for tx, (offset, size) in ((txs[0], spans[0]), (txs[-1], spans[-1])) if txs else ():
        if encoded[offset:offset + size] != codec.encode_tx(tx):
            raise InvalidCommit("the block's encoding does not hold its txs where the tx index"
                                " would say (codec layout changed?)")


def _decode_validator_set(encoded: bytes) -> object:
    return codec.decode_canonical(
        encoded,
        "validator set",
        lambda obj: tuple(
            codec.validator_from(v, f"validator set[{i}]")
            for i, v in enumerate(codec.expect_list(obj, "validator set"))
        ),
    )


class BaseStore(FundingReads):
    """A `ChainStore` over any `KeyValue` backend.

    Opening checks the store before anything trusts it: schema version, genesis (another
    network's data is refused), an unfinished reindex, and a tip whose block, height index,
    certificate and chain state all exist and agree. New stores get genesis in one batch.
    """

    def __init__(
        self,
        kv: KeyValue,
        genesis: Genesis | None,
        *,
        create: bool,
        where: str,
        genesis_chain_state: bytes = b"",
    ) -> None:
        self._kv = kv
        self._where = where
        self._write_lock = threading.Lock()
        # UTXO records read since the last commit, so commit_block need not read the outputs a
        # block spends a second time (apply_block just read them). Sound because a UTXO record
        # never changes while it exists and only commits delete one: the dict is replaced
        # *after* each commit's write, so a read racing a commit lands in the discarded dict.
        self._utxo_reads: dict[bytes, bytes] = {}
        # The UTXO records the last commits created, newest last (see get_utxo).
        self._recent_utxos: OrderedDict[bytes, bytes] = OrderedDict()
        raw = kv.get(schema.META_SCHEMA)
        if raw is None:
            if not kv.is_empty():
                raise CorruptStore(
                    f"{where} has records but no faircoop schema record: it is not a faircoop"
                    " chain store (or another program wrote to it)",
                    schema.META_SCHEMA,
                )
            if genesis is None or not create:
                raise StoreMissing(f"no chain store at {where} (it is empty)")
            self._initialize(genesis, genesis_chain_state)
        version = schema.SCHEMA_VERSION if raw is None else schema.decode_schema(raw)
        if version != schema.SCHEMA_VERSION and version not in schema.UPGRADABLE_FROM:
            raise UnsupportedSchema(
                f"{where} uses storage schema {version}; this node reads schema"
                f" {schema.SCHEMA_VERSION}"
            )
        self._genesis, self._genesis_hash = self._check_genesis(genesis)
        upgrade = version != schema.SCHEMA_VERSION
        if kv.get(schema.META_REINDEX) is not None and not upgrade:
            raise IncompleteReindex(
                f"a reindex of {where} was interrupted: the UTXO set and indexes are partial;"
                " run reindex again",
                schema.META_REINDEX,
            )
        self._tip = self._check_tip()
        if upgrade:
            self._upgrade(version)

    # -- opening ---------------------------------------------------------------------------

    def _initialize(self, genesis: Genesis, chain_state: bytes) -> None:
        gid = codec.genesis_hash(genesis)
        writes: dict[bytes, bytes | None] = {
            schema.META_SCHEMA: schema.encode_schema(),
            schema.META_GENESIS_HASH: gid,
            schema.META_GENESIS: codec.encode_genesis(genesis),
            schema.META_TIP: schema.encode_tip(0, gid),
            schema.META_CHAIN_STATE: chain_state,
            schema.height_key(0): gid,
        }
        vset = codec.pack(codec.validators_obj(genesis.validators))
        writes[schema.validator_set_key(sha256(vset))] = vset
        index_block(
            self._kv.get, writes, height=0, block_id=gid, txs=(), txids=(),
            diff=genesis_diff(genesis, gid),
        )
        self._kv.write(writes, sync=True)

    def _upgrade(self, version: int) -> None:
        """Bring a store of an older schema up to date: every change so far is to the derived
        keyspaces, so a reindex rebuilds them in today's layout. Interrupted, it starts over on
        the next open (the schema record still names the old version)."""
        log.warning("upgrading the chain store at %s from schema %d to %d: rebuilding the"
                    " UTXO set and indexes from %d blocks", self._where, version,
                    schema.SCHEMA_VERSION, self._tip.height)
        self.reindex()
        self._kv.write({schema.META_SCHEMA: schema.encode_schema()}, sync=True)

    def _check_genesis(self, expected: Genesis | None) -> tuple[Genesis, BlockHash]:
        key = schema.META_GENESIS_HASH
        raw_hash = self._kv.get(key)
        raw = self._kv.get(schema.META_GENESIS)
        if raw_hash is None or raw is None:
            raise CorruptStore(f"{self._where} has no genesis record", key)
        stored_hash = BlockHash(schema.decode_hash(raw_hash, key, "genesis hash"))
        try:
            stored = codec.decode_genesis(raw)
        except DecodeError as exc:
            raise CorruptStore(
                f"the genesis record in {self._where} is garbled: {exc}", schema.META_GENESIS
            ) from None
        if codec.genesis_hash(stored) != stored_hash:
            raise CorruptStore(
                f"the genesis record in {self._where} does not match its stored hash",
                schema.META_GENESIS,
            )
        if expected is not None:
            want = codec.genesis_hash(expected)
            if want != stored_hash:
                raise WrongGenesis(
                    f"{self._where} holds another network's chain: chain {stored.chain_id!r}"
                    f" with genesis {stored_hash.hex()}, but this node runs chain"
                    f" {expected.chain_id!r} with genesis {want.hex()}; use another data"
                    " directory",
                    stored_hash,
                    want,
                )
        return stored, stored_hash

    def _check_tip(self) -> Tip:
        raw = self._kv.get(schema.META_TIP)
        if raw is None:
            raise CorruptStore(f"{self._where} has no tip record", schema.META_TIP)
        height, tip_hash = schema.decode_tip(raw)
        hkey = schema.height_key(height)
        indexed = self._kv.get(hkey)
        if indexed != tip_hash:
            raise CorruptStore(
                f"the tip record says height {height} is {tip_hash.hex()}, but the height index"
                f" says {indexed.hex() if indexed else 'nothing'}: the tip record is garbled",
                schema.META_TIP,
            )
        if self._kv.get(schema.height_key(height + 1)) is not None:
            raise CorruptStore(
                f"a block is indexed at height {height + 1}, above the tip {height}",
                schema.height_key(height + 1),
            )
        if self._kv.get(schema.META_CHAIN_STATE) is None:
            raise CorruptStore(f"{self._where} has no chain state record",
                               schema.META_CHAIN_STATE)
        if height == 0:
            if tip_hash != self._genesis_hash:
                raise CorruptStore("the tip is at height 0 but is not the genesis hash",
                                   schema.META_TIP)
            return Tip(0, tip_hash)
        block = self._read_block(tip_hash)
        if block is None:
            raise CorruptStore(f"the tip block {tip_hash.hex()} is missing",
                               schema.block_key(tip_hash))
        if block.header.height != height:
            raise CorruptStore(
                f"the tip block {tip_hash.hex()} is for height {block.header.height}, not"
                f" {height}",
                schema.block_key(tip_hash),
            )
        if block.header.tx_root != merkle_root([codec.txid(t) for t in block.txs]):
            raise CorruptStore(f"the tip block {tip_hash.hex()} has garbled transactions",
                               schema.block_key(tip_hash))
        if not self._kv.get(schema.certificate_key(height)):
            raise CorruptStore(f"the tip block at height {height} has no commit certificate",
                               schema.certificate_key(height))
        return Tip(height, tip_hash)

    # -- identity and tip ------------------------------------------------------------------

    @property
    def genesis(self) -> Genesis:
        return self._genesis

    @property
    def genesis_hash(self) -> BlockHash:
        return self._genesis_hash

    def tip(self) -> Tip:
        return self._tip

    @property
    def backend(self) -> KeyValue:
        """The raw key-value backend, for maintenance tools and tests; bypasses every check."""
        return self._kv

    # -- blocks ------------------------------------------------------------------------------

    def _read_block(self, block_id: bytes) -> Block | None:
        key = schema.block_key(block_id)
        raw = self.get_block_bytes(block_id)
        if raw is None:
            return None
        try:
            block = codec.decode_block(raw)
        except DecodeError as exc:
            raise CorruptStore(f"block {block_id.hex()} is garbled: {exc}", key) from None
        if codec.block_hash(block.header) != block_id:
            raise CorruptStore(f"block {block_id.hex()} does not hash to its key (garbled)", key)
        return block

    def get_block(self, block_id: bytes) -> Block | None:
        """The block with this hash; None for unknown hashes and for genesis (not a Block)."""
        return self._read_block(block_id)

    def get_block_bytes(self, block_id: bytes) -> bytes | None:
        """The block's canonical encoding (checksum verified); None if unknown."""
        key = schema.block_key(block_id)
        raw = self._kv.get(key)
        return None if raw is None else schema.decode_block_record(raw, key)

    def get_hash_at(self, height: int) -> BlockHash | None:
        if height < 0:
            return None
        key = schema.height_key(height)
        raw = self._kv.get(key)
        return None if raw is None else BlockHash(schema.decode_hash(raw, key, "height index"))

    def get_block_at(self, height: int) -> Block | None:
        if height <= 0:
            return None
        block_id = self.get_hash_at(height)
        return None if block_id is None else self._read_block(block_id)

    def get_header(self, block_id: bytes) -> BlockHeader | None:
        key = schema.header_key(block_id)
        raw = self._kv.get(key)
        if raw is None:
            return None
        try:
            header = codec.decode_header(raw)
        except DecodeError as exc:
            raise CorruptStore(f"header {block_id.hex()} is garbled: {exc}", key) from None
        if codec.block_hash(header) != block_id:
            raise CorruptStore(f"header {block_id.hex()} does not hash to its key", key)
        return header

    def get_certificate(self, height: int) -> bytes | None:
        if height < 0:
            return None
        return self._kv.get(schema.certificate_key(height))

    def get_chain_state(self) -> bytes:
        """The caller's opaque chain-state blob as of the tip (empty at genesis unless given)."""
        raw = self._kv.get(schema.META_CHAIN_STATE)
        if raw is None:
            raise CorruptStore("the chain state record is missing", schema.META_CHAIN_STATE)
        return raw

    # -- the UTXO set ------------------------------------------------------------------------

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        """An unspent output, from the recent-commit cache or the store.

        Most inputs spend outputs a recent block created (payments chain), so commits keep
        the UTXO records they create in a bounded cache and reads skip LevelDB for them. The
        cache never claims more than the store holds: a commit drops what it spends from the
        cache *before* its write and adds what it creates *after*, so a read racing a commit
        sees the store's state either side of the write, as without the cache.
        """
        key = schema.utxo_key(outpoint)
        reads = self._utxo_reads  # before the read: see __init__
        raw = self._recent_utxos.get(key)
        if raw is None:
            raw = self._kv.get(key)
            if raw is None:
                return None
        out = schema.decode_utxo(raw, key)[0]
        if len(reads) < _MAX_UTXO_READS:
            reads[key] = raw
        return out

    def _get_for_commit(self, key: bytes) -> bytes | None:
        raw = self._utxo_reads.get(key)
        return raw if raw is not None else self._kv.get(key)

    def iter_utxos(self) -> Iterator[tuple[OutPoint, TxOut, int]]:
        """Every unspent output with the height that created it, in key order (a full scan)."""
        for key, raw in self._kv.items(schema.UTXO):
            out, height = schema.decode_utxo(raw, key)
            yield schema.outpoint_from_utxo_key(key), out, height

    # -- committing ----------------------------------------------------------------------------

    def commit_block(
        self,
        block: Block,
        block_hash: BlockHash,
        diff: UtxoDiff,
        certificate: bytes,
        chain_state: bytes,
        *,
        txids: Sequence[TxId] | None = None,
        validator_sets: Mapping[bytes, bytes] | None = None,
        sync: bool = True,
        credit: CreditDiff = EMPTY_CREDIT_DIFF,
    ) -> None:
        """Write a final block and everything it changes in one atomic, synced batch.

        `diff` is what `ledger.apply_block` returned for this block against this store, and
        `credit` what `credit.apply_credit` did (both are in `chain.validate_block`'s answer).
        `txids` saves recomputing them when the caller has them. `validator_sets` (hash ->
        encoded set) are written in the same batch, e.g. a set this block's actions install.
        `sync=False` skips the fsync: the batch is still atomic and ordered, and the next synced
        write (or a clean close) makes it durable too, so a crash can only lose a suffix of such
        blocks and the store reopens on an earlier, consistent tip. Meant for a run of blocks
        fetched from peers (which can be fetched again) whose last block is written synced.
        Raises InvalidCommit (OutOfOrderBlock for the wrong height or parent) and writes
        nothing when the block does not extend the tip or the diff does not fit the store.
        """
        header = block.header
        if codec.block_hash(header) != block_hash:
            raise InvalidCommit(f"block_hash {block_hash.hex()} is not the hash of the header")
        if header.chain_id != self._genesis.chain_id:
            raise InvalidCommit(
                f"block is for chain {header.chain_id!r}, the store holds"
                f" {self._genesis.chain_id!r}"
            )
        if not certificate:
            raise InvalidCommit(f"block {header.height} has no commit certificate")
        if txids is None:
            txids = [codec.txid(t) for t in block.txs]
        with self._write_lock:
            tip = self._tip
            if header.height != tip.height + 1 or header.prev_hash != tip.block_hash:
                raise OutOfOrderBlock(
                    f"block {block_hash.hex()} at height {header.height} with parent"
                    f" {header.prev_hash.hex()} does not extend the tip (height {tip.height},"
                    f" {tip.block_hash.hex()})"
                )
            writes: dict[bytes, bytes | None] = {}
            block_bytes = codec.encode_block(block)
            spans = tx_spans(header, block.txs)
            _check_spans(block_bytes, block.txs, spans)
            index_block(
                self._get_for_commit, writes, height=header.height, block_id=block_hash,
                txs=block.txs, txids=txids, diff=diff, spans=spans, evidence=block.evidence,
                actions=block.actions, time_ms=header.time_ms,
            )
            index_credit(self._kv.get, writes, height=header.height, diff=credit)
            if diff.fees:  # apply_block appends the treasury output last
                fee_op = treasury_outpoint(block_hash)
                fee_out = next((out for op, out in reversed(diff.created) if op == fee_op), None)
                if fee_out is None:
                    raise InvalidCommit(f"the diff pays {diff.fees} in fees but has no treasury"
                                        " output")
                writes[schema.fee_key(header.height)] = schema.encode_fee(fee_out)
            for vhash, encoded in (validator_sets or {}).items():
                writes[schema.validator_set_key(vhash)] = self._checked_validator_set(
                    vhash, encoded
                )
            writes[schema.block_key(block_hash)] = schema.encode_block_record(block_bytes)
            writes[schema.header_key(block_hash)] = codec.encode_header(header)
            writes[schema.height_key(header.height)] = block_hash
            writes[schema.certificate_key(header.height)] = certificate
            writes[schema.META_CHAIN_STATE] = chain_state
            writes[schema.META_TIP] = schema.encode_tip(header.height, block_hash)
            recent = self._recent_utxos
            for op in diff.spent:
                recent.pop(schema.utxo_key(op), None)
            self._kv.write(writes, sync=sync)
            self._utxo_reads = {}
            self._tip = Tip(header.height, block_hash)
            for op, _ in diff.created:
                key = schema.utxo_key(op)
                record = writes.get(key)
                if record is not None:
                    recent[key] = record
            while len(recent) > RECENT_UTXOS:
                recent.popitem(last=False)

    def flush(self) -> None:
        """Make every commit so far durable (after `commit_block(..., sync=False)` calls).

        Rewrites the tip record, unchanged, with a synced write: LevelDB's log is sequential,
        so syncing it syncs every earlier write too.
        """
        with self._write_lock:
            tip = self._tip
            self._kv.write({schema.META_TIP: schema.encode_tip(tip.height, tip.block_hash)},
                           sync=True)

    # -- validator sets, evidence, last-signed state ----------------------------------------------

    @staticmethod
    def _checked_validator_set(vhash: bytes, encoded: bytes) -> bytes:
        if sha256(encoded) != vhash:
            raise RecordMismatch(f"validator set does not hash to {vhash.hex()}")
        _decode_validator_set(encoded)
        return encoded

    def put_validator_set(self, vhash: bytes, encoded: bytes) -> None:
        """File `pack(validators_obj(set))` under its hash (a header's validators_hash)."""
        self._kv.write(
            {schema.validator_set_key(vhash): self._checked_validator_set(vhash, encoded)},
            sync=True,
        )

    def get_validator_set(self, vhash: bytes) -> bytes | None:
        return self._kv.get(schema.validator_set_key(vhash))

    def get_evidence(self, evidence_hash: bytes) -> EvidenceRecord | None:
        """Committed evidence by the SHA-256 of its bytes: lets a proposer skip evidence twice."""
        key = schema.evidence_key(evidence_hash)
        raw = self._kv.get(key)
        if raw is None:
            return None
        height, evidence = schema.decode_evidence(raw, key)
        return EvidenceRecord(height, evidence)

    def put_last_signed(self, state: bytes) -> None:
        """The node's own record of what it last signed, synced before the vote leaves."""
        self._kv.write({schema.META_LAST_SIGNED: state}, sync=True)

    def get_last_signed(self) -> bytes | None:
        return self._kv.get(schema.META_LAST_SIGNED)

    # -- indexes -------------------------------------------------------------------------------

    def get_tx_location(self, txid: bytes) -> TxLocation | None:
        key = schema.tx_key(txid)
        raw = self._kv.get(key)
        if raw is None:
            return None
        return TxLocation(*schema.decode_tx_location(raw, key))

    def get_committed_tx(self, txid: bytes) -> CommittedTx | None:
        """A committed tx, where it sits and its fee: three key reads, one tx decoded.

        The tx's bytes are sliced out of its block's record at the span its index record
        gives; the record's checksum covers the witnesses, and the txid must match the key.
        """
        key = schema.tx_key(txid)
        raw = self._kv.get(key)
        if raw is None:
            return None
        height, position, offset, size, fee = schema.decode_tx_record(raw, key)
        block_id = self.get_hash_at(height)
        record = None if block_id is None else self._kv.get(schema.block_key(block_id))
        if block_id is None or record is None:
            raise CorruptStore(f"the tx index puts {txid.hex()} at height {height}, where no"
                               " block is stored", key)
        encoded = schema.slice_block_record(record, schema.block_key(block_id), offset, size)
        try:
            tx = codec.decode_block_tx(encoded)
        except DecodeError as exc:
            raise CorruptStore(f"the tx index points {txid.hex()} at bytes that are not a tx:"
                               f" {exc}", key) from None
        if codec.txid(tx) != txid:
            raise CorruptStore(f"the tx index points {txid.hex()} at another tx", key)
        return CommittedTx(tx, TxLocation(height, position), fee)

    def get_tx(self, txid: bytes) -> tuple[BlockTx, TxLocation] | None:
        """A committed tx and where it sits (see `get_committed_tx`)."""
        found = self.get_committed_tx(txid)
        return None if found is None else (found.tx, found.location)

    def get_address_summary(self, lock: bytes) -> AddressSummary:
        key = schema.addr_summary_key(lock)
        raw = self._kv.get(key)
        balance, utxos, txs = (0, 0, 0) if raw is None else schema.decode_summary(raw, key)
        return AddressSummary(Lock(lock), balance, utxos, txs)

    def get_address_utxos(self, lock: bytes, limit: int | None = None) -> tuple[AddressUtxo, ...]:
        """The lock's unspent outputs, ordered by outpoint; one key-range read."""
        found: list[AddressUtxo] = []
        for key, raw in self._kv.items(schema.addr_utxo_prefix(lock)):
            if limit is not None and len(found) >= limit:
                break
            amount, height = schema.decode_addr_utxo(raw, key)
            found.append(AddressUtxo(schema.outpoint_from_addr_utxo_key(key), amount, height))
        return tuple(found)

    def get_address_history(
        self, lock: bytes, limit: int | None = None, before: TxLocation | None = None
    ) -> tuple[HistoryEntry, ...]:
        """Txs touching the lock, newest first; `before` pages on from an earlier answer."""
        prefix = schema.addr_history_prefix(lock)
        stop = None if before is None else schema.addr_history_key(lock, *before)
        found: list[HistoryEntry] = []
        for key, raw in self._kv.items(prefix, stop=stop, reverse=True):
            if limit is not None and len(found) >= limit:
                break
            height, position = schema.history_from_key(key)
            found.append(HistoryEntry(TxId(schema.decode_hash(raw, key, "history")),
                                      height, position))
        return tuple(found)

    def get_governance_history(
        self, limit: int | None = None, before: ActionLocation | None = None,
        max_bytes: int | None = None,
    ) -> tuple[GovernanceEntry, ...]:
        """The actions and recoveries blocks carried, newest first (by height, then position);
        `before` pages on from an earlier answer. One key range read backwards: no block is
        read. The answer stops at `limit` entries, or after the entry that brings the action
        bytes to `max_bytes` (so a page always has one entry, if any is left)."""
        stop = None if before is None else schema.governance_key(*before)
        found: list[GovernanceEntry] = []
        size = 0
        for key, raw in self._kv.items(schema.GOVERNANCE, stop=stop, reverse=True):
            if (limit is not None and len(found) >= limit) or \
                    (max_bytes is not None and size >= max_bytes):
                break
            action = schema.decode_governance(raw, key)
            found.append(GovernanceEntry(*schema.governance_from_key(key), action))
            size += len(action)
        return tuple(found)

    # -- credit ----------------------------------------------------------------------------------

    def get_credit_account(self, lock: Lock) -> CreditAccount | None:
        """The lock's credit account as of the tip (a `consensus.credit.CreditView`); None if
        mutual credit never touched it (balance, limit and sequence 0)."""
        found = read_credit_account(self._kv.get, lock)
        return None if found is None else found[0]

    def get_credit_summary(self, lock: bytes) -> CreditSummary:
        """The lock's account and how many history lines it has, from one record."""
        found = read_credit_account(self._kv.get, lock)
        account, lines = found if found is not None else (NEW_ACCOUNT, 0)
        return CreditSummary(Lock(lock), account, lines)

    def get_credit_history(
        self, lock: bytes, limit: int | None = None, before: TxLocation | None = None
    ) -> tuple[CreditLine, ...]:
        """The account's history lines newest first (transfers sent and received, limit
        changes), each with the balance after it; `before` pages on. One key range read."""
        stop = None if before is None else schema.credit_history_key(lock, *before)
        lines: list[CreditLine] = []
        for key, raw in self._kv.items(schema.credit_history_prefix(lock), stop=stop,
                                       reverse=True):
            if limit is not None and len(lines) >= limit:
                break
            height, position = schema.credit_line_from_key(key)
            kind, amount, balance, ref, counterparty, memo = schema.decode_credit_line(raw, key)
            lines.append(CreditLine(height, position, kind, amount, balance, ref,
                                    Lock(counterparty), memo))
        return tuple(lines)

    def get_credit_totals(self) -> CreditTotals:
        """The whole credit system, from one record."""
        return CreditTotals(*read_credit_totals(self._kv.get))

    # -- maintenance -----------------------------------------------------------------------------

    def reindex(self) -> None:
        """Rebuild the UTXO set, tx, address, evidence and governance indexes from the blocks."""
        with self._write_lock:
            self._utxo_reads = {}
            self._recent_utxos.clear()
            try:
                rebuild(self._kv, self._genesis, self._genesis_hash, self._tip.height)
            finally:
                self._utxo_reads = {}

    def close(self) -> None:
        self._kv.close()

    def reopen(self) -> Tip:
        """Open the store again on what is on disk, after a write failed (StoreWriteFailed):
        the failed write may have landed or not, so the tip is read again and checked as on
        any open. The tip; StorageError if the store can't be reopened yet (the disk is
        still full, say), in which case the old handle keeps serving reads."""
        with self._write_lock:
            self._kv.reopen()
            self._utxo_reads = {}
            self._recent_utxos.clear()
            self._tip = self._check_tip()
            return self._tip

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["BaseStore", "KeyValue", "Writes"]
