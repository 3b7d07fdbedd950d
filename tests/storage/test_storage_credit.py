"""The credit keyspaces (schema 4): accounts, history lines and totals are written in the
block's batch from the block's `CreditDiff`, rebuilt key for key by reindex, built when an
older store is opened, and a diff whose balances don't sum to zero is refused whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import plyvel
import pytest

from consensus.credit import CreditAccount, CreditDiff
from faircoop_node.storage import BaseStore, InvalidCommit, LevelDBStore, schema
from tests.api.api_chain import make_chain_genesis
from tests.credit.credit_chain import UNIT, A, B, C, b_transfer, credit_chain

DERIVED_CREDIT = (schema.CREDIT_ACCOUNT, schema.CREDIT_HISTORY, schema.CREDIT_TOTALS, schema.TX)


def snapshot(store: BaseStore) -> dict[bytes, bytes]:
    return {k: v for prefix in DERIVED_CREDIT for k, v in store.backend.items(prefix)}


def test_reindex_rebuilds_the_credit_keyspaces_key_for_key(make_store):
    store = make_store(make_chain_genesis())
    credit_chain(store)
    before = snapshot(store)
    assert len([k for k in before if k[:1] == schema.CREDIT_ACCOUNT]) == 3
    for key in list(before):  # garble and drop some, as a crash or a bad disk might
        if key[:1] == schema.CREDIT_HISTORY:
            store.backend.write({key: None}, sync=True)
    store.backend.write({schema.credit_account_key(A): b"junk"}, sync=True)
    store.reindex()
    assert snapshot(store) == before
    assert store.get_credit_account(A) == CreditAccount(-30 * UNIT, 20 * UNIT, 1)


def test_a_schema_3_store_gets_its_credit_keyspaces_on_open(tmp_path: Path):
    with LevelDBStore(tmp_path, make_chain_genesis()) as store:
        credit_chain(store)
        before = snapshot(store)
    db = plyvel.DB(str(tmp_path))
    try:
        for prefix in DERIVED_CREDIT[:3]:
            for key, _ in list(db.iterator(prefix=prefix)):
                db.delete(key)
        db.put(schema.META_SCHEMA, (3).to_bytes(4, "big"))
    finally:
        db.close()
    with LevelDBStore(tmp_path, make_chain_genesis()) as store:
        assert snapshot(store) == before
        assert store.get_credit_totals().outstanding == 30 * UNIT


def test_the_totals_follow_every_account(make_store):
    store = make_store(make_chain_genesis())
    credit_chain(store)
    accounts = [store.get_credit_summary(lk).account for lk in (A, B, C)]
    totals = store.get_credit_totals()
    assert totals.accounts == 3
    assert totals.credit_lines == sum(a.limit > 0 for a in accounts)
    assert totals.granted == sum(a.limit for a in accounts)
    assert totals.outstanding == -sum(a.balance for a in accounts if a.balance < 0)
    assert totals.positive == totals.outstanding  # the balances sum to zero


def test_a_diff_that_is_not_zero_sum_is_refused_and_nothing_is_written(make_store):
    """The store's own check, behind the ledger's: an unbalanced diff can only be a bug."""
    store = make_store(make_chain_genesis())
    scene = credit_chain(store)
    node = scene.node
    tip = store.tip()
    before = snapshot(store)
    real = store.commit_block

    def leaky(*args, credit: CreditDiff, **kwargs):
        accounts = tuple((lk, replace(a, balance=a.balance + 1)) if lk == B else (lk, a)
                         for lk, a in credit.accounts)
        return real(*args, credit=replace(credit, accounts=accounts), **kwargs)

    store.commit_block = leaky  # type: ignore[method-assign]
    with pytest.raises(InvalidCommit, match="do not sum to zero"):
        node.commit((b_transfer(1, C, UNIT),))
    assert store.tip() == tip
    assert snapshot(store) == before
