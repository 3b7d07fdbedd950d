"""The parsers of the funding commands: `campaign ...`, `contribute`, `contributions report`,
and the share and grant options of `pay-many` and `multisig spend` (docs/FUNDING.md)."""

from __future__ import annotations

from faircoop_common.clikit import CliParser, Commands, complete_path
from wallet.cli.argtypes import (
    campaign_arg,
    fee_rate_flag,
    nonnegative_int,
    positive_int,
    wait_flags,
)
from wallet.cli.gov_args import Adder

W = "faircoop-wallet"
STATUSES = ("open", "succeeded", "failed")
MODES = ("all-or-nothing", "keep-what-you-raise")


def _send_flags(p: CliParser) -> None:
    fee_rate_flag(p)
    p.add_argument("--yes", action="store_true", help="send without asking for confirmation")
    wait_flags(p, "tx")


def campaign_commands(group: Commands, add: Adder) -> None:
    p = add(group, "create", summary="create a crowdfunding campaign",
            description="Create a campaign on chain: who claims the pledges on success "
                        "(--beneficiary, default this wallet's receive address), the goal, "
                        "the deadline height (or --days from now, at the observed block "
                        "interval), all-or-nothing or keep-what-you-raise, a title and where "
                        "the project is described. Its id is printed at once.",
            examples=(f"{W} campaign create --title 'Bakery oven' --uri "
                      "https://coop.example/oven --goal 500 --days 30",
                      f"{W} campaign create --title Seeds --uri https://coop.example/seeds "
                      "--goal 50 --deadline-height 90000 --mode keep-what-you-raise --yes"))
    p.add_argument("--title", required=True, help="1 to 80 characters")
    p.add_argument("--uri", required=True, help="where the project is described (1 to 200)")
    p.add_argument("--goal", required=True, metavar="COINS", help="the goal, in coins")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--deadline-height", type=positive_int, metavar="H",
                      help="the first height at which the campaign is decided")
    when.add_argument("--days", metavar="N", help="a deadline about N days from now")
    p.add_argument("--mode", choices=MODES, default="all-or-nothing",
                   help="all-or-nothing: succeeds only at the goal; keep-what-you-raise: "
                        "succeeds with anything pledged (default %(default)s)")
    p.add_argument("--beneficiary", metavar="ADDRESS",
                   help="who claims the pledges (default: this wallet's receive address)")
    _send_flags(p)
    p = add(group, "list", summary="list campaigns",
            description="Campaigns, newest first, with their status (what the next block "
                        "applies) and time left.",
            examples=(f"{W} campaign list", f"{W} campaign list --status open",
                      f"{W} campaign list --mine"))
    p.add_argument("--status", choices=STATUSES, help="only campaigns with this status")
    p.add_argument("--beneficiary", metavar="ADDRESS", help="only this beneficiary's")
    p.add_argument("--mine", action="store_true",
                   help="only campaigns this wallet's receive address is the beneficiary of")
    p.add_argument("--limit", type=positive_int, default=50, metavar="N",
                   help="at most N (default %(default)s)")
    p = add(group, "show", summary="what a member needs to decide about one campaign",
            description="A campaign's terms (checked against the tx that created it), how much "
                        "is pledged by how many, its status and time left.",
            examples=(f"{W} campaign show 5d2a...",))
    p.add_argument("campaign", type=campaign_arg, help="the campaign id (64 hex digits)")
    p = add(group, "pledge", summary="pledge coins to an open campaign",
            description="Pledge AMOUNT coins to a campaign. The pledge can't move before the "
                        "deadline; then it is the beneficiary's if the campaign succeeded, and "
                        "yours again (`campaign refund`) if it failed: the ledger guarantees "
                        "it. The terms are checked against the tx that created the campaign.",
            examples=(f"{W} campaign pledge 5d2a... 2.5", f"{W} campaign pledge 5d2a... 10 "
                      "--refund-to tfair1... --yes --wait"))
    p.add_argument("campaign", type=campaign_arg, help="the campaign id (64 hex digits)")
    p.add_argument("amount", help="coins, as a decimal string such as 2.5")
    p.add_argument("--refund-to", metavar="ADDRESS",
                   help="who gets it back if the campaign fails (default: this wallet's "
                        "receive address)")
    p.add_argument("--memo", default="", metavar="M", help="a memo, up to 80 bytes of UTF-8")
    _send_flags(p)
    for name, who, what in (
            ("claim", "the beneficiary", "every pledge of every succeeded campaign this wallet "
             "is the beneficiary of"),
            ("refund", "a pledger", "every pledge of this wallet's to a failed campaign")):
        p = add(group, name, summary=f"{name} what the chain gives {who}",
                description=f"Gather {what} (or only CAMPAIGN's) into as few transactions as "
                            "the chain's size limit allows, paying this wallet. --force skips "
                            "the wallet's own refusals and its local check, so the chain's own "
                            "refusal can be seen (nothing moves that the rules forbid).",
                examples=(f"{W} campaign {name}", f"{W} campaign {name} 5d2a... --yes --wait"))
        p.add_argument("campaign", nargs="?", type=campaign_arg,
                       help="only this campaign (64 hex digits)")
        p.add_argument("--force", action="store_true",
                       help="send even what the wallet expects the chain to refuse")
        _send_flags(p)


def contribute_command(commands: Commands, add: Adder) -> None:
    p = add(commands, "contribute", summary="pay the cooperative a share of a month's income",
            description="Total this wallet's income from others in a calendar month (UTC, by "
                        "block time; not change, not its own transfers, claims or refunds) and "
                        "pay RATE percent of it, rounded down to a base unit, to the "
                        "cooperative (--to, default the treasury in force) in one tx with a "
                        "structured memo: fc-contribution/1 period=YYYY-MM rate=R income=N. "
                        "--receipt saves its finality receipt: proof for the assembly.",
            examples=(f"{W} contribute --rate 5", f"{W} contribute --rate 5 --period 2026-11 "
                      "--receipt nov.receipt --yes"))
    p.add_argument("--rate", required=True, metavar="PERCENT",
                   help="the share, in percent (e.g. 5 or 2.5)")
    p.add_argument("--to", metavar="ADDRESS",
                   help="the cooperative's address (default: the treasury in force)")
    p.add_argument("--period", metavar="YYYY-MM",
                   help="the month (default: the last complete month, UTC)")
    complete_path(p.add_argument(
        "--receipt", metavar="FILE",
        help="wait until final, verify, and save the receipt here (implies --wait)"))
    _send_flags(p)


def contributions_commands(group: Commands, add: Adder) -> None:
    p = add(group, "report", summary="who contributed what, from the chain",
            description="Every payment to ADDRESS carrying a contribution memo, oldest first: "
                        "the height, who paid (the addresses whose keys signed), the amount, "
                        "the period, rate and income it states; and each payer's total.",
            examples=(f"{W} contributions report --to tfair1...",
                      f"{W} contributions report --to tfair1... --from-height 1200 --csv"))
    p.add_argument("--to", required=True, metavar="ADDRESS", help="the cooperative's address")
    p.add_argument("--from-height", type=nonnegative_int, default=0, metavar="H",
                   help="only contributions at or above this height")
    p.add_argument("--csv", action="store_true", help="print CSV (one row per contribution)")


def share_flags(p: CliParser) -> None:
    """`--shares FILE --total AMOUNT`: the payees and amounts of a share payout."""
    complete_path(p.add_argument(
        "--shares", metavar="FILE",
        help="split --total by the `address,shares` rows of FILE (largest remainder, exact "
             "in base units; payees below the dust limit are left out, and shown)"))
    p.add_argument("--total", metavar="AMOUNT", help="with --shares: the coins to split")


def grant_flags(p: CliParser) -> None:
    p.add_argument("--ref", metavar="REF",
                   help="a grant: the assembly decision behind it (a URI or short reference "
                        "without spaces), written as the memo fc-grant/1 ref=REF")
    p.add_argument("--campaign", type=campaign_arg, metavar="ID",
                   help="pledge the treasury's AMOUNT to this campaign (refunded to the "
                        "treasury if it fails) instead of paying ADDRESS")
