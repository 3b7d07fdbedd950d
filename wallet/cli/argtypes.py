"""Argument types the command line checks itself, before any command runs, and the flags
several commands share."""

from __future__ import annotations

import argparse

from faircoop_common.clikit import CliParser


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def positive_int(text: str) -> int:
    value = nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def txid_arg(text: str) -> str:
    """A txid on the command line: 64 hex digits (checked here, not by the node)."""
    t = text.strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError(f"{text!r} is not a txid (64 hex digits)")
    return t


def campaign_arg(text: str) -> str:
    """A campaign id on the command line: 64 hex digits (its creating tx's tagged hash)."""
    t = text.strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError(f"{text!r} is not a campaign id (64 hex digits)")
    return t


def fee_rate_flag(p: CliParser) -> None:
    p.add_argument("--fee-rate", type=int, metavar="R",
                   help="base units per byte (default: the chain's minimum)")


def wait_flags(p: CliParser, what: str = "payment") -> None:
    """--wait and --timeout, as every command that sends something takes them."""
    p.add_argument("--wait", action="store_true",
                   help=f"wait until the {what} is final and verify it with a receipt")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="with --wait: seconds to wait (default %(default)s)")
