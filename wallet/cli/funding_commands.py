"""The funding commands: campaigns, contributions, share payouts and treasury grants. They call
the library (`wallet.campaigns`, `wallet.contributions`, `wallet.shares`, `Wallet`) and render
what it returns (docs/FUNDING.md)."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from consensus.address import decode_address, encode_address
from wallet.amounts import format_coins, parse_coins
from wallet.campaigns import CampaignInfo, PreparedSweeps, deadline_in, make_terms
from wallet.cli import render
from wallet.cli.commands import Handler, report_sent
from wallet.cli.env import Cli, UsageError
from wallet.contributions import last_month, report, report_csv, totals
from wallet.errors import NotFound
from wallet.memos import format_rate, parse_rate
from wallet.receipts import save_receipt
from wallet.session import Wallet

# -- campaigns: rendering ---------------------------------------------------------------------


def campaign_lines(c: CampaignInfo, network: str) -> list[str]:
    """What a member needs to decide, in words."""
    checked = "" if c.verified else "  (as the node lists it)"
    return [
        f"campaign {c.id.hex()}  {c.terms.title!r}  ({c.terms.mode.label}){checked}",
        f"  status       {c.status}: {c.summary()}",
        f"  goal         {format_coins(c.terms.goal)}, pledged {format_coins(c.pledged)} by "
        f"{c.pledgers} pledger(s) in {c.pledges} pledge(s)",
        f"  deadline     height {c.terms.deadline}" + (
            f" ({c.blocks_left} block(s) left to pledge)" if c.status == "open" else ""),
        f"  beneficiary  {encode_address(c.terms.beneficiary, network)}",
        f"  about        {c.terms.uri}",
        f"  created      at height {c.created_height} by tx {c.txid.hex()}",
    ]


def campaign_json(c: CampaignInfo, network: str) -> dict[str, Any]:
    return {"id": c.id.hex(), "title": c.terms.title, "uri": c.terms.uri,
            "mode": c.terms.mode.label, "goal": c.terms.goal, "deadline": c.terms.deadline,
            "beneficiary": encode_address(c.terms.beneficiary, network), "pledged": c.pledged,
            "pledges": c.pledges, "pledgers": c.pledgers, "percent": c.percent,
            "status": c.status, "blocks_left": c.blocks_left, "time_left_ms": c.time_left_ms,
            "summary": c.summary(), "verified": c.verified, "txid": c.txid.hex(),
            "created_height": c.created_height}


def sweeps_summary(s: PreparedSweeps) -> str:
    lines = [f"About to {s.kind} {s.pledges} pledge(s) of {len(s.campaigns)} campaign(s) in "
             f"{len(s.txs)} transaction(s):"]
    for c in s.campaigns:
        lines.append(f"  campaign {c.id.hex()[:16]}  {c.terms.title!r}  {c.status}")
    lines.append(f"  receive {format_coins(s.amount):>20}  to {s.to} (this wallet)")
    lines.append(f"  fee     {format_coins(s.fee):>20}  "
                 f"({sum(t.signed_size for t in s.txs)} bytes)")
    return "\n".join(lines)


def sweeps_json(s: PreparedSweeps) -> dict[str, Any]:
    return {"campaigns": [c.id.hex() for c in s.campaigns], "pledges": s.pledges,
            "transactions": len(s.txs), "amount": s.amount, "fee": s.fee, "to": s.to}


# -- campaigns: commands ----------------------------------------------------------------------


async def cmd_campaign_create(cli: Cli) -> None:
    a = cli.args
    goal = parse_coins(a.goal)
    async with cli.open_wallet() as wallet:
        deadline = a.deadline_height or await deadline_in(wallet.node, _days(a.days))
        beneficiary = a.beneficiary or await wallet.receive_address()
        terms = make_terms(beneficiary, goal, deadline, a.mode, a.title, a.uri, wallet.network)
        prepared = await wallet.prepare_campaign(terms, fee_rate=a.fee_rate)
        cid = render.txid_campaign(prepared)
        cli.confirm(render.payment_summary(prepared) + f"\n  title   {terms.title!r}, goal "
                    f"{format_coins(goal)}, {terms.mode.label}, deadline height {deadline}, "
                    f"beneficiary {beneficiary}")
        cli.unlock(wallet)
        sent = await wallet.send(prepared)
        cli.out(f"campaign {cid} created")
        await report_sent(cli, wallet, sent, {"command": "campaign create", "campaign": cid,
                                        "deadline": deadline, **render.payment_json(prepared)})


def _days(text: str | None) -> Decimal:
    try:
        days = Decimal(text or "")
    except InvalidOperation:
        raise UsageError(f"--days {str(text)[:20]!r} is not a number") from None
    if not days.is_finite() or days <= 0:
        raise UsageError("--days must be more than 0")
    return days


async def cmd_campaign_list(cli: Cli) -> None:
    a = cli.args
    async with cli.open_wallet() as wallet:
        who = await wallet.receive_address() if a.mine else a.beneficiary
        if who is not None:
            decode_address(who, wallet.network)
        found = await wallet.campaigns(status=a.status, beneficiary=who, limit=a.limit)
        network = wallet.network
    for c in found:
        cli.out(f"{c.id.hex()[:16]}  {c.status:<9}  {c.summary():<42}  {c.terms.title}")
    if not found:
        cli.out("no campaigns")
    cli.emit({"command": "campaign list", "campaigns": [campaign_json(c, network)
                                                         for c in found]})


async def cmd_campaign_show(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        info = await _campaign(wallet, cli.args.campaign)
        network = wallet.network
    cli.out("\n".join(campaign_lines(info, network)))
    cli.emit({"command": "campaign show", **campaign_json(info, network)})


async def _campaign(wallet: Wallet, campaign: str) -> CampaignInfo:
    try:
        return await wallet.campaign(campaign)
    except NotFound:
        raise NotFound(404, f"the node knows no campaign {campaign}") from None


async def cmd_campaign_pledge(cli: Cli) -> None:
    a = cli.args
    amount = parse_coins(a.amount)
    async with cli.open_wallet() as wallet:
        if a.refund_to:
            decode_address(a.refund_to, wallet.network)
        info = await _campaign(wallet, a.campaign)
        prepared = await wallet.prepare_pledge(a.campaign, amount, refund=a.refund_to,
                                               fee_rate=a.fee_rate, memo=a.memo)
        cli.confirm(f"campaign {info.terms.title!r}: {info.summary()}\n"
                    + render.payment_summary(prepared))
        cli.unlock(wallet)
        sent = await wallet.send(prepared)
        (payee,) = prepared.payees
        await report_sent(cli, wallet, sent, {"command": "campaign pledge", "campaign": a.campaign,
                                        "refund_address": payee.address, "pledged": amount,
                                        **render.payment_json(prepared)})


async def _sweep(cli: Cli, kind: str) -> None:
    a = cli.args
    async with cli.open_wallet() as wallet:
        prepare = wallet.prepare_claims if kind == "claim" else wallet.prepare_refunds
        prepared = await prepare(campaign=a.campaign, fee_rate=a.fee_rate, force=a.force)
        cli.confirm(sweeps_summary(prepared))
        cli.unlock(wallet)
        sent = await wallet.send_sweeps(prepared, check=not a.force)
        result: dict[str, Any] = {"command": f"campaign {kind}", **sweeps_json(prepared),
                                  "txids": [s.txid for s in sent]}
        for s in sent:
            cli.out(f"sent: txid {s.txid}")
        if a.wait:
            result["receipts"] = []
            for s in sent:
                final = await wallet.wait_final(s.txid, a.timeout, progress=cli.progress)
                cli.progress_done()
                cli.out(render.verified_line(final.verified) + ", verified by this wallet")
                result["receipts"].append({"txid": s.txid,
                                           **render.verified_json(final.verified)})
    cli.emit(result)


async def cmd_campaign_claim(cli: Cli) -> None:
    await _sweep(cli, "claim")


async def cmd_campaign_refund(cli: Cli) -> None:
    await _sweep(cli, "refund")


# -- contributions ----------------------------------------------------------------------------


async def cmd_contribute(cli: Cli) -> None:
    a = cli.args
    rate = parse_rate(a.rate)
    period = a.period or last_month(int(time.time() * 1000))
    if a.receipt:
        a.wait = True
    async with cli.open_wallet() as wallet:
        made = await wallet.prepare_contribution(rate, period, to=a.to, fee_rate=a.fee_rate)
        cli.confirm(f"{period}: income from others {format_coins(made.income.total)} in "
                    f"{len(made.income.lines)} payment(s); {format_rate(rate)}% is "
                    f"{format_coins(made.amount)}\n" + render.payment_summary(made.payment))
        cli.unlock(wallet)
        sent = await wallet.send(made.payment)
        result: dict[str, Any] = {
            "command": "contribute", "period": period, "rate": format_rate(rate),
            "income": made.income.total, "payments": len(made.income.lines),
            "amount": made.amount, "to": made.to, "memo": made.memo.text(), "txid": sent.txid,
            "fee": made.payment.fee}
        cli.out(f"contributed {format_coins(made.amount)} to {made.to}: txid {sent.txid}")
        if a.wait:
            final = await wallet.wait_final(sent.txid, a.timeout, progress=cli.progress)
            cli.progress_done()
            cli.out(render.verified_line(final.verified) + ", verified by this wallet")
            result["receipt"] = {"final": True, **render.verified_json(final.verified)}
            if a.receipt:
                save_receipt(a.receipt, final.receipt)
                cli.out(f"receipt written to {a.receipt}")
                result["receipt_file"] = a.receipt
    cli.emit(result)


async def cmd_contributions_report(cli: Cli) -> None:
    a = cli.args
    data = cli.wallet_data()
    async with cli.client() as node:
        network = data.network if data else str((await node.status())["network"])
        decode_address(a.to, network)
        lines = await report(node, a.to, network, from_height=a.from_height)
    if a.csv:
        cli.out(report_csv(lines).rstrip("\n"))
    else:
        for c in lines:
            cli.out(f"height {c.height:>8}  {format_coins(c.amount):>20}  {c.memo.period}  "
                    f"{format_rate(c.memo.rate)}% of {format_coins(c.memo.income)}  "
                    f"from {'+'.join(c.payers)}  ({c.txid})")
        for payer, amount in totals(lines).items():
            cli.out(f"total {format_coins(amount):>20}  from {payer}")
        if not lines:
            cli.out(f"no contributions to {a.to}")
    cli.emit({"command": "contributions report", "to": a.to, "from_height": a.from_height,
              "contributions": [{"height": c.height, "txid": c.txid, "payers": list(c.payers),
                                 "amount": c.amount, "period": c.memo.period,
                                 "rate": format_rate(c.memo.rate), "income": c.memo.income}
                                for c in lines],
              "totals": totals(lines)})


HANDLERS: dict[str, Handler] = {
    "campaign_create": cmd_campaign_create,
    "campaign_list": cmd_campaign_list,
    "campaign_show": cmd_campaign_show,
    "campaign_pledge": cmd_campaign_pledge,
    "campaign_claim": cmd_campaign_claim,
    "campaign_refund": cmd_campaign_refund,
    "contribute": cmd_contribute,
    "contributions_report": cmd_contributions_report,
}
