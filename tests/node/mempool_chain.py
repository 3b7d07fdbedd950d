"""A small chain for mempool tests: genesis coins and fee outputs all spendable by one key,
txs built by naming what they spend, and blocks validated by the ledger before they commit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from consensus import codec, ledger
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import (
    COIN,
    Block,
    Genesis,
    Lock,
    OutPoint,
    PublicKey,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Validator,
    Witness,
)
from faircoop_node.mempool import Mempool
from tests.builders import make_block

CHAIN = "faircoop-mempool-test"
KEY = PrivateKey(b"\x01" * 32)
POLICY = SpendPolicy.single(KEY.public_key)
LOCK = codec.policy_lock(POLICY)
PARAMS = ChainParams()
COIN_VALUE = 10 * COIN  # every genesis coin
# Locks txs may pay besides KEY's own ("S"): receivers, by letter (their outputs stay unspent)
LOCKS: dict[str, Lock] = {"S": LOCK, **{
    name: codec.policy_lock(SpendPolicy.single(PrivateKey(bytes([n]) * 32).public_key))
    for n, name in enumerate("ABC", start=2)}}


def new_chain(n_coins: int = 4) -> tuple[ledger.MemoryUtxoSet, TxId]:
    """A UTXO set holding `n_coins` genesis coins of COIN_VALUE; and the genesis id."""
    pubkey = PublicKey(KEY.public_key)
    genesis = Genesis(1, CHAIN, "test", 0, tuple(TxOut(COIN_VALUE, LOCK) for _ in range(n_coins)),
                      (Validator("v", pubkey),), (pubkey,), 1, PARAMS, LOCK)
    gid = codec.genesis_hash(genesis)
    utxos = ledger.MemoryUtxoSet()
    utxos.apply(ledger.genesis_diff(genesis, gid))
    return utxos, TxId(gid)


def pay(prevouts: Sequence[OutPoint], amounts: Sequence[int], memo: bytes = b"",
        to: str = "") -> Tx:
    """A tx signed by KEY spending `prevouts` into outputs of `amounts`, output i locked to
    `LOCKS[to[i]]` (KEY's own lock past the end of `to`)."""
    locks = [LOCKS[to[i]] if i < len(to) else LOCK for i in range(len(amounts))]
    unsigned = Tx(1, CHAIN, tuple(TxIn(p) for p in prevouts),
                  tuple(TxOut(a, lock) for a, lock in zip(amounts, locks, strict=True)), memo, ())
    sig = KEY.sign(ledger.tx_sighash(unsigned))
    wit = tuple(Witness(POLICY, ((0, sig),)) for _ in prevouts)
    return Tx(1, CHAIN, unsigned.inputs, unsigned.outputs, memo, wit)


def fee_ladder(n: int) -> tuple[ledger.MemoryUtxoSet, list[Tx]]:
    """A chain of `n` genesis coins and `n` one-input txs, tx i spending coin i and paying fee
    1,000 + 10 * i: each pays a higher rate than all before it."""
    utxos, gid = new_chain(n)
    return utxos, [pay([OutPoint(gid, i)], [COIN_VALUE - 1_000 - 10 * i]) for i in range(n)]


def new_pool(**limits: int) -> Mempool:
    return Mempool(CHAIN, ledger.SignatureCache(), **limits)


def commit(utxos: ledger.MemoryUtxoSet, txs: Sequence[Tx], height: int = 1) -> Block:
    """Validate `txs` as one block on `utxos` (raises the ledger's error if they are not a
    valid block in this order), apply it, and return it."""
    block = make_block(txs, chain_id=CHAIN, height=height)
    diff = ledger.apply_block(block, codec.block_hash(block.header), utxos, PARAMS,
                              treasury_lock=LOCK)
    utxos.apply(diff)
    return block


def check_as_block(utxos: ledger.MemoryUtxoSet, txs: Sequence[Tx]) -> None:
    """Raise the ledger's error unless `txs` are a valid block, in this order, on `utxos`."""
    block = make_block(txs, chain_id=CHAIN)
    ledger.apply_block(block, codec.block_hash(block.header), utxos, PARAMS, treasury_lock=LOCK)


@dataclass(frozen=True, slots=True)
class Spec:
    """A tx by name: `spends` names genesis coins ("g2") or outputs of earlier txs ("A.1");
    it pays `fee` and splits the rest into `outputs` equal outputs, locked as `to` says (see
    `pay`: letters of `LOCKS`, KEY's own by default)."""

    name: str
    spends: tuple[str, ...]
    fee: int
    outputs: int = 1
    to: str = ""


def build(specs: Sequence[Spec], gid: TxId, known: Mapping[str, Tx] = {}) -> dict[str, Tx]:
    """The txs of `specs` (in order; a spec may spend outputs of `known` txs or earlier ones)."""
    txs = dict(known)
    for spec in specs:
        prevouts, total = [], 0
        for ref in spec.spends:
            if ref.startswith("g"):
                outpoint, amount = OutPoint(gid, int(ref[1:])), COIN_VALUE
            else:
                parent, index = ref.split(".")
                outpoint = OutPoint(codec.txid(txs[parent]), int(index))
                amount = txs[parent].outputs[int(index)].amount
            prevouts.append(outpoint)
            total += amount
        share, rest = divmod(total - spec.fee, spec.outputs)
        amounts = [share + rest, *[share] * (spec.outputs - 1)]
        txs[spec.name] = pay(prevouts, amounts, memo=spec.name.encode(), to=spec.to)
    return txs


def lock_tallies(pool: Mempool, utxos: ledger.UtxoView) -> dict[Lock, tuple[int, int]]:
    """Per lock, what the pooled txs add to (or take from) its balance and how many touch it,
    found the slow way: a walk of the pool, each spent output looked up in it or on chain."""
    entries = pool.entries()
    pooled = {e.txid: e.tx for e in entries}
    amounts: Counter[Lock] = Counter()
    touching: Counter[Lock] = Counter()
    for e in entries:
        moved: set[Lock] = set()
        for out in e.tx.outputs:
            amounts[out.lock] += out.amount
            moved.add(out.lock)
        for txin in e.tx.inputs:
            parent = pooled.get(txin.prevout.txid)
            spent = (parent.outputs[txin.prevout.index] if parent is not None
                     else utxos.get_utxo(txin.prevout))
            assert spent is not None, "a pooled tx spends an unknown output"
            amounts[spent.lock] -= spent.amount
            moved.add(spent.lock)
        touching.update(moved)
    return {lock: (amounts[lock], n) for lock, n in touching.items()}
