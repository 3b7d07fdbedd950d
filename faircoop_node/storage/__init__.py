"""The node's persistent chain store: blocks, certificates, the UTXO set and the indexes.

`ChainStore` is the interface; `LevelDBStore` (plyvel) is the node's and `MemoryStore` the one
tests and the simulator use. Both run the same code over different key-value backends. Every key
format is in `schema`; every failure is a `StorageError` subclass from `errors`.

Left out: pruning, reorgs (blocks are final when committed, so the chain only grows), and any
interpretation of certificates or chain state (the consensus modules own those encodings).
"""

from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.errors import (
    CorruptStore,
    IncompleteReindex,
    InvalidCommit,
    OutOfOrderBlock,
    RecordMismatch,
    StorageError,
    StoreClosed,
    StoreLocked,
    StoreMissing,
    StoreWriteFailed,
    UnsupportedSchema,
    WrongGenesis,
)
from faircoop_node.storage.keyvalue import KeyValue
from faircoop_node.storage.leveldb import LevelDBStore
from faircoop_node.storage.memory import MemoryStore
from faircoop_node.storage.protocol import (
    ActionLocation,
    AddressSummary,
    AddressUtxo,
    ChainStore,
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

__all__ = [
    "ActionLocation", "AddressSummary", "AddressUtxo", "BaseStore", "ChainStore", "CommittedTx",
    "CorruptStore", "CreditLine", "CreditSummary", "CreditTotals", "EvidenceRecord",
    "GovernanceEntry", "HistoryEntry", "IncompleteReindex", "InvalidCommit", "KeyValue",
    "LevelDBStore", "MemoryStore", "OutOfOrderBlock", "RecordMismatch", "StorageError",
    "StoreClosed", "StoreLocked", "StoreMissing", "StoreWriteFailed", "Tip", "TxLocation",
    "UnsupportedSchema", "WrongGenesis",
]
