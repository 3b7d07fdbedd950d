"""Governance against a node: who the governors are now, the next free nonce, the last final
block, submitting a proposal, and the chain's governance history.

Each function takes a `NodeClient`; none needs a wallet or a password, so `gov show`,
`gov combine` and `gov submit` work for anyone. What the node says is its word: the wallet's
own followed chain (`light_view`) is the offline alternative, verified but as old as the last
`sync`. Signatures are never taken on a node's word: `wallet.proposals` checks them itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus import crypto
from consensus.errors import DecodeError
from consensus.governance import (
    ActionBody,
    BlockAction,
    RecoveryAction,
    Reference,
    SignedAction,
    decode_block_action,
)
from consensus.types import Lock, PublicKey, Validator
from faircoop_common.fileio import write_atomic
from wallet import ops, proposals
from wallet.client import Json, NodeClient
from wallet.errors import BadAction, ChainMismatch, NodeError, NotFound
from wallet.lightclient import LightState
from wallet.proposals import GovernanceView, Proposal, action_kind, action_summary

MAX_HISTORY = 1000  # the most history entries asked for at once
INBOX_SUFFIX = ".action"  # what a node's governance inbox reads (faircoop_node/node/inbox.py)


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """Which chain a proposal is for: what the governors' signatures (chain id) and the file
    (network, genesis) name."""

    network: str
    chain_id: str
    genesis_hash: bytes


@dataclass(frozen=True, slots=True)
class ChainTip:
    """The chain a node serves and its last final block."""

    chain_id: str
    network: str
    genesis_hash: bytes
    height: int
    tip_hash: bytes

    @property
    def identity(self) -> ChainIdentity:
        return ChainIdentity(self.network, self.chain_id, self.genesis_hash)


@dataclass(frozen=True, slots=True)
class NodeGovernance:
    """What a node says about governance at its tip, and the next nonce to propose under."""

    tip: ChainTip
    view: GovernanceView
    next_nonce: int
    nonce_reported: bool  # False: the node has no `next_nonce`; computed from its pending list


async def chain_tip(client: NodeClient) -> ChainTip:
    s = await client.status()
    try:
        return ChainTip(str(s["chain_id"]), str(s["network"]), bytes.fromhex(s["genesis_hash"]),
                        int(s["height"]), bytes.fromhex(s["tip_hash"]))
    except (KeyError, TypeError, ValueError):
        raise NodeError(200, "status: malformed answer") from None


async def node_governance(client: NodeClient) -> NodeGovernance:
    """The node's tip, governors, threshold, voting set, parameters and next free nonce."""
    tip, gov, vals, params = await asyncio.gather(
        chain_tip(client), client.governance(), client.validators(), ops.chain_params(client))
    try:
        governors = tuple(sorted(PublicKey(bytes.fromhex(k)) for k in gov["governors"]))
        threshold = int(gov["threshold"])
        treasury = gov.get("treasury_lock")
        treasury_lock = None if treasury is None else Lock(bytes.fromhex(treasury))
        validators = tuple(Validator(str(v["name"]), PublicKey(bytes.fromhex(v["pubkey"])))
                           for v in vals["validators"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise NodeError(200, "governance or validators: malformed answer") from None
    nonce, reported = next_nonce(gov)
    view = GovernanceView(f"the node at {client.base_url}, height {tip.height}", tip.height,
                          governors, threshold, validators, params, treasury_lock)
    return NodeGovernance(tip, view, nonce, reported)


def next_nonce(doc: Json) -> tuple[int, bool]:
    """(nonce, reported): the node's `next_nonce` if it serves one; otherwise one past the
    highest nonce among its pending (and pooled) actions (0 if none), which a node that has
    already used a higher nonce will refuse (`replayed_action`): then pass --nonce."""
    reported = doc.get("next_nonce") if isinstance(doc, dict) else None
    if isinstance(reported, int) and not isinstance(reported, bool) and reported >= 0:
        return reported, True
    seen: list[int] = []
    listed = [*(doc.get("pending") or []), *(doc.get("pooled") or [])] \
        if isinstance(doc, dict) else []
    for item in listed:
        try:
            action = decode_block_action(bytes.fromhex(item["hex"]))
        except (KeyError, TypeError, ValueError, DecodeError):
            continue
        if isinstance(action, SignedAction):
            seen.append(action.nonce)
    return (max(seen) + 1 if seen else 0), False


def light_view(light: LightState) -> GovernanceView:
    """The governance this wallet followed and verified itself, as of its last `sync`."""
    gov = light.governance
    return GovernanceView(f"this wallet's followed chain, height {light.height} (run sync to "
                          "refresh)", light.height, gov.governors, gov.threshold,
                          light.known_set(light.next_validators_hash) or (), gov.params)


def known_validators(light: LightState | None) -> tuple[Validator, ...]:
    """Every validator of every set this wallet's followed chain has met (for names)."""
    return tuple(v for _, vs in (light.sets if light else ()) for v in vs)


def check_same_chain(served: ChainIdentity, wanted: ChainIdentity, who: str = "the node") -> None:
    """ChainMismatch unless `who` (serving `served`) is on the `wanted` chain."""
    if served != wanted:
        raise ChainMismatch(
            f"{who} is on chain {served.chain_id!r} ({served.network}, genesis "
            f"{served.genesis_hash.hex()[:16]}), not {wanted.chain_id!r} ({wanted.network}, "
            f"genesis {wanted.genesis_hash.hex()[:16]})")


# -- proposing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposed:
    """A new proposal, and what the node said while it was made (None: offline)."""

    proposal: Proposal
    node: NodeGovernance | None
    nonce_source: str  # where the nonce (or a recovery's tip) came from, for the proposer


async def _consult(client: NodeClient | None,
                   chain: ChainIdentity | None) -> tuple[NodeGovernance | None, ChainIdentity]:
    node = None if client is None else await node_governance(client)
    if node is not None and chain is not None:
        check_same_chain(node.tip.identity, chain)
    if chain is None:
        if node is None:
            raise BadAction("offline, the chain must be given (a wallet, or --network, "
                            "--chain-id and --genesis-hash)")
        chain = node.tip.identity
    return node, chain


async def propose(client: NodeClient | None, body: ActionBody, reference: Reference, *,
                  chain: ChainIdentity | None = None, nonce: int | None = None) -> Proposed:
    """An unsigned proposal of `body`; the chain and the nonce from the node unless given
    (`client` None: offline, both must be given)."""
    node, chain = await _consult(client, chain)
    if nonce is not None:
        source = "given"
    elif node is None:
        raise BadAction("offline, the nonce must be given (--nonce N: the lowest nonce the "
                        "chain has not used)")
    else:
        nonce = node.next_nonce
        source = ("the node's next free nonce" if node.nonce_reported else
                  "one past the node's pending actions (the node does not report its next "
                  "free nonce: if it refuses the action as replayed, pass --nonce)")
    proposal = proposals.new_action(chain.network, chain.genesis_hash, chain.chain_id, nonce,
                                    body, reference)
    return Proposed(proposal, node, source)


async def propose_recovery(client: NodeClient | None, members: Sequence[Validator | str],
                           reference: Reference, *, chain: ChainIdentity | None = None,
                           height: int | None = None, last_block_id: bytes | None = None,
                           known: Sequence[Validator] = ()) -> Proposed:
    """An unsigned recovery installing `members` after the last final block: the node's tip
    unless `height` and `last_block_id` are given. A member given as text is `NAME=PUBKEY`, or
    the name or key of a validator in the node's voting set or in `known`."""
    node, chain = await _consult(client, chain)
    if height is not None and last_block_id is not None:
        source = "given"
    elif height is not None or last_block_id is not None:
        raise BadAction("give both the height and the hash of the last final block, or neither "
                        "(then the node's tip is used)")
    elif node is None:
        raise BadAction("offline, the last final block must be given (--height H "
                        "--last-block HASH)")
    else:
        height, last_block_id = node.tip.height, node.tip.tip_hash
        source = "the node's last final block"
    pool = (*(node.view.validators if node else ()), *known)
    validators = tuple(m if isinstance(m, Validator) else resolve_validator(m, pool)
                       for m in members)
    proposal = proposals.new_recovery(chain.network, chain.genesis_hash, chain.chain_id, height,
                                      last_block_id, validators, reference)
    return Proposed(proposal, node, source)


def resolve_validator(spec: str, known: Sequence[Validator]) -> Validator:
    """`NAME=PUBKEY`, or the name or key of a validator in `known`."""
    name, sep, key = spec.rpartition("=")
    if sep:
        return Validator(name, _pubkey(key, spec))
    for v in known:
        if spec in (v.name, v.pubkey.hex()):
            return v
    raise BadAction(f"--validator {spec!r}: not NAME=PUBKEY, nor the name or key of a "
                    "validator the node or this wallet knows")


def _pubkey(text: str, what: str) -> PublicKey:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise BadAction(f"{what}: the key is not hex") from None
    if not crypto.pubkey_valid(key):
        raise BadAction(f"{what}: not a valid public key (66 hex digits, compressed)")
    return PublicKey(key)


async def submit_checked(client: NodeClient, proposal: Proposal,
                         node: NodeGovernance | None = None) -> Submitted:
    """Refuse locally what the node would refuse on its signatures (another chain, a changed
    action, a signer who is not a governor, too few signatures), then submit. `node`: what
    the caller already asked the node (asked again if None)."""
    node = node or await node_governance(client)
    check_same_chain(node.tip.identity, ChainIdentity(proposal.network, proposal.chain_id,
                                                      proposal.genesis_hash), "the node")
    proposals.check_complete(proposal, node.view.governors, node.view.threshold)
    return await submit(client, proposal)


# -- submitting -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    status: str  # "pooled"
    id: str  # the node's id for the pooled action


async def submit(client: NodeClient, proposal: Proposal) -> Submitted:
    """POST the action; ActionRejected (with the node's rule) if the node refuses it."""
    try:
        doc = await client.submit_action(proposal.encoded().hex())
    except NotFound as exc:
        raise NodeError(404, f"the node at {client.base_url} takes no governance actions "
                             f"(POST /api/v1/actions: {exc.message}); put the action in a "
                             "validator's inbox instead: gov submit FILE --inbox DIR") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), str):
        raise NodeError(200, "POST actions: answer without a status")
    return Submitted(str(doc["status"]), str(doc.get("id", "")))


def inbox_name(proposal: Proposal) -> str:
    """The file name a proposal takes in a node's inbox: kind, nonce (or height), digest."""
    where = (f"h{proposal.action.height}" if isinstance(proposal.action, RecoveryAction)
             else f"n{proposal.action.nonce}")
    return f"{proposal.kind}-{where}-{proposal.digest.hex()[:12]}{INBOX_SUFFIX}"


def write_to_inbox(proposal: Proposal, inbox: str | os.PathLike[str]) -> Path:
    """Drop the action into a node's governance inbox directory (one hex line, written
    atomically, readable by the node's user); the file's path."""
    directory = Path(inbox)
    if not directory.is_dir():
        raise FileNotFoundError(2, "No such directory (a node's data_dir/inbox)", str(directory))
    path = directory / inbox_name(proposal)
    write_atomic(path, proposal.encoded().hex() + "\n")
    return path


# -- history ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One action the chain included."""

    height: int | None
    effective_height: int | None
    kind: str
    summary: str
    nonce: int | None
    signers: tuple[str, ...]  # governor keys, hex
    reference: Reference | None


async def history(client: NodeClient, network: str, limit: int = 50) -> list[HistoryEntry]:
    """The chain's governance history as the node serves it, newest first.

    Where an entry carries the action's bytes (`hex`), its kind, nonce, signers and reference
    are read from them, and its summary is the wallet's own; otherwise the node's fields are
    shown as they are.
    """
    doc = await client.governance_history(min(limit, MAX_HISTORY))
    items = doc.get("actions", doc.get("items")) if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise NodeError(200, "governance/history: malformed answer")
    return [_history_entry(item, network) for item in items[:limit]]


def _history_entry(item: Any, network: str) -> HistoryEntry:
    if not isinstance(item, dict):
        raise NodeError(200, "governance/history: malformed entry")
    height = _opt_int(item.get("height", item.get("included_height")))
    effective = _opt_int(item.get("effective_height"))
    action = _decoded(item.get("hex"))
    if action is not None:
        return HistoryEntry(height, effective, action_kind(action),
                            action_summary(action, network),
                            None if isinstance(action, RecoveryAction) else action.nonce,
                            tuple(k.hex() for k, _ in action.signatures), action.reference)
    ref = item.get("reference")
    reference = (Reference(str(ref.get("uri", "")), str(ref.get("text", "")))
                 if isinstance(ref, dict) else None)
    signers = item.get("signers")
    return HistoryEntry(height, effective, str(item.get("kind", "")),
                        str(item.get("summary", "")), _opt_int(item.get("nonce")),
                        tuple(str(s) for s in signers) if isinstance(signers, list) else (),
                        reference)


def _decoded(raw: object) -> BlockAction | None:
    if not isinstance(raw, str):
        return None
    try:
        return decode_block_action(bytes.fromhex(raw))
    except (ValueError, DecodeError):
        raise NodeError(200, "governance/history: an action does not decode") from None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
