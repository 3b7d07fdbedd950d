"""Where a node stands in the voting set, from its API's documents (faircoop_node.membership).

Tables of API answers in, a `Membership` out: the role, the index, the pending change to the
key, and the first height of its current membership replayed from the governance history.
"""

from __future__ import annotations

from typing import Any

import pytest

from consensus.governance import (
    AddValidator,
    ReadmitValidator,
    RekeyValidator,
    RemoveValidator,
    SetParam,
    encode_block_action,
    make_action,
    make_recovery,
)
from consensus.types import BlockHash, PublicKey, Validator
from faircoop_node.membership import (
    Change,
    MembershipError,
    Participation,
    membership,
    pending_changes,
    since_from_history,
)
from tests.builders import key

ME = PublicKey(key(1).public_key)
OTHER = PublicKey(key(2).public_key)
THIRD = PublicKey(key(3).public_key)
GOV = (key(90),)


def _hex(body: Any) -> str:
    return encode_block_action(make_action("c", 0, body, GOV)).hex()


def _recovery(*keys: PublicKey) -> str:
    validators = tuple(Validator(f"v{i}", k) for i, k in enumerate(keys))
    return encode_block_action(make_recovery("c", 5, BlockHash(bytes(32)), validators,
                                             GOV)).hex()


def _record(pk: PublicKey, index: int, **flags: bool) -> dict[str, Any]:
    return {"index": index, "name": f"coop-{index}", "pubkey": pk.hex(),
            "in_rotation": flags.get("in_rotation", True),
            "quarantined": flags.get("quarantined", False),
            "suspended": flags.get("suspended", False),
            "blocks_proposed": 7, "rounds_voted": 30, "proposals_missed": 2, "missed_in_row": 1}


def _validators(*records: dict[str, Any]) -> dict[str, Any]:
    return {"height": 51, "count": len(records), "quorum": 3, "validators": list(records)}


def _governance(*pending: str) -> dict[str, Any]:
    return {"governors": [], "threshold": 1, "pending": [
        {"kind": "x", "included_height": 50, "effective_height": 52, "summary": "",
         "hex": h} for h in pending]}


STATUS = {"node_id": ME.hex(), "height": 50}


@pytest.mark.parametrize(("records", "role", "index", "in_rotation"), [
    ((_record(OTHER, 0), _record(ME, 1)), "voting", 1, True),
    ((_record(ME, 0, in_rotation=False, quarantined=True),), "quarantined", 0, False),
    ((_record(OTHER, 0), _record(ME, 1, suspended=True, in_rotation=False)), "suspended", 1,
     False),
    ((_record(ME, 0, quarantined=True, suspended=True),), "suspended", 0, True),  # sole one
    ((_record(OTHER, 0),), "outside", None, False),
    ((), "outside", None, False),
])
def test_role_index_and_rotation_come_from_the_validators_document(
        records: tuple[dict[str, Any], ...], role: str, index: int | None,
        in_rotation: bool) -> None:
    found = membership(STATUS, _validators(*records), _governance())
    assert (found.role, found.index, found.in_rotation) == (role, index, in_rotation)
    assert (found.height, found.set_size, found.pubkey) == (51, len(records), ME.hex())
    assert (found.participation == Participation(7, 30, 2, 1)) == (role != "outside")


@pytest.mark.parametrize(("pending", "changes"), [
    ((_hex(AddValidator("me", ME)),), (Change("joins", 50, 52),)),
    ((_hex(RemoveValidator(ME)),), (Change("leaves", 50, 52),)),
    ((_hex(RekeyValidator(ME, OTHER)),), (Change("leaves", 50, 52),)),
    ((_hex(RekeyValidator(OTHER, ME)),), (Change("joins", 50, 52),)),
    ((_hex(ReadmitValidator(ME)),), (Change("readmitted", 50, 52),)),
    ((_hex(AddValidator("other", OTHER)), _hex(SetParam("dust_limit", 5))), ()),
    (("zz", "00", _hex(RemoveValidator(ME))), (Change("leaves", 50, 52),)),  # unreadable skipped
])
def test_pending_changes_name_only_actions_about_this_key(
        pending: tuple[str, ...], changes: tuple[Change, ...]) -> None:
    assert pending_changes(ME.hex(), _governance(*pending)) == changes


def _item(action_hex: str, effective: int) -> dict[str, Any]:
    return {"hex": action_hex, "effective_height": effective}


@pytest.mark.parametrize(("genesis", "history", "since"), [
    ((ME,), (), 1),  # a founding validator nobody touched
    ((OTHER,), (), None),
    ((OTHER,), (_item(_hex(AddValidator("me", ME)), 12),), 12),
    ((ME,), (_item(_hex(AddValidator("x", THIRD)), 12),), 1),
    ((ME,), (_item(_hex(RemoveValidator(ME)), 12), _item(_hex(AddValidator("me", ME)), 30)),
     30),
    ((ME,), (_item(_hex(RemoveValidator(ME)), 12),), None),
    ((OTHER,), (_item(_hex(RekeyValidator(OTHER, ME)), 9),), 9),
    ((ME,), (_item(_hex(RekeyValidator(ME, OTHER)), 9),), None),
    ((ME,), (_item(_hex(ReadmitValidator(ME)), 40),), 40),  # suspended by evidence before
    ((ME, OTHER), (_item(_recovery(ME, THIRD), 20),), 1),  # kept by a recovery: still 1
    ((OTHER,), (_item(_recovery(ME, THIRD), 20),), 20),
    ((ME,), (_item(_recovery(OTHER), 20),), None),
    ((OTHER,), (_item("not hex", 5), {"hex": _hex(AddValidator("me", ME))},
                _item(_hex(AddValidator("me", ME)), 8)), 8),  # unreadable items skipped
])
def test_since_replays_the_history_over_the_genesis_set(
        genesis: tuple[PublicKey, ...], history: tuple[dict[str, Any], ...],
        since: int | None) -> None:
    assert since_from_history(ME.hex(), [k.hex() for k in genesis], history) == since


@pytest.mark.parametrize(("status", "validators", "governance", "missing"), [
    ({}, _validators(), _governance(), "'node_id'"),
    (STATUS, {"validators": []}, _governance(), "'height'"),
    (STATUS, {"height": True, "validators": []}, _governance(), "'height'"),
    (STATUS, _validators(), {"pending": "no"}, "'pending'"),
    (STATUS, _validators({"pubkey": ME.hex()}), _governance(), "'index'"),
    (STATUS, "<html>", _governance(), "'height'"),
])
def test_a_document_of_the_wrong_shape_is_a_clear_error(
        status: Any, validators: Any, governance: Any, missing: str) -> None:
    with pytest.raises(MembershipError, match=missing):
        membership(status, validators, governance)


@pytest.mark.parametrize(("records", "pending", "wants", "since", "phrases"), [
    ((_record(ME, 1),), (), None, 12,
     ["in the voting set since height 12 (index 1 of 1, proposes in turn)",
      "participation: 7 blocks proposed, 30 rounds voted, 2 proposals missed (1 in a row)"]),
    ((_record(ME, 0, quarantined=True, in_rotation=False),), (), None, None,
     ["in the voting set, QUARANTINED (index 0 of 1)", "still votes"]),
    ((_record(ME, 0, suspended=True),), (), None, 3, ["since height 3, SUSPENDED",
                                                      "readmit-validator"]),
    ((), (_hex(AddValidator("me", ME)),), True,
     None, ["not in the voting set: waiting for the governors' add-validator",
            "joins the voting set at height 52 (action included at 50)"]),
    ((), (), False, None, ["not in the voting set (an observer)"]),
    ((), (), None, None, ["not in the voting set"]),
    ((_record(ME, 0),), (_hex(RemoveValidator(ME)),), None, None,
     ["in the voting set (index 0 of 1", "leaves the voting set at height 52"]),
])
def test_lines_say_it_in_words(records: tuple[dict[str, Any], ...], pending: tuple[str, ...],
                               wants: bool | None, since: int | None,
                               phrases: list[str]) -> None:
    from dataclasses import replace

    found = replace(membership(STATUS, _validators(*records), _governance(*pending)),
                    since_height=since)
    text = "\n".join(found.lines(wants_to_validate=wants))
    for phrase in phrases:
        assert phrase in text
    doc = found.to_json()
    assert doc["in_voting_set"] == bool(records) and doc["since_height"] == since
    assert len(doc["changes"]) == len(pending)
