"""Mempool eviction and block removal never orphan a child (issue 12, finding 12).

Table cases name txs by letter (see `Spec`): which txs a full pool keeps when a richer tx comes
in (limited by count and by bytes), and which a committed block leaves. A hypothesis property
runs random admissions, blocks built from `select`, and blocks with rivals of pooled txs, and
checks after each step that every pooled tx's inputs are on chain or pooled and that `select`
is a valid block on the chain's UTXO set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from consensus import codec, ledger
from consensus.errors import ValidationError
from consensus.types import OutPoint, Tx, TxId, TxOut
from faircoop_node import mempool
from faircoop_node.mempool import Mempool, PoolEntry
from tests.node.mempool_chain import (
    PARAMS,
    Spec,
    build,
    check_as_block,
    commit,
    fee_ladder,
    lock_tallies,
    new_chain,
    new_pool,
    pay,
)


def assert_consistent(pool: Mempool, utxos: ledger.MemoryUtxoSet) -> None:
    """No orphan, no double spend, limits kept, and the whole pool (and a part of it) selects
    as a valid block in admission order."""
    entries = pool.entries()
    pooled = {e.txid for e in entries}
    spent: set[OutPoint] = set()
    for e in entries:
        for txin in e.tx.inputs:
            assert txin.prevout.txid in pooled or utxos.get_utxo(txin.prevout) is not None, \
                f"pooled tx {e.txid.hex()} spends an output that is neither pooled nor on chain"
            assert txin.prevout not in spent
            spent.add(txin.prevout)
    assert len(entries) <= pool.max_txs
    assert pool.size_bytes == sum(e.size for e in entries) <= pool.max_bytes
    everything = pool.select(len(entries), pool.max_bytes)
    assert [codec.txid(tx) for tx in everything] == [e.txid for e in entries]
    check_as_block(utxos, everything)
    check_as_block(utxos, pool.select(len(entries) // 2, pool.max_bytes // 2))


def assert_indexes_bounded(pool: Mempool) -> None:
    """The bounds the mempool's docstring states for its private indexes."""
    n = len(pool)
    assert len(pool._by_rate) <= 2 * n + mempool.HEAP_SLACK + 1
    assert sum(map(len, pool._children.values())) <= sum(len(e.tx.inputs) for e in pool.entries())
    assert all(p in pool and c <= set(pool._entries) for p, c in pool._children.items())


def kept(pool: Mempool, txs: dict[str, Tx]) -> set[str]:
    return {name for name, tx in txs.items() if codec.txid(tx) in pool}


# -- a full pool admits a richer tx ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admission:
    pooled: tuple[Spec, ...]  # admitted in this order, filling the pool exactly
    incoming: Spec  # needs one slot, or one byte, more than the pool has
    kept: set[str]  # what the pool holds after
    refused: bool = False


ADMISSIONS = {
    "the cheapest tx goes alone": Admission(
        (Spec("A", ("g0",), 1_000), Spec("B", ("g1",), 20_000)),
        Spec("C", ("g2",), 50_000), {"B", "C"}),
    "a richer child goes with its cheap parent": Admission(
        (Spec("A", ("g0",), 1_000), Spec("B", ("A.0",), 50_000), Spec("C", ("g1",), 20_000)),
        Spec("D", ("g2",), 30_000), {"C", "D"}),
    "a chain of 4 goes whole from its cheap root": Admission(
        (Spec("A", ("g0",), 1_000), Spec("B", ("A.0",), 30_000), Spec("C", ("B.0",), 40_000),
         Spec("D", ("C.0",), 40_000), Spec("E", ("g1",), 20_000)),
        Spec("F", ("g2",), 25_000), {"E", "F"}),
    "a chain cut at its cheap middle keeps its root": Admission(
        (Spec("A", ("g0",), 2_000), Spec("B", ("A.0",), 1_000), Spec("C", ("B.0",), 30_000),
         Spec("D", ("C.0",), 40_000), Spec("E", ("g1",), 20_000)),
        Spec("F", ("g2",), 25_000), {"A", "E", "F"}),
    "a diamond goes whole from its cheap root": Admission(
        (Spec("A", ("g0",), 1_000, outputs=2), Spec("B", ("A.0",), 30_000),
         Spec("C", ("A.1",), 30_000), Spec("D", ("B.0", "C.0"), 40_000),
         Spec("E", ("g1",), 20_000)),
        Spec("F", ("g2",), 25_000), {"E", "F"}),
    "a diamond's cheap side takes the join, not the other side": Admission(
        (Spec("A", ("g0",), 30_000, outputs=2), Spec("B", ("A.0",), 1_000),
         Spec("C", ("A.1",), 30_000), Spec("D", ("B.0", "C.0"), 40_000),
         Spec("E", ("g1",), 20_000)),
        Spec("F", ("g2",), 25_000), {"A", "C", "E", "F"}),
    "a tx paying no more than the cheapest is refused": Admission(
        (Spec("A", ("g0",), 20_000), Spec("B", ("g1",), 20_000)),
        Spec("C", ("g2",), 1_000), {"A", "B"}, refused=True),
    "a child whose parent is the cheapest is refused": Admission(  # the scenario
        (Spec("A", ("g0",), 1_000), Spec("B", ("g1",), 20_000)),
        Spec("C", ("A.0",), 50_000), {"A", "B"}, refused=True),
    "a grandchild whose grandparent is the cheapest is refused": Admission(
        (Spec("A", ("g0",), 1_000), Spec("B", ("A.0",), 30_000), Spec("E", ("g1",), 20_000)),
        Spec("C", ("B.0",), 50_000), {"A", "B", "E"}, refused=True),
}


@pytest.mark.parametrize("limit", ["count", "bytes"])
@pytest.mark.parametrize("case", ADMISSIONS.values(), ids=list(ADMISSIONS))
def test_a_full_pool_evicts_the_cheapest_with_its_descendants(case: Admission,
                                                               limit: str) -> None:
    utxos, gid = new_chain(8)
    txs = build([*case.pooled, case.incoming], gid)
    pooled = [txs[s.name] for s in case.pooled]
    incoming = txs[case.incoming.name]
    if limit == "count":
        pool = new_pool(max_txs=len(pooled))
    else:
        pool = new_pool(max_bytes=sum(map(codec.tx_size, pooled)) + codec.tx_size(incoming) - 1)
    for tx in pooled:
        pool.add(tx, utxos, PARAMS)
    assert len(pool) == len(pooled)
    if case.refused:
        with pytest.raises(ValidationError) as err:
            pool.add(incoming, utxos, PARAMS)
        assert err.value.rule == "mempool_full"
    else:
        pool.add(incoming, utxos, PARAMS)
    assert kept(pool, txs) == case.kept
    assert_consistent(pool, utxos)


def test_regression_a_child_is_not_admitted_by_evicting_its_parent() -> None:
    """Issue 12: the full pool evicted the child's parent to make room and kept the child;
    the next block built from the pool failed with unknown_input."""
    utxos, gid = new_chain()
    txs = build([Spec("parent", ("g0",), 1_000), Spec("other", ("g1",), 20_000),
                 Spec("child", ("parent.0",), 50_000)], gid)
    pool = new_pool(max_txs=2)
    pool.add(txs["parent"], utxos, PARAMS)
    pool.add(txs["other"], utxos, PARAMS)
    refused = ""
    try:
        pool.add(txs["child"], utxos, PARAMS)
    except ValidationError as exc:
        refused = exc.rule
    check_as_block(utxos, pool.select(10, 10**6))  # unknown_input before the fix
    assert refused == "mempool_full" and kept(pool, txs) == {"parent", "other"}


def test_a_big_tx_evicts_as_many_cheapest_txs_as_its_bytes_need() -> None:
    utxos, gid = new_chain(8)
    txs = build([Spec("A", ("g0",), 1_000), Spec("B", ("g1",), 2_000),
                 Spec("C", ("g2",), 50_000), Spec("D", ("g3",), 90_000, outputs=6)], gid)
    size = {name: codec.tx_size(tx) for name, tx in txs.items()}
    pool = new_pool(max_bytes=size["A"] + size["B"] + size["C"] + size["D"] - size["A"] - 1)
    for name in "ABC":
        pool.add(txs[name], utxos, PARAMS)
    pool.add(txs["D"], utxos, PARAMS)
    assert kept(pool, txs) == {"C", "D"}
    assert_consistent(pool, utxos)


def test_a_refused_tx_leaves_the_pool_and_its_eviction_order_as_they_were() -> None:
    utxos, gid = new_chain(8)
    txs = build([Spec("A", ("g0",), 1_000), Spec("B", ("g1",), 2_000),
                 Spec("huge", ("g2",), 900_000, outputs=40), Spec("orphan", ("A.0",), 90_000),
                 Spec("rich", ("g3",), 50_000)], gid)
    pool = new_pool(max_txs=2, max_bytes=codec.tx_size(txs["huge"]) - 1)
    pool.add(txs["A"], utxos, PARAMS)
    pool.add(txs["B"], utxos, PARAMS)
    for name, why in (("huge", "can't fit"), ("orphan", "orphaned")):
        with pytest.raises(ValidationError, match=why):
            pool.add(txs[name], utxos, PARAMS)
        assert kept(pool, txs) == {"A", "B"}  # a tx larger than the pool used to empty it
    pool.add(txs["rich"], utxos, PARAMS)
    assert kept(pool, txs) == {"B", "rich"}


class _NoWalk(dict[TxId, PoolEntry]):
    """The pool's txs, failing any walk over all of them."""

    def _walk(self) -> NoReturn:
        raise AssertionError("the mempool walked the whole pool")

    def __iter__(self) -> NoReturn:
        self._walk()

    def values(self) -> NoReturn:
        self._walk()

    def items(self) -> NoReturn:
        self._walk()

    def keys(self) -> NoReturn:
        self._walk()


def test_evictions_and_rival_removals_never_walk_the_pool() -> None:
    """The cost of an eviction or a removal is the txs it removes, not the pool's size (the
    old eviction scanned every pooled tx for the cheapest, once per evicted tx)."""
    utxos, txs = fee_ladder(300)
    pool = new_pool(max_txs=200)
    for tx in txs[:200]:
        pool.add(tx, utxos, PARAMS)
    pool._entries = _NoWalk(pool._entries)
    for tx in txs[200:]:  # each pays more than all before it: evicts the cheapest
        pool.add(tx, utxos, PARAMS)
    assert len(pool) == 200 and txs[99] not in pool and codec.txid(txs[100]) in pool
    rival = pay([txs[150].inputs[0].prevout], [10**6], b"rival")
    commit(utxos, [rival])
    assert pool.remove_committed([rival]) == 1 and codec.txid(txs[150]) not in pool
    pool._entries = dict(dict.items(pool._entries))
    assert_consistent(pool, utxos)


# -- a committed block removes what it spends --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Committed:
    pooled: tuple[Spec, ...]
    block: tuple[str | Spec, ...]  # a pooled tx by name, or a new tx (a rival)
    kept: set[str]


BLOCKS = {
    "a rival of a chain's root removes the chain": Committed(
        (Spec("A", ("g0",), 1_000), Spec("B", ("A.0",), 1_000), Spec("C", ("B.0",), 1_000),
         Spec("E", ("g1",), 1_000)),
        (Spec("X", ("g0",), 5_000),), {"E"}),
    "a committed parent leaves its child pooled": Committed(
        (Spec("A", ("g0",), 1_000), Spec("B", ("A.0",), 1_000)),
        ("A",), {"B"}),
    "the parent and a rival of one child": Committed(
        (Spec("A", ("g0",), 1_000, outputs=2), Spec("B", ("A.0",), 1_000),
         Spec("C", ("B.0",), 1_000), Spec("D", ("A.1",), 1_000)),
        ("A", Spec("X", ("A.0",), 5_000)), {"D"}),
    "a rival of a diamond's side takes the join": Committed(
        (Spec("A", ("g0",), 1_000, outputs=2), Spec("B", ("A.0",), 1_000),
         Spec("C", ("A.1",), 1_000), Spec("D", ("B.0", "C.0"), 1_000)),
        ("A", Spec("X", ("A.1",), 5_000)), {"B"}),
    "one block tx double-spends two pooled txs": Committed(
        (Spec("A", ("g0",), 1_000), Spec("B", ("g1",), 1_000), Spec("C", ("B.0",), 1_000),
         Spec("E", ("g2",), 1_000)),
        (Spec("X", ("g0", "g1"), 5_000),), {"E"}),
}


@pytest.mark.parametrize("case", BLOCKS.values(), ids=list(BLOCKS))
def test_a_committed_block_removes_its_txs_and_their_rivals_with_descendants(
        case: Committed) -> None:
    utxos, gid = new_chain(8)
    rivals = [s for s in case.block if isinstance(s, Spec)]
    txs = build([*case.pooled, *rivals], gid)
    pool = new_pool()
    for spec in case.pooled:
        pool.add(txs[spec.name], utxos, PARAMS)
    block = [txs[s if isinstance(s, str) else s.name] for s in case.block]
    commit(utxos, block)
    removed = pool.remove_committed(block)
    assert kept(pool, txs) == case.kept
    assert removed == len(case.pooled) - len(case.kept)
    assert_consistent(pool, utxos)


# -- any sequence of admissions, blocks and rivals -------------------------------------------

STEPS = st.lists(st.tuples(st.sampled_from(["add", "add", "add", "block", "rival"]),
                           st.integers(0, 999), st.integers(0, 999),
                           st.sampled_from([700, 3_000, 15_000, 60_000, 250_000])),
                 min_size=10, max_size=60)


def _coins(pool: Mempool, utxos: ledger.MemoryUtxoSet, chain_too: bool
           ) -> list[tuple[OutPoint, TxOut]]:
    """Coins a new tx could try to spend, spent or not: pooled outputs (chains make
    descendants), and chain coins when `chain_too` or nothing is pooled."""
    pooled = [(OutPoint(e.txid, i), out) for e in pool.entries()
              for i, out in enumerate(e.tx.outputs)]
    return [*utxos.utxos.items(), *pooled] if chain_too or not pooled else pooled


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, max_txs=st.integers(2, 6), max_bytes=st.integers(600, 3_000))
def test_no_sequence_orphans_a_pooled_tx_or_breaks_select(
        steps: list[tuple[str, int, int, int]], max_txs: int, max_bytes: int) -> None:
    utxos, _ = new_chain(6)
    pool = new_pool(max_txs=max_txs, max_bytes=max_bytes)
    height = 0
    for n, (kind, a, b, fee) in enumerate(steps):
        memo = n.to_bytes(2, "big")
        if kind == "add":
            coins = _coins(pool, utxos, chain_too=a % 3 == 0)
            picks = dict([coins[a % len(coins)], coins[b % len(coins)]] if b % 3 == 0
                         else [coins[a % len(coins)]])
            outputs = 1 + b % 3
            if any(op.txid in pool for op in picks):
                fee += 30_000  # children mostly pay more than parents: evictions take chains
            share = (sum(out.amount for out in picks.values()) - fee) // outputs
            if share < 1:
                continue
            before = len(pool)
            try:
                pool.add(pay(list(picks), [share] * outputs, memo), utxos, PARAMS)
                event(f"admitted, evicting {before + 1 - len(pool)}")
            except ValidationError as exc:
                event(f"refused: {exc.rule}")
        elif kind == "block":  # a proposal from the pool, committed
            height += 1
            block = pool.select(1 + a % 4, 300 * (1 + b % 8))
            commit(utxos, block, height)  # raises unless select made a valid block
            event(f"a block of {len(block)} removed {pool.remove_committed(block)}")
        else:  # a block with a rival of a pooled tx
            targets = [(i.prevout, utxos.utxos[i.prevout]) for e in pool.entries()
                       for i in e.tx.inputs if i.prevout in utxos.utxos]
            if not targets:
                continue
            outpoint, coin = targets[a % len(targets)]
            if coin.amount <= 5_000:
                continue
            height += 1
            rival = pay([outpoint], [coin.amount - 5_000], b"rival" + memo)
            commit(utxos, [rival], height)
            event(f"a rival removed {pool.remove_committed([rival])}")
            assert all(outpoint not in {i.prevout for i in e.tx.inputs} for e in pool.entries())
        assert_consistent(pool, utxos)
        assert_indexes_bounded(pool)
        assert pool._by_lock == lock_tallies(pool, utxos)  # the address index
