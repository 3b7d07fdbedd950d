"""Handlers for the cooperative's view of the chain: validators, parameters, governance.

These serve the members' assembly: who validates and how each coop has taken part (the
participation ledger), the dynamic parameters with the range governance may move each within,
the governors, their threshold, the treasury, the actions not yet in effect, and the history of
every action the chain included. Validators, parameters and governors are read from the node's
`ChainState` as of the tip, so every node answers alike at one height; the actions a node holds
but no block has carried yet (`pooled`, `recoveries`) are this node's own.

Every action is shown in one shape (`action_json`): what it does in words, its nonce, who
signed, the assembly's reference and its bytes; where it stands adds its heights. The history
is the store's governance index read backwards (no block is read), paged by a cursor.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from consensus.address import encode_address
from consensus.chainstate import ChainState
from consensus.codec import encode_params, params_hash, validators_hash
from consensus.crypto import sha256
from consensus.errors import DecodeError
from consensus.governance import (
    AddValidator,
    BlockAction,
    ReadmitValidator,
    RecoveryAction,
    RekeyValidator,
    RemoveValidator,
    SetCreditLimit,
    SetGovernors,
    SetParam,
    SetReferenceRate,
    SetTreasury,
    SignedAction,
    decode_block_action,
)
from consensus.params import PARAM_RANGES
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_after, parse_uint
from faircoop_node.api.rates import price_text
from faircoop_node.api.render import Json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.errors import CorruptStore
from faircoop_node.storage.protocol import ActionLocation, ChainReader, GovernanceEntry

routes = web.RouteTableDef()


def validator_records(state: ChainState) -> list[Json]:
    """The voting set for height + 1, in certificate-index order, with participation."""
    quarantined = state.quarantined()
    suspended = {v.pubkey for v in state.suspended}
    rotation = set(state.proposer_rotation())
    records: list[Json] = []
    for index, v in enumerate(state.validators):
        p = state.participation_of(v.pubkey)
        records.append({
            "index": index,
            "name": v.name,
            "pubkey": v.pubkey.hex(),
            "in_rotation": v.pubkey in rotation,
            "quarantined": v.pubkey in quarantined,
            "suspended": v.pubkey in suspended,
            "blocks_proposed": p.proposed,
            "rounds_voted": p.voted,
            "proposals_missed": p.missed,
            "missed_in_row": p.missed_in_a_row,
        })
    return records


@routes.get("/api/v1/validators")
async def validators(request: web.Request) -> web.Response:
    state = request.app[VIEW].chain_state()
    return web.json_response({
        "height": state.height + 1,
        "validators_hash": validators_hash(state.validators).hex(),
        "count": len(state.validators),
        "quorum": state.quorum(),
        "validators": validator_records(state),
    })


@routes.get("/api/v1/params")
async def params(request: web.Request) -> web.Response:
    current = request.app[VIEW].chain_state().params
    return web.json_response({
        "hash": params_hash(current).hex(),
        "hex": encode_params(current).hex(),
        "params": dict(zip(PARAM_RANGES, current.as_tuple(), strict=True)),
        "ranges": {name: {"min": lo, "max": hi} for name, (lo, hi) in PARAM_RANGES.items()},
    })


def describe_action(action: BlockAction, network: str) -> tuple[str, str]:
    """(kind, one-line summary) of a governance action, for people reading the pending list."""
    if isinstance(action, RecoveryAction):
        names = ", ".join(v.name for v in action.validators)
        return "recovery", f"recovery: new validator set {names}"
    match action.body:
        case AddValidator(name, pubkey):
            return "add_validator", f"add validator {name} ({pubkey.hex()})"
        case RemoveValidator(pubkey):
            return "remove_validator", f"remove validator {pubkey.hex()}"
        case RekeyValidator(old, new):
            return "rekey_validator", f"rekey validator {old.hex()} to {new.hex()}"
        case ReadmitValidator(pubkey):
            return "readmit_validator", f"readmit validator {pubkey.hex()}"
        case SetParam(name, value):
            return "set_param", f"set {name} = {value}"
        case SetGovernors(governors, threshold):
            return "set_governors", f"set governors: {threshold} of {len(governors)}"
        case SetTreasury(lock):
            return "set_treasury", f"set treasury to {encode_address(lock, network)}"
        case SetCreditLimit(lock, limit):
            return "set_credit_limit", f"set credit limit of {encode_address(lock, network)} " \
                                       f"to {limit}"
        case SetReferenceRate(currency, units):
            if not units:
                return "set_reference_rate", f"withdraw the reference rate in {currency}"
            return ("set_reference_rate",
                    f"set the reference rate: 1 coin = {price_text(units)} {currency}")
    return "unknown", "unknown action"


def action_json(raw: bytes, action: BlockAction, network: str) -> Json:
    """An action as every governance answer shows it; `id` is the SHA-256 of its bytes (what
    POST /actions answers), `nonce` is null for a recovery, `reference` for a version 1."""
    kind, summary = describe_action(action, network)
    ref = action.reference
    return {
        "id": sha256(raw).hex(),
        "kind": kind,
        "summary": summary,
        "nonce": action.nonce if isinstance(action, SignedAction) else None,
        "signers": [key.hex() for key, _ in action.signatures],
        "reference": None if ref is None else {"uri": ref.uri, "text": ref.text},
        "hex": raw.hex(),
    }


def next_nonce(state: ChainState, pooled: Iterable[BlockAction]) -> int:
    """The lowest nonce the chain has not used and no pooled action names: what a new
    proposal should carry."""
    taken = set(state.used_nonces)
    taken.update(a.nonce for a in pooled if isinstance(a, SignedAction))
    nonce = state.nonce_floor
    while nonce in taken:
        nonce += 1
    return nonce


def governance_answer(state: ChainState, genesis_hash: bytes, pooled: tuple[bytes, ...],
                recoveries: tuple[bytes, ...]) -> Json:
    """The whole answer, from an immutable state and copies of the pools (a thread)."""
    network, h = state.network, state.height
    pool = [(raw, decode_block_action(raw)) for raw in pooled]
    held = [(raw, decode_block_action(raw)) for raw in recoveries]
    return {
        "chain_id": state.chain_id,
        "network": network,
        "genesis_hash": genesis_hash.hex(),
        "governors": [g.hex() for g in state.governors],
        "threshold": state.governor_threshold,
        "treasury_lock": state.treasury_lock.hex(),
        "treasury_address": encode_address(state.treasury_lock, network),
        "next_nonce": next_nonce(state, (a for _, a in pool)),
        "last_final": {"height": h, "hash": state.last_block_id.hex(),
                       "time_ms": state.last_block_time_ms},
        "pending": [{**action_json(raw, decode_block_action(raw), network),
                     "included_height": h, "effective_height": h + 2}
                    for raw in state.pending_actions],
        "pooled": [action_json(raw, a, network) for raw, a in pool],
        "recoveries": [{**action_json(raw, a, network), "last_final_height": a.height}
                       for raw, a in held if isinstance(a, RecoveryAction)],
    }


@routes.get("/api/v1/governance")
async def governance(request: web.Request) -> web.StreamResponse:
    """The state and copies of the pools are taken on the loop (which alone changes them);
    the decoding runs in the read pool (up to 256 pooled actions of up to 64 KiB)."""
    view = request.app[VIEW]
    return await json_from_pool(request, governance_answer, view.chain_state(),
                                view.store.genesis_hash, view.pooled_actions(),
                                view.held_recoveries())


DEFAULT_HISTORY = 100
MAX_HISTORY = 1000
MAX_HISTORY_BYTES = 1024 * 1024  # action bytes in one page (an action is at most 64 KiB)


def history_cursor(entry: GovernanceEntry) -> str:
    """The `next` of a page that ends with `entry`: "HEIGHT.POSITION"."""
    return f"{entry.height}.{entry.position}"


def parse_cursor(text: str | None) -> ActionLocation | None:
    """A governance history cursor (`HEIGHT.POSITION`), or None; the explorer parses with it too."""
    found = parse_after(text)
    return None if found is None else ActionLocation(*found)


def history_entry(entry: GovernanceEntry, network: str) -> Json:
    """An included action: where it was carried, and from which height it is in force (a
    recovery at once, any other action two heights later)."""
    try:
        action = decode_block_action(entry.action)
    except DecodeError as exc:  # the block was valid when committed: the store is garbled
        raise CorruptStore(f"the governance index at height {entry.height}, position "
                           f"{entry.position} holds bytes that are not an action: {exc}") from None
    recovery = isinstance(action, RecoveryAction)
    return {**action_json(entry.action, action, network), "height": entry.height,
            "position": entry.position,
            "effective_height": entry.height if recovery else entry.height + 2}


def action_history_page(store: ChainReader, limit: int, after: ActionLocation | None) -> Json:
    found = store.get_governance_history(limit=limit + 1, before=after,
                                         max_bytes=MAX_HISTORY_BYTES)
    page = found[:limit]
    more = len(found) > limit
    if page and not more and sum(len(e.action) for e in page) >= MAX_HISTORY_BYTES:
        last = ActionLocation(page[-1].height, page[-1].position)  # the bytes ended the page
        more = bool(store.get_governance_history(limit=1, before=last))
    network = store.genesis.network
    return {"actions": [history_entry(e, network) for e in page],
            "next": history_cursor(page[-1]) if page and more else None}


@routes.get("/api/v1/governance/history")
async def governance_history(request: web.Request) -> web.StreamResponse:
    """Every action the chain included, newest first: up to `limit`, after the cursor `after`
    (the `next` of the previous page)."""
    limit = parse_uint(request.query.get("limit"), "limit", default=DEFAULT_HISTORY, lo=1,
                       hi=MAX_HISTORY)
    after = parse_cursor(request.query.get("after"))
    return await json_from_pool(request, action_history_page, request.app[VIEW].store, limit, after)
