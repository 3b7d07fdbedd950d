"""The `ChainStore` protocol the node, the API and the simulator are written against.

Two stores provide it with identical behaviour: `LevelDBStore` (plyvel, the node's) and
`MemoryStore` (a dict, for tests and the simulator). The methods are synchronous and short; the
node calls them through `asyncio.to_thread` where a call could block the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from consensus.campaign import Campaign
from consensus.credit import EMPTY_CREDIT_DIFF, CreditAccount, CreditDiff
from consensus.ledger import UtxoDiff
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


class Tip(NamedTuple):
    """The last committed block: (height, block hash). Height 0 is genesis."""

    height: int
    block_hash: BlockHash


class TxLocation(NamedTuple):
    """Where a committed tx sits: block height and position in the block's tx list."""

    height: int
    position: int


@dataclass(frozen=True, slots=True)
class CommittedTx:
    """A committed tx (or credit transfer), where it sits and the fee it paid, read from its
    tx index record."""

    tx: BlockTx
    location: TxLocation
    fee: int  # inputs minus outputs, base units (spent outputs are gone); 0 for credit


@dataclass(frozen=True, slots=True)
class AddressSummary:
    """What the address index knows about one lock, read from one record (no scan)."""

    lock: Lock
    balance: int  # sum of the lock's unspent outputs, base units
    utxo_count: int
    tx_count: int  # history entries: txs (and genesis / fee pseudo-txs) touching the lock


@dataclass(frozen=True, slots=True)
class AddressUtxo:
    outpoint: OutPoint
    amount: int
    height: int  # the height of the block that created it (0 for genesis allocations)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A tx that paid to or spent from a lock.

    For the genesis allocations and a block's treasury fee output the "txid" is the block hash
    (the genesis hash at height 0) and the position is the block's tx count.
    """

    txid: TxId
    height: int
    position: int


class ActionLocation(NamedTuple):
    """Where a block carried a governance action: its height and position among its actions."""

    height: int
    position: int


@dataclass(frozen=True, slots=True)
class GovernanceEntry:
    """A governance action or recovery a committed block carried, as the block encodes it.

    The store does not interpret the bytes (`consensus.governance.decode_block_action` does);
    a recovery, when a block carries one, is at position 0.
    """

    height: int
    position: int  # among the block's actions
    action: bytes


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """Evidence bytes (e.g. an encoded DuplicateVoteEvidence) and the height that committed it."""

    height: int
    evidence: bytes


@dataclass(frozen=True, slots=True)
class Pledge:
    """An unspent pledge, as a refund lock's index lists it."""

    outpoint: OutPoint
    campaign: bytes
    amount: int
    height: int  # the block that made it


@dataclass(frozen=True, slots=True)
class Pledger:
    """What one refund lock pledged to one campaign, over all its pledges."""

    refund: Lock
    amount: int
    pledges: int


@dataclass(frozen=True, slots=True)
class TreasuryDay:
    day: int  # UTC days since the Unix epoch (block time // 86,400,000)
    fees: int  # what the blocks of that day paid the treasury
    blocks: int  # how many blocks paid any fee


@dataclass(frozen=True, slots=True)
class CreditSummary:
    """A lock's credit account and the number of its history lines, from one record."""

    lock: Lock
    account: CreditAccount  # balance 0, limit 0, sequence 0 if credit never touched it
    lines: int


@dataclass(frozen=True, slots=True)
class CreditLine:
    """What one credit transfer or limit change did to an account (consensus.credit.CreditMove
    as stored): the kind is SENT, RECEIVED or LIMIT."""

    height: int
    position: int  # the transfer's in its block; past the block's txs for a limit change
    kind: int
    amount: int  # sent (the transfer's total), received, or the new limit
    balance: int  # the account's balance after it
    ref: bytes  # the transfer's id, or SHA-256 of the governance action
    counterparty: Lock  # the payer (received), the first payee (sent), zeros (limit)
    memo: bytes


@dataclass(frozen=True, slots=True)
class CreditTotals:
    """The whole credit system: every account record summed (kept by deltas at each commit)."""

    accounts: int  # locks credit has touched
    credit_lines: int  # accounts with a limit > 0
    outstanding: int  # the sum of negative balances (as a positive amount): credit in use
    granted: int  # the sum of all limits
    positive: int  # the sum of positive balances: always equals `outstanding`


class ChainReader(Protocol):
    """The reads the HTTP API makes: a subset of `ChainStore`, so a test can serve the API from
    a small fake without writing the commit path.

    Reads of one record are cheap; `get_block`, `get_block_bytes` and the address ranges can
    touch megabytes or thousands of keys, so the API makes those in a worker thread.
    """

    @property
    def genesis(self) -> Genesis: ...

    @property
    def genesis_hash(self) -> BlockHash: ...

    def tip(self) -> Tip: ...

    # blocks and certificates
    def get_block(self, block_id: bytes) -> Block | None: ...
    def get_block_bytes(self, block_id: bytes) -> bytes | None: ...
    def get_header(self, block_id: bytes) -> BlockHeader | None: ...
    def get_hash_at(self, height: int) -> BlockHash | None: ...
    def get_certificate(self, height: int) -> bytes | None: ...

    # the UTXO set (a ledger.UtxoView), validator sets
    def get_utxo(self, outpoint: OutPoint) -> TxOut | None: ...
    def get_validator_set(self, vhash: bytes) -> bytes | None: ...

    # indexes
    def get_tx_location(self, txid: bytes) -> TxLocation | None: ...
    def get_committed_tx(self, txid: bytes) -> CommittedTx | None: ...
    def get_address_summary(self, lock: bytes) -> AddressSummary: ...
    def get_address_utxos(
        self, lock: bytes, limit: int | None = None
    ) -> tuple[AddressUtxo, ...]: ...
    def get_address_history(
        self, lock: bytes, limit: int | None = None, before: TxLocation | None = None
    ) -> tuple[HistoryEntry, ...]: ...
    def get_governance_history(
        self, limit: int | None = None, before: ActionLocation | None = None,
        max_bytes: int | None = None,
    ) -> tuple[GovernanceEntry, ...]: ...

    # campaigns, pledges and the treasury (storage/funding.py)
    def get_campaign(self, campaign_id: bytes) -> Campaign | None: ...
    def campaign_height(self) -> int: ...
    def get_campaigns(
        self, limit: int, before: tuple[int, bytes] | None = None
    ) -> tuple[Campaign, ...]: ...
    def get_campaigns_of(
        self, beneficiary: bytes, limit: int, before: tuple[int, bytes] | None = None
    ) -> tuple[Campaign, ...]: ...
    def get_pledges(self, refund: bytes, limit: int) -> tuple[Pledge, ...]: ...
    def get_pledgers(self, campaign_id: bytes, limit: int) -> tuple[Pledger, ...]: ...
    def count_pledgers(self, campaign_id: bytes) -> int: ...
    def get_treasury_days(self, limit: int) -> tuple[TreasuryDay, ...]: ...

    # mutual credit
    def get_credit_account(self, lock: Lock) -> CreditAccount | None: ...
    def get_credit_summary(self, lock: bytes) -> CreditSummary: ...
    def get_credit_history(
        self, lock: bytes, limit: int | None = None, before: TxLocation | None = None
    ) -> tuple[CreditLine, ...]: ...
    def get_credit_totals(self) -> CreditTotals: ...


class ChainStore(ChainReader, Protocol):
    """Persistent chain state: blocks, certificates, the UTXO set and the indexes.

    `commit_block` is the only way the chain grows, and it writes everything for one block in
    one atomic batch. Every read is answered from one record or one key range. The reads the
    API makes are inherited from `ChainReader`; the rest are here.
    """

    # blocks
    def get_block_at(self, height: int) -> Block | None: ...

    # the UTXO set
    def iter_utxos(self) -> Iterator[tuple[OutPoint, TxOut, int]]: ...

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
    ) -> None: ...

    def flush(self) -> None: ...

    def get_chain_state(self) -> bytes: ...

    # validator sets, evidence, the node's last-signed state
    def put_validator_set(self, vhash: bytes, encoded: bytes) -> None: ...
    def get_evidence(self, evidence_hash: bytes) -> EvidenceRecord | None: ...
    def put_last_signed(self, state: bytes) -> None: ...
    def get_last_signed(self) -> bytes | None: ...

    # indexes
    def get_tx(self, txid: bytes) -> tuple[BlockTx, TxLocation] | None: ...

    def reindex(self) -> None: ...
    def close(self) -> None: ...
    def reopen(self) -> Tip: ...
