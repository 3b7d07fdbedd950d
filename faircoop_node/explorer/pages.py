"""What each page shows, read from the node the way the API reads it.

A page is built in two steps. On the event loop (which alone changes them) the handler takes a
`Snapshot`: the chain state as of the tip, the node's live status, the mempool's size, and
anything else of the mempool the page needs. Then, in the API's read pool (`api/offload.py`),
a builder here reads the store and returns the template's context; the page is rendered in the
same thread. Builders reuse the API's own functions (`api/lookup.py`, `api/txs.py`,
`api/governance.py`: the governance page shows what GET governance and governance/history
answer) so a page and its JSON twin can't disagree.

Every list is bounded (a page of a block's txs, of an address's history, of recent blocks), so
no page costs more than a few hundred reads however large the chain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import median
from typing import Any

from consensus.address import encode_address
from consensus.chainstate import ChainState
from consensus.codec import txid as compute_txid
from consensus.governance import decode_block_action
from consensus.params import PARAM_RANGES
from consensus.types import BlockTx, CreditTransfer, Lock, OutPoint, Tx, TxId
from faircoop_node.api.governance import (
    action_history_page,
    describe_action,
    governance_answer,
    validator_records,
)
from faircoop_node.api.lookup import block_by_hash, hash_at
from faircoop_node.api.parse import MAX_HEIGHT, parse_hash, parse_uint
from faircoop_node.api.treasury import treasury_answer
from faircoop_node.api.txs import tx_answer
from faircoop_node.api.view import NodeView
from faircoop_node.explorer.campaigns import titles
from faircoop_node.explorer.chainread import (
    BlockRow,
    ChainCache,
    Window,
    block_row,
    participation_window,
    recent_blocks,
    signers_of,
    spent_output,
)
from faircoop_node.explorer.commits import CommitLog
from faircoop_node.storage.protocol import ActionLocation, ChainReader, TxLocation

Context = dict[str, Any]

RECENT_BLOCKS = 15  # on the overview
BLOCKS_PAGE = 25  # on /blocks
TXS_PAGE = 100  # of a block's txs
HISTORY_PAGE = 25  # of an address's history
MAX_INPUTS_RESOLVED = 50  # inputs of one tx whose spent output is looked up (one read each)
WINDOW = 100  # blocks of participation on the overview and by default on /validators
MAX_WINDOW = 1000
CHART_BARS = 50


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a page reads on the event loop before its builder runs in a thread."""

    state: ChainState
    tip: int
    now_ms: int
    mempool_txs: int
    mempool_bytes: int
    peers: int
    validator: bool
    node_id: str

    @classmethod
    def take(cls, view: NodeView) -> Snapshot:
        status = view.status()
        state = view.chain_state()
        return cls(state, state.height, int(time.time() * 1000), len(view.mempool),
                   view.mempool.size_bytes, status.peers, status.validator, status.node_id)

    @property
    def network(self) -> str:
        return self.state.network

    def common(self) -> Context:
        """What every page's frame shows: the network, the tip and this node."""
        return {"network": self.network, "chain_id": self.state.chain_id, "tip": self.tip,
                "tip_time_ms": self.state.last_block_time_ms, "now_ms": self.now_ms,
                "peers": self.peers, "node_validator": self.validator,
                "node_id": self.node_id}


@dataclass(frozen=True, slots=True)
class Reader:
    """The explorer's long-lived helpers, shared by the builders."""

    view: NodeView
    cache: ChainCache
    commits: CommitLog

    @property
    def store(self) -> ChainReader:
        return self.view.store


# -- overview, blocks, validators --------------------------------------------------------------


def _latencies(r: Reader, rows: list[BlockRow]) -> dict[int, int]:
    found = {row.height: r.commits.get(row.height) for row in rows}
    return {h: c.latency_ms for h, c in found.items() if c is not None}


def _validator_rows(state: ChainState, window: Window) -> list[Context]:
    rows: list[Context] = []
    for record in validator_records(state):
        key = bytes.fromhex(str(record["pubkey"]))
        rows.append({**record, "key": key, "window": window.of(key)})
    return rows


def overview(r: Reader, snap: Snapshot) -> Context:
    rows = recent_blocks(r.store, r.cache, snap.tip + 1, RECENT_BLOCKS)
    latencies = _latencies(r, rows)
    window = participation_window(r.store, r.cache, snap.tip, WINDOW)
    return {
        "blocks": rows, "latency": latencies,
        "median_latency": median(latencies.values()) if latencies else None,
        "since_last_ms": max(0, snap.now_ms - snap.state.last_block_time_ms),
        "validators": _validator_rows(snap.state, window), "window": window,
        "quorum": snap.state.quorum(), "mempool_txs": snap.mempool_txs,
        "mempool_bytes": snap.mempool_bytes,
        "heartbeat_ms": snap.state.params.heartbeat_ms,
    }


def blocks(r: Reader, snap: Snapshot, before: int | None) -> Context:
    below = snap.tip + 1 if before is None else min(before, snap.tip + 1)
    rows = recent_blocks(r.store, r.cache, below, BLOCKS_PAGE)
    older = rows[-1].height if rows and rows[-1].height > 0 else None
    return {"blocks": rows, "latency": _latencies(r, rows), "older": older,
            "newer": below + BLOCKS_PAGE if below <= snap.tip else None}


def validators(r: Reader, snap: Snapshot, span: int) -> Context:
    state = snap.state
    window = participation_window(r.store, r.cache, snap.tip, span)
    suspended = [{"name": v.name, "pubkey": v.pubkey,
                  "caught_at": sorted({h for pk, h, _, _ in state.punished if pk == v.pubkey}),
                  "window": window.of(v.pubkey)} for v in state.suspended]
    return {"validators": _validator_rows(state, window), "suspended": suspended,
            "window": window, "span": span, "quorum": state.quorum(),
            "quarantine_after": state.params.quarantine_after, "bars": CHART_BARS}


# -- a block, a tx, an address -------------------------------------------------------------------


def block_id(r: Reader, text: str) -> bytes:
    """A block named by its height (digits) or its hash (64 hex digits)."""
    if text.isascii() and text.isdigit():
        return hash_at(r.store, parse_uint(text, "height"))
    return parse_hash(text, "block hash")


def block(r: Reader, snap: Snapshot, ident: bytes, start: int) -> Context:
    store = r.store
    if ident == store.genesis_hash:
        genesis = store.genesis
        allocations = genesis.allocations
        return {"genesis": genesis, "hash": ident, "height": 0,
                "allocations": [(encode_address(o.lock, snap.network), o.amount)
                                for o in allocations[start:start + TXS_PAGE]],
                "allocation_count": len(allocations), "start": start, "page": TXS_PAGE}
    found = block_by_hash(store, ident)
    height = found.header.height
    row = block_row(store, r.cache, height)
    txs = [_block_tx_row(tx) for tx in found.txs[start:start + TXS_PAGE]]
    actions = [describe_action(decode_block_action(raw), snap.network)[1]
               for raw in found.actions]
    commit = r.commits.get(height)
    return {"genesis": None, "hash": ident, "height": height, "header": found.header,
            "row": row, "txs": txs, "tx_count": len(found.txs), "start": start,
            "page": TXS_PAGE, "actions": actions, "evidence_count": len(found.evidence),
            "latency_ms": commit.latency_ms if commit else None,
            "next": height + 1 if height < snap.tip else None}


def _outpoint(item: Mapping[str, object]) -> OutPoint:
    return OutPoint(TxId(bytes.fromhex(str(item["txid"]))), int(str(item["index"])))


def _block_tx_row(tx: BlockTx) -> Context:
    """A row of a block's tx table; a credit transfer spends no inputs and pays in credit."""
    if isinstance(tx, CreditTransfer):
        return {"txid": compute_txid(tx), "inputs": 0, "outputs": len(tx.payments),
                "paid": sum(p.amount for p in tx.payments), "memo": tx.memo, "credit": True}
    return {"txid": compute_txid(tx), "inputs": len(tx.inputs), "outputs": len(tx.outputs),
            "paid": sum(o.amount for o in tx.outputs), "memo": tx.memo, "credit": False}


def tx(r: Reader, snap: Snapshot, tid: TxId) -> Context:
    store = r.store
    answer = tx_answer(r.view, tid)
    status = answer["status"]
    assert isinstance(status, dict)
    inputs: list[Context] = []
    credit = answer.get("kind") == "credit_transfer"
    raw_inputs = [] if credit else answer["inputs"]
    assert isinstance(raw_inputs, list)
    for n, item in enumerate(raw_inputs):
        point = _outpoint(item)
        spent = spent_output(store, point) if n < MAX_INPUTS_RESOLVED else None
        genesis = bytes(point.txid) == store.genesis_hash
        pledge = spent is not None and spent.refund is not None
        inputs.append({"txid": point.txid, "index": point.index, "is_genesis": genesis,
                       "is_block": not genesis and spent is None
                       and store.get_header(point.txid) is not None,
                       "amount": spent.amount if spent else None,
                       "campaign": spent.lock.hex() if spent and pledge else None,
                       "address": encode_address(spent.lock, snap.network) if spent else None})
    signers = None
    latency = None
    if status["final"]:
        height = int(str(status["height"]))
        header = store.get_header(bytes.fromhex(str(status["block_hash"])))
        members = r.cache.members(store, header.validators_hash) if header else ()
        signers = signers_of(members, store.get_certificate(height))
        commit = r.commits.get(height)
        latency = commit.latency_ms if commit else None
    outputs = [] if credit else answer["outputs"]
    assert isinstance(outputs, list)
    created = None if credit else answer["campaign"]
    named = [*_pledged_to([{"outputs": outputs}]), *(i["campaign"] for i in inputs
                                                    if i["campaign"])]
    if isinstance(created, dict):
        named.append(str(created["id"]))
    return {"tx": answer, "txid": tid, "inputs": inputs, "credit": credit,
            "memo": bytes.fromhex(str(answer["memo_hex"])), "signers": signers,
            "latency_ms": latency, "created": created,
            "campaign_titles": titles(store, named)}


def _pledged_to(txs: list[Any]) -> list[str]:
    """The campaign ids (hex) the pledge outputs of the API's tx shapes go to, in order."""
    return [str(o["campaign"]) for t in txs for o in t["outputs"] if o["campaign"]]


def _history_rows(r: Reader, lock: Lock, before: TxLocation | None, network: str
                  ) -> tuple[list[Context], TxLocation | None]:
    store = r.store
    entries = store.get_address_history(lock, limit=HISTORY_PAGE + 1, before=before)
    rows: list[Context] = []
    for entry in entries[:HISTORY_PAGE]:
        committed = store.get_committed_tx(entry.txid)
        row = block_row(store, r.cache, entry.height)
        received = spent = None
        kind = "tx"
        if entry.height == 0:
            kind = "genesis"
            received = sum(o.amount for o in store.genesis.allocations if o.lock == lock)
        elif committed is None:  # a block's fee output (its amount: the block's fees)
            kind = "fees"
        elif isinstance(committed.tx, Tx):  # credit transfers are not in address history
            tx_ = committed.tx
            received = sum(o.amount for o in tx_.outputs if o.lock == lock)
            outs = [spent_output(store, i.prevout) for i in tx_.inputs[:MAX_INPUTS_RESOLVED]]
            spent = sum(o.amount for o in outs if o is not None and o.lock == lock)
        rows.append({"txid": entry.txid, "height": entry.height, "kind": kind,
                     "time_ms": row.time_ms if row else None, "received": received,
                     "spent": spent})
    more = entries[HISTORY_PAGE] if len(entries) > HISTORY_PAGE else None
    last = entries[HISTORY_PAGE - 1] if more is not None else None
    return rows, None if last is None else TxLocation(last.height, last.position)


def address(r: Reader, snap: Snapshot, lock: Lock, pending_delta: int,
            before: TxLocation | None) -> Context:
    summary = r.store.get_address_summary(lock)
    rows, older = _history_rows(r, lock, before, snap.network)
    return {"address": encode_address(lock, snap.network), "lock": lock, "summary": summary,
            "pending_delta": pending_delta, "history": rows, "older": older,
            "is_treasury": lock == snap.state.treasury_lock,
            "credit": r.store.get_credit_summary(lock), "campaign": r.store.get_campaign(lock)}


def credit(r: Reader, snap: Snapshot) -> Context:
    """What GET /api/v1/credit answers: the credit system's totals and its spam bounds."""
    return {"totals": r.store.get_credit_totals(), "params": snap.state.params}


# -- the cooperative: governance and treasury --------------------------------------------------


def _key_names(state: ChainState) -> dict[bytes, str]:
    return {v.pubkey: v.name for v in (*state.validators, *state.suspended)}


HISTORY_ACTIONS = 25  # governance history entries a page shows


def _named(actions: object, names: Mapping[bytes, str]) -> list[Context]:
    """The API's action shapes, with each signer's key shown by coop name where it has one."""
    assert isinstance(actions, list)
    return [{**a, "signers": [names.get(bytes.fromhex(k), k[:16] + "…") for k in a["signers"]]}
            for a in actions]


def governance(r: Reader, snap: Snapshot, pooled: tuple[bytes, ...],
               recoveries: tuple[bytes, ...], after: ActionLocation | None) -> Context:
    """What GET /api/v1/governance and GET /api/v1/governance/history answer, shown."""
    state = snap.state
    names = _key_names(state)
    now = governance_answer(state, r.store.genesis_hash, pooled, recoveries)
    history = action_history_page(r.store, HISTORY_ACTIONS, after)
    return {"governors": [(g, names.get(g)) for g in state.governors],
            "threshold": state.governor_threshold, "treasury": now["treasury_address"],
            "next_nonce": now["next_nonce"], "pending": _named(now["pending"], names),
            "pending_effective": state.height + 2, "pooled": _named(now["pooled"], names),
            "recoveries": _named(now["recoveries"], names),
            "history": _named(history["actions"], names), "history_next": history["next"],
            "params": [(name, value, PARAM_RANGES[name]) for name, value
                       in zip(PARAM_RANGES, state.params.as_tuple(), strict=True)]}


TREASURY_DAYS = 30  # days of fees the treasury page lists
TREASURY_SPENDS = 20  # spends per page


def treasury(r: Reader, snap: Snapshot, pending_delta: int, before: TxLocation | None,
             spends_after: TxLocation | None) -> Context:
    """The treasury's address page, with what GET /api/v1/treasury answers: its fees per day
    and its spends (grants among them) with their memos."""
    state = snap.state
    names = _key_names(state)
    answer = treasury_answer(r.store, state, TREASURY_DAYS, TREASURY_SPENDS, spends_after)
    spends = answer["spends"]
    assert isinstance(spends, list)
    return {**address(r, snap, state.treasury_lock, pending_delta, before),
            "governors": [(g, names.get(g)) for g in state.governors],
            "threshold": state.governor_threshold, "fees_per_day": answer["fees_per_day"],
            "spends": spends, "spends_next": answer["next"],
            "campaign_titles": titles(r.store, _pledged_to(spends))}


# -- query parameters ------------------------------------------------------------------------


def optional_uint(query: Mapping[str, str], name: str, *, lo: int = 0, hi: int = MAX_HEIGHT
                  ) -> int | None:
    text = query.get(name)
    return None if text is None else parse_uint(text, name, lo=lo, hi=hi)
