"""The explorer's crowdfunding pages: the campaign list, one campaign with its pledges, and the
campaign names tx pages show beside pledge outputs.

Built from the API's campaign answers (`api/campaigns.py`: GET campaigns, campaign/{id}, its
pledges and pledgers), so a page and its JSON twin can't disagree. The explorer adds one thing
the API leaves to the reader, the status a member asks about:

- `open`: the next block still takes pledges;
- `reached` / `failed`: decided (the ledger's `succeeded` / `failed`), and pledges remain for
  the beneficiary to claim / for their pledgers to take back;
- `claimed` / `refunded`: decided, and no pledge is left unspent (a failed campaign nobody
  pledged to stays `failed`: there was nothing to refund).

"No pledge left" is read from the outputs locked to the campaign's id: its address summary
(one read) and, when it holds any, up to `PROBE` of them. A coin sent to the id (which no key
can ever spend) is not a pledge; past `PROBE` outputs the campaign is shown as still waiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consensus.campaign import Campaign, CampaignStatus
from consensus.params import ChainParams
from faircoop_node.api.campaigns import (
    campaign_answer,
    campaign_page,
    pledgers_answer,
    pledges_answer,
)
from faircoop_node.api.errors import BadRequest
from faircoop_node.storage.protocol import ChainReader

Context = dict[str, Any]

STATUSES = ("open", "reached", "failed", "claimed", "refunded")
LEDGER_STATUS = {"open": CampaignStatus.OPEN, "reached": CampaignStatus.SUCCEEDED,
                 "claimed": CampaignStatus.SUCCEEDED, "failed": CampaignStatus.FAILED,
                 "refunded": CampaignStatus.FAILED}
CAMPAIGNS_PAGE = 25
PLEDGES_SHOWN = 100  # of a campaign's unspent pledges, and of its pledgers
PROBE = 20  # outputs locked to a campaign's id read to see whether any pledge is left
MAX_NAMED = 20  # campaigns a tx page names (one record read each)


def parse_status(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    if text not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {text[:40]!r}")
    return text


def _settled(store: ChainReader, c: Campaign) -> bool:
    """No pledge to `c` is left unspent (see the module's docstring)."""
    outputs = store.get_address_summary(c.id).utxo_count
    if outputs == 0:
        return True
    if outputs > PROBE:
        return False
    return not pledges_answer(store, c.id, PROBE)["pledges"]


def shown_status(store: ChainReader, c: Campaign, next_height: int) -> str:
    ledger = c.status(next_height)
    if ledger is CampaignStatus.OPEN:
        return "open"
    succeeded = ledger is CampaignStatus.SUCCEEDED
    if c.pledges == 0 or not _settled(store, c):
        return "reached" if succeeded else "failed"
    return "claimed" if succeeded else "refunded"


def campaign_list(store: ChainReader, params: ChainParams, status: str | None,
                  after: tuple[int, bytes] | None) -> Context:
    """A page of GET campaigns, each with its shown status; `status` keeps one of them."""
    shown: dict[bytes, str] = {}

    def keep(c: Campaign, next_height: int) -> bool:
        if status is not None and c.status(next_height) is not LEDGER_STATUS[status]:
            return False
        shown[c.id] = shown_status(store, c, next_height)
        return status is None or shown[c.id] == status

    answer = campaign_page(store, params, keep, None, CAMPAIGNS_PAGE, after)
    found = answer["campaigns"]
    assert isinstance(found, list)
    rows = [{**c, "shown": shown[bytes.fromhex(c["id"])]} for c in found]
    return {"campaigns": rows, "next": answer["next"], "status": status,
            "statuses": STATUSES}


def campaign(store: ChainReader, params: ChainParams, cid: bytes) -> Context:
    """GET campaign/{id}, its unspent pledges and its pledgers (the first `PLEDGES_SHOWN`)."""
    answer = campaign_answer(store, params, cid)  # NotFound if there is none
    record = store.get_campaign(cid)
    assert record is not None
    pledges = pledges_answer(store, cid, PLEDGES_SHOWN)["pledges"]
    pledgers = pledgers_answer(store, cid, PLEDGES_SHOWN)["pledgers"]
    return {"c": answer, "shown": shown_status(store, record, store.tip().height + 1),
            "pledges": pledges, "pledgers": pledgers, "shown_max": PLEDGES_SHOWN}


def titles(store: ChainReader, ids: Iterable[str]) -> dict[str, str]:
    """The titles of the campaigns named by hex id (the first `MAX_NAMED` distinct ones)."""
    found: dict[str, str] = {}
    for cid in dict.fromkeys(ids):
        if len(found) >= MAX_NAMED:
            break
        record = store.get_campaign(bytes.fromhex(cid))
        if record is not None:
            found[cid] = record.terms.title
    return found
