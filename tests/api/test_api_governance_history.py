"""GET /api/v1/governance/history: every action the chain included, newest first, in the words
of the pending view, with its signers, reference and effective height; paged by a cursor, read
from the store's governance index (never by reading blocks).
"""

from __future__ import annotations

import pytest

from consensus.address import encode_address
from consensus.crypto import sha256
from consensus.governance import (
    Reference,
    SetParam,
    SetTreasury,
    encode_block_action,
    make_action,
    make_recovery,
)
from faircoop_node.api import governance
from faircoop_node.api.governance import MAX_HISTORY
from tests.api.api_chain import CAROL, VALIDATOR_KEYS, Scene, serve, standard_chain
from tests.builders import CHAIN_ID

GOVERNOR = VALIDATOR_KEYS[0]
REF = Reference("https://coop.example/assembly/2027-01#2", "Assembly of 2027-01-15, item 2")


def governed_chain() -> tuple[Scene, list[bytes]]:
    """The standard chain (a version 1 action at height 3), then two version 2 actions at
    height 4, an empty height 5, and a recovery (the same set, after the wait) at height 6.
    Returns the scene and the actions, oldest first."""
    scene = standard_chain()
    node = scene.node
    param = encode_block_action(make_action(CHAIN_ID, 1, SetParam("dust_limit", 2_000),
                                            (GOVERNOR,), REF))
    treasury = encode_block_action(make_action(CHAIN_ID, 2, SetTreasury(CAROL.lock),
                                               (GOVERNOR,), REF))
    node.commit(actions=(param, treasury))
    node.commit()
    state = node.state
    recovery = encode_block_action(make_recovery(CHAIN_ID, state.height, state.last_block_id,
                                                 state.validators, (GOVERNOR,), REF))
    node.commit(actions=(recovery,), after_ms=state.params.recovery_after_ms + 1)
    return scene, [scene.action, param, treasury, recovery]


async def _get(client, query: str = ""):  # type: ignore[no-untyped-def]
    resp = await client.get("/api/v1/governance/history" + query)
    return resp.status, await resp.json()


async def test_the_history_lists_every_included_action_newest_first() -> None:
    scene, actions = governed_chain()
    async with serve(scene.node) as client:
        status, body = await _get(client)
    assert status == 200 and body["next"] is None
    entries = body["actions"]
    assert [e["hex"] for e in entries] == [a.hex() for a in reversed(actions)]
    assert [(e["height"], e["position"], e["effective_height"]) for e in entries] == [
        (6, 0, 6),  # a recovery is in force in the block that carries it
        (4, 1, 6), (4, 0, 6),  # any other action two heights later
        (3, 0, 5)]
    assert entries[1] == {
        "id": sha256(actions[2]).hex(), "kind": "set_treasury",
        "summary": f"set treasury to {encode_address(CAROL.lock, 'test')}", "nonce": 2,
        "signers": [GOVERNOR.public_key.hex()], "reference": {"uri": REF.uri, "text": REF.text},
        "hex": actions[2].hex(), "height": 4, "position": 1, "effective_height": 6,
    }
    assert entries[0]["kind"] == "recovery" and entries[0]["nonce"] is None
    assert entries[3]["reference"] is None  # version 1: no reference
    assert entries[3]["summary"] == "set min_fee_rate = 2"


async def test_the_words_are_those_of_the_pending_view() -> None:
    scene = standard_chain()  # the action at height 3 is pending: in force at 5
    async with serve(scene.node) as client:
        pending = (await (await client.get("/api/v1/governance")).json())["pending"]
        _, body = await _get(client)
    [entry] = body["actions"]
    shared = {k: v for k, v in entry.items() if k not in ("height", "position")}
    assert shared == {k: v for k, v in pending[0].items() if k != "included_height"}


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
async def test_paging_with_the_cursor_walks_the_same_history(limit: int) -> None:
    scene, _ = governed_chain()
    async with serve(scene.node) as client:
        _, whole = await _get(client)
        paged, query, pages = [], f"?limit={limit}", 0
        while True:
            status, page = await _get(client, query)
            assert status == 200 and len(page["actions"]) <= limit
            paged.extend(page["actions"])
            pages += 1
            if page["next"] is None:
                break
            query = f"?limit={limit}&after={page['next']}"
    assert paged == whole["actions"]
    assert pages == -(-4 // limit)  # the last page says it is the last: no empty page


async def test_a_page_ends_early_at_its_byte_bound_and_next_goes_on(monkeypatch) -> None:
    scene, _ = governed_chain()
    monkeypatch.setattr(governance, "MAX_HISTORY_BYTES", 1)  # one action's bytes fill a page
    pages = []
    async with serve(scene.node) as client:
        query = ""
        while True:
            _, page = await _get(client, query)
            pages.append(page)
            if page["next"] is None:
                break
            query = f"?after={page['next']}"
    assert [[(e["height"], e["position"]) for e in p["actions"]] for p in pages] == [
        [(6, 0)], [(4, 1)], [(4, 0)], [(3, 0)]]  # and no empty page after the last
    assert [p["next"] for p in pages] == ["6.0", "4.1", "4.0", None]


async def test_the_history_is_read_from_the_index_not_the_blocks() -> None:
    scene, _ = governed_chain()
    store = scene.node.store

    def no_blocks(*_: object) -> None:
        raise AssertionError("the history read a block")

    async with serve(scene.node) as client:
        _, before = await _get(client)
        store.get_block = store.get_block_at = store.get_block_bytes = no_blocks  # type: ignore[method-assign]
        status, body = await _get(client)
        assert status == 200 and body == before
        del store.get_block, store.get_block_at, store.get_block_bytes
        store.reindex()  # rebuilt from the blocks: the same history
        assert (await _get(client))[1] == before


BAD_QUERIES = [
    "?limit=0", f"?limit={MAX_HISTORY + 1}", "?limit=x", "?after=", "?after=5", "?after=.1",
    "?after=5.", "?after=a.b", "?after=-1.0", "?after=5.0.1", f"?after=5.{2**32}",
    f"?after={2**64}.0", "?after=%EF%BC%95.0",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
async def test_bad_limits_and_cursors_are_400s(query: str) -> None:
    scene, _ = governed_chain()
    async with serve(scene.node) as client:
        status, body = await _get(client, query)
    assert status == 400 and body["error"]


async def test_a_chain_without_actions_has_an_empty_history() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        _, body = await _get(client, "?after=3.0")  # older than the only action
    assert body == {"actions": [], "next": None}
