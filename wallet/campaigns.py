"""Crowdfunding campaigns from a wallet: create, look up, pledge, claim, refund.

Each function takes a `NodeClient` and the public `WalletData` (none needs the password);
`wallet.session.Wallet` calls them under its lock and signs what they prepare. The rules are the
ledger's (docs/PROTOCOL.md 8.3); the workflow is in docs/FUNDING.md.

- A campaign's terms come from the node, but before the wallet pledges to one it checks them
  against the tx that created it: that tx must hash to the txid the node names, carry exactly
  these terms, and its txid must give the campaign's id. A node can lie about how much was
  pledged (the decision is then the chain's, not its word), never about who the beneficiary is.
- A pledge is an ordinary payment (`payments.prepare`) whose payee is the campaign, refunded
  to the wallet's current receive address unless told otherwise.
- `claim` and `refund` gather every spendable pledge of the wallet's (as beneficiary of a
  succeeded campaign, or as refund address of a failed one) into as few txs as the chain's
  `max_tx_size` allows, each paying the wallet's next change address.

Every tx is checked with the ledger's own rules (`validate_tx`, with the campaign records and
the next height) before it leaves, unless asked not to (`force`: for showing what the chain
refuses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import wallet.ops as ops
from consensus.address import decode_address, encode_address
from consensus.campaign import Campaign, CampaignId, campaign_id, check_terms
from consensus.codec import decode_header, decode_tx, policy_lock, txid
from consensus.crypto import PrivateKey
from consensus.errors import DecodeError, ValidationError
from consensus.ledger import validate_tx
from consensus.params import ChainParams
from consensus.types import (
    CampaignMode,
    CampaignTerms,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxOut,
)
from wallet.builder import SweepInput, UnsignedTx, build_sweep, sign_transaction, split_by_size
from wallet.client import NodeClient
from wallet.errors import BadCampaign, CampaignError, NodeError
from wallet.keys import CHANGE, RECEIVE
from wallet.payments import LedgerContext, Payee, PreparedPayment, campaign_bytes, encode_memo
from wallet.payments import prepare as prepare_payment
from wallet.walletfile import WalletData

DAY_MS = 86_400_000
LIST_LIMIT = 1000
NOTHING = {
    "claim": "nothing to claim: no succeeded campaign of this wallet's has an unspent pledge",
    "refund": "nothing to refund: no failed campaign holds an unspent pledge refunded to this "
              "wallet",
}


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as the node reports it (terms checked against their tx when `verified`)."""

    id: bytes
    terms: CampaignTerms
    txid: bytes  # the tx that created it
    created_height: int
    pledged: int
    pledges: int
    pledgers: int
    status: str  # what the next block applies: open, succeeded or failed
    blocks_left: int  # blocks that may still take pledges
    time_left_ms: int  # blocks_left x the observed block interval: an estimate
    block_interval_ms: int
    verified: bool = False  # the terms were checked against the creating tx

    @property
    def percent(self) -> int:
        return self.pledged * 100 // self.terms.goal

    def record(self) -> Campaign:
        """The ledger's record, for checking a tx locally."""
        return Campaign(CampaignId(self.id), self.terms, TxId(self.txid), self.created_height,
                        self.pledged, self.pledges)

    def summary(self) -> str:
        """What a member needs to decide: "7 days left, 62% of goal"."""
        if self.status == "open":
            return f"{time_left(self.time_left_ms)}, {self.percent}% of goal"
        if self.status == "succeeded":
            return f"succeeded with {self.percent}% of goal: the beneficiary may claim"
        return f"failed with {self.percent}% of goal: each pledger may take theirs back"


def time_left(ms: int) -> str:
    """An estimate in the largest unit that is at least one: "7 days left"."""
    for unit, size in (("day", DAY_MS), ("hour", 3_600_000), ("minute", 60_000)):
        if ms >= size:
            n = ms // size
            return f"{n} {unit}{'s' if n != 1 else ''} left"
    return "less than a minute left"


def campaign_from_json(doc: object, network: str) -> CampaignInfo:
    """A `GET campaign` answer (or an entry of `GET campaigns`); NodeError if malformed."""
    try:
        assert isinstance(doc, dict)
        terms = CampaignTerms(
            beneficiary=decode_address(str(doc["beneficiary"]), network),
            goal=int(doc["goal"]), deadline=int(doc["deadline"]),
            mode=CampaignMode[str(doc["mode"]).upper().replace("-", "_")],
            title=str(doc["title"]), uri=str(doc["uri"]))
        return CampaignInfo(
            id=bytes.fromhex(doc["id"]), terms=terms, txid=bytes.fromhex(doc["txid"]),
            created_height=int(doc["created_height"]), pledged=int(doc["pledged"]),
            pledges=int(doc["pledges"]), pledgers=int(doc["pledgers"]),
            status=str(doc["status"]), blocks_left=int(doc["blocks_left"]),
            time_left_ms=int(doc["time_left_ms"]),
            block_interval_ms=int(doc["block_interval_ms"]))
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise NodeError(200, f"campaign: malformed answer ({type(exc).__name__})") from None


async def fetch_campaign(node: NodeClient, campaign: str | bytes,
                         network: str) -> CampaignInfo:
    """The campaign, its terms checked against the tx that created it (NodeError if the node
    lies about them; NotFound if it knows no such campaign)."""
    cid = campaign if isinstance(campaign, bytes) else campaign_bytes(campaign)
    info = campaign_from_json(await node.campaign(cid.hex()), network)
    doc = await node.tx(info.txid.hex())
    try:
        made = decode_tx(bytes.fromhex(doc["hex"]))
    except (KeyError, TypeError, ValueError, DecodeError):
        raise NodeError(200, f"tx {info.txid.hex()[:16]}: malformed answer") from None
    if txid(made) != info.txid or campaign_id(info.txid) != cid or made.campaign != info.terms:
        raise NodeError(200, f"the node's terms for campaign {cid.hex()[:16]} are not those "
                             "of the tx that created it")
    return replace(info, id=cid, verified=True)


async def list_campaigns(node: NodeClient, network: str, *, status: str | None = None,
                         beneficiary: str | None = None,
                         limit: int = 100) -> list[CampaignInfo]:
    """Campaigns newest first, as the node lists them (terms not checked: `fetch_campaign`
    checks one), following its pages until `limit`."""
    found: list[CampaignInfo] = []
    after: str | None = None
    while len(found) < limit:
        page = await node.campaigns(status=status, beneficiary=beneficiary,
                                    limit=min(LIST_LIMIT, limit - len(found)), after=after)
        try:
            found += [campaign_from_json(c, network) for c in page["campaigns"]]
            after = page["next"]
        except (KeyError, TypeError):
            raise NodeError(200, "campaigns: malformed answer") from None
        if after is None:
            break
    return found[:limit]


async def next_height(node: NodeClient) -> int:
    """The height the node's next block will have (what a tx sent now is checked at)."""
    return (await ops.chain_info(node)).height + 1


async def interval_ms(node: NodeClient, tip: int, params: ChainParams) -> int:
    """The block interval observed over the last (up to) 100 blocks; the heartbeat before
    there are two blocks."""
    first = max(1, tip - 100)
    if tip < 2:
        return params.heartbeat_ms
    times = []
    for height in (first, tip):
        try:
            header = decode_header(bytes.fromhex((await node.headers(height, 1))[0]["header_hex"]))
        except (KeyError, IndexError, TypeError, ValueError, DecodeError):
            raise NodeError(200, "headers: malformed answer") from None
        times.append(header.time_ms)
    return max(1, (times[1] - times[0]) // (tip - first))


async def deadline_in(node: NodeClient, days: Decimal) -> int:
    """The deadline height about `days` from now, at the observed block interval."""
    tip = (await ops.chain_info(node)).height
    every = await interval_ms(node, tip, await ops.chain_params(node))
    return tip + 1 + max(1, int(days * DAY_MS) // every)


# -- creating and pledging --------------------------------------------------------------------


def make_terms(beneficiary: str, goal: int, deadline: int, mode: str, title: str, uri: str,
               network: str) -> CampaignTerms:
    """Terms from what a member typed; BadCampaign names what the chain would refuse."""
    try:
        chosen = CampaignMode[mode.upper().replace("-", "_")]
    except KeyError:
        raise BadCampaign(f"mode {mode!r}: all-or-nothing or keep-what-you-raise") from None
    terms = CampaignTerms(decode_address(beneficiary.strip(), network), goal, deadline, chosen,
                          title, uri)
    try:
        check_terms(terms)
    except ValidationError as exc:
        raise BadCampaign(exc.detail) from None
    return terms


async def prepare_create(node: NodeClient, data: WalletData, terms: CampaignTerms, *,
                         fee_rate: int | None = None) -> tuple[WalletData, PreparedPayment]:
    """A tx creating the campaign (its one output is the change); nothing is sent."""
    height = await next_height(node)
    if terms.deadline <= height:
        raise BadCampaign(f"the deadline {terms.deadline} is not after the next block "
                          f"({height})")
    return await prepare_payment(node, data, [], fee_rate=fee_rate, campaign=terms,
                                 context=LedgerContext((), height))


async def prepare_pledge(node: NodeClient, data: WalletData, campaign: str, amount: int, *,
                         refund: str | None = None, fee_rate: int | None = None,
                         memo: str | bytes = b""
                         ) -> tuple[WalletData, PreparedPayment, CampaignInfo]:
    """A payment pledging `amount` to the (checked) campaign, refunded to `refund` (default:
    the wallet's current receive address) if it fails. CampaignError if it is not open."""
    info = await fetch_campaign(node, campaign, data.network)
    if info.status != "open":
        raise CampaignError(f"campaign {info.id.hex()[:16]} closed at height "
                            f"{info.terms.deadline} ({info.status}): no more pledges")
    back = refund or data.address(RECEIVE, data.receive_index)
    context = LedgerContext((info.record(),), await next_height(node))
    data, prepared = await prepare_payment(node, data, [Payee(back, amount, info.id.hex())],
                                           fee_rate=fee_rate, memo=memo, context=context)
    return data, prepared, info


# -- claims and refunds -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreparedSweeps:
    """Claims or refunds ready to sign: as few txs as fit, each paying the wallet."""

    kind: str  # "claim" or "refund"
    txs: tuple[UnsignedTx, ...]
    campaigns: tuple[CampaignInfo, ...]  # the campaigns whose pledges they spend
    to: str  # the wallet's address they pay
    change_index: int  # the change address it is (reserved once sent)
    context: LedgerContext
    params: ChainParams

    @property
    def pledges(self) -> int:
        return sum(len(t.tx.inputs) for t in self.txs)

    @property
    def amount(self) -> int:
        """What the wallet receives, fees deducted."""
        return sum(t.tx.outputs[0].amount for t in self.txs)

    @property
    def fee(self) -> int:
        return sum(t.fee for t in self.txs)


def _owned(data: WalletData) -> dict[Lock, SpendPolicy]:
    """The wallet's addresses (handed out, receive and change) and their policies."""
    return {lock: SpendPolicy.single(pub) for lock, (_, _, pub) in data.known_locks().items()}


async def _succeeded_of(node: NodeClient, data: WalletData, lock: Lock) -> list[bytes]:
    found = await list_campaigns(node, data.network, status="succeeded",
                                 beneficiary=encode_address(lock, data.network),
                                 limit=LIST_LIMIT)
    return [c.id for c in found]


async def claimable(node: NodeClient, data: WalletData, only: str | None = None,
                    force: bool = False) -> tuple[list[SweepInput], list[CampaignInfo]]:
    """Every unspent pledge of a succeeded campaign whose beneficiary is one of the wallet's
    addresses (`only`: of that campaign, CampaignError if the wallet can't claim it)."""
    owned = _owned(data)
    if only is not None:
        info = await fetch_campaign(node, only, data.network)
        if info.terms.beneficiary not in owned and not force:
            raise CampaignError(f"this wallet is not the beneficiary of campaign "
                                f"{info.id.hex()[:16]}: only the beneficiary's policy claims")
        if info.status != "succeeded" and not force:
            raise CampaignError(_not_claimable(info))
        infos = [info]
    else:
        ids = {cid for lock in owned for cid in await _succeeded_of(node, data, lock)}
        infos = [await fetch_campaign(node, cid, data.network) for cid in sorted(ids)]
    held = data.held_outpoints()
    # a forced claim by a stranger signs with the wallet's receive key: the chain refuses it
    fallback = SpendPolicy.single(data.watch().pubkey(RECEIVE, data.receive_index))
    inputs: list[SweepInput] = []
    for info in infos:
        policy = owned.get(info.terms.beneficiary, fallback)
        for op, out in await _pledges_of(node, info, data.network):
            if op not in held:
                inputs.append(SweepInput(op, out, policy))
    return inputs, infos


def _not_claimable(info: CampaignInfo) -> str:
    if info.status == "open":
        return (f"campaign {info.id.hex()[:16]} is open until height {info.terms.deadline} "
                f"({info.summary()}): its pledges can't move before")
    return (f"campaign {info.id.hex()[:16]} failed: each pledger takes their pledge back "
            "(`campaign refund`), the beneficiary claims nothing")


async def _pledges_of(node: NodeClient, info: CampaignInfo,
                      network: str) -> list[tuple[OutPoint, TxOut]]:
    doc = await node.campaign_pledges(info.id.hex())
    try:
        return [(OutPoint(TxId(bytes.fromhex(p["txid"])), int(p["index"])),
                 TxOut(int(p["amount"]), Lock(info.id),
                       decode_address(str(p["refund_address"]), network)))
                for p in doc["pledges"]]
    except (KeyError, TypeError, ValueError):
        raise NodeError(200, "campaign pledges: malformed answer") from None


async def refundable(node: NodeClient, data: WalletData, only: str | None = None,
                     force: bool = False) -> tuple[list[SweepInput], list[CampaignInfo]]:
    """Every unspent pledge refunded to one of the wallet's addresses whose campaign failed
    (`only`: of that campaign; with `force` whatever its status)."""
    owned = _owned(data)
    want = None if only is None else campaign_bytes(only)
    held = data.held_outpoints()
    found: list[tuple[OutPoint, TxOut, SpendPolicy]] = []
    statuses: dict[bytes, str] = {}
    for lock, policy in owned.items():
        doc = await node.pledges(encode_address(lock, data.network))
        try:
            for p in doc["pledges"]:
                cid = bytes.fromhex(p["campaign"])
                statuses[cid] = str(p["status"])
                if (want is None or cid == want) and (p["status"] == "failed" or force):
                    op = OutPoint(TxId(bytes.fromhex(p["txid"])), int(p["index"]))
                    if op not in held:
                        found.append((op, TxOut(int(p["amount"]), Lock(cid), lock), policy))
        except (KeyError, TypeError, ValueError):
            raise NodeError(200, "pledges: malformed answer") from None
    if want is not None and not found and not force:
        if want not in statuses:
            raise CampaignError(f"this wallet has no pledge to campaign {want.hex()[:16]} "
                                "left to take back")
        info = await fetch_campaign(node, want, data.network)
        raise CampaignError(_not_refundable(info))
    infos = {cid: await fetch_campaign(node, cid, data.network)
             for cid in sorted({out.lock for _, out, _ in found})}
    return [SweepInput(op, out, policy) for op, out, policy in found], list(infos.values())


def _not_refundable(info: CampaignInfo) -> str:
    if info.status == "open":
        return (f"campaign {info.id.hex()[:16]} is open until height {info.terms.deadline} "
                f"({info.summary()}): pledges can't be taken back before the deadline")
    return (f"campaign {info.id.hex()[:16]} succeeded: its pledges are the beneficiary's to "
            "claim")


async def prepare_sweeps(node: NodeClient, data: WalletData, kind: str, *,
                         campaign: str | None = None, fee_rate: int | None = None,
                         force: bool = False) -> PreparedSweeps:
    """Claims (`kind` "claim") or refunds ("refund") of every pledge the wallet may spend,
    in as few txs as fit `max_tx_size`. CampaignError if there is nothing to spend."""
    finder = claimable if kind == "claim" else refundable
    data = await ops.settle_pending(node, data)
    inputs, infos = await finder(node, data, campaign, force)
    if not inputs:
        raise CampaignError(NOTHING[kind])
    params = await ops.chain_params(node)
    rate = params.min_fee_rate if fee_rate is None else fee_rate
    to = data.watch().pubkey(CHANGE, data.change_index)
    to_lock = policy_lock(SpendPolicy.single(to))
    memo = encode_memo(f"{kind} of {len(inputs)} pledge(s)")
    txs = tuple(build_sweep(group, to_lock, fee_rate=rate, params=params, chain_id=data.chain_id,
                            memo=memo)
                for group in split_by_size(inputs, params.max_tx_size, data.chain_id, memo))
    context = LedgerContext(tuple(i.record() for i in infos), await next_height(node))
    return PreparedSweeps(kind, txs, tuple(infos), encode_address(to_lock, data.network),
                          data.change_index, context, params)


def sign_sweeps(prepared: PreparedSweeps, keys: Mapping[bytes, PrivateKey], *,
                check: bool = True) -> list[Tx]:
    """Each tx signed and (unless `check` is False) checked with the ledger's rules."""
    signed: list[Tx] = []
    for unsigned in prepared.txs:
        tx = sign_transaction(unsigned, keys)
        if check:
            spent = {i.prevout: o for i, o in zip(tx.inputs, unsigned.spent, strict=True)}
            validate_tx(tx, prepared.context.view(spent), prepared.params, chain_id=tx.chain_id)
        signed.append(tx)
    return signed

