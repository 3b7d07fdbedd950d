"""The command line: every command, option and argument type (argparse)."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from wallet.cli.env import UsageError
from wallet.client import DEFAULT_NODE_URL


class _Parser(argparse.ArgumentParser):
    """Raises UsageError instead of exiting; no abbreviations (`--password` must never be
    taken as `--password-file`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# -- the parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: flags may come before or after the command without a subparser's default
    # overwriting what the main parser read.
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--wallet", metavar="FILE",
                        help="wallet file (default $FAIRCOOP_WALLET or ~/.faircoop/wallet.json)")
    common.add_argument("--node", metavar="URL",
                        help=f"node API base URL (default $FAIRCOOP_NODE or {DEFAULT_NODE_URL})")
    common.add_argument("--json", action="store_true", help="one JSON object on stdout")
    common.add_argument("--password-file", metavar="FILE",
                        help="read the password from FILE (first line) instead of a prompt")

    p = _Parser(prog="faircoop-wallet", parents=[common],
                description="The faircoop wallet: keys, payments, treasuries, receipts.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, parents=[common])

    c = cmd("create", "create a new wallet (new mnemonic)")
    _chain_flags(c)
    c.add_argument("--words", type=int, default=24, choices=(12, 15, 18, 21, 24))
    c.add_argument("--watch-only", metavar="XPUB", help="create a watch-only wallet from an xpub")
    c.add_argument("--no-scan", action="store_true",
                   help="with --watch-only: do not look for the xpub's used addresses")
    r = cmd("restore", "restore a wallet from its mnemonic")
    _chain_flags(r)
    r.add_argument("--mnemonic-file", metavar="FILE", help="read the mnemonic from FILE")
    r.add_argument("--no-scan", action="store_true", help="do not look for used addresses")

    a = cmd("address", "show the receive address")
    a.add_argument("--new", action="store_true", help="hand out a fresh address")
    cmd("balance", "show the balance")
    cmd("sync", "follow and verify block headers up to the node's tip")

    s = cmd("send", "pay an address")
    s.add_argument("address")
    s.add_argument("amount", help="coins, as a decimal string such as 1.5")
    _pay_flags(s)
    m = cmd("pay-many", "pay every row of a CSV file (address,amount)")
    m.add_argument("csv_file", metavar="FILE.csv")
    _pay_flags(m)

    h = cmd("history", "list the wallet's transactions")
    h.add_argument("--limit", type=_positive_int, default=50)
    t = cmd("tx", "show one transaction")
    t.add_argument("txid", type=_txid_arg)

    ms = cmd("multisig", "treasuries: m-of-n policies and partial transactions")
    msub = ms.add_subparsers(dest="multisig_command", required=True, parser_class=_Parser)
    mk = msub.add_parser("key", parents=[common], help="hand out this wallet's next member key")
    del mk
    mc = msub.add_parser("create", parents=[common], help="create (register) an m-of-n treasury")
    mc.add_argument("--threshold", "-m", type=int, required=True)
    mc.add_argument("--key", action="append", default=[], metavar="PUBKEY_HEX",
                    help="a member's public key (repeat for each member)")
    mc.add_argument("--name", default="treasury")
    msp = msub.add_parser("spend", parents=[common], help="propose a treasury payment")
    msp.add_argument("treasury", help="treasury name or address")
    msp.add_argument("address")
    msp.add_argument("amount")
    msp.add_argument("--fee-rate", type=int)
    msp.add_argument("--memo", default="")
    msp.add_argument("--out", metavar="FILE", required=True)
    mshow = msub.add_parser("show", parents=[common], help="describe a partial transaction")
    mshow.add_argument("file")
    msg = msub.add_parser("sign", parents=[common], help="sign a partial transaction")
    msg.add_argument("file")
    msg.add_argument("--out", metavar="FILE", help="write here (default: overwrite FILE)")
    msg.add_argument("--yes", action="store_true")
    msg.add_argument("--own-coins", action="store_true",
                     help="sign this wallet's own single-key coins (a tx you built with "
                          "send --unsigned) instead of a treasury's")
    mcb = msub.add_parser("combine", parents=[common], help="merge signed copies")
    mcb.add_argument("files", nargs="+")
    mcb.add_argument("--out", metavar="FILE", required=True)
    mb = msub.add_parser("broadcast", parents=[common], help="finalize and broadcast")
    mb.add_argument("file")
    mb.add_argument("--wait", action="store_true")
    mb.add_argument("--timeout", type=float, default=60.0)

    rc = cmd("receipt", "finality receipts")
    rsub = rc.add_subparsers(dest="receipt_command", required=True, parser_class=_Parser)
    re_ = rsub.add_parser("export", parents=[common], help="fetch, verify and save a receipt")
    re_.add_argument("txid", type=_txid_arg)
    re_.add_argument("--out", metavar="FILE", required=True)
    rv = rsub.add_parser("verify", parents=[common], help="verify a receipt offline")
    rv.add_argument("file")
    rv.add_argument("--validator-set", metavar="FILE",
                    help="trust this validator set (JSON or hex) instead of the wallet's chain")
    rv.add_argument("--chain-id")
    rv.add_argument("--genesis-hash")
    rv.add_argument("--network", choices=("main", "test"),
                    help="the verifier's network (default: the wallet's; without either the "
                         "receipt's own claim is shown, marked unchecked)")
    return p


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _txid_arg(text: str) -> str:
    """A txid on the command line: 64 hex digits (checked here, not by the node)."""
    t = text.strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError(f"{text!r} is not a txid (64 hex digits)")
    return t


def _chain_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", choices=("main", "test"),
                   help="with --chain-id and --genesis-hash: create without a node")
    p.add_argument("--chain-id")
    p.add_argument("--genesis-hash", metavar="HEX")


def _pay_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fee-rate", type=int, metavar="R",
                   help="base units per byte (default: the chain's minimum)")
    p.add_argument("--memo", default="", metavar="M")
    p.add_argument("--yes", action="store_true", help="skip the confirmation")
    p.add_argument("--unsigned", metavar="FILE",
                   help="write the unsigned tx as a partial-tx file for offline signing")
    p.add_argument("--wait", action="store_true", help="wait for finality and verify it")
    p.add_argument("--timeout", type=float, default=60.0)


