"""Who a share payout or a treasury grant pays, from the command line (`pay-many --shares`,
`multisig spend --shares | --campaign | --ref`), and the split shown before confirming."""

from __future__ import annotations

from typing import Any

from consensus.address import decode_address
from wallet import multisig
from wallet.amounts import format_coins, parse_coins
from wallet.cli.env import Cli, UsageError
from wallet.memos import grant_memo
from wallet.payments import Payee
from wallet.session import Wallet
from wallet.shares import Split, read_shares, split


def share_payees(cli: Cli, network: str, dust_limit: int) -> tuple[list[Payee], Split]:
    """The payees of `--shares FILE --total AMOUNT`, and the split to show."""
    a = cli.args
    if not a.total:
        raise UsageError("--shares needs --total (the coins to split)")
    total = parse_coins(a.total)
    done = split(total, read_shares(cli.read_text(a.shares), network, a.shares), dust_limit)
    return [Payee(p.address, p.amount) for p in done.paid], done


def split_lines(s: Split) -> str:
    lines = [f"Split of {format_coins(s.total)} by {s.shares} share(s):"]
    for p in s.paid:
        lines.append(f"  {p.shares:>10} share(s)  {format_coins(p.amount):>20}  {p.address}")
    for p in s.left_out:
        lines.append(f"  {p.shares:>10} share(s)  {'left out':>20}  {p.address} (its share "
                     "would be below the dust limit)")
    return "\n".join(lines)


def split_json(s: Split) -> dict[str, Any]:
    return {"total": s.total, "shares": s.shares,
            "split": [{"address": p.address, "shares": p.shares, "amount": p.amount}
                      for p in s.paid],
            "left_out": [{"address": p.address, "shares": p.shares} for p in s.left_out]}


def grant_memo_arg(cli: Cli) -> str:
    """The memo of `multisig spend`: --memo, or the grant memo of --ref (not both)."""
    a = cli.args
    if a.ref and a.memo:
        raise UsageError("give --ref (a grant's memo) or --memo, not both")
    return grant_memo(a.ref) if a.ref else str(a.memo)


def spend_payees(cli: Cli, wallet: Wallet, dust_limit: int
                 ) -> tuple[list[Payee], Split | None]:
    """Who `multisig spend` pays: ADDRESS AMOUNT, --campaign ID AMOUNT, or --shares."""
    a = cli.args
    if a.shares:
        if a.address or a.amount or a.campaign:
            raise UsageError("--shares takes no ADDRESS, AMOUNT or --campaign")
        return share_payees(cli, wallet.network, dust_limit)
    if a.campaign:
        amount = a.amount or a.address  # `spend coop 40 --campaign ID`
        if amount is None or (a.amount and a.address):
            raise UsageError("with --campaign ID give one AMOUNT, no ADDRESS (the treasury gets "
                             "any refund)")
        treasury = multisig.treasury_address(wallet.data.treasury(a.treasury).policy,
                                             wallet.network)
        return [Payee(treasury, parse_coins(amount), a.campaign)], None
    if not (a.address and a.amount):
        raise UsageError("give ADDRESS AMOUNT, or AMOUNT --campaign ID, or --shares FILE "
                         "--total AMOUNT")
    decode_address(a.address, wallet.network)
    return [Payee(a.address.strip(), parse_coins(a.amount))], None
