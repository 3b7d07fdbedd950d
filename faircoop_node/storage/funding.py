"""The store's campaign records, their indexes and the treasury's fees per day (issue 16).

Write side: `index_funding` adds a block's changes to its one atomic batch (called by
`indexes.index_block`, so a commit and a reindex write the same keys); `replay_campaigns`
recomputes a committed block's campaign records for a reindex. Read side: `FundingReads`, the
methods `BaseStore` gets for the ledger (`get_campaign`, `campaign_height`) and for the API.

Every keyspace here is derived from the blocks (`schema.FUNDING_PREFIXES`):
- `n` the campaign record (what the ledger rules read), `N` campaigns newest first, `B` by
  beneficiary lock: records are written whole after each block that creates or pledges to one;
- `p` unspent pledges by refund lock (what a pledger's wallet refunds), deleted when spent;
- `P` each pledger's total per campaign and `Q` the number of distinct pledgers: additive, never
  deleted (the pledges were made, whatever happened to them since);
- `d` the fees the treasury received per UTC day (from the block time), and in how many blocks.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence

from consensus.campaign import Campaign, campaign_effect, decode_campaign, encode_campaign
from consensus.errors import DecodeError
from consensus.ledger import UtxoDiff
from consensus.types import BlockTx, CreditTransfer, TxId, TxOut
from faircoop_node.storage import schema
from faircoop_node.storage.errors import CorruptStore
from faircoop_node.storage.keyvalue import KeyValue
from faircoop_node.storage.protocol import Pledge, Pledger, Tip, TreasuryDay

Writes = MutableMapping[bytes, bytes | None]
Getter = Callable[[bytes], bytes | None]


def read_campaign(get: Getter, campaign_id: bytes) -> Campaign | None:
    key = schema.campaign_key(campaign_id)
    raw = get(key)
    if raw is None:
        return None
    try:
        record = decode_campaign(raw)
    except DecodeError as exc:
        raise CorruptStore(f"campaign record {schema.printable(key)} is garbled: {exc}",
                           key) from None
    if record.id != campaign_id:
        raise CorruptStore(f"campaign record {schema.printable(key)} names another campaign", key)
    return record


# -- write side -------------------------------------------------------------------------------


def index_funding(get: Getter, writes: Writes, *, height: int, time_ms: int, diff: UtxoDiff,
                  spent: Sequence[tuple[bytes, TxOut]]) -> None:
    """Add the block's campaign, pledge and treasury-day keys to `writes`.

    `spent` is (UTXO key, output) of every output the block consumed, as `index_block` read
    them; `get` reads the store as it was before the block.
    """
    for record in diff.campaigns:
        writes[schema.campaign_key(record.id)] = encode_campaign(record)
        if record.created == height:
            writes[schema.campaign_list_key(height, record.id)] = b""
            writes[schema.beneficiary_key(record.terms.beneficiary, height, record.id)] = b""
    for key, out in spent:
        if out.refund is not None:
            writes[schema.pledge_key_from_utxo_key(out.refund, key)] = None
    new_pledgers: dict[bytes, int] = {}
    for op, out in diff.created:
        if out.refund is None:
            continue
        writes[schema.pledge_key(out.refund, op)] = schema.encode_pledge(out.lock, out.amount,
                                                                         height)
        pkey = schema.pledger_key(out.lock, out.refund)
        current = writes[pkey] if pkey in writes else get(pkey)
        amount, count = (0, 0) if current is None else schema.decode_pledger(current, pkey)
        if current is None:
            new_pledgers[out.lock] = new_pledgers.get(out.lock, 0) + 1
        writes[pkey] = schema.encode_pledger(amount + out.amount, count + 1)
    for campaign, added in new_pledgers.items():
        ckey = schema.pledger_count_key(campaign)
        raw = get(ckey)
        writes[ckey] = schema.encode_count(added + (0 if raw is None
                                                     else schema.decode_count(raw, ckey)))
    if diff.fees:
        dkey = schema.treasury_day_key(time_ms // schema.DAY_MS)
        raw = get(dkey)
        fees, blocks = (0, 0) if raw is None else schema.decode_day(raw, dkey)
        writes[dkey] = schema.encode_day(fees + diff.fees, blocks + 1)


class _ReplayView:
    """The campaign records as the store holds them, plus those earlier txs of the block made."""

    def __init__(self, get: Getter, height: int) -> None:
        self._get = get
        self._height = height
        self.changed: dict[bytes, Campaign] = {}

    def get_campaign(self, campaign_id: bytes) -> Campaign | None:
        found = self.changed.get(campaign_id)
        return found if found is not None else read_campaign(self._get, campaign_id)

    def campaign_height(self) -> int:
        return self._height


def replay_campaigns(get: Getter, txs: Sequence[BlockTx], txids: Sequence[TxId],
                     height: int) -> tuple[Campaign, ...]:
    """The campaign records a committed block changed (what `apply_block` put in its diff),
    recomputed without checking the rules again: for a reindex. Credit transfers touch no
    campaign."""
    view = _ReplayView(get, height)
    for tx, tid in zip(txs, txids, strict=True):
        if isinstance(tx, CreditTransfer):
            continue
        for record in campaign_effect(tx, tid, height, view):
            view.changed[record.id] = record
    return tuple(view.changed.values())


# -- read side --------------------------------------------------------------------------------


class FundingReads:
    """Campaign, pledge and treasury reads over the store's key-value backend (`BaseStore`
    mixes this in; `_kv` and `tip` are its)."""

    _kv: KeyValue

    def tip(self) -> Tip:
        raise NotImplementedError

    def get_campaign(self, campaign_id: bytes) -> Campaign | None:
        """A campaign's record as of the tip (one key read)."""
        return read_campaign(self._kv.get, campaign_id)

    def campaign_height(self) -> int:
        """The height the next block has: what a tx checked against the tip goes in."""
        return self.tip().height + 1

    def get_campaigns(self, limit: int, before: tuple[int, bytes] | None = None
                      ) -> tuple[Campaign, ...]:
        """Campaigns newest first (by creation height, then id), after the `before` one."""
        stop = None if before is None else schema.campaign_list_key(*before)
        found: list[Campaign] = []
        for key, _ in self._kv.items(schema.CAMPAIGN_LIST, stop=stop, reverse=True):
            if len(found) >= limit:
                break
            found.append(self._listed(key, schema.campaign_list_from_key(key)[1]))
        return tuple(found)

    def get_campaigns_of(self, beneficiary: bytes, limit: int,
                         before: tuple[int, bytes] | None = None) -> tuple[Campaign, ...]:
        """The campaigns whose pledges `beneficiary` claims on success, newest first, after
        the `before` one (its created height and id)."""
        stop = None if before is None else schema.beneficiary_key(beneficiary, *before)
        found: list[Campaign] = []
        for key, _ in self._kv.items(schema.beneficiary_prefix(beneficiary), stop=stop,
                                     reverse=True):
            if len(found) >= limit:
                break
            found.append(self._listed(key, schema.campaign_id_from_beneficiary_key(key)))
        return tuple(found)

    def _listed(self, key: bytes, campaign_id: bytes) -> Campaign:
        record = self.get_campaign(campaign_id)
        if record is None:
            raise CorruptStore(f"{schema.printable(key)} lists a campaign with no record", key)
        return record

    def get_pledges(self, refund: bytes, limit: int) -> tuple[Pledge, ...]:
        """Unspent pledges `refund` gets back if their campaigns fail, by outpoint."""
        found: list[Pledge] = []
        for key, raw in self._kv.items(schema.pledge_prefix(refund)):
            if len(found) >= limit:
                break
            campaign, amount, height = schema.decode_pledge(raw, key)
            found.append(Pledge(schema.outpoint_from_pledge_key(key), campaign, amount, height))
        return tuple(found)

    def get_pledgers(self, campaign_id: bytes, limit: int) -> tuple[Pledger, ...]:
        """Who pledged to a campaign and how much in all, by refund lock."""
        found: list[Pledger] = []
        for key, raw in self._kv.items(schema.pledger_prefix(campaign_id)):
            if len(found) >= limit:
                break
            amount, count = schema.decode_pledger(raw, key)
            found.append(Pledger(schema.refund_from_pledger_key(key), amount, count))
        return tuple(found)

    def count_pledgers(self, campaign_id: bytes) -> int:
        """How many distinct refund locks ever pledged to the campaign (one key read)."""
        key = schema.pledger_count_key(campaign_id)
        raw = self._kv.get(key)
        return 0 if raw is None else schema.decode_count(raw, key)

    def get_treasury_days(self, limit: int) -> tuple[TreasuryDay, ...]:
        """The treasury's fees per UTC day, newest first (days without fees are absent)."""
        found: list[TreasuryDay] = []
        for key, raw in self._kv.items(schema.TREASURY_DAY, reverse=True):
            if len(found) >= limit:
                break
            fees, blocks = schema.decode_day(raw, key)
            found.append(TreasuryDay(schema.day_from_key(key), fees, blocks))
        return tuple(found)

