"""Crowdfunding campaigns: terms a tx creates, pledges locked to them, and who may spend a pledge.

Glossary:
- *campaign*: the terms a version 2 tx carries (beneficiary lock, goal, deadline height, mode,
  title, reference URI). Its id is `tagged_hash("faircoop/campaign/v1", txid)` of that tx.
- *pledge*: an output `[amount, campaign id, refund lock]`. Its lock **is** the campaign id,
  which no policy hashes to (the tagged preimage opens with the tag's length, a policy's with a
  3-array header), so code that knows nothing of campaigns can never let anyone spend it; the
  third field names who gets it back if the campaign fails.
- *deadline* D: pledges go into blocks below D; from block D on the campaign is *decided*:
  succeeded (all-or-nothing with pledged >= goal, or keep-what-you-raise with anything pledged)
  or failed. Nothing can change the pledged total after D, so the decision is a pure function
  of the campaign's record and the height: every node makes it at the same height.
- *who may spend a pledge*: nobody while open; after a success only the beneficiary's policy,
  after a failure only the pledge's refund policy. The witness is an ordinary one (policy and
  exactly m signatures over the tx's sighash): only the lock it must hash to changes.

The rules here are pure functions over a `CampaignView` (the chain's campaign records, and
the height of the block a tx goes in); `consensus.ledger` calls them and `apply_block` returns
the records a block changes in `UtxoDiff.campaigns`. Rule names are listed in docs/PROTOCOL.md.

Simplifications, said plainly: a pledge can't name a campaign created by a tx still in the
mempool (only one on chain, or earlier in the same block); deadlines are heights, not times
(wallets estimate the time from the observed block interval); a campaign never ends in any
other way (no cancellation: the pledgers' refund is the deadline).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NewType, Protocol

from consensus.codec import (
    Obj,
    decode_canonical,
    expect_array,
    expect_hash,
    expect_uint,
    expect_version,
    pack,
    policy_lock,
    terms_from,
    terms_obj,
)
from consensus.crypto import tagged_hash
from consensus.errors import DecodeError, ValidationError
from consensus.types import (
    CAMPAIGN_TX_VERSION,
    MAX_AMOUNT,
    CampaignMode,
    CampaignTerms,
    Lock,
    Tx,
    TxId,
    TxOut,
    Witness,
)

CampaignId = NewType("CampaignId", bytes)

CAMPAIGN_TAG = "faircoop/campaign/v1"
RECORD_VERSION = 1


class CampaignStatus(enum.Enum):
    OPEN = "open"  # pledges accepted, nothing spendable
    SUCCEEDED = "succeeded"  # the beneficiary's policy spends every pledge
    FAILED = "failed"  # each pledge's refund policy spends it


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign's record in the chain state: its terms and what was pledged to it."""

    id: CampaignId
    terms: CampaignTerms
    txid: TxId  # the tx that created it
    created: int  # the height of that tx's block
    pledged: int  # every pledge ever made to it (they can't move before the deadline)
    pledges: int  # how many pledge outputs

    def status(self, height: int) -> CampaignStatus:
        """The campaign as a block at `height` sees it."""
        if height < self.terms.deadline:
            return CampaignStatus.OPEN
        return CampaignStatus.SUCCEEDED if self.succeeds() else CampaignStatus.FAILED

    def succeeds(self) -> bool:
        """The decision, once the deadline is reached (the pledged total can't change then)."""
        if self.terms.mode is CampaignMode.ALL_OR_NOTHING:
            return self.pledged >= self.terms.goal
        return self.pledged > 0

    def spender(self, pledge: TxOut, height: int) -> Lock | None:
        """The lock whose policy may spend `pledge` in a block at `height`; None while open."""
        status = self.status(height)
        if status is CampaignStatus.OPEN:
            return None
        if status is CampaignStatus.SUCCEEDED:
            return self.terms.beneficiary
        return refund_lock(pledge)


class CampaignView(Protocol):
    """The campaign records a tx is checked against, and the height of its block."""

    def get_campaign(self, campaign_id: bytes) -> Campaign | None: ...

    def campaign_height(self) -> int:
        """The height of the block the tx would go in (a node's tip + 1)."""
        ...


def campaign_id(creating_txid: bytes) -> CampaignId:
    return CampaignId(tagged_hash(CAMPAIGN_TAG, creating_txid))


def is_pledge(out: TxOut) -> bool:
    return out.refund is not None


def refund_lock(pledge: TxOut) -> Lock:
    if pledge.refund is None:
        raise ValueError("not a pledge")
    return pledge.refund


def pledge_output(amount: int, campaign: bytes, refund: bytes) -> TxOut:
    """An output pledging `amount` to `campaign`, back to `refund` if it fails."""
    return TxOut(amount, Lock(campaign), Lock(refund))


# -- encoding ---------------------------------------------------------------------------------


def check_terms(t: CampaignTerms) -> None:
    """ValidationError (`bad_campaign`) unless the terms would survive encoding: the same
    bounds the decoder enforces, for terms built in memory."""
    try:
        if terms_from(terms_obj(t)) != t:
            raise DecodeError("campaign: terms of the wrong types")
    except (DecodeError, ValueError, TypeError) as exc:
        raise ValidationError("bad_campaign", str(exc)) from None


def record_obj(c: Campaign) -> Obj:
    return (RECORD_VERSION, c.id, terms_obj(c.terms), c.txid, c.created, c.pledged, c.pledges)


def record_from(obj: Obj, what: str = "campaign_record") -> Campaign:
    f = expect_array(obj, 7, what)
    expect_version(f[0], RECORD_VERSION, what)
    return Campaign(
        id=CampaignId(expect_hash(f[1], f"{what}.id")),
        terms=terms_from(f[2], f"{what}.terms"),
        txid=TxId(expect_hash(f[3], f"{what}.txid")),
        created=expect_uint(f[4], f"{what}.created"),
        pledged=expect_uint(f[5], f"{what}.pledged", hi=MAX_AMOUNT),
        pledges=expect_uint(f[6], f"{what}.pledges"),
    )


def encode_campaign(c: Campaign) -> bytes:
    """A campaign record as a store keeps it (not part of any hash or signature)."""
    return pack(record_obj(c))


def decode_campaign(data: bytes) -> Campaign:
    return decode_canonical(data, "campaign_record", record_from)


# -- rules ------------------------------------------------------------------------------------


def check_campaign_shape(tx: Tx) -> None:
    """Context-free: a tx carries terms iff it is version 2, and the terms are in bounds."""
    if (tx.campaign is not None) != (tx.version == CAMPAIGN_TX_VERSION) or \
            tx.version not in (1, CAMPAIGN_TX_VERSION):
        raise ValidationError("campaign_version", "a tx is version 1, or version 2 carrying "
                                                  "campaign terms")
    if tx.campaign is not None:
        check_terms(tx.campaign)


def _campaign(view: CampaignView, cid: bytes) -> Campaign | None:
    return view.get_campaign(cid)


def check_campaign_rules(tx: Tx, spent: Sequence[TxOut], view: CampaignView) -> list[TxOut]:
    """The campaign rules against the chain, in input then output order; returns `spent` with
    each pledge's lock replaced by the lock that may spend it now (for the witness rules).

    Only campaign txs reach the view: a tx that creates, pledges and spends no pledge costs a
    scan of its outputs and spent outputs, nothing more.
    """
    height = view.campaign_height()
    effective = list(spent)
    for n, prev in enumerate(spent):
        if prev.refund is None:
            continue
        found = _campaign(view, prev.lock)
        if found is None:  # unreachable for a view built by the rules: its pledge was checked
            raise ValidationError("unknown_campaign", f"input {n}: its campaign is unknown")
        spender = found.spender(prev, height)
        if spender is None:
            raise ValidationError(
                "pledge_locked", f"input {n}: pledged to a campaign open until height "
                                 f"{found.terms.deadline}")
        effective[n] = TxOut(prev.amount, spender)
    for n, out in enumerate(tx.outputs):
        if out.refund is None:
            continue
        found = _campaign(view, out.lock)
        if found is None:
            raise ValidationError("unknown_campaign",
                                  f"output {n}: no campaign {out.lock.hex()}")
        if found.status(height) is not CampaignStatus.OPEN:
            raise ValidationError(
                "campaign_closed", f"output {n}: the campaign closed at height "
                                   f"{found.terms.deadline}")
        if _campaign(view, out.refund) is not None:
            raise ValidationError("bad_refund_lock",
                                  f"output {n}: the refund lock is a campaign's: no policy "
                                  "could ever spend the refund")
    terms = tx.campaign
    if terms is not None:
        if terms.deadline <= height:
            raise ValidationError(
                "campaign_deadline_passed",
                f"deadline {terms.deadline} is not after the tx's block {height}")
        if _campaign(view, terms.beneficiary) is not None:
            raise ValidationError("bad_beneficiary",
                                  "the beneficiary lock is a campaign's: no policy could "
                                  "ever claim the pledges")
    return effective


def check_pledge_witnesses(tx: Tx, spent: Sequence[TxOut], effective: Sequence[TxOut]) -> None:
    """Each pledge input reveals the policy of the party the decision names: the beneficiary
    after a success (`not_beneficiary`), the pledger after a failure (`not_refund_policy`)."""
    for n, (prev, now, witness) in enumerate(zip(spent, effective, tx.witnesses, strict=True)):
        if prev.refund is None or _reveals(witness, now.lock):
            continue
        if now.lock == prev.refund:
            raise ValidationError("not_refund_policy",
                                  f"input {n}: the campaign failed; only the pledger's refund "
                                  "policy spends this pledge")
        raise ValidationError("not_beneficiary", f"input {n}: the campaign succeeded; only the "
                                                 "beneficiary's policy spends this pledge")


def _reveals(witness: Witness, lock: Lock) -> bool:
    return policy_lock(witness.policy) == lock


def touches_campaigns(tx: Tx, spent: Sequence[TxOut]) -> bool:
    """Whether the campaign rules apply to `tx` at all (plain loops: this runs for every tx)."""
    if tx.campaign is not None:
        return True
    for out in tx.outputs:
        if out.refund is not None:
            return True
    for out in spent:  # noqa: SIM110 (any() with a generator is slower here)
        if out.refund is not None:
            return True
    return False


# -- what a tx does to the records ------------------------------------------------------------


def campaign_effect(tx: Tx, tid: TxId, height: int, view: CampaignView
                    ) -> tuple[Campaign, ...]:
    """The records a valid tx at `height` creates or changes (pledges added), in first-touch
    order. Used by `apply_block` after the tx's rules passed, and by a store's reindex."""
    changed: dict[bytes, Campaign] = {}
    if tx.campaign is not None:
        cid = campaign_id(tid)
        changed[cid] = Campaign(cid, tx.campaign, tid, height, 0, 0)
    for out in tx.outputs:
        if out.refund is None:
            continue
        record = changed.get(out.lock) or view.get_campaign(out.lock)
        if record is None:
            raise ValidationError("unknown_campaign", f"a pledge to {out.lock.hex()}")
        changed[out.lock] = replace(record, pledged=record.pledged + out.amount,
                                    pledges=record.pledges + 1)
    return tuple(changed.values())
