"""Mempool admission, conflicts, selection, and removal of committed txs (eviction: see
test_mempool_eviction.py)."""

from __future__ import annotations

import pytest

from consensus import codec, ledger
from consensus.errors import ValidationError
from consensus.types import COIN, OutPoint
from tests.node.mempool_chain import PARAMS, new_chain, new_pool, pay


def test_admits_valid_tx_and_caches_its_signatures() -> None:
    utxos, gid = new_chain()
    pool = new_pool()
    tx = pay([OutPoint(gid, 0)], [10 * COIN - 10_000])
    entry = pool.add(tx, utxos, PARAMS)
    assert entry.fee == 10_000 and entry.txid in pool and len(pool) == 1
    assert ledger.SignatureCache.key(tx) in pool.sig_cache


def test_conflicting_tx_is_rejected_and_pool_unchanged() -> None:
    utxos, gid = new_chain()
    pool = new_pool()
    pool.add(pay([OutPoint(gid, 0)], [10 * COIN - 10_000]), utxos, PARAMS)
    rival = pay([OutPoint(gid, 0)], [10 * COIN - 20_000])
    with pytest.raises(ValidationError) as err:
        pool.add(rival, utxos, PARAMS)
    assert err.value.rule == "mempool_conflict"
    assert len(pool) == 1


def test_duplicate_and_invalid_txs_are_rejected_with_their_rule() -> None:
    utxos, gid = new_chain()
    pool = new_pool()
    tx = pay([OutPoint(gid, 0)], [10 * COIN - 10_000])
    pool.add(tx, utxos, PARAMS)
    with pytest.raises(ValidationError) as dup:
        pool.add(tx, utxos, PARAMS)
    assert dup.value.rule == "already_in_mempool"
    with pytest.raises(ValidationError) as low:
        pool.add(pay([OutPoint(gid, 1)], [10 * COIN - 1]), utxos, PARAMS)
    assert low.value.rule == "fee_too_low"


def test_child_can_spend_pooled_parent_and_selection_keeps_order() -> None:
    utxos, gid = new_chain()
    pool = new_pool()
    parent = pay([OutPoint(gid, 0)], [5 * COIN, 5 * COIN - 10_000])
    pool.add(parent, utxos, PARAMS)
    child = pay([OutPoint(codec.txid(parent), 1)], [5 * COIN - 20_000])
    pool.add(child, utxos, PARAMS)
    assert pool.select(10, 10**9) == [parent, child]
    assert pool.select(1, 10**9) == [parent]


def test_committed_txs_and_their_conflicts_leave_thenew_pool() -> None:
    utxos, gid = new_chain()
    pool = new_pool()
    pooled = pay([OutPoint(gid, 0)], [10 * COIN - 10_000])
    other = pay([OutPoint(gid, 1)], [10 * COIN - 10_000])
    pool.add(pooled, utxos, PARAMS)
    pool.add(other, utxos, PARAMS)
    winner = pay([OutPoint(gid, 0)], [10 * COIN - 30_000], memo=b"won")  # a rival got mined
    removed = pool.remove_committed([winner, other])
    assert removed == 2 and len(pool) == 0 and pool.size_bytes == 0


def test_admit_listeners_hear_each_admitted_tx_once_and_survive_a_readmission() -> None:
    """The API's address streams hear of a tx when the pool admits it: a refused tx is never
    announced, and readmitting the pool after a failed block announces nothing again."""
    utxos, gid = new_chain(3)
    pool = new_pool()
    heard: list[bytes] = []
    pool.on_admit(lambda e: heard.append(e.txid))
    first = pay([OutPoint(gid, 0)], [COIN, 9 * COIN - 10_000], to="A")
    pool.add(first, utxos, PARAMS)
    with pytest.raises(ValidationError):
        pool.add(first, utxos, PARAMS)  # already pooled
    assert heard == [codec.txid(first)]
    pool.readmit_all(utxos, PARAMS)
    assert heard == [codec.txid(first)] and codec.txid(first) in pool
    second = pay([OutPoint(gid, 1)], [COIN, 9 * COIN - 10_000], to="B")
    pool.add(second, utxos, PARAMS)
    assert heard == [codec.txid(first), codec.txid(second)]
