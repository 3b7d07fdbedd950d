"""Where a node stands in the chain's voting set, read from its API (`faircoop-node status`).

An operator who has just joined (or been quarantined, or caught equivocating) wants one
answer: does my key vote now, and since when? The node's API holds the pieces:

- `GET /api/v1/status`: the node's key (`node_id`) and tip;
- `GET /api/v1/validators`: the voting set of the next height, each member's participation
  and its `quarantined` / `suspended` flags;
- `GET /api/v1/governance`: the actions included at the tip, in force two heights later
  (a key about to join or leave);
- `GET /api/v1/governance/history`, where the node serves it: the included actions with their
  effective heights (newest first, paged), which date the current membership.

`membership(...)` turns those answers into a `Membership`; `lines()` says it in words and
`to_json()` for `--json`. Pure functions of the documents, so the tests feed them tables;
`read_status(URL)` asks a node for them.

Left out: anything the API does not serve: since which height a validator is quarantined or
suspended is not recorded there, so it is shown as unknown.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from consensus.codec import decode_genesis
from consensus.errors import FaircoopError
from consensus.governance import (
    AddValidator,
    BlockAction,
    ReadmitValidator,
    RecoveryAction,
    RekeyValidator,
    RemoveValidator,
    decode_block_action,
)

Json = Mapping[str, Any]
Role = Literal["voting", "quarantined", "suspended", "outside"]
ChangeKind = Literal["joins", "leaves", "readmitted"]


class MembershipError(FaircoopError):
    """The node's API answered something that is not what `status` reads."""


@dataclass(frozen=True, slots=True)
class Change:
    """A governance change to this key, included on chain and not in force yet."""

    what: ChangeKind
    included_height: int
    effective_height: int

    def sentence(self) -> str:
        verb = {"joins": "joins the voting set", "leaves": "leaves the voting set",
                "readmitted": "is readmitted to the voting set"}[self.what]
        return (f"{verb} at height {self.effective_height} (action included at "
                f"{self.included_height})")


@dataclass(frozen=True, slots=True)
class Participation:
    proposed: int
    voted: int
    missed: int
    missed_in_row: int


@dataclass(frozen=True, slots=True)
class Membership:
    """This node's key in the voting set of `height` (the tip's next height)."""

    pubkey: str
    height: int
    role: Role
    set_size: int
    index: int | None = None  # its index in the set (and in commit certificates)
    in_rotation: bool = False  # whether it is asked to propose
    since_height: int | None = None  # the first height of its current membership, if known
    participation: Participation | None = None
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        p = self.participation
        return {
            "pubkey": self.pubkey, "height": self.height, "role": self.role,
            "in_voting_set": self.role != "outside", "set_size": self.set_size,
            "index": self.index, "in_rotation": self.in_rotation,
            "since_height": self.since_height,
            "participation": None if p is None else {
                "blocks_proposed": p.proposed, "rounds_voted": p.voted,
                "proposals_missed": p.missed, "missed_in_row": p.missed_in_row},
            "changes": [{"what": c.what, "included_height": c.included_height,
                         "effective_height": c.effective_height} for c in self.changes],
        }

    def lines(self, *, wants_to_validate: bool | None = None) -> list[str]:
        """In words; `wants_to_validate` (from the node's config, if known) shapes the advice
        to a node outside the set."""
        since = ("" if self.since_height is None
                 else f" since height {self.since_height}")
        where = f"index {self.index} of {self.set_size}"
        if self.role == "voting":
            head = (f"in the voting set{since} ({where}, "
                    + ("proposes in turn)" if self.in_rotation else "not in the rotation)"))
        elif self.role == "quarantined":
            head = (f"in the voting set{since}, QUARANTINED ({where}): it missed its last "
                    "proposals, so it is not asked to propose, but it still votes; it "
                    "returns once its vote appears in a certificate (since which height: "
                    "not served by the API)")
        elif self.role == "suspended":
            head = (f"in the voting set{since}, SUSPENDED ({where}): caught signing two "
                    "votes; it leaves the set and only a governors' readmit-validator brings "
                    "it back (since which height: not served by the API)")
        elif wants_to_validate:
            head = ("not in the voting set: waiting for the governors' add-validator "
                    "(`faircoop-node init` printed the line to send them)")
        elif wants_to_validate is False:
            head = "not in the voting set (an observer)"
        else:
            head = "not in the voting set"
        out = [head]
        if self.participation is not None:
            p = self.participation
            out.append(f"participation: {p.proposed} blocks proposed, {p.voted} rounds voted, "
                       f"{p.missed} proposals missed ({p.missed_in_row} in a row)")
        out.extend(c.sentence() for c in self.changes)
        return out


# -- reading the API's documents ------------------------------------------------------------


def _field(doc: Json, key: str, kind: type, what: str) -> Any:
    value = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MembershipError(f"{what} has no {kind.__name__} {key!r}; is this a faircoop "
                              "node of this version?")
    return value


def _changes_to(key: str, action: BlockAction) -> tuple[ChangeKind, ...]:
    """How one action changes `key`'s membership ("joins", "leaves", "readmitted")."""
    if isinstance(action, RecoveryAction):
        return ()  # a recovery is installed at once, not pending
    match action.body:
        case AddValidator(_, pubkey) if pubkey.hex() == key:
            return ("joins",)
        case RemoveValidator(pubkey) if pubkey.hex() == key:
            return ("leaves",)
        case RekeyValidator(old, new) if key in (old.hex(), new.hex()):
            return ("leaves",) if old.hex() == key else ("joins",)
        case ReadmitValidator(pubkey) if pubkey.hex() == key:
            return ("readmitted",)
    return ()


def pending_changes(key: str, governance: Json) -> tuple[Change, ...]:
    """The changes to `key` among `GET /governance`'s pending actions."""
    out: list[Change] = []
    for item in _field(governance, "pending", list, "GET /api/v1/governance"):
        found = _decoded(item)
        if found is None:
            continue  # a kind this CLI does not read: not one that changes membership
        action, effective = found
        included = _field(item, "included_height", int, "a pending action")
        out.extend(Change(what, included, effective) for what in _changes_to(key, action))
    return tuple(out)


def _decoded(item: object) -> tuple[BlockAction, int] | None:
    """(action, effective height) of one history or pending item, if this CLI reads it."""
    raw = item.get("hex") if isinstance(item, Mapping) else None
    effective = item.get("effective_height") if isinstance(item, Mapping) else None
    if not isinstance(raw, str) or not isinstance(effective, int):
        return None
    try:
        return decode_block_action(bytes.fromhex(raw)), effective
    except (ValueError, FaircoopError):
        return None


def since_from_history(key: str, genesis_members: Sequence[str],
                       history: Sequence[Json]) -> int | None:
    """The first height of `key`'s current membership, replaying the whole governance
    `history` (oldest first) over the genesis set; None if it is not a member at the end.

    Evidence suspends without an action, so a suspension is not seen here; the readmit that
    ends it is, and dates the membership again.
    """
    member = key in genesis_members
    since: int | None = 1 if member else None
    for found in map(_decoded, history):
        if found is None:
            continue
        action, effective = found
        if isinstance(action, RecoveryAction):
            named = any(v.pubkey.hex() == key for v in action.validators)
            if named and not member:
                since = effective
            member = named
            continue
        for what in _changes_to(key, action):
            if what == "leaves":
                member = False
            elif not member or what == "readmitted":
                member, since = True, effective
    return since if member else None


def membership(status: Json, validators: Json, governance: Json,
               since_height: int | None = None) -> Membership:
    """Where `status`'s node stands, from the three documents (see the module's doc)."""
    key = _field(status, "node_id", str, "GET /api/v1/status")
    height = _field(validators, "height", int, "GET /api/v1/validators")
    members = _field(validators, "validators", list, "GET /api/v1/validators")
    changes = pending_changes(key, governance)
    for record in members:
        if _field(record, "pubkey", str, "a validator") != key:
            continue
        role: Role = ("suspended" if record.get("suspended") is True
                      else "quarantined" if record.get("quarantined") is True else "voting")
        return Membership(
            pubkey=key, height=height, role=role, set_size=len(members),
            index=_field(record, "index", int, "a validator"),
            in_rotation=record.get("in_rotation") is True, since_height=since_height,
            participation=Participation(*(
                _field(record, name, int, "a validator")
                for name in ("blocks_proposed", "rounds_voted", "proposals_missed",
                             "missed_in_row"))),
            changes=changes)
    return Membership(pubkey=key, height=height, role="outside", set_size=len(members),
                      changes=changes)


# -- asking the node ------------------------------------------------------------------------

HISTORY_PAGE = 1000  # actions asked for per page (the API's most)
HISTORY_PAGES = 100  # read at most this many pages of governance history


@dataclass(frozen=True, slots=True)
class StatusReport:
    status: dict[str, Any]  # GET /api/v1/status as served
    membership: Membership


class _Api:
    def __init__(self, base: str, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, *, missing_ok: bool = False) -> Any:
        """The JSON document at /api/v1/`path`; None for a 404 when `missing_ok`."""
        url = f"{self.base}/api/v1/{path}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:
                return None
            raise MembershipError(f"{url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise MembershipError(f"no node answering at {url}: {exc}") from None
        except (UnicodeDecodeError, ValueError):
            raise MembershipError(f"{url} did not answer JSON; is it a faircoop node?") from None


def read_status(base: str, *, timeout: float = 5.0) -> StatusReport:
    """The node's status and membership, asked of its API at `base`."""
    api = _Api(base, timeout)
    status = api.get("status")
    if not isinstance(status, dict):
        raise MembershipError(f"{api.base}/api/v1/status is not a status object")
    validators, governance = api.get("validators"), api.get("governance")
    found = membership(status, validators, governance)
    if found.role == "outside":
        return StatusReport(status, found)
    since = _since(api, found.pubkey)
    return StatusReport(status, replace(found, since_height=since))


def _since(api: _Api, key: str) -> int | None:
    """The first height of `key`'s current membership, if the node serves its history."""
    history = read_history(api)
    if history is None:
        return None
    genesis = api.get("genesis")
    try:
        members = [v.pubkey.hex() for v in
                   decode_genesis(bytes.fromhex(_field(genesis, "hex", str, "GET /genesis")))
                   .validators]
    except (ValueError, FaircoopError) as exc:
        raise MembershipError(f"GET /api/v1/genesis: not a genesis: {exc}") from None
    return since_from_history(key, members, history)


def read_history(api: _Api) -> list[Json] | None:
    """Every included governance action, oldest first; None if the node does not serve the
    history (or it is longer than HISTORY_PAGES pages).

    The node serves it newest first, a page at a time, each naming the cursor of the next.
    """
    items: list[Json] = []
    query = f"?limit={HISTORY_PAGE}"
    for _ in range(HISTORY_PAGES):
        doc = api.get(f"governance/history{query}", missing_ok=True)
        if doc is None:
            return None
        items.extend(_field(doc, "actions", list, "GET /api/v1/governance/history"))
        after = doc.get("next")
        if not isinstance(after, str) or not after:
            return items[::-1]
        query = f"?limit={HISTORY_PAGE}&after={urllib.parse.quote(after)}"
    return None
