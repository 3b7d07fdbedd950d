"""The `credit` commands: call `wallet.credit` through the open wallet, render what it returns.

Amounts in text are units of credit (8 places, like coins); in JSON, integer base units.
"""

from __future__ import annotations

from typing import Any

from consensus.address import decode_address
from wallet import credit_partial
from wallet.amounts import format_coins, parse_units
from wallet.cli.commands import report_sent
from wallet.cli.env import Cli, UsageError
from wallet.credit import CreditLine, CreditStatus, PreparedCredit
from wallet.credit_partial import PartialCredit
from wallet.errors import ChainMismatch
from wallet.payments import Payee
from wallet.walletfile import WalletData


def _status_lines(s: CreditStatus) -> str:
    lines = [f"credit account {s.address}",
             f"  balance    {format_coins(s.balance):>20}",
             f"  limit      {format_coins(s.limit):>20}",
             f"  available  {format_coins(s.available):>20}  (balance + limit)",
             f"  sequence   {s.sequence:>20}"]
    if s.mempool_pending:
        lines.append(f"  waiting    {s.mempool_pending:>20}  transfer(s) in the mempool, "
                     f"{format_coins(s.mempool_debit)} in all")
    if s.balance < -s.limit:
        lines.append("  its debt is over its limit: it can receive, but can't send")
    for limit, height in s.pending_limits:
        lines.append(f"  limit {format_coins(limit)} from height {height} (set by governance)")
    return "\n".join(lines)


def _status_json(s: CreditStatus) -> dict[str, Any]:
    return {"address": s.address, "balance": s.balance, "limit": s.limit,
            "available": s.available, "sequence": s.sequence,
            "next_sequence": s.next_sequence, "mempool_pending": s.mempool_pending,
            "mempool_debit": s.mempool_debit, "history_count": s.history_count,
            "pending_limits": [{"limit": lim, "effective_height": h}
                               for lim, h in s.pending_limits]}


async def cmd_credit_status(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        s = await wallet.credit_status(cli.args.treasury)
    cli.out(_status_lines(s))
    cli.emit({"command": "credit status", **_status_json(s)})


def _summary(p: PreparedCredit) -> str:
    lines = ["About to send credit:", f"  from    {p.sender}"]
    for payee in p.payees:
        lines.append(f"  pay     {format_coins(payee.amount):>20}  to {payee.address}")
    lines.append(f"  balance {format_coins(p.balance_after):>20}  after it (limit "
                 f"{format_coins(p.status.limit)}; no fee)")
    if p.transfer.memo:
        lines.append(f"  memo    {p.transfer.memo.decode('utf-8', 'replace')!r}")
    lines.append(f"  sequence {p.transfer.sequence}")
    return "\n".join(lines)


def _prepared_json(p: PreparedCredit) -> dict[str, Any]:
    return {"txid": p.txid, "sender": p.sender, "sequence": p.transfer.sequence,
            "payments": [{"address": x.address, "amount": x.amount} for x in p.payees],
            "amount": p.amount, "balance_after": p.balance_after,
            "memo": p.transfer.memo.decode("utf-8", "replace")}


async def cmd_credit_send(cli: Cli) -> None:
    a = cli.args
    if a.out and not a.treasury:
        raise UsageError("--out writes a treasury's partial credit file: give --treasury")
    if a.treasury and not a.out:
        raise UsageError("a treasury's transfer is signed by its members: give --out FILE")
    async with cli.open_wallet() as wallet:
        address = a.address.strip()
        decode_address(address, wallet.network)
        payee = Payee(address, parse_units(a.amount))
        prepared = await wallet.prepare_credit([payee], memo=a.memo, treasury=a.treasury)
        if a.treasury:
            pc = wallet.save_credit_partial(prepared, a.out)
            d = credit_partial.describe(pc)
            cli.out(_summary(prepared) + f"\npartial credit transfer written to {a.out}: each "
                    f"member runs `credit sign {a.out}` ({d.remaining} signature(s) needed)")
            cli.emit({"command": "credit send", "file": a.out, **_prepared_json(prepared),
                      **d.as_json()})
            return
        cli.confirm(_summary(prepared))
        cli.unlock(wallet)
        sent = await wallet.send_credit(prepared)
        await report_sent(cli, wallet, sent, {"command": "credit send", **_prepared_json(prepared)})


def _line(x: CreditLine) -> str:
    sign = {"sent": "-", "received": "+", "limit": "limit "}[x.kind]
    who = {"sent": f"to {x.counterparty}", "received": f"from {x.counterparty}",
           "limit": "(set by governance)"}[x.kind]
    memo = f"  {x.memo.decode('utf-8', 'replace')!r}" if x.memo else ""
    return (f"height {x.height:>8}  {sign}{format_coins(x.amount)}  balance "
            f"{format_coins(x.balance)}  {who}{memo}")


async def cmd_credit_history(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        lines = await wallet.credit_history(cli.args.treasury, cli.args.limit)
    for x in lines:
        cli.out(_line(x))
    if not lines:
        cli.out("no credit history yet")
    cli.emit({"command": "credit history", "lines": [
        {"height": x.height, "kind": x.kind, "amount": x.amount, "balance": x.balance,
         "txid": x.txid, "action_id": x.action_id, "counterparty": x.counterparty,
         "memo": x.memo.decode("utf-8", "replace")} for x in lines]})


async def cmd_credit_totals(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        t = await wallet.credit_totals()
    cli.out(f"{t.accounts} account(s), {t.credit_lines} with a limit\n"
            f"  outstanding {format_coins(t.outstanding):>20}  (the sum of debts)\n"
            f"  granted     {format_coins(t.granted):>20}  (the sum of limits)\n"
            f"  balances    {format_coins(t.balance_sum):>20}  (their sum: always 0)")
    cli.emit({"command": "credit totals", "accounts": t.accounts,
              "credit_lines": t.credit_lines, "outstanding": t.outstanding,
              "granted": t.granted, "positive": t.positive, "balance_sum": t.balance_sum})


# -- a treasury's transfer, as a partial file -------------------------------------------------


def _partial(cli: Cli, path: str, data: WalletData | None) -> PartialCredit:
    pc = cli.read(path, credit_partial.load_partial)
    if data is not None:
        try:
            credit_partial.check_chain(pc, data.chain_id, data.network, data.genesis_hash)
        except ChainMismatch as exc:
            raise ChainMismatch(f"{path}: {exc}") from None
    return pc


def _partial_summary(pc: PartialCredit) -> str:
    d = credit_partial.describe(pc)
    lines = [f"credit transfer {d.txid}", f"  from    {d.sender} (sequence {d.sequence})"]
    for address, amount in d.payments:
        lines.append(f"  pay     {format_coins(amount):>20}  to {address}")
    if d.memo:
        lines.append(f"  memo    {d.memo.decode('utf-8', 'replace')!r}")
    lines.append(f"  signed  {len(d.signed)}/{d.threshold}: "
                 f"{', '.join(k.hex()[:16] for k in d.signed) or 'nobody yet'}")
    lines.append("  complete: ready to broadcast" if not d.remaining
                 else f"  {d.remaining} signature(s) still needed")
    return "\n".join(lines)


async def cmd_credit_show(cli: Cli) -> None:
    pc = _partial(cli, cli.args.file, cli.wallet_data())
    credit_partial.check_signatures(pc)
    cli.out(_partial_summary(pc))
    cli.emit({"command": "credit show", **credit_partial.describe(pc).as_json()})


async def cmd_credit_sign(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        pc = _partial(cli, cli.args.file, wallet.data)
        credit_partial.check_signatures(pc)  # refuse before showing or asking anything
        credit_partial.signing_keys(pc, wallet.data.signer_keys().cosigner)
        cli.confirm(_partial_summary(pc))
        cli.unlock(wallet)
        signed, added = wallet.sign_credit_partial(pc)
    out = cli.args.out or cli.args.file
    credit_partial.save_partial(out, signed)
    d = credit_partial.describe(signed)
    cli.out(f"added {added} signature(s); {d.remaining} still needed; written to {out}")
    cli.emit({"command": "credit sign", "file": out, "added": added, **d.as_json()})


async def cmd_credit_combine(cli: Cli) -> None:
    data = cli.wallet_data()
    merged = credit_partial.combine([_partial(cli, f, data) for f in cli.args.files])
    credit_partial.save_partial(cli.args.out, merged)
    cli.out(_partial_summary(merged) + f"\ncombined into {cli.args.out}")
    cli.emit({"command": "credit combine", "file": cli.args.out,
              **credit_partial.describe(merged).as_json()})


async def cmd_credit_broadcast(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        pc = _partial(cli, cli.args.file, wallet.data)
        sent = await wallet.broadcast_credit_partial(pc)
        await report_sent(cli, wallet, sent, {"command": "credit broadcast"})


HANDLERS = {
    "credit_status": cmd_credit_status, "credit_send": cmd_credit_send,
    "credit_history": cmd_credit_history, "credit_totals": cmd_credit_totals,
    "credit_show": cmd_credit_show, "credit_sign": cmd_credit_sign,
    "credit_combine": cmd_credit_combine, "credit_broadcast": cmd_credit_broadcast,
}
