"""The commons treasury: its balance, the fees it received per day, and what it spent, with memos.

The treasury is the lock in force (`ChainState.treasury_lock`: the governors' multisig, moved by
a `SetTreasury` action). Its balance is the address index's; the fees per day are the store's
treasury-day records (UTC days of the block times; a day without fees is absent); its spends
are the txs in its address history whose witnesses reveal the treasury's policy, newest first,
each with its memo (grants carry the assembly's reference there: docs/FUNDING.md).

The history also holds each block's fee output, and the payments the treasury received, so a
page reads at most `MAX_SCAN` history entries (one tx index read each) and says where to go on
(`next`), whether or not it found `limit` spends. Spends of an earlier treasury lock are not
listed (ask for that lock's address history).
"""

from __future__ import annotations

import datetime

from aiohttp import web

from consensus.address import encode_address
from consensus.chainstate import ChainState
from consensus.codec import policy_lock
from consensus.types import CreditTransfer
from faircoop_node.api.offload import json_from_pool
from faircoop_node.api.parse import parse_after, parse_uint
from faircoop_node.api.render import Json, output_json
from faircoop_node.api.view import VIEW
from faircoop_node.storage.protocol import ChainReader, HistoryEntry, TxLocation

DEFAULT_DAYS = 30
MAX_DAYS = 366
DEFAULT_SPENDS = 20
MAX_SPENDS = 200
MAX_SCAN = 2000

routes = web.RouteTableDef()


def memo_text(memo: bytes) -> str | None:
    """The memo as text if it is UTF-8, else None (its hex is always given)."""
    try:
        return memo.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _spends(store: ChainReader, state: ChainState, limit: int, after: TxLocation | None
            ) -> tuple[list[Json], HistoryEntry | None, bool]:
    """(spends, the last history entry read, whether entries remain after it)."""
    lock = state.treasury_lock
    network = state.network
    history = store.get_address_history(lock, limit=MAX_SCAN + 1, before=after)
    found: list[Json] = []
    last: HistoryEntry | None = None
    for entry in history[:MAX_SCAN]:
        if len(found) >= limit:
            break
        last = entry
        committed = store.get_committed_tx(entry.txid)
        if committed is None:  # a block's fee output (its "txid" is the block hash)
            continue
        tx = committed.tx
        if isinstance(tx, CreditTransfer):  # credit is not filed here; a coin spend only
            continue
        if not any(policy_lock(w.policy) == lock for w in tx.witnesses):
            continue  # a payment to the treasury
        outputs = [output_json(o, network) for o in tx.outputs]
        found.append({
            "txid": entry.txid.hex(), "height": entry.height, "position": entry.position,
            "memo": memo_text(tx.memo), "memo_hex": tx.memo.hex(),
            "paid": sum(o.amount for o in tx.outputs if o.lock != lock or o.refund is not None),
            "fee": committed.fee, "outputs": outputs,
        })
    more = last is not None and (last is not history[-1] or len(history) > MAX_SCAN)
    return found, last, more


def treasury_answer(store: ChainReader, state: ChainState, days: int, limit: int,
                    after: TxLocation | None) -> Json:
    """GET treasury's answer (the explorer's treasury page shows it too)."""
    lock = state.treasury_lock
    summary = store.get_address_summary(lock)
    spends, last, more = _spends(store, state, limit, after)
    return {
        "lock": lock.hex(),
        "address": encode_address(lock, state.network),
        "governors": [g.hex() for g in state.governors],
        "threshold": state.governor_threshold,
        "balance": summary.balance,
        "utxo_count": summary.utxo_count,
        "fees_per_day": [
            {"day": datetime.date.fromordinal(EPOCH + d.day).isoformat(), "fees": d.fees,
             "blocks": d.blocks}
            for d in store.get_treasury_days(days)],
        "spends": spends,
        "next": f"{last.height}.{last.position}" if more and last is not None else None,
    }


EPOCH = datetime.date(1970, 1, 1).toordinal()


@routes.get("/api/v1/treasury")
async def treasury(request: web.Request) -> web.StreamResponse:
    """The treasury's balance, its fees per day (the last `days` days that had any) and its
    spends, newest first (`limit`, and `after` the `next` of the previous page)."""
    view = request.app[VIEW]
    days = parse_uint(request.query.get("days"), "days", default=DEFAULT_DAYS, lo=1,
                      hi=MAX_DAYS)
    limit = parse_uint(request.query.get("limit"), "limit", default=DEFAULT_SPENDS, lo=1,
                       hi=MAX_SPENDS)
    after = parse_after(request.query.get("after"))
    return await json_from_pool(request, treasury_answer, view.store, view.chain_state(), days,
                                limit, None if after is None else TxLocation(*after))
