"""The `credit` commands' parsers: a credit account's status and history, paying in credit,
and a treasury's credit transfer as a partial file (docs/CREDIT.md)."""

from __future__ import annotations

from faircoop_common.clikit import CliParser, Commands, complete_path
from wallet.cli.argtypes import positive_int, wait_flags
from wallet.cli.gov_args import Adder

W = "faircoop-wallet"


def _treasury_flag(p: CliParser, what: str) -> None:
    p.add_argument("--treasury", metavar="NAME",
                   help=f"{what} a treasury registered in this wallet (name or address) "
                        "instead of this wallet's own account")


def credit_commands(group: Commands, add: Adder) -> None:
    p = add(group, "status", summary="a credit account: balance, limit, what it may send",
            description="This wallet's credit account (its first receive address: give it to "
                        "the assembly to be granted a limit), or a treasury's: the balance (a "
                        "debt below 0), the limit the assembly granted, what it may still "
                        "send, its sequence number, its transfers waiting in the node's "
                        "mempool, and limits set but not yet in force.",
            examples=(f"{W} credit status", f"{W} credit status --treasury coop"))
    _treasury_flag(p, "show")
    p = add(group, "send", summary="pay an account in credit",
            description="Pay AMOUNT units of credit to ADDRESS's account. No coins are "
                        "needed, and no fee is paid. The payee, the amount and the balance "
                        "after it are shown and confirmed before anything is signed (--yes "
                        "skips the question). Over what the account may send it is refused "
                        "(exit 13, credit_limit_exceeded). With --treasury, the transfer is "
                        "written as a partial credit file (--out) for the treasury's members "
                        "to sign (`credit sign`), combine and broadcast.",
            examples=(f"{W} credit send tfair1... 25 --memo 'bread, November' --wait",
                      f"{W} credit send tfair1... 10 --treasury coop --out pay.json"))
    p.add_argument("address", help="the payee's credit account (an address)")
    p.add_argument("amount", help="units of credit, as a decimal string such as 12.5")
    p.add_argument("--memo", default="", metavar="M", help="a memo, up to 80 bytes of UTF-8")
    p.add_argument("--yes", action="store_true", help="send without asking for confirmation")
    _treasury_flag(p, "pay from")
    complete_path(p.add_argument("--out", metavar="FILE",
                                 help="with --treasury: the partial credit file to write"))
    wait_flags(p, "transfer")
    p = add(group, "history", summary="a credit account's transfers and limit changes",
            description="Transfers sent and received and the limits governance set, newest "
                        "first, each with the balance after it.",
            examples=(f"{W} credit history", f"{W} credit history --treasury coop --limit 5"))
    p.add_argument("--limit", type=positive_int, default=50, metavar="N",
                   help="show at most N (default %(default)s)")
    _treasury_flag(p, "show")
    add(group, "totals", summary="the whole credit system: accounts, debts, limits",
        description="How many accounts credit has touched, how many have a limit, the sum "
                    "of debts (credit outstanding), the sum of limits granted, and the sum of "
                    "all balances (always 0).",
        examples=(f"{W} credit totals",))
    p = add(group, "show", summary="describe a partial credit file",
            description="What a treasury's credit transfer pays, and who has signed it.",
            examples=(f"{W} credit show pay.json",))
    complete_path(p.add_argument("file", help="the partial credit file"))
    p = add(group, "sign", summary="sign a treasury's credit transfer",
            description="Add this wallet's treasury member signature to a partial credit "
                        "file, after checking every signature already in it.",
            examples=(f"{W} credit sign pay.json", f"{W} credit sign pay.json --out mine.json"))
    complete_path(p.add_argument("file", help="the partial credit file"))
    complete_path(p.add_argument("--out", metavar="FILE",
                                 help="write the signed copy here (default: replace FILE)"))
    p.add_argument("--yes", action="store_true", help="sign without asking for confirmation")
    p = add(group, "combine", summary="merge signed copies of one partial credit file",
            description="Merge the signatures of copies of one transfer (each checked).",
            examples=(f"{W} credit combine a.json b.json --out both.json",))
    complete_path(p.add_argument("files", nargs="+", metavar="FILE", help="the signed copies"))
    complete_path(p.add_argument("--out", metavar="FILE", required=True,
                                 help="the combined file to write"))
    p = add(group, "broadcast", summary="send a treasury's fully signed credit transfer",
            description="Finalize a partial credit file that has every signature it needs and "
                        "broadcast it; --wait waits for finality and verifies it.",
            examples=(f"{W} credit broadcast both.json --wait",))
    complete_path(p.add_argument("file", help="the partial credit file"))
    wait_flags(p, "transfer")
