"""The governance index (schema 3): every action a block carried, under (height, position), read
newest first from one key range (the API's GET /governance/history); written in the block's
batch, rebuilt by reindex, built when a schema-2 store is opened, and checked by its checksum.
(Random chains with actions are also checked key for key by `Replay.assert_matches`.)
"""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from faircoop_node.storage import (
    ActionLocation,
    BaseStore,
    CorruptStore,
    GovernanceEntry,
    LevelDBStore,
    schema,
)
from tests.storage.storage_chain import Replay, commit, make_block, make_genesis, wallet

W = [wallet(i, "gov-index") for i in range(3)]
GENESIS = make_genesis(W)
# (height, actions) of the chain `_chain` builds; the other heights carry none
CARRIED = {2: (b"a" * 10, b"b" * 20), 3: (b"c" * 30,), 5: (b"d" * 40, b"e" * 5, b"f" * 7)}


def _chain(store: BaseStore, blocks: int = 6) -> BaseStore:
    for height in range(1, blocks + 1):
        tip = store.tip()
        last = (store.get_certificate(tip.height) or b"") if tip.height else b""
        commit(store, make_block(GENESIS, tip.block_hash, height, (), last,
                                 actions=CARRIED.get(height, ())))
    return store


def _all_newest_first() -> list[GovernanceEntry]:
    return [GovernanceEntry(h, i, raw) for h in sorted(CARRIED, reverse=True)
            for i, raw in reversed(list(enumerate(CARRIED[h])))]


def test_the_history_is_every_carried_action_newest_first(make_store):
    store = _chain(make_store(GENESIS))
    assert list(store.get_governance_history()) == _all_newest_first()
    assert store.get_governance_history(limit=2) == tuple(_all_newest_first()[:2])


@pytest.mark.parametrize("page", [1, 2, 3, 10])
def test_paging_with_limit_and_before_walks_the_same_history(make_store, page):
    store = _chain(make_store(GENESIS))
    paged: list[GovernanceEntry] = []
    before = None
    while chunk := store.get_governance_history(limit=page, before=before):
        assert len(chunk) <= page
        paged.extend(chunk)
        before = ActionLocation(chunk[-1].height, chunk[-1].position)
    assert paged == _all_newest_first()


@pytest.mark.parametrize(("max_bytes", "count"), [
    (1, 1),  # a page always has an entry, however large
    (7, 1), (8, 2),  # stops after the entry that reaches the budget
    (12, 2), (13, 3), (52, 3), (53, 4), (10**6, 6),
])
def test_a_page_stops_once_its_action_bytes_reach_max_bytes(make_store, max_bytes, count):
    store = _chain(make_store(GENESIS))  # newest first: 7, 5, 40, 30, 20, 10 bytes
    found = store.get_governance_history(max_bytes=max_bytes)
    assert found == tuple(_all_newest_first()[:count])


def test_an_empty_chain_has_no_history(make_store):
    store = _chain(make_store(GENESIS), blocks=1)
    assert store.get_governance_history() == ()
    assert store.get_governance_history(before=ActionLocation(10, 0)) == ()


def test_reindex_rebuilds_a_deleted_or_garbled_governance_index(make_store):
    store = _chain(make_store(GENESIS))
    kv = store.backend
    keys = [k for k, _ in kv.items(schema.GOVERNANCE)]
    kv.write({keys[0]: None, keys[1]: b"garbled", schema.governance_key(99, 0): b"stray"},
             sync=True)
    with pytest.raises(CorruptStore, match="checksum"):
        store.get_governance_history()
    store.reindex()
    assert list(store.get_governance_history()) == _all_newest_first()
    replay = Replay(GENESIS)
    replay.extend(store)
    replay.assert_matches(store)


def test_a_schema_2_store_gets_its_governance_index_on_open(tmp_path: Path):
    with _chain(LevelDBStore(tmp_path, GENESIS)):
        pass
    db = plyvel.DB(str(tmp_path))
    try:
        for key, _ in list(db.iterator(prefix=schema.GOVERNANCE)):
            db.delete(key)
        db.put(schema.META_SCHEMA, (2).to_bytes(4, "big"))
    finally:
        db.close()
    with LevelDBStore(tmp_path, GENESIS) as store:
        assert list(store.get_governance_history()) == _all_newest_first()
    db = plyvel.DB(str(tmp_path))
    try:
        assert schema.decode_schema(db.get(schema.META_SCHEMA)) == schema.SCHEMA_VERSION
    finally:
        db.close()


def test_a_garbled_record_is_corrupt_store_naming_its_key(make_store):
    store = _chain(make_store(GENESIS))
    key = schema.governance_key(5, 1)
    raw = store.backend.get(key)
    store.backend.write({key: raw[:-1] + bytes([raw[-1] ^ 1])}, sync=True)
    with pytest.raises(CorruptStore, match="governance record g:") as caught:
        store.get_governance_history()
    assert caught.value.key == key
