"""Handlers for the cooperative's view of the chain: validators, parameters, governance.

These serve the members' assembly: who validates and how each coop has taken part (the
participation ledger), the dynamic parameters with the range governance may move each within,
and the governors, their threshold, the treasury and the actions not yet in effect. Everything
is read from the node's `ChainState` as of the tip, so every node answers alike at one height.
"""

from __future__ import annotations

from aiohttp import web

from consensus.address import encode_address
from consensus.chainstate import ChainState
from consensus.codec import encode_params, params_hash, validators_hash
from consensus.governance import (
    AddValidator,
    BlockAction,
    ReadmitValidator,
    RecoveryAction,
    RekeyValidator,
    RemoveValidator,
    SetGovernors,
    SetParam,
    SetTreasury,
    decode_block_action,
)
from consensus.params import PARAM_RANGES
from faircoop_node.api.render import Json
from faircoop_node.api.view import VIEW

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
    return "unknown", "unknown action"


@routes.get("/api/v1/governance")
async def governance(request: web.Request) -> web.Response:
    state = request.app[VIEW].chain_state()
    pending: list[Json] = []
    for raw in state.pending_actions:
        kind, summary = describe_action(decode_block_action(raw), state.network)
        pending.append({
            "kind": kind,
            "included_height": state.height,
            "effective_height": state.height + 2,
            "summary": summary,
            "hex": raw.hex(),
        })
    return web.json_response({
        "governors": [g.hex() for g in state.governors],
        "threshold": state.governor_threshold,
        "treasury_lock": state.treasury_lock.hex(),
        "treasury_address": encode_address(state.treasury_lock, state.network),
        "pending": pending,
    })
