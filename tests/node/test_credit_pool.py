"""The mempool's credit side (`faircoop_node.creditpool`): what it admits, its bounds, what a
block takes from it, and what a committed block makes it drop."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.codec import txid
from consensus.credit import (
    CreditAccount,
    MemoryCreditLedger,
    apply_credit,
    new_transfer,
    sign_credit_transfer,
)
from consensus.errors import ValidationError
from consensus.ledger import MemoryUtxoSet, SignatureCache
from consensus.params import ChainParams
from consensus.types import CreditTransfer, OutPoint, TxId, TxOut
from faircoop_node.creditpool import CreditPool
from faircoop_node.mempool import Mempool
from tests.builders import CHAIN_ID, key, lock, make_block, make_tx, single

KEYS = [key(700 + i) for i in range(4)]
LOCKS = [lock(single(k)) for k in KEYS]
PARAMS = ChainParams(credit_block_cap=2, credit_pool_cap=3)


def chain() -> MemoryCreditLedger:
    """Member 0 and 1 have a limit of 100; 2 holds +10 and 3 nothing."""
    return MemoryCreditLedger({
        LOCKS[0]: CreditAccount(0, 100, 0),
        LOCKS[1]: CreditAccount(-10, 100, 5),
        LOCKS[2]: CreditAccount(10, 0, 0),
    })


def pay(sender: int, seq: int, amount: int, to: int = 3) -> CreditTransfer:
    t = new_transfer(CHAIN_ID, LOCKS[sender], seq, [(LOCKS[to], amount)])
    return sign_credit_transfer(t, single(KEYS[sender]), [KEYS[sender]])


class Both(MemoryCreditLedger):
    """A ledger view of both kinds, as the node's store is."""

    def __init__(self, credit: MemoryCreditLedger) -> None:
        super().__init__(credit.accounts)
        self.utxos = MemoryUtxoSet()

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        return self.utxos.get_utxo(outpoint)


def pool() -> CreditPool:
    return CreditPool(CHAIN_ID, SignatureCache())


def test_a_senders_run_is_checked_as_its_pooled_transfers_leave_it() -> None:
    p, view = pool(), chain()
    p.add(pay(0, 0, 60), view, PARAMS, 1)
    p.add(pay(0, 1, 40), view, PARAMS, 2)  # 100 in all: the limit
    with pytest.raises(ValidationError) as info:
        p.add(pay(0, 2, 1), view, PARAMS, 3)
    assert info.value.rule == "credit_limit_exceeded"
    with pytest.raises(ValidationError) as info:
        p.add(pay(1, 4, 1), view, PARAMS, 4)
    assert info.value.rule == "credit_sequence"
    assert p.pending(LOCKS[0]) == (2, 100)


def test_credit_received_in_the_pool_is_not_spendable_until_final() -> None:
    p, view = pool(), chain()
    p.add(pay(0, 0, 50, to=2), view, PARAMS, 1)  # member 2 will have 60
    with pytest.raises(ValidationError) as info:
        p.add(pay(2, 0, 11), view, PARAMS, 2)  # it has 10 on chain
    assert info.value.rule == "credit_limit_exceeded"


@pytest.mark.parametrize(("build", "rule"), [
    (lambda p, v: [p.add(pay(0, i, 1), v, PARAMS, i) for i in range(4)], "credit_pool_cap"),
    (lambda p, v: [p.add(pay(0, 0, 1), v, PARAMS, 1), p.add(pay(0, 0, 1), v, PARAMS, 2)],
     "already_in_mempool"),
    (lambda p, v: [p.add(pay(3, 0, 1, to=0), v, PARAMS, 1)], "credit_not_admitted"),
])
def test_bounds_and_refusals(build: object, rule: str) -> None:
    p, view = pool(), chain()
    with pytest.raises(ValidationError) as info:
        build(p, view)  # type: ignore[operator]
    assert info.value.rule == rule


def test_the_pool_is_bounded_in_items_and_bytes() -> None:
    view = chain()
    small = CreditPool(CHAIN_ID, SignatureCache(), max_items=2)
    small.add(pay(0, 0, 1), view, PARAMS, 1)
    small.add(pay(1, 5, 1), view, PARAMS, 2)
    with pytest.raises(ValidationError, match="full") as info:
        small.add(pay(2, 0, 1), view, PARAMS, 3)
    assert info.value.rule == "mempool_full"
    tiny = CreditPool(CHAIN_ID, SignatureCache(), max_bytes=300)
    tiny.add(pay(0, 0, 1), view, PARAMS, 1)
    with pytest.raises(ValidationError, match="full"):
        tiny.add(pay(1, 5, 1), view, PARAMS, 2)
    assert tiny.size_bytes <= 300


def test_select_takes_a_prefix_of_each_run_within_the_block_cap_and_is_valid() -> None:
    p, view = pool(), chain()
    for i in range(3):
        p.add(pay(0, i, 10), view, PARAMS, 2 * i)
        p.add(pay(1, 5 + i, 10), view, PARAMS, 2 * i + 1)
    chosen = [e.tx for e in p.select(100, 10**6)]
    assert [(t.sender, t.sequence) for t in chosen] == [
        (LOCKS[0], 0), (LOCKS[1], 5), (LOCKS[0], 1), (LOCKS[1], 6)]  # cap 2 per sender
    apply_credit(make_block(chosen, height=2), view, PARAMS)  # valid as one block
    two = [e.tx for e in p.select(3, 10**6)]
    assert len(two) == 3
    apply_credit(make_block(two, height=2), view, PARAMS)


def test_a_committed_block_drops_its_transfers_and_what_it_made_stale() -> None:
    p, view = pool(), chain()
    ours = [p.add(pay(0, i, 10), view, PARAMS, i).tx for i in range(3)]
    p.add(pay(1, 5, 10), view, PARAMS, 9)
    assert p.remove_committed(ours[:1], [txid(ours[0])]) == 1
    assert [e.tx.sequence for e in p.entries() if e.tx.sender == LOCKS[0]] == [1, 2]
    rival = pay(0, 1, 99)  # the sender signed another transfer 1 elsewhere, and it won
    assert p.remove_committed([rival], [txid(rival)]) == 2
    assert p.pending(LOCKS[0]) == (0, 0)
    assert p.pending(LOCKS[1]) == (1, 10)  # other senders are untouched


def test_readmit_drops_what_a_lowered_limit_no_longer_allows() -> None:
    p, view = pool(), chain()
    p.add(pay(0, 0, 60), view, PARAMS, 1)
    p.add(pay(0, 1, 30), view, PARAMS, 2)
    view.accounts[LOCKS[0]] = replace(view.accounts[LOCKS[0]], limit=70)
    assert p.readmit_all(view, PARAMS) == 1
    assert [e.tx.sequence for e in p.entries()] == [0]


def test_the_mempool_holds_both_kinds_and_shares_a_block_between_them() -> None:
    view = Both(chain())
    gid = TxId(b"\x01" * 32)
    coin_key = key(720)
    view.utxos.utxos[OutPoint(gid, 0)] = TxOut(1_000_000, lock(single(coin_key)))
    m = Mempool(CHAIN_ID, SignatureCache())
    coin = make_tx([(OutPoint(gid, 0), single(coin_key), [coin_key])],
                   [(LOCKS[3], 900_000)])
    m.add(coin, view, ChainParams())
    credit = pay(0, 0, 5)
    entry = m.add(credit, view, PARAMS)
    assert len(m) == 2 and txid(credit) in m and m.get(txid(credit)) == entry
    assert m.size_bytes == sum(e.size for e in m.entries())
    assert m.select(10, 10**6) == [coin, credit]
    assert m.select(2, 10**6) == [coin, credit]  # credit takes at most half, coins the rest
    assert m.credit_pending(LOCKS[0]) == (1, 5)
    assert m.remove_committed([coin, credit]) == 2 and len(m) == 0

