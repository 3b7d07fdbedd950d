"""What one block does to the derived keyspaces: UTXO set, tx index, address index, evidence.

`index_block` turns a block and its `UtxoDiff` into key writes. `commit_block` calls it inside
the block's one atomic batch; `reindex` calls it again block by block to rebuild the derived
keyspaces from the stored blocks, so the two can never disagree on a key format.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence

from consensus.crypto import sha256
from consensus.ledger import UtxoDiff, treasury_outpoint
from consensus.types import Lock, OutPoint, Tx, TxId, TxOut
from faircoop_node.storage import schema
from faircoop_node.storage.errors import CorruptStore, InvalidCommit

Writes = MutableMapping[bytes, bytes | None]  # key -> value, or None to delete
Getter = Callable[[bytes], bytes | None]


def index_block(
    get: Getter,
    writes: Writes,
    *,
    height: int,
    block_id: bytes,
    txs: Sequence[Tx],
    txids: Sequence[TxId],
    diff: UtxoDiff,
    evidence: Sequence[bytes] = (),
) -> None:
    """Add to `writes` every derived-key change the block makes; raise before adding on bad input.

    `get` reads the store as it was before the block. Spent outputs are read once: their locks
    feed the address index and their amounts the per-lock balance.
    """
    if len(txids) != len(txs):
        raise InvalidCommit(f"{len(txids)} txids for {len(txs)} txs")
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

    # Which locks each tx touches: its outputs' and the outputs its inputs spend.
    history: dict[tuple[Lock, int], bytes] = {}  # (lock, position) -> txid
    made: dict[tuple[bytes, int], Lock] = {}
    tx_loc = schema.encode_tx_location
    for position, (tx, tid) in enumerate(zip(txs, txids, strict=True)):
        writes[schema.tx_key(tid)] = tx_loc(height, position)
        for txin in tx.inputs:
            ref = (txin.prevout.txid, txin.prevout.index)
            lock = made.get(ref)
            if lock is None:
                spent_out = spent.get(ref)
                if spent_out is None:
                    raise InvalidCommit(
                        f"block {height} tx {position} spends an output the diff does not spend"
                    )
                lock = spent_out.lock
            history[(lock, position)] = tid
        for index, out in enumerate(tx.outputs):
            made[(tid, index)] = out.lock
            history[(out.lock, position)] = tid

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
    for item in evidence:
        writes[schema.evidence_key(sha256(item))] = schema.encode_evidence(height, item)


def replay_diff(
    txs: Sequence[Tx], txids: Sequence[TxId], block_id: bytes, fee_output: TxOut | None
) -> UtxoDiff:
    """The UTXO effect of an already-validated block, recomputed without checking signatures.

    Used by reindex: the blocks were validated when committed. `fee_output` is the block's
    stored treasury output (the treasury lock is chain state, so it is stored, not re-derived).
    """
    created: dict[OutPoint, TxOut] = {}
    spent: list[OutPoint] = []
    for tx, tid in zip(txs, txids, strict=True):
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
