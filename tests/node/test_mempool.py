"""Mempool admission, conflicts, eviction by fee rate, and removal of committed txs."""

from __future__ import annotations

import pytest

from consensus import codec, ledger
from consensus.crypto import PrivateKey
from consensus.errors import ValidationError
from consensus.params import ChainParams
from consensus.types import (
    COIN,
    Genesis,
    OutPoint,
    SpendPolicy,
    Tx,
    TxIn,
    TxOut,
    Validator,
    Witness,
)
from faircoop_node.mempool import Mempool

CHAIN = "faircoop-mempool-test"
KEY = PrivateKey(b"\x01" * 32)
POLICY = SpendPolicy.single(KEY.public_key)
LOCK = codec.policy_lock(POLICY)
PARAMS = ChainParams()


def _chain(n_allocs: int = 4) -> tuple[ledger.MemoryUtxoSet, bytes]:
    genesis = Genesis(1, CHAIN, "test", 0, tuple(TxOut(10 * COIN, LOCK) for _ in range(n_allocs)),
                      (Validator("v", KEY.public_key),), (KEY.public_key,), 1, PARAMS, LOCK)
    gid = codec.genesis_hash(genesis)
    utxos = ledger.MemoryUtxoSet()
    utxos.apply(ledger.genesis_diff(genesis, gid))
    return utxos, gid


def _pay(prevouts: list[OutPoint], amounts: list[int], memo: bytes = b"") -> Tx:
    unsigned = Tx(1, CHAIN, tuple(TxIn(p) for p in prevouts),
                  tuple(TxOut(a, LOCK) for a in amounts), memo, ())
    sig = KEY.sign(ledger.tx_sighash(unsigned))
    wit = tuple(Witness(POLICY, ((0, sig),)) for _ in prevouts)
    return Tx(1, CHAIN, unsigned.inputs, unsigned.outputs, memo, wit)


def _pool(**kw: int) -> Mempool:
    return Mempool(CHAIN, ledger.SignatureCache(), **kw)


def test_admits_valid_tx_and_caches_its_signatures() -> None:
    utxos, gid = _chain()
    pool = _pool()
    tx = _pay([OutPoint(gid, 0)], [10 * COIN - 10_000])
    entry = pool.add(tx, utxos, PARAMS)
    assert entry.fee == 10_000 and entry.txid in pool and len(pool) == 1
    assert ledger.SignatureCache.key(tx) in pool.sig_cache


def test_conflicting_tx_is_rejected_and_pool_unchanged() -> None:
    utxos, gid = _chain()
    pool = _pool()
    pool.add(_pay([OutPoint(gid, 0)], [10 * COIN - 10_000]), utxos, PARAMS)
    rival = _pay([OutPoint(gid, 0)], [10 * COIN - 20_000])
    with pytest.raises(ValidationError) as err:
        pool.add(rival, utxos, PARAMS)
    assert err.value.rule == "mempool_conflict"
    assert len(pool) == 1


def test_duplicate_and_invalid_txs_are_rejected_with_their_rule() -> None:
    utxos, gid = _chain()
    pool = _pool()
    tx = _pay([OutPoint(gid, 0)], [10 * COIN - 10_000])
    pool.add(tx, utxos, PARAMS)
    with pytest.raises(ValidationError) as dup:
        pool.add(tx, utxos, PARAMS)
    assert dup.value.rule == "already_in_mempool"
    with pytest.raises(ValidationError) as low:
        pool.add(_pay([OutPoint(gid, 1)], [10 * COIN - 1]), utxos, PARAMS)
    assert low.value.rule == "fee_too_low"


def test_child_can_spend_pooled_parent_and_selection_keeps_order() -> None:
    utxos, gid = _chain()
    pool = _pool()
    parent = _pay([OutPoint(gid, 0)], [5 * COIN, 5 * COIN - 10_000])
    pool.add(parent, utxos, PARAMS)
    child = _pay([OutPoint(codec.txid(parent), 1)], [5 * COIN - 20_000])
    pool.add(child, utxos, PARAMS)
    assert pool.select(10, 10**9) == [parent, child]
    assert pool.select(1, 10**9) == [parent]


def test_full_pool_evicts_lowest_fee_rate_with_descendants() -> None:
    utxos, gid = _chain()
    pool = _pool(max_txs=2)
    cheap = _pay([OutPoint(gid, 0)], [10 * COIN - 1_000])
    pool.add(cheap, utxos, PARAMS)
    cheap_child = _pay([OutPoint(codec.txid(cheap), 0)], [10 * COIN - 2_000])
    pool.add(cheap_child, utxos, PARAMS)
    rich = _pay([OutPoint(gid, 1)], [10 * COIN - 100_000])
    pool.add(rich, utxos, PARAMS)
    assert codec.txid(rich) in pool and codec.txid(cheap) not in pool
    assert codec.txid(cheap_child) not in pool  # a child never outlives its parent
    assert len(pool) == 1
    pool.add(_pay([OutPoint(gid, 3)], [10 * COIN - 200_000]), utxos, PARAMS)
    poor = _pay([OutPoint(gid, 2)], [10 * COIN - 500])
    with pytest.raises(ValidationError) as err:
        pool.add(poor, utxos, PARAMS)
    assert err.value.rule == "mempool_full" and len(pool) == 2


def test_committed_txs_and_their_conflicts_leave_the_pool() -> None:
    utxos, gid = _chain()
    pool = _pool()
    pooled = _pay([OutPoint(gid, 0)], [10 * COIN - 10_000])
    other = _pay([OutPoint(gid, 1)], [10 * COIN - 10_000])
    pool.add(pooled, utxos, PARAMS)
    pool.add(other, utxos, PARAMS)
    winner = _pay([OutPoint(gid, 0)], [10 * COIN - 30_000], memo=b"won")  # a rival got mined
    removed = pool.remove_committed([winner, other])
    assert removed == 2 and len(pool) == 0 and pool.size_bytes == 0
