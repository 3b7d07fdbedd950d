"""Behaviour of the ChainStore, run against both MemoryStore and LevelDBStore (`make_store`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import codec, ledger
from consensus.crypto import sha256
from consensus.errors import DecodeError
from consensus.types import COIN, BlockHash, OutPoint, TxId, TxOut
from faircoop_node.storage import (
    CommittedTx,
    InvalidCommit,
    OutOfOrderBlock,
    RecordMismatch,
    StoreClosed,
    Tip,
    TxLocation,
)
from tests.storage.storage_chain import (
    CHAIN_ID,
    FEE,
    Replay,
    chain_state_for,
    commit,
    fake_certificate,
    make_block,
    make_genesis,
    next_block,
    pay,
    wallet,
)

W = [wallet(i) for i in range(4)]


def test_open_stores_genesis_allocations_as_utxos(make_store):
    genesis = make_genesis(W, [5 * COIN, 7 * COIN, 9 * COIN])
    store = make_store(genesis)
    gid = codec.genesis_hash(genesis)
    assert store.genesis_hash == gid and store.genesis == genesis
    assert store.tip() == Tip(0, gid) == (0, gid)
    assert store.get_hash_at(0) == gid and store.get_block_at(0) is None
    assert store.get_utxo(OutPoint(TxId(gid), 1)) == TxOut(7 * COIN, W[1].lock)
    assert store.get_utxo(OutPoint(TxId(gid), 3)) is None
    summary = store.get_address_summary(W[2].lock)
    assert (summary.balance, summary.utxo_count, summary.tx_count) == (9 * COIN, 1, 1)
    [entry] = store.get_address_history(W[0].lock)
    assert (entry.txid, entry.height, entry.position) == (gid, 0, 0)
    vset = codec.pack(codec.validators_obj(genesis.validators))
    assert store.get_validator_set(codec.validators_hash(genesis.validators)) == vset
    assert store.get_chain_state() == b""
    assert store.get_certificate(0) is None


def test_commit_block_updates_blocks_utxos_and_every_index(make_store):
    genesis = make_genesis(W, [10 * COIN, 10 * COIN])
    store = make_store(genesis)
    gid = codec.genesis_hash(genesis)
    # tx0: W0 pays W2 and itself; tx1 spends tx0's change (made in this block) to W3
    tx0 = pay(CHAIN_ID, [(OutPoint(TxId(gid), 0), W[0])],
              [TxOut(3 * COIN, W[2].lock), TxOut(7 * COIN - FEE, W[0].lock)])
    tx1 = pay(CHAIN_ID, [(OutPoint(codec.txid(tx0), 1), W[0])],
              [TxOut(1 * COIN, W[3].lock), TxOut(6 * COIN - 2 * FEE, W[0].lock)])
    block = make_block(genesis, gid, 1, (tx0, tx1))
    bid = codec.block_hash(block.header)
    diff = commit(store, block)

    assert store.tip() == (1, bid)
    assert store.get_block(bid) == block == store.get_block_at(1)
    assert store.get_block_bytes(bid) == codec.encode_block(block)
    assert store.get_header(bid) == block.header
    assert store.get_certificate(1) == fake_certificate(bid)
    assert store.get_chain_state() == chain_state_for(1, bid)
    assert store.get_tx_location(codec.txid(tx1)) == TxLocation(1, 1)
    assert store.get_tx_location(sha256(b"nothing")) is None
    assert store.get_tx(codec.txid(tx0)) == (tx0, TxLocation(1, 0))
    assert store.get_tx(sha256(b"nothing")) is None
    # spent output gone, the intra-block output never appears, fees land in the treasury
    assert store.get_utxo(OutPoint(TxId(gid), 0)) is None
    assert store.get_utxo(OutPoint(codec.txid(tx0), 1)) is None
    assert diff.fees == 2 * FEE
    assert store.get_utxo(ledger.treasury_outpoint(bid)) == TxOut(2 * FEE, W[0].lock)
    # W0: spent 10, got back the second change and the fees; history: genesis, tx0, tx1, fees
    w0 = store.get_address_summary(W[0].lock)
    assert w0.balance == 6 * COIN - 2 * FEE + 2 * FEE and w0.utxo_count == 2
    assert [(e.height, e.position) for e in store.get_address_history(W[0].lock)] == [
        (1, 2), (1, 1), (1, 0), (0, 0)]
    assert [e.txid for e in store.get_address_history(W[0].lock)][:3] == [
        bid, codec.txid(tx1), codec.txid(tx0)]
    page = store.get_address_history(W[0].lock, limit=2, before=TxLocation(1, 1))
    assert [(e.height, e.position) for e in page] == [(1, 0), (0, 0)]
    utxos = store.get_address_utxos(W[3].lock)
    assert [(u.outpoint, u.amount, u.height) for u in utxos] == [
        (OutPoint(codec.txid(tx1), 0), COIN, 1)]
    assert store.get_address_summary(W[1].lock).balance == 10 * COIN
    assert len(store.get_address_utxos(W[0].lock, limit=1)) == 1
    # each tx's fee is in its index record, tx1's from an output made in the same block
    assert store.get_committed_tx(codec.txid(tx1)) == CommittedTx(tx1, TxLocation(1, 1), FEE)
    assert store.get_committed_tx(sha256(b"nothing")) is None
    # ... and a spend of the block's fee output (gone from the UTXO set once spent) has one too
    fee_spend = pay(CHAIN_ID, [(ledger.treasury_outpoint(bid), W[0]),
                               (OutPoint(TxId(gid), 1), W[1])], [TxOut(10 * COIN, W[3].lock)])
    commit(store, make_block(genesis, bid, 2, (fee_spend,), fake_certificate(bid)))
    assert store.get_committed_tx(codec.txid(fee_spend)) == CommittedTx(
        fee_spend, TxLocation(2, 0), 2 * FEE)


def _first_block(genesis):
    gid = codec.genesis_hash(genesis)
    tx = pay(CHAIN_ID, [(OutPoint(TxId(gid), 0), W[0])], [TxOut(COIN, W[1].lock)])
    return make_block(genesis, gid, 1, (tx,))


BAD_COMMITS = [
    # (name, how to spoil the arguments, error class)
    ("wrong height", lambda g, b, d: (make_block(g, b.header.prev_hash, 2, b.txs), d),
     OutOfOrderBlock),
    ("wrong parent", lambda g, b, d: (make_block(g, BlockHash(sha256(b"x")), 1, b.txs), d),
     OutOfOrderBlock),
    ("foreign chain", lambda g, b, d: (
        replace(b, header=replace(b.header, chain_id="other-chain")), d), InvalidCommit),
    ("diff spends a missing output", lambda g, b, d: (
        b, replace(d, spent=(OutPoint(TxId(sha256(b"y")), 0),))), InvalidCommit),
]


@pytest.mark.parametrize("name,spoil,error", BAD_COMMITS, ids=[c[0] for c in BAD_COMMITS])
def test_commit_refuses_a_block_that_does_not_fit_and_writes_nothing(make_store, name, spoil,
                                                                     error):
    genesis = make_genesis(W)
    store = make_store(genesis)
    block = _first_block(genesis)
    diff = ledger.apply_block(block, codec.block_hash(block.header), store, genesis.params,
                              treasury_lock=genesis.treasury_lock)
    bad_block, bad_diff = spoil(genesis, block, diff)
    bid = codec.block_hash(bad_block.header)
    before = list(store.backend.items(b""))
    with pytest.raises(error):
        store.commit_block(bad_block, bid, bad_diff, b"cert", b"state")
    assert list(store.backend.items(b"")) == before
    assert store.tip().height == 0


def test_commit_refuses_a_wrong_hash_or_a_missing_certificate(make_store):
    genesis = make_genesis(W)
    store = make_store(genesis)
    block = _first_block(genesis)
    bid = codec.block_hash(block.header)
    diff = ledger.apply_block(block, bid, store, genesis.params,
                              treasury_lock=genesis.treasury_lock)
    with pytest.raises(InvalidCommit, match="not the hash"):
        store.commit_block(block, BlockHash(sha256(b"z")), diff, b"cert", b"")
    with pytest.raises(InvalidCommit, match="certificate"):
        store.commit_block(block, bid, diff, b"", b"")
    store.commit_block(block, bid, diff, b"cert", b"")
    with pytest.raises(OutOfOrderBlock):  # the same block twice
        store.commit_block(block, bid, diff, b"cert", b"")
    assert store.tip() == (1, bid)


def test_validator_sets_are_filed_under_their_hash(make_store):
    genesis = make_genesis(W)
    store = make_store(genesis)
    vset = codec.pack(codec.validators_obj(genesis.validators + genesis.validators[:0]))
    other = codec.pack((("coop-b", W[1].key.public_key),))
    store.put_validator_set(sha256(other), other)
    assert store.get_validator_set(sha256(other)) == other
    assert store.get_validator_set(sha256(vset)) == vset
    with pytest.raises(RecordMismatch):
        store.put_validator_set(sha256(b"else"), other)
    with pytest.raises(DecodeError):
        store.put_validator_set(sha256(b"\x01"), b"\x01")
    assert store.get_validator_set(sha256(b"nope")) is None


def test_validator_sets_and_evidence_commit_with_the_block(make_store):
    genesis = make_genesis(W)
    store = make_store(genesis)
    gid = codec.genesis_hash(genesis)
    evidence = (b"evidence-one", b"evidence-two")
    block = make_block(genesis, gid, 1, (), evidence=evidence)
    bid = codec.block_hash(block.header)
    diff = ledger.apply_block(block, bid, store, genesis.params,
                              treasury_lock=genesis.treasury_lock)
    new_set = codec.pack((("coop-c", W[2].key.public_key),))
    store.commit_block(block, bid, diff, b"cert", b"", validator_sets={sha256(new_set): new_set})
    assert store.get_validator_set(sha256(new_set)) == new_set
    record = store.get_evidence(sha256(b"evidence-two"))
    assert record is not None and (record.height, record.evidence) == (1, b"evidence-two")
    assert store.get_evidence(sha256(b"never")) is None


def test_last_signed_state_round_trips(make_store):
    store = make_store(make_genesis(W))
    assert store.get_last_signed() is None
    store.put_last_signed(b"height 7 round 2 precommit")
    assert store.get_last_signed() == b"height 7 round 2 precommit"


def test_a_closed_store_says_so(make_store):
    store = make_store(make_genesis(W))
    store.close()
    with pytest.raises(StoreClosed):
        store.get_utxo(OutPoint(TxId(bytes(32)), 0))


def test_indexes_match_a_replay_after_many_random_blocks(make_store):
    genesis = make_genesis(W, [50 * COIN] * 6)
    store = make_store(genesis)
    for _ in range(25):
        commit(store, next_block(store, W, "behaviour"))
    replay = Replay(genesis)
    assert replay.extend(store) == 25
    replay.assert_matches(store)
    total = sum(out.amount for _, out, _ in store.iter_utxos())
    assert total == 300 * COIN  # no block creates or destroys coins


def test_reindex_rebuilds_deleted_and_garbled_indexes(make_store):
    genesis = make_genesis(W, [50 * COIN] * 6)
    store = make_store(genesis)
    for _ in range(12):
        commit(store, next_block(store, W, "reindex"))
    kv = store.backend
    spoiled: dict[bytes, bytes | None] = {}
    for prefix in (b"a", b"s", b"t"):  # delete whole keyspaces
        spoiled.update({k: None for k, _ in kv.items(prefix)})
    for i, (k, _) in enumerate(kv.items(b"u")):  # garble every other UTXO, drop the rest
        spoiled[k] = b"\x00" * 48 if i % 2 else None
    spoiled[b"x" + W[0].lock + bytes(12)] = b"bogus"  # an entry pointing at nothing
    kv.write(spoiled, sync=True)
    store.reindex()
    replay = Replay(genesis)
    replay.extend(store)
    replay.assert_matches(store)


def test_both_stores_satisfy_the_chainstore_protocol(make_store):
    from faircoop_node.storage import ChainStore

    store: ChainStore = make_store(make_genesis(W))
    members = [m for m in dir(ChainStore) if not m.startswith("_")]  # with ChainReader's
    assert members and all(hasattr(store, m) for m in members)


def test_commit_never_trusts_a_utxo_read_from_before_the_last_commit(make_store):
    """get_utxo remembers reads for the next commit; a commit must forget them."""
    genesis = make_genesis(W, [10 * COIN, 10 * COIN])
    store = make_store(genesis)
    gid = codec.genesis_hash(genesis)
    coin = OutPoint(TxId(gid), 0)
    assert store.get_utxo(coin) is not None  # remembered
    tx = pay(CHAIN_ID, [(coin, W[0])], [TxOut(COIN, W[1].lock)])
    commit(store, make_block(genesis, gid, 1, (tx,)))
    # a second block whose (forged) diff spends the same, now spent, output
    block2 = make_block(genesis, store.tip().block_hash, 2, ())
    forged = ledger.UtxoDiff(spent=(coin,), created=(), fees=0)
    with pytest.raises(InvalidCommit, match="not in the UTXO set"):
        store.commit_block(block2, codec.block_hash(block2.header), forged, b"cert", b"")
    assert store.tip().height == 1


def test_outputs_of_recent_commits_are_read_without_the_key_value_store(make_store):
    """The recent-UTXO cache serves what commits created and never what they spent."""
    genesis = make_genesis(W, [10 * COIN, 10 * COIN])
    store = make_store(genesis)
    gid = codec.genesis_hash(genesis)
    coin = OutPoint(TxId(gid), 0)
    tx = pay(CHAIN_ID, [(coin, W[0])], [TxOut(COIN, W[1].lock), TxOut(8 * COIN, W[0].lock)])
    commit(store, make_block(genesis, gid, 1, (tx,)))
    made = [OutPoint(codec.txid(tx), n) for n in range(2)]
    reads: list[bytes] = []
    kv_get = store._kv.get
    store._kv.get = lambda key: reads.append(key) or kv_get(key)  # type: ignore[method-assign]
    assert [store.get_utxo(op) for op in made] == list(tx.outputs)
    assert reads == []  # both from the cache
    assert store.get_utxo(coin) is None  # spent: the cache does not hold it, the store says so
    assert len(reads) == 1
    child = pay(CHAIN_ID, [(made[1], W[0])], [TxOut(7 * COIN, W[0].lock)])
    commit(store, make_block(genesis, store.tip().block_hash, 2, (child,)))
    assert store.get_utxo(made[1]) is None and store.get_utxo(made[0]) == tx.outputs[0]
    store.reindex()  # rewrites the UTXO set behind the cache: the cache is dropped
    reads.clear()
    assert store.get_utxo(made[0]) == tx.outputs[0] and len(reads) == 1
