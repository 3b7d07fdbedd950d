"""The mempool's address index: what the pooled txs would add to or take from each lock's
balance (`Mempool.lock_delta`, which `GET /address` reads instead of walking the pool), kept
right as txs are added, evicted with their descendants, committed, outdone by a committed rival
and readmitted, and holding a tally only for locks a pooled tx touches (bounded with the pool).

Each case is a list of steps; after every step the index must equal `lock_tallies` (the pool
walked, each spent output looked up), and the pool must hold the txs the case names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from consensus import codec
from consensus.errors import ValidationError
from consensus.types import COIN
from faircoop_node.mempool import Mempool
from tests.node.mempool_chain import (
    LOCKS,
    PARAMS,
    Spec,
    build,
    commit,
    lock_tallies,
    new_chain,
    new_pool,
)


@dataclass(frozen=True, slots=True)
class Add:
    spec: Spec
    refused: bool = False


@dataclass(frozen=True, slots=True)
class Commit:
    block: tuple[str | Spec, ...]  # a pooled tx by name, or a new tx (a rival)


@dataclass(frozen=True, slots=True)
class Readmit:
    min_fee_rate: int  # the rate in force after, say, a governance change


Step = Add | Commit | Readmit


@dataclass(frozen=True, slots=True)
class Case:
    steps: tuple[Step, ...]
    kept: set[str]
    max_txs: int = 50
    deltas: dict[str, int] | None = None  # some locks' expected deltas, by `LOCKS` letter


CASES = {
    "payments to others, with change spent by a child": Case(
        (Add(Spec("A", ("g0",), 1_000, outputs=3, to="ABS")),
         Add(Spec("B", ("A.2",), 1_000, outputs=2, to="AS"))),
        {"A", "B"}, deltas={"C": 0}),  # the other locks' figures: the test after the table
    "one tx paying a lock twice and itself": Case(
        (Add(Spec("A", ("g0", "g1"), 2_000, outputs=4, to="CCS")),), {"A"}),
    "an eviction takes the cheap root with its child": Case(
        (Add(Spec("A", ("g0",), 1_000, outputs=2, to="AS")),
         Add(Spec("B", ("A.1",), 30_000, outputs=2, to="BS")),
         Add(Spec("C", ("g1",), 20_000, to="C")),
         Add(Spec("D", ("g2",), 25_000, outputs=2, to="CS"))),
        {"C", "D"}, max_txs=3, deltas={"A": 0, "B": 0}),
    "a refused tx leaves no trace": Case(
        (Add(Spec("A", ("g0",), 1_000, to="A")), Add(Spec("B", ("g1",), 20_000, to="B")),
         Add(Spec("C", ("g2",), 500, to="C"), refused=True)),
        {"A", "B"}, max_txs=2, deltas={"C": 0}),
    "a committed parent leaves its child charged for a chain output": Case(
        (Add(Spec("A", ("g0",), 1_000, outputs=2, to="AS")),
         Add(Spec("B", ("A.1",), 1_000, outputs=2, to="BS")),
         Commit(("A",))),
        {"B"}, deltas={"A": 0}),
    "a committed rival takes a chain and its tallies": Case(
        (Add(Spec("A", ("g0",), 1_000, outputs=2, to="AS")),
         Add(Spec("B", ("A.1",), 1_000, outputs=2, to="BS")),
         Add(Spec("C", ("g1",), 1_000, to="C")),
         Commit((Spec("X", ("g0",), 5_000, to="A"),))),
        {"C"}, deltas={"S": -10 * COIN, "A": 0, "B": 0, "C": 10 * COIN - 1_000}),
    "readmitting at a higher fee rate drops the cheap with their descendants": Case(
        (Add(Spec("A", ("g0",), 1_000, outputs=2, to="AS")),
         Add(Spec("B", ("A.1",), 30_000, to="B")),
         Add(Spec("C", ("g1",), 30_000, outputs=2, to="CS")),
         Readmit(min_fee_rate=20)),
        {"C"}, deltas={"A": 0, "B": 0}),
    "everything committed leaves no tally": Case(
        (Add(Spec("A", ("g0",), 1_000, outputs=2, to="AS")),
         Add(Spec("B", ("A.1",), 1_000, to="B")),
         Commit(("A", "B"))),
        set()),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_the_address_index_follows_every_change_to_the_pool(case: Case) -> None:
    utxos, gid = new_chain(8)
    specs = [s.spec for s in case.steps if isinstance(s, Add)]
    rivals = [b for s in case.steps if isinstance(s, Commit) for b in s.block
              if isinstance(b, Spec)]
    txs = build([*specs, *rivals], gid)
    pool = new_pool(max_txs=case.max_txs)
    params = PARAMS
    for height, step in enumerate(case.steps, start=1):
        if isinstance(step, Add):
            tx = txs[step.spec.name]
            if step.refused:
                with pytest.raises(ValidationError):
                    pool.add(tx, utxos, params)
            else:
                pool.add(tx, utxos, params)
        elif isinstance(step, Commit):
            block = [txs[b if isinstance(b, str) else b.name] for b in step.block]
            commit(utxos, block, height)
            pool.remove_committed(block)
        else:
            params = replace(params, min_fee_rate=step.min_fee_rate)
            pool.readmit_all(utxos, params)
        assert_index_matches(pool, utxos)
    assert {name for name, tx in txs.items() if codec.txid(tx) in pool} == case.kept
    for letter, delta in (case.deltas or {}).items():
        assert pool.lock_delta(LOCKS[letter]) == delta, letter


def assert_index_matches(pool: Mempool, utxos: object) -> None:
    """The index holds exactly the pooled txs, and per lock the walk's amount and count."""
    assert set(pool._moves) == {e.txid for e in pool.entries()}
    assert pool._by_lock == lock_tallies(pool, utxos)  # type: ignore[arg-type]
    for lock, (amount, _) in pool._by_lock.items():
        assert pool.lock_delta(lock) == amount


def test_a_lock_no_pooled_tx_touches_reads_zero_without_a_tally() -> None:
    pool = new_pool()
    assert pool.lock_delta(LOCKS["A"]) == 0
    assert pool._by_lock == {}


def test_the_first_case_deltas_are_the_payments() -> None:
    """The table's first case, worked by hand: A pays a third of coin 0 (less 1,000) to each of
    locks A, B and KEY; B spends KEY's third (less 1,000) into halves for A and KEY."""
    third = (10 * COIN - 1_000) // 3
    half = (third - 1_000) // 2
    rest = (10 * COIN - 1_000) - 2 * third  # the first output takes the remainder
    utxos, gid = new_chain(2)
    txs = build([Spec("A", ("g0",), 1_000, outputs=3, to="ABS"),
                 Spec("B", ("A.2",), 1_000, outputs=2, to="AS")], gid)
    pool = new_pool()
    for tx in txs.values():
        pool.add(tx, utxos, PARAMS)
    assert pool.lock_delta(LOCKS["A"]) == rest + (third - 1_000 - half)
    assert pool.lock_delta(LOCKS["B"]) == third
    assert pool.lock_delta(LOCKS["S"]) == -10 * COIN + half
