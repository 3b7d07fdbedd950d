"""The store's campaign records, pledge indexes and treasury days, on both backends.

A short chain through the real rules (`apply_block` against the store, `commit_block`): two
campaigns created in one block, pledges over two blocks (one pledger twice, one pledge refunded
to a treasury), the beneficiary's claim at the deadline on the next day. The store must answer
what the ledger decided, list and page, drop spent pledges from the refund index while keeping
who pledged what, count fees per day, and rebuild every key byte for byte on reindex.
"""

from __future__ import annotations

from consensus.campaign import CampaignStatus, campaign_id, pledge_output
from consensus.codec import block_hash, txid
from consensus.ledger import apply_block, assemble_block
from consensus.types import Block, CampaignMode, OutPoint, Tx, TxId, TxOut
from faircoop_node.storage import BaseStore, schema
from tests.builders import lock, make_header, single
from tests.ledger.campaign_world import (
    COIN,
    GENESIS,
    PA,
    PARAMS,
    PB,
    PE,
    PM,
    T,
    World,
    claim,
    terms,
)
from tests.storage.conftest import StoreFactory

DAY = schema.DAY_MS
T0 = GENESIS.time_ms


def commit(store: BaseStore, txs: list[Tx], time_ms: int) -> Block:
    tip = store.tip()
    header = make_header(height=tip.height + 1, prev_hash=tip.block_hash, time_ms=time_ms)
    block = assemble_block(header, tuple(txs))
    bid = block_hash(block.header)
    diff = apply_block(block, bid, store, PARAMS, treasury_lock=lock(single(T)))
    store.commit_block(block, bid, diff, b"certificate", b"state")
    return block


def derived(store: BaseStore) -> dict[bytes, bytes]:
    return {k: v for prefix in schema.DERIVED_PREFIXES for k, v in store.backend.items(prefix)}


def test_campaigns_pledges_and_treasury_days_in_the_store(make_store: StoreFactory) -> None:
    store = make_store(GENESIS)
    w = World.new()  # builds the txs; the store applies them
    make1 = w.pay_from(PE, [], campaign=terms(goal=5 * COIN, deadline=6))
    make2 = w.pay_from(PM, [], campaign=terms(mode=CampaignMode.KEEP_WHAT_YOU_RAISE,
                                                beneficiary=lock(PM), deadline=6))
    c1, c2 = campaign_id(txid(make1)), campaign_id(txid(make2))
    w.commit([make1, make2])
    commit(store, [make1, make2], T0 + 1000)
    assert store.campaign_height() == 2

    p_a = w.pay_from(PA, [pledge_output(3 * COIN, c1, lock(PA)),
                          pledge_output(COIN, c2, lock(PM))])
    w.commit([p_a])
    commit(store, [p_a], T0 + 2000)
    p_b = w.pay_from(PB, [pledge_output(COIN, c1, lock(PB)), pledge_output(COIN, c1, lock(PB))])
    p_a2 = w.pay_from(PA, [pledge_output(COIN, c1, lock(PA))])
    w.commit([p_b, p_a2])
    commit(store, [p_b, p_a2], T0 + 3000)

    record = store.get_campaign(c1)
    assert record == w.utxos.get_campaign(c1)  # what the ledger decided, kept whole
    assert record is not None and (record.pledged, record.pledges) == (6 * COIN, 4)
    assert record.status(store.campaign_height()) is CampaignStatus.OPEN
    newest = store.get_campaigns(10)
    assert {c.id for c in newest} == {c1, c2} and len(newest) == 2
    first = newest[0]
    assert store.get_campaigns(10, before=(first.created, first.id)) == newest[1:]
    assert [c.id for c in store.get_campaigns_of(lock(PE), 10)] == [c1]
    assert [c.id for c in store.get_campaigns_of(lock(PM), 10)] == [c2]
    pledges_a = store.get_pledges(lock(PA), 10)
    assert sorted(p.amount for p in pledges_a) == [COIN, 3 * COIN]
    assert {p.campaign for p in pledges_a} == {c1}
    assert [(p.campaign, p.amount, p.height) for p in store.get_pledges(lock(PM), 10)] == [
        (c2, COIN, 2)]
    on_chain = store.get_address_utxos(c1)
    assert len(on_chain) == 4
    refunds = {out.refund for u in on_chain if (out := store.get_utxo(u.outpoint)) is not None}
    assert refunds == {lock(PA), lock(PB)}

    # two empty blocks, then the deadline a day later: the beneficiary claims c1's pledges
    commit(store, [], T0 + 4000)
    commit(store, [], T0 + 5000)
    spend = claim([u.outpoint for u in on_chain], 6 * COIN, PE, lock(PE))
    commit(store, [spend], T0 + DAY + 10)
    assert store.tip().height == 6
    assert store.get_pledges(lock(PA), 10) == ()
    assert store.get_address_utxos(c1) == ()
    assert len(store.get_pledges(lock(PM), 10)) == 1  # c2's pledge is still there
    pledgers = {p.refund: (p.amount, p.pledges) for p in store.get_pledgers(c1, 10)}
    assert pledgers == {lock(PA): (4 * COIN, 2), lock(PB): (2 * COIN, 2)}
    assert store.count_pledgers(c1) == 2 and store.count_pledgers(c2) == 1
    days = store.get_treasury_days(10)
    assert [d.day for d in days] == [(T0 + DAY) // DAY, T0 // DAY]
    assert [d.blocks for d in days] == [1, 3]
    fees = sum(schema.decode_fee(v, k).amount for k, v in store.backend.items(schema.FEE))
    assert sum(d.fees for d in days) == fees

    before = derived(store)
    store.reindex()
    assert derived(store) == before


def test_a_pledge_utxo_record_keeps_its_refund_lock() -> None:
    out = pledge_output(COIN, b"\x01" * 32, b"\x02" * 32)
    key = schema.utxo_key(OutPoint(TxId(b"\x03" * 32), 1))
    record = schema.encode_utxo(out, 7)
    assert len(record) == 80
    assert schema.decode_utxo(record, key) == (out, 7)
    coin = TxOut(COIN, out.lock)
    assert len(schema.encode_utxo(coin, 7)) == 48
    assert schema.decode_utxo(schema.encode_utxo(coin, 7), key) == (coin, 7)
