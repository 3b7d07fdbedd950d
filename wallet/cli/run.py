"""Running one command: parse, dispatch, and map every error to its exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from enum import IntEnum

from consensus.errors import AddressError, FaircoopError
from wallet.cli.args import build_parser
from wallet.cli.commands import HANDLERS
from wallet.cli.env import Aborted, Cli, Environment, UsageError
from wallet.errors import (
    AmountError,
    BadNodeUrl,
    ChainMismatch,
    ClaimedInputMismatch,
    DustOutput,
    FeeRateError,
    InsufficientFunds,
    KeystoreFormatError,
    MemoError,
    NodeError,
    NodeUnreachable,
    NotFollowedYet,
    NotFound,
    PartialTxChanged,
    PartialTxError,
    ReceiptInvalid,
    TamperedKeystore,
    TxRejected,
    UnexpectedInput,
    WalletBusy,
    WalletFileError,
    WatchOnly,
    WrongPassword,
)
from wallet.keys import KeyDerivationError


class ExitStatus(IntEnum):
    """Documented in docs/WALLET.md; stable across versions."""

    OK = 0
    ERROR = 1  # any other wallet or node error
    USAGE = 2  # bad arguments, bad amount, bad file
    INSUFFICIENT_FUNDS = 3
    WRONG_PASSWORD = 4
    NODE_UNREACHABLE = 5
    TX_REJECTED = 6
    BAD_ADDRESS = 7  # typo (checksum) or another network's address
    KEYSTORE_TAMPERED = 8
    NOT_FINAL = 9  # receipt fails verification, or --wait timed out
    ABORTED = 10  # the user declined the confirmation
    PARTIAL_TX = 11  # partial tx changed after signing, inconsistent, or incomplete
    CHAIN_MISMATCH = 12  # the node or file is for another chain


def _exit_status_for(exc: BaseException) -> tuple[ExitStatus, str]:
    """The one place that maps errors to exit codes (and a stable `kind` for JSON)."""
    table: tuple[tuple[type[BaseException], ExitStatus, str], ...] = (
        (UsageError, ExitStatus.USAGE, "usage"),
        (MemoError, ExitStatus.USAGE, "usage"),
        (NotFollowedYet, ExitStatus.USAGE, "usage"),
        (AmountError, ExitStatus.USAGE, "bad_amount"),
        (DustOutput, ExitStatus.USAGE, "dust"),
        (FeeRateError, ExitStatus.USAGE, "bad_fee_rate"),
        (KeyDerivationError, ExitStatus.USAGE, "bad_key"),
        (BadNodeUrl, ExitStatus.USAGE, "usage"),
        (InsufficientFunds, ExitStatus.INSUFFICIENT_FUNDS, "insufficient_funds"),
        (WrongPassword, ExitStatus.WRONG_PASSWORD, "wrong_password"),
        (NodeUnreachable, ExitStatus.NODE_UNREACHABLE, "node_unreachable"),
        (TxRejected, ExitStatus.TX_REJECTED, "tx_rejected"),
        (AddressError, ExitStatus.BAD_ADDRESS, "bad_address"),
        (TamperedKeystore, ExitStatus.KEYSTORE_TAMPERED, "keystore_tampered"),
        (KeystoreFormatError, ExitStatus.KEYSTORE_TAMPERED, "keystore_invalid"),
        (ReceiptInvalid, ExitStatus.NOT_FINAL, "not_final"),
        (Aborted, ExitStatus.ABORTED, "aborted"),
        (PartialTxChanged, ExitStatus.PARTIAL_TX, "partial_tx_changed"),
        (UnexpectedInput, ExitStatus.PARTIAL_TX, "partial_tx_inputs"),
        (ClaimedInputMismatch, ExitStatus.PARTIAL_TX, "partial_tx_claims"),
        (PartialTxError, ExitStatus.PARTIAL_TX, "partial_tx"),
        (ChainMismatch, ExitStatus.CHAIN_MISMATCH, "chain_mismatch"),
        (NotFound, ExitStatus.ERROR, "not_found"),
        (WatchOnly, ExitStatus.ERROR, "watch_only"),
        (WalletFileError, ExitStatus.USAGE, "wallet_file"),
        (WalletBusy, ExitStatus.ERROR, "wallet_busy"),
        (NodeError, ExitStatus.ERROR, "node_error"),
        (FaircoopError, ExitStatus.ERROR, "error"),
    )
    for kind, status, name in table:
        if isinstance(exc, kind):
            return status, name
    return ExitStatus.ERROR, "error"



def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        asyncio.run(HANDLERS[_command_name(args)](Cli(args, env)))
        return ExitStatus.OK
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else ExitStatus.OK
    except KeyboardInterrupt:
        env.stderr.write("\ninterrupted\n")
        return ExitStatus.ABORTED
    except (FaircoopError, OSError) as exc:
        status, kind = _exit_status_for(exc)
        message = str(exc) if isinstance(exc, FaircoopError) else _describe_os_error(exc)
        if want_json:
            env.stdout.write(json.dumps({"ok": False, "error": {
                "code": int(status), "kind": kind, "message": message}}, sort_keys=True) + "\n")
        env.stderr.write(f"faircoop-wallet: error: {message}\n")
        return status


def _describe_os_error(exc: OSError) -> str:
    """A file the wallet could not read or write (a full disk, a read-only directory...)."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _command_name(args: argparse.Namespace) -> str:
    name = str(args.command)
    if name == "multisig":
        name = f"multisig_{args.multisig_command}"
    elif name == "receipt":
        name = f"receipt_{args.receipt_command}"
    return name.replace("-", "_")


