"""Opening a store of an older schema rebuilds what that schema lacked, key for key, and the
schema record then says the current version: from 4 (credit, no campaigns) and from 3 (neither
credit nor campaigns), over a chain that has both."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from faircoop_node.storage import LevelDBStore, schema
from tests.api.api_campaign_scene import campaign_chain, campaign_genesis
from tests.credit.credit_chain import UNIT, A, B, a_transfer, limit_action

CREDIT_PREFIXES = (schema.CREDIT_ACCOUNT, schema.CREDIT_HISTORY, schema.CREDIT_TOTALS)


def _derived(store: LevelDBStore) -> dict[bytes, bytes]:
    return {k: v for prefix in schema.DERIVED_PREFIXES for k, v in store.backend.items(prefix)}


def _chain_with_campaigns_and_credit(path: Path) -> dict[bytes, bytes]:
    """The API campaign scene (heights 1-6), then A granted a credit line and paying B in
    credit (heights 7-9); every derived key as the commits wrote them."""
    with LevelDBStore(path, campaign_genesis()) as store:
        node = campaign_chain(store).node
        node.commit(actions=(limit_action(0, A, 100 * UNIT),))
        node.commit()
        node.commit((a_transfer(0, B, 30 * UNIT, b"bread"),))
        derived = _derived(store)
    return derived


@pytest.mark.parametrize("old, lacking", [
    (4, schema.FUNDING_PREFIXES),
    (3, (*CREDIT_PREFIXES, *schema.FUNDING_PREFIXES)),
], ids=["from_4", "from_3"])
def test_an_older_store_is_upgraded_on_open_key_for_key(
        tmp_path: Path, old: int, lacking: tuple[bytes, ...]) -> None:
    before = _chain_with_campaigns_and_credit(tmp_path)
    assert all(any(k[:1] == p for k in before) for p in lacking), "the chain uses every keyspace"
    db = plyvel.DB(str(tmp_path))
    try:
        for prefix in lacking:
            for key, _ in list(db.iterator(prefix=prefix)):
                db.delete(key)
        db.put(schema.META_SCHEMA, old.to_bytes(4, "big"))
    finally:
        db.close()
    with LevelDBStore(tmp_path, campaign_genesis()) as store:
        assert _derived(store) == before
        assert store.get_credit_account(A) is not None
        assert len(store.get_campaigns(10)) == 3
    db = plyvel.DB(str(tmp_path))
    try:
        assert schema.decode_schema(db.get(schema.META_SCHEMA)) == schema.SCHEMA_VERSION == 5
    finally:
        db.close()
