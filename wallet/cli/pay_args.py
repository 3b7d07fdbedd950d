"""The parsers of the commands for shops and members: payment requests, the reference price,
contacts, labels and signed messages (docs/WALLET.md, "Payments for shops and members")."""

from __future__ import annotations

import argparse

from consensus.types import NETWORKS
from faircoop_common.clikit import Commands
from wallet.cli.argtypes import positive_int
from wallet.cli.gov_args import Adder

W = "faircoop-wallet"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_EXPIRY_S = 366 * 86400


def duration_arg(text: str) -> int:
    """'90', '90s', '30m', '1h', '2d': seconds, 1 s to a year."""
    t = text.strip().lower()
    unit = UNITS.get(t[-1:], 0)
    digits = t[:-1] if unit else t
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m, 1h, 2d")
    seconds = int(digits) * (unit or 1)
    if not 1 <= seconds <= MAX_EXPIRY_S:
        raise argparse.ArgumentTypeError(f"{text!r}: 1 second to 366 days")
    return seconds


def request_commands(group: Commands, add: Adder) -> None:
    p = add(group, "create", summary="ask to be paid: a fresh address, a URI and a QR code",
            description="Make a payment request: the next receive address, and a faircoop: "
                        "URI (amount in coins, memo, expiry, network, chain) printed with a QR "
                        "code. AMOUNT is coins (2.5) or a currency amount (12.50EUR), converted "
                        "at the assembly's reference rate in force. A watch-only wallet can "
                        "make requests: nothing is signed.",
            examples=(f"{W} request create 2.5 --memo 'order 1042' --expires 1h",
                      f"{W} --json request create 12.50EUR"))
    p.add_argument("amount", help="coins (2.5), or an amount in a currency (12.50EUR)")
    p.add_argument("--memo", default="", metavar="M",
                   help="what the payer's tx carries (up to 80 bytes of UTF-8)")
    p.add_argument("--expires", type=duration_arg, metavar="DURATION",
                   help="refuse payment after this long (90s, 30m, 1h, 2d; default: never, "
                        "or 1h for a currency amount, whose price is a quote)")
    p.add_argument("--no-qr", action="store_true", help="print the URI without a QR code")
    add(group, "list", summary="list the wallet's payment requests",
        description="Every request, with where it stands as last checked (run `request show` "
                    "to check one again).",
        examples=(f"{W} request list", f"{W} --json request list"))
    p = add(group, "show", summary="check a payment request and show where it stands",
            description="Fetch and verify a receipt for each new final payment to the "
                        "request's address, then show the request: paid only by final, "
                        "verified payments; unconfirmed ones are shown apart.",
            examples=(f"{W} request show 3",))
    p.add_argument("id", type=positive_int, help="the request's number")
    p = add(group, "wait", summary="wait until a payment request is paid (or expires)",
            description="Listen to the node's stream for the request's address and check the "
                        "request whenever a payment to it is final, until it is paid, expired "
                        "or cancelled, or --timeout passes (then exit 9).",
            examples=(f"{W} request wait 3 --timeout 600",))
    p.add_argument("id", type=positive_int, help="the request's number")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds to wait (default %(default)s)")
    p = add(group, "cancel", summary="cancel a payment request",
            description="Mark a request cancelled (refused once it is paid).",
            examples=(f"{W} request cancel 3",))
    p.add_argument("id", type=positive_int, help="the request's number")


def contact_commands(group: Commands, add: Adder) -> None:
    p = add(group, "add", summary="remember a payee's address under a name",
            description="Add (or replace) a contact: `send NAME AMOUNT` then pays it. The "
                        "address book is kept in the encrypted key store: it takes the "
                        "password.",
            examples=(f"{W} contacts add 'Coop Bread' tfair1...",))
    p.add_argument("name", help="1 to 64 printable characters (not an address)")
    p.add_argument("address", help="the contact's address")
    add(group, "list", summary="list the contacts",
        description="Every contact, by name (asks the password: the book is encrypted).",
        examples=(f"{W} contacts list",))
    p = add(group, "remove", summary="forget a contact",
            description="Remove a contact by name.", examples=(f"{W} contacts remove Bob",))
    p.add_argument("name", help="the contact's name")


def label_commands(group: Commands, add: Adder) -> None:
    p = add(group, "add", summary="label one of the wallet's addresses, or a tx",
            description="Set a label on an address of this wallet or on a txid; `history "
                        "--labels` shows it. Labels are kept in the encrypted key store.",
            examples=(f"{W} label add tfair1... savings", f"{W} label add 3f5a... 'rent, May'"))
    p.add_argument("target", help="one of this wallet's addresses, or a txid")
    p.add_argument("text", help="the label (1 to 200 printable characters)")
    add(group, "list", summary="list the labels",
        description="Every label (asks the password).", examples=(f"{W} label list",))
    p = add(group, "remove", summary="remove a label",
            description="Remove the label of an address or txid.",
            examples=(f"{W} label remove 3f5a...",))
    p.add_argument("target", help="the labelled address or txid")


def message_commands(group: Commands, add: Adder) -> None:
    p = add(group, "sign", summary="sign a message with one of the wallet's address keys",
            description="Prove the wallet holds the key of ADDRESS (a receive or change "
                        "address of this wallet): prints the signature (docs/WALLET.md gives "
                        "the digest, domain-separated from txs, votes and actions).",
            examples=(f"{W} message sign tfair1... 'Coop Bread holds this address'",))
    p.add_argument("address", help="one of this wallet's addresses")
    p.add_argument("message", help="the message (UTF-8, up to 64 KiB)")
    p = add(group, "verify", summary="check a signed message (no wallet or node needed)",
            description="Check that SIGNATURE was made by the key of ADDRESS over MESSAGE.",
            examples=(f"{W} message verify tfair1... 02ab...c3 'Coop Bread holds this address'",))
    p.add_argument("address", help="the address that signed")
    p.add_argument("signature", help="the signature (194 hex digits)")
    p.add_argument("message", help="the message, exactly as signed")
    p.add_argument("--network", choices=NETWORKS,
                   help="the address's network (default: the wallet's, else its prefix)")
