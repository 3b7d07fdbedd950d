"""Every key format in the chain store, and the fixed-width record encodings.

One LevelDB database per node. The first byte of a key names its keyspace; integers in keys are
big-endian so LevelDB's byte order is numeric order, and a prefix scan over one lock's range
answers an address query without touching anything else.

| keyspace        | key                                   | value                              |
|-----------------|---------------------------------------|------------------------------------|
| meta            | `m` + name                            | see the META_* names below         |
| block           | `b` + block hash                      | checksum (8) + codec.encode_block  |
| header          | `r` + block hash                      | codec.encode_header                |
| height          | `h` + height                          | block hash; height 0 = genesis     |
| certificate     | `c` + height                          | commit certificate (opaque)        |
| fee record      | `f` + height                          | amount + lock of the fee output    |
| utxo            | `u` + txid + index                    | amount + lock + height             |
| tx index        | `t` + txid                            | height, position, span, fee        |
| address utxo    | `a` + lock + txid + index             | amount + height                    |
| address summary | `s` + lock                            | balance + utxo count + tx count    |
| address history | `x` + lock + height + position        | txid                               |
| validator set   | `v` + validators hash                 | pack(validators_obj(set))          |
| evidence        | `e` + sha256(evidence bytes)          | height + evidence bytes            |
| governance      | `g` + height + position               | checksum (8) + the action's bytes  |
| campaign        | `n` + campaign id                     | campaign.encode_campaign (record)  |
| campaign list   | `N` + created height + campaign id    | empty                              |
| by beneficiary  | `B` + lock + created height + id      | empty                              |
| pledge          | `p` + refund lock + txid + index      | campaign id + amount + height      |
| pledger         | `P` + campaign id + refund lock       | amount + pledges (all, ever)       |
| pledger count   | `Q` + campaign id                     | distinct refund locks              |
| treasury day    | `d` + UTC day number                  | fees + blocks that paid fees       |
| credit account  | `k` + lock                            | balance, limit, sequence, lines    |
| credit history  | `y` + lock + height + position        | kind, amount, balance, ref, memo   |
| credit totals   | `z`                                   | accounts, lines, sums              |

Hashes, txids and locks are 32 bytes; heights and amounts 8; indexes and positions 4.

A tx index record says where the tx sits (height, position), where its canonical encoding lies
inside the block's (offset and size, so a lookup slices one tx out of the block record instead
of decoding the block), and the fee it paid (inputs minus outputs, known at commit, when every
spent output is at hand; afterwards the spent outputs are gone from the UTXO set).

Schema 2 added the span and fee to the tx index record; schema 3 the governance index (every
action and recovery a block carried, at its height and position among the block's actions, so the
API lists the chain's governance history from one key range, newest first, without reading
blocks); schema 4 (issue 15) the credit keyspaces (an account per lock that mutual credit
touched, its history lines, and the totals the API reports, all from
`consensus.credit.CreditDiff`); schema 5 (issue 16) the campaign keyspaces, pledges by refund
lock, the treasury's fees per day, and a pledge's refund lock in its UTXO record (which is then
80 bytes, not 48). An older store is upgraded on open by rebuilding the derived keyspaces (see
`UPGRADABLE_FROM`).

History positions: a block's txs are at 0..n-1; outputs that no tx of the block made (the
genesis allocations, a block's treasury fee output) are filed as a pseudo-tx at position n whose
"txid" is the block hash (the genesis hash at height 0).

The block checksum (the first 8 bytes of SHA-256 of the encoding) catches garbled witness bytes,
which neither the header hash nor the tx root covers (txids exclude witnesses); a governance
record carries the same checksum over its action's bytes.
Other values are fixed-width `struct` records, so a truncated or padded value is caught by its
length. Any decoding failure raises `CorruptStore` naming the key.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, Final

from consensus.types import BlockHash, Hash32, Lock, OutPoint, TxId, TxOut
from faircoop_node.storage.errors import CorruptStore

SCHEMA_VERSION: Final = 5
# Older versions whose blocks, headers, heights, certificates and fee records are laid out as
# today, so rebuilding the derived keyspaces (`reindex`) brings the store up to date: 4 lacks
# the funding keyspaces, 3 credit too, 2 the governance index, 1 the tx index's spans and fees.
UPGRADABLE_FROM: Final = frozenset({1, 2, 3, 4})

# -- keyspace prefixes ------------------------------------------------------------------------
META: Final = b"m"
BLOCK: Final = b"b"
HEADER: Final = b"r"
HEIGHT: Final = b"h"
CERTIFICATE: Final = b"c"
FEE: Final = b"f"
UTXO: Final = b"u"
TX: Final = b"t"
ADDR_UTXO: Final = b"a"
ADDR_SUMMARY: Final = b"s"
ADDR_HISTORY: Final = b"x"
VALIDATOR_SET: Final = b"v"
EVIDENCE: Final = b"e"
GOVERNANCE: Final = b"g"
CREDIT_ACCOUNT: Final = b"k"
CREDIT_HISTORY: Final = b"y"
CREDIT_TOTALS: Final = b"z"  # one key: the prefix itself

CAMPAIGN: Final = b"n"
CAMPAIGN_LIST: Final = b"N"
CAMPAIGN_BY_BENEFICIARY: Final = b"B"
PLEDGE: Final = b"p"
PLEDGER: Final = b"P"
PLEDGER_COUNT: Final = b"Q"
TREASURY_DAY: Final = b"d"
FUNDING_PREFIXES: Final = (CAMPAIGN, CAMPAIGN_LIST, CAMPAIGN_BY_BENEFICIARY, PLEDGE, PLEDGER,
                           PLEDGER_COUNT, TREASURY_DAY)

# Keyspaces derived from the blocks: `reindex` deletes and rebuilds exactly these.
DERIVED_PREFIXES: Final = (UTXO, TX, ADDR_UTXO, ADDR_SUMMARY, ADDR_HISTORY, EVIDENCE, GOVERNANCE,
                           CREDIT_ACCOUNT, CREDIT_HISTORY, CREDIT_TOTALS, *FUNDING_PREFIXES)

# -- meta records ------------------------------------------------------------------------------
META_SCHEMA: Final = META + b"schema"  # SCHEMA_VERSION as 4 bytes
META_GENESIS_HASH: Final = META + b"genesis_hash"  # 32 bytes
META_GENESIS: Final = META + b"genesis"  # codec.encode_genesis
META_TIP: Final = META + b"tip"  # height (8) + block hash (32)
META_CHAIN_STATE: Final = META + b"chain_state"  # opaque, written by the caller each block
META_LAST_SIGNED: Final = META + b"last_signed"  # opaque, the node's own double-sign guard
META_REINDEX: Final = META + b"reindexing"  # present while a reindex runs

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_TIP = struct.Struct(">Q32s")
_UTXO = struct.Struct(">Q32sQ")
_TXREC = struct.Struct(">QIIIQ")  # height, position, offset, size, fee
_ADDR_UTXO = struct.Struct(">QQ")
_SUMMARY = struct.Struct(">QQQ")
_FEE = struct.Struct(">Q32s")


# -- keys --------------------------------------------------------------------------------------


def block_key(block_id: bytes) -> bytes:
    return BLOCK + block_id


def header_key(block_id: bytes) -> bytes:
    return HEADER + block_id


def height_key(height: int) -> bytes:
    return HEIGHT + _U64.pack(height)


def certificate_key(height: int) -> bytes:
    return CERTIFICATE + _U64.pack(height)


def fee_key(height: int) -> bytes:
    return FEE + _U64.pack(height)


def utxo_key(outpoint: OutPoint) -> bytes:
    return UTXO + outpoint.txid + _U32.pack(outpoint.index)


def tx_key(txid: bytes) -> bytes:
    return TX + txid


def addr_utxo_prefix(lock: bytes) -> bytes:
    return ADDR_UTXO + lock


def addr_utxo_key(lock: bytes, outpoint: OutPoint) -> bytes:
    return ADDR_UTXO + lock + outpoint.txid + _U32.pack(outpoint.index)


def addr_utxo_key_from_utxo_key(lock: bytes, ukey: bytes) -> bytes:
    """The address-index key of the output whose UTXO key is `ukey` (saves re-packing it)."""
    return ADDR_UTXO + lock + ukey[1:]


def addr_summary_key(lock: bytes) -> bytes:
    return ADDR_SUMMARY + lock


def addr_history_prefix(lock: bytes) -> bytes:
    return ADDR_HISTORY + lock


def addr_history_key(lock: bytes, height: int, position: int) -> bytes:
    return ADDR_HISTORY + lock + _U64.pack(height) + _U32.pack(position)


def validator_set_key(vhash: bytes) -> bytes:
    return VALIDATOR_SET + vhash


def evidence_key(evidence_hash: bytes) -> bytes:
    return EVIDENCE + evidence_hash


def governance_key(height: int, position: int) -> bytes:
    return GOVERNANCE + _U64.pack(height) + _U32.pack(position)


def printable(key: bytes) -> str:
    """A key as an operator reads it: the prefix letter, then hex."""
    if not key:
        return "<empty>"
    if key[:1] == META:
        return f"meta:{key[1:].decode('ascii', 'replace')}"
    return f"{key[:1].decode('ascii', 'replace')}:{key[1:].hex()}"


# -- parsing keys back ---------------------------------------------------------------------------


def _check_len(key: bytes, size: int) -> None:
    if len(key) != size:
        raise CorruptStore(f"key {printable(key)} has {len(key)} bytes, expected {size}", key)


def outpoint_from_utxo_key(key: bytes) -> OutPoint:
    _check_len(key, 37)
    return OutPoint(TxId(key[1:33]), _U32.unpack_from(key, 33)[0])


def outpoint_from_addr_utxo_key(key: bytes) -> OutPoint:
    _check_len(key, 69)
    return OutPoint(TxId(key[33:65]), _U32.unpack_from(key, 65)[0])


def lock_from_addr_key(key: bytes) -> Lock:
    return Lock(key[1:33])


def history_from_key(key: bytes) -> tuple[int, int]:
    """(height, position) of an address history key."""
    _check_len(key, 45)
    return _U64.unpack_from(key, 33)[0], _U32.unpack_from(key, 41)[0]


def governance_from_key(key: bytes) -> tuple[int, int]:
    """(height, position) of a governance index key."""
    _check_len(key, 13)
    return _U64.unpack_from(key, 1)[0], _U32.unpack_from(key, 9)[0]


def height_from_key(key: bytes) -> int:
    _check_len(key, 9)
    return int(_U64.unpack_from(key, 1)[0])


# -- values ------------------------------------------------------------------------------------


def _unpack(fmt: struct.Struct, value: bytes, key: bytes, what: str) -> tuple[Any, ...]:
    if len(value) != fmt.size:
        raise CorruptStore(
            f"{what} record {printable(key)} is {len(value)} bytes, expected {fmt.size}"
            " (garbled or truncated)",
            key,
        )
    return fmt.unpack(value)


def encode_block_record(encoded: bytes) -> bytes:
    return hashlib.sha256(encoded).digest()[:8] + encoded


def decode_block_record(value: bytes, key: bytes) -> bytes:
    """The block's canonical encoding, once its checksum matches."""
    _check_checksum(value, key)
    return value[8:]


encode_governance = encode_block_record  # the same checksum, over the action's bytes


def decode_governance(value: bytes, key: bytes) -> bytes:
    """The action's bytes, once the record's checksum matches."""
    _check_checksum(value, key, "governance record")
    return value[8:]


def slice_block_record(value: bytes, key: bytes, offset: int, size: int) -> bytes:
    """`size` bytes at `offset` in the block's encoding, once the record's checksum matches.

    Checked over a memoryview: the block's bytes are hashed (in C) but not copied.
    """
    _check_checksum(value, key)
    if offset + size > len(value) - 8:
        raise CorruptStore(
            f"a tx index record points past the end of block {printable(key)}", key)
    return value[8 + offset:8 + offset + size]


def _check_checksum(value: bytes, key: bytes, what: str = "block") -> None:
    if len(value) < 8 or hashlib.sha256(memoryview(value)[8:]).digest()[:8] != value[:8]:
        raise CorruptStore(f"{what} {printable(key)} fails its checksum (garbled or truncated)",
                           key)


def encode_schema() -> bytes:
    return _U32.pack(SCHEMA_VERSION)


def decode_schema(value: bytes) -> int:
    (version,) = _unpack(_U32, value, META_SCHEMA, "schema version")
    return int(version)


def encode_tip(height: int, block_id: bytes) -> bytes:
    return _TIP.pack(height, block_id)


def decode_tip(value: bytes) -> tuple[int, BlockHash]:
    height, block_id = _unpack(_TIP, value, META_TIP, "tip")
    return int(height), BlockHash(block_id)


def encode_utxo(out: TxOut, height: int) -> bytes:
    """amount + lock + height, and a pledge's refund lock after them."""
    record = _UTXO.pack(out.amount, out.lock, height)
    return record if out.refund is None else record + out.refund


def decode_utxo(value: bytes, key: bytes) -> tuple[TxOut, int]:
    refund = None
    if len(value) == _UTXO.size + 32:
        value, refund = value[:_UTXO.size], Lock(value[_UTXO.size:])
    amount, lock, height = _unpack(_UTXO, value, key, "utxo")
    if not amount:
        raise CorruptStore(f"utxo record {printable(key)} has a zero amount", key)
    return TxOut(amount, Lock(lock), refund), height


def encode_tx_record(height: int, position: int, offset: int, size: int, fee: int) -> bytes:
    """`offset` and `size` locate the tx's encoding inside `codec.encode_block` of its block."""
    return _TXREC.pack(height, position, offset, size, fee)


def decode_tx_record(value: bytes, key: bytes) -> tuple[int, int, int, int, int]:
    """(height, position, offset, size, fee) of a tx index record."""
    height, position, offset, size, fee = _unpack(_TXREC, value, key, "tx index")
    if not size:
        raise CorruptStore(f"tx index record {printable(key)} has a zero size", key)
    return height, position, offset, size, fee


def decode_tx_location(value: bytes, key: bytes) -> tuple[int, int]:
    """(height, position) of a tx index record."""
    height, position = decode_tx_record(value, key)[:2]
    return height, position


def encode_addr_utxo(amount: int, height: int) -> bytes:
    return _ADDR_UTXO.pack(amount, height)


def decode_addr_utxo(value: bytes, key: bytes) -> tuple[int, int]:
    amount, height = _unpack(_ADDR_UTXO, value, key, "address utxo")
    return amount, height


def encode_summary(balance: int, utxo_count: int, tx_count: int) -> bytes:
    return _SUMMARY.pack(balance, utxo_count, tx_count)


def decode_summary(value: bytes, key: bytes) -> tuple[int, int, int]:
    balance, utxos, txs = _unpack(_SUMMARY, value, key, "address summary")
    return balance, utxos, txs


def encode_fee(out: TxOut) -> bytes:
    return _FEE.pack(out.amount, out.lock)


def decode_fee(value: bytes, key: bytes) -> TxOut:
    amount, lock = _unpack(_FEE, value, key, "fee")
    return TxOut(amount, Lock(lock))


def encode_evidence(height: int, evidence: bytes) -> bytes:
    return _U64.pack(height) + evidence


def decode_evidence(value: bytes, key: bytes) -> tuple[int, bytes]:
    if len(value) < 8:
        raise CorruptStore(f"evidence record {printable(key)} is truncated", key)
    return int(_U64.unpack_from(value)[0]), value[8:]


def decode_hash(value: bytes, key: bytes, what: str) -> Hash32:
    if len(value) != 32:
        raise CorruptStore(
            f"{what} record {printable(key)} is {len(value)} bytes, expected a 32-byte hash", key
        )
    return Hash32(value)


# -- campaigns, pledges and the treasury (issue 16) ---------------------------------------------

_PLEDGE = struct.Struct(">32sQQ")  # campaign id, amount, height
_PLEDGER = struct.Struct(">QI")  # amount, pledges
_DAY = struct.Struct(">QI")  # fees, blocks that paid fees
DAY_MS: Final = 86_400_000


def campaign_key(campaign_id: bytes) -> bytes:
    return CAMPAIGN + campaign_id


def campaign_list_key(created: int, campaign_id: bytes) -> bytes:
    return CAMPAIGN_LIST + _U64.pack(created) + campaign_id


def campaign_list_from_key(key: bytes) -> tuple[int, bytes]:
    """(created height, campaign id) of a campaign list key."""
    _check_len(key, 41)
    return int(_U64.unpack_from(key, 1)[0]), key[9:]


def beneficiary_prefix(lock: bytes) -> bytes:
    return CAMPAIGN_BY_BENEFICIARY + lock


def beneficiary_key(lock: bytes, created: int, campaign_id: bytes) -> bytes:
    return CAMPAIGN_BY_BENEFICIARY + lock + _U64.pack(created) + campaign_id


def campaign_id_from_beneficiary_key(key: bytes) -> bytes:
    _check_len(key, 73)
    return key[41:]


def pledge_prefix(refund: bytes) -> bytes:
    return PLEDGE + refund


def pledge_key(refund: bytes, outpoint: OutPoint) -> bytes:
    return PLEDGE + refund + outpoint.txid + _U32.pack(outpoint.index)


def pledge_key_from_utxo_key(refund: bytes, ukey: bytes) -> bytes:
    """The pledge-index key of the pledge whose UTXO key is `ukey`."""
    return PLEDGE + refund + ukey[1:]


def outpoint_from_pledge_key(key: bytes) -> OutPoint:
    _check_len(key, 69)
    return OutPoint(TxId(key[33:65]), _U32.unpack_from(key, 65)[0])


def encode_pledge(campaign_id: bytes, amount: int, height: int) -> bytes:
    return _PLEDGE.pack(campaign_id, amount, height)


def decode_pledge(value: bytes, key: bytes) -> tuple[bytes, int, int]:
    """(campaign id, amount, height) of a pledge record."""
    campaign, amount, height = _unpack(_PLEDGE, value, key, "pledge")
    return bytes(campaign), int(amount), int(height)


def pledger_prefix(campaign_id: bytes) -> bytes:
    return PLEDGER + campaign_id


def pledger_key(campaign_id: bytes, refund: bytes) -> bytes:
    return PLEDGER + campaign_id + refund


def refund_from_pledger_key(key: bytes) -> Lock:
    _check_len(key, 65)
    return Lock(key[33:])


def encode_pledger(amount: int, pledges: int) -> bytes:
    return _PLEDGER.pack(amount, pledges)


def decode_pledger(value: bytes, key: bytes) -> tuple[int, int]:
    """(amount, pledges) of a pledger record."""
    amount, pledges = _unpack(_PLEDGER, value, key, "pledger")
    return int(amount), int(pledges)


def pledger_count_key(campaign_id: bytes) -> bytes:
    return PLEDGER_COUNT + campaign_id


def encode_count(count: int) -> bytes:
    return _U64.pack(count)


def decode_count(value: bytes, key: bytes) -> int:
    (count,) = _unpack(_U64, value, key, "count")
    return int(count)


def treasury_day_key(day: int) -> bytes:
    return TREASURY_DAY + _U32.pack(day)


def day_from_key(key: bytes) -> int:
    _check_len(key, 5)
    return int(_U32.unpack_from(key, 1)[0])


def encode_day(fees: int, blocks: int) -> bytes:
    return _DAY.pack(fees, blocks)


def decode_day(value: bytes, key: bytes) -> tuple[int, int]:
    """(fees, blocks that paid fees) of a treasury day record."""
    fees, blocks = _unpack(_DAY, value, key, "treasury day")
    return int(fees), int(blocks)


# -- credit (consensus.credit) -------------------------------------------------------------------
#
# An account record is the account itself (balance signed, limit, sequence: what
# `get_credit_account` gives the rules) and its count of history lines. A history line says what
# one transfer or limit change did to the account, with the balance after it, so the API lists
# an account's history from one key range. The totals record sums every account record; its
# sums are 16-byte big-endian integers (many accounts at the largest balance pass 2^64).

_CREDIT_ACCOUNT = struct.Struct(">qQQQ")  # balance, limit, sequence, history lines
_CREDIT_LINE = struct.Struct(">BQq32s32s")  # kind, amount, balance, ref, counterparty; + memo
_CREDIT_COUNTS = struct.Struct(">QQ")  # accounts, accounts with a limit > 0


def credit_account_key(lock: bytes) -> bytes:
    return CREDIT_ACCOUNT + lock


def credit_history_prefix(lock: bytes) -> bytes:
    return CREDIT_HISTORY + lock


def credit_history_key(lock: bytes, height: int, position: int) -> bytes:
    return CREDIT_HISTORY + lock + _U64.pack(height) + _U32.pack(position)


def encode_credit_account(balance: int, limit: int, sequence: int, lines: int) -> bytes:
    return _CREDIT_ACCOUNT.pack(balance, limit, sequence, lines)


def decode_credit_account(value: bytes, key: bytes) -> tuple[int, int, int, int]:
    """(balance, limit, sequence, history lines) of an account record."""
    balance, limit, sequence, lines = _unpack(_CREDIT_ACCOUNT, value, key, "credit account")
    return balance, limit, sequence, lines


def encode_credit_line(kind: int, amount: int, balance: int, ref: bytes, counterparty: bytes,
                       memo: bytes) -> bytes:
    return _CREDIT_LINE.pack(kind, amount, balance, ref, counterparty) + memo


def decode_credit_line(value: bytes, key: bytes) -> tuple[int, int, int, bytes, bytes, bytes]:
    """(kind, amount, balance, ref, counterparty, memo) of a history line."""
    size = _CREDIT_LINE.size
    if not size <= len(value) <= size + 80 or value[:1] not in (b"\x01", b"\x02", b"\x03"):
        raise CorruptStore(f"credit history record {printable(key)} is garbled", key)
    kind, amount, balance, ref, counterparty = _CREDIT_LINE.unpack_from(value)
    return kind, amount, balance, ref, counterparty, value[size:]


def credit_line_from_key(key: bytes) -> tuple[int, int]:
    """(height, position) of a credit history key."""
    _check_len(key, 45)
    return _U64.unpack_from(key, 33)[0], _U32.unpack_from(key, 41)[0]


def encode_credit_totals(accounts: int, lines: int, outstanding: int, granted: int,
                         positive: int) -> bytes:
    return _CREDIT_COUNTS.pack(accounts, lines) + b"".join(
        n.to_bytes(16, "big") for n in (outstanding, granted, positive))


def decode_credit_totals(value: bytes, key: bytes) -> tuple[int, int, int, int, int]:
    """(accounts, accounts with a limit, outstanding, limits granted, positive balances)."""
    if len(value) != _CREDIT_COUNTS.size + 48:
        raise CorruptStore(f"credit totals record {printable(key)} is garbled", key)
    accounts, lines = _CREDIT_COUNTS.unpack_from(value)
    sums = [int.from_bytes(value[16 + 16 * i:32 + 16 * i], "big") for i in range(3)]
    return accounts, lines, sums[0], sums[1], sums[2]
