"""What one block does to the derived keyspaces: UTXO set, tx index, address index, evidence and
the governance index.

The tx index holds what a tx lookup needs beyond the tx itself (its fee, and where its bytes
lie in the block), so the API answers from one record and one tx's bytes, never by decoding
the blocks around it.

`index_block` turns a block and its `UtxoDiff` into key writes. `commit_block` calls it inside
the block's one atomic batch; `reindex` calls it again block by block to rebuild the derived
keyspaces from the stored blocks, so the two can never disagree on a key format.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence

import msgpack

from consensus import codec
from consensus.crypto import sha256
from consensus.ledger import UtxoDiff, treasury_outpoint
from consensus.types import BlockHeader, BlockTx, CreditTransfer, Lock, OutPoint, TxId, TxOut
from faircoop_node.storage import schema
from faircoop_node.storage.errors import CorruptStore, InvalidCommit
from faircoop_node.storage.funding import index_funding

Writes = MutableMapping[bytes, bytes | None]  # key -> value, or None to delete
Getter = Callable[[bytes], bytes | None]


def tx_spans(header: BlockHeader, txs: Sequence[BlockTx]) -> list[tuple[int, int]]:
    """(offset, size) of each tx's encoding inside `codec.encode_block` of its block.

    `encode_block` splices the block from a 5-array header, the header's encoding, the tx
    array's header and then each tx's own encoding, so the offsets follow from the sizes.
    `commit_block` checks the first and last span against the encoding it writes.
    """
    offset = 1 + len(codec.encode_header(header)) + len(_ARRAY.pack_array_header(len(txs)))
    spans = []
    for tx in txs:
        size = codec.tx_size(tx)
        spans.append((offset, size))
        offset += size
    return spans


_ARRAY = msgpack.Packer()


def index_block(
    get: Getter,
    writes: Writes,
    *,
    height: int,
    block_id: bytes,
    txs: Sequence[BlockTx],
    txids: Sequence[TxId],
    diff: UtxoDiff,
    spans: Sequence[tuple[int, int]] = (),
    evidence: Sequence[bytes] = (),
    actions: Sequence[bytes] = (),
    time_ms: int = 0,
) -> None:
    """Add to `writes` every derived-key change the block makes; raise before adding on bad input.

    `get` reads the store as it was before the block. Spent outputs are read once: their locks
    feed the address index, and their amounts the per-lock balance and each tx's fee. `spans`
    are `tx_spans` of the block (none for the genesis, which has no txs). `time_ms` is the
    block's time (the treasury's fees are counted per day).
    """
    if not len(txids) == len(txs) == len(spans):
        raise InvalidCommit(f"{len(txids)} txids and {len(spans)} spans for {len(txs)} txs")
    spent: dict[tuple[bytes, int], TxOut] = {}
    spent_keys: list[tuple[bytes, TxOut]] = []
    for op in diff.spent:
        key = schema.utxo_key(op)
        value = get(key)
        if value is None:
            raise InvalidCommit(
                f"block {height} spends {op.txid.hex()}:{op.index}, which is not in the UTXO set"
            )
        prev = schema.decode_utxo(value, key)[0]
        spent[(op.txid, op.index)] = prev
        spent_keys.append((key, prev))

    # Which locks each tx touches (its outputs' and the outputs its inputs spend), and its fee.
    history: dict[tuple[Lock, int], bytes] = {}  # (lock, position) -> txid
    made: dict[tuple[bytes, int], TxOut] = {}
    tx_record = schema.encode_tx_record
    for position, (tx, tid, (offset, size)) in enumerate(zip(txs, txids, spans, strict=True)):
        if isinstance(tx, CreditTransfer):  # in the tx index too; its effect: credit_index.py
            writes[schema.tx_key(tid)] = tx_record(height, position, offset, size, 0)
            continue
        fee = 0
        for txin in tx.inputs:
            ref = (txin.prevout.txid, txin.prevout.index)
            source = made.get(ref) or spent.get(ref)
            if source is None:
                raise InvalidCommit(
                    f"block {height} tx {position} spends an output the diff does not spend"
                )
            history[(source.lock, position)] = tid
            fee += source.amount
        for index, out in enumerate(tx.outputs):
            made[(tid, index)] = out
            history[(out.lock, position)] = tid
            fee -= out.amount
        if fee < 0:
            raise InvalidCommit(f"block {height} tx {position} pays out more than it spends")
        writes[schema.tx_key(tid)] = tx_record(height, position, offset, size, fee)

    # balance, utxo count, history count deltas per lock
    deltas: dict[Lock, list[int]] = {}
    addr_key = schema.addr_utxo_key_from_utxo_key
    for key, out in spent_keys:
        writes[key] = None
        writes[addr_key(out.lock, key)] = None
        d = deltas.setdefault(out.lock, [0, 0, 0])
        d[0] -= out.amount
        d[1] -= 1
    pseudo = len(txs)  # genesis allocations and the treasury output: a pseudo-tx after the txs
    for op, out in diff.created:
        key = schema.utxo_key(op)
        writes[key] = schema.encode_utxo(out, height)
        writes[addr_key(out.lock, key)] = schema.encode_addr_utxo(out.amount, height)
        d = deltas.setdefault(out.lock, [0, 0, 0])
        d[0] += out.amount
        d[1] += 1
        if op.txid == block_id:
            history[(out.lock, pseudo)] = block_id
    for (lock, position), entry in history.items():
        writes[schema.addr_history_key(lock, height, position)] = entry
        deltas.setdefault(lock, [0, 0, 0])[2] += 1
    for lock, (d_balance, d_utxos, d_txs) in deltas.items():
        key = schema.addr_summary_key(lock)
        current = writes[key] if key in writes else get(key)
        balance, utxos, txcount = (
            (0, 0, 0) if current is None else schema.decode_summary(current, key)
        )
        balance, utxos, txcount = balance + d_balance, utxos + d_utxos, txcount + d_txs
        if balance < 0 or utxos < 0:
            raise CorruptStore(
                f"address summary {schema.printable(key)} would go negative at height {height}",
                key,
            )
        writes[key] = schema.encode_summary(balance, utxos, txcount)
    index_funding(get, writes, height=height, time_ms=time_ms, diff=diff, spent=spent_keys)
    for item in evidence:
        writes[schema.evidence_key(sha256(item))] = schema.encode_evidence(height, item)
    for position, action in enumerate(actions):
        writes[schema.governance_key(height, position)] = schema.encode_governance(action)


def replay_diff(
    txs: Sequence[BlockTx], txids: Sequence[TxId], block_id: bytes, fee_output: TxOut | None
) -> UtxoDiff:
    """The UTXO effect of an already-validated block, recomputed without checking signatures.

    Used by reindex: the blocks were validated when committed. `fee_output` is the block's
    stored treasury output (the treasury lock is chain state, so it is stored, not re-derived).
    """
    created: dict[OutPoint, TxOut] = {}
    spent: list[OutPoint] = []
    for tx, tid in zip(txs, txids, strict=True):
        if isinstance(tx, CreditTransfer):
            continue
        for txin in tx.inputs:
            if txin.prevout in created:
                del created[txin.prevout]
            else:
                spent.append(txin.prevout)
        for index, out in enumerate(tx.outputs):
            created[OutPoint(tid, index)] = out
    fees = 0
    if fee_output is not None:
        created[treasury_outpoint(block_id)] = fee_output  # type: ignore[arg-type]
        fees = fee_output.amount
    return UtxoDiff(spent=tuple(spent), created=tuple(created.items()), fees=fees)
