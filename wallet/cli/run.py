"""Running one command: parse, dispatch, and map every error to its exit code and `kind`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from consensus.errors import AddressError
from faircoop_common.clikit import ExitStatus
from wallet.cli.args import PROGRAM, build_parser
from wallet.cli.commands import HANDLERS as PAYMENT_HANDLERS
from wallet.cli.credit_commands import HANDLERS as CREDIT_HANDLERS
from wallet.cli.env import Aborted, Cli, Environment, UsageError
from wallet.cli.funding_commands import HANDLERS as FUNDING_HANDLERS
from wallet.cli.gov_commands import HANDLERS as GOV_HANDLERS
from wallet.cli.pay_commands import HANDLERS as SHOP_HANDLERS
from wallet.errors import (
    ActionRejected,
    AmountError,
    BadAction,
    BadCampaign,
    BadMessageSignature,
    BadNodeUrl,
    BadReference,
    BadUri,
    BookError,
    CampaignError,
    ChainMismatch,
    ClaimedInputMismatch,
    CreditLimitExceeded,
    DustOutput,
    FeeRateError,
    InsufficientFunds,
    KeystoreFormatError,
    MemoError,
    MessageError,
    NodeError,
    NodeUnreachable,
    NoRate,
    NotAGovernor,
    NotFollowedYet,
    NotFound,
    PartialTxChanged,
    PartialTxError,
    ProposalChanged,
    ProposalError,
    ProposalIncomplete,
    ReceiptInvalid,
    RequestExpired,
    SharesError,
    TamperedKeystore,
    TxRejected,
    UnexpectedInput,
    WalletBusy,
    WalletFileError,
    WatchOnly,
    WrongPassword,
)
from wallet.keys import KeyDerivationError

# The one place that maps the wallet's errors to exit codes, and to the stable `kind` of its
# --json error object; first match wins. Before these come UsageError (usage); after them any
# other FaircoopError or OSError (exit 1, kind error); Ctrl-C is 130 (kind interrupted).
ERRORS: tuple[tuple[type[BaseException], ExitStatus, str], ...] = (
    (UsageError, ExitStatus.USAGE, "usage"),
    (MemoError, ExitStatus.USAGE, "usage"),
    (NotFollowedYet, ExitStatus.USAGE, "usage"),
    (AmountError, ExitStatus.USAGE, "bad_amount"),
    (DustOutput, ExitStatus.USAGE, "dust"),
    (FeeRateError, ExitStatus.USAGE, "bad_fee_rate"),
    (KeyDerivationError, ExitStatus.USAGE, "bad_key"),
    (BadReference, ExitStatus.USAGE, "bad_reference"),
    (BadAction, ExitStatus.USAGE, "bad_action"),
    (BadNodeUrl, ExitStatus.USAGE, "usage"),
    (BadCampaign, ExitStatus.USAGE, "bad_campaign"),
    (SharesError, ExitStatus.USAGE, "bad_shares"),
    (BadUri, ExitStatus.USAGE, "bad_uri"),
    (RequestExpired, ExitStatus.USAGE, "request_expired"),
    (NoRate, ExitStatus.USAGE, "no_rate"),
    (BookError, ExitStatus.USAGE, "book"),
    (MessageError, ExitStatus.USAGE, "usage"),
    (BadMessageSignature, ExitStatus.ERROR, "bad_signature"),
    (InsufficientFunds, ExitStatus.INSUFFICIENT_FUNDS, "insufficient_funds"),
    (WrongPassword, ExitStatus.WRONG_PASSWORD, "wrong_password"),
    (NodeUnreachable, ExitStatus.NODE_UNREACHABLE, "node_unreachable"),
    (CreditLimitExceeded, ExitStatus.CREDIT_LIMIT_EXCEEDED, "credit_limit_exceeded"),
    (TxRejected, ExitStatus.TX_REJECTED, "tx_rejected"),
    (ActionRejected, ExitStatus.TX_REJECTED, "action_rejected"),
    (AddressError, ExitStatus.BAD_ADDRESS, "bad_address"),
    (TamperedKeystore, ExitStatus.KEYSTORE_TAMPERED, "keystore_tampered"),
    (KeystoreFormatError, ExitStatus.KEYSTORE_TAMPERED, "keystore_invalid"),
    (ReceiptInvalid, ExitStatus.NOT_FINAL, "not_final"),
    (Aborted, ExitStatus.ABORTED, "aborted"),
    (PartialTxChanged, ExitStatus.PARTIAL_TX, "partial_tx_changed"),
    (UnexpectedInput, ExitStatus.PARTIAL_TX, "partial_tx_inputs"),
    (ClaimedInputMismatch, ExitStatus.PARTIAL_TX, "partial_tx_claims"),
    (PartialTxError, ExitStatus.PARTIAL_TX, "partial_tx"),
    (ProposalChanged, ExitStatus.PARTIAL_TX, "proposal_changed"),
    (NotAGovernor, ExitStatus.PARTIAL_TX, "not_a_governor"),
    (ProposalIncomplete, ExitStatus.PARTIAL_TX, "proposal_incomplete"),
    (ProposalError, ExitStatus.PARTIAL_TX, "proposal"),
    (ChainMismatch, ExitStatus.CHAIN_MISMATCH, "chain_mismatch"),
    (NotFound, ExitStatus.ERROR, "not_found"),
    (CampaignError, ExitStatus.ERROR, "campaign"),
    (WatchOnly, ExitStatus.ERROR, "watch_only"),
    (WalletFileError, ExitStatus.USAGE, "wallet_file"),
    (WalletBusy, ExitStatus.ERROR, "wallet_busy"),
    (NodeError, ExitStatus.ERROR, "node_error"),
    (KeyboardInterrupt, ExitStatus.INTERRUPTED, "interrupted"),
)


HANDLERS = {**PAYMENT_HANDLERS, **GOV_HANDLERS, **SHOP_HANDLERS, **FUNDING_HANDLERS,
            **CREDIT_HANDLERS}
GROUPS = ("multisig", "receipt", "gov", "request", "contacts", "label", "message", "campaign",
          "contributions", "credit")


def kind_of(exc: BaseException) -> str:
    """The `kind` of an error in the --json error object."""
    return next((kind for cls, _, kind in ERRORS if isinstance(exc, cls)), "error")


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> ExitStatus:
    """Parse and run one command; `argv` None reads sys.argv. Returns the exit status."""
    env = env if env is not None else Environment()
    args_list = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in args_list

    def body() -> ExitStatus:
        args = build_parser(env).parse_args(args_list)
        asyncio.run(HANDLERS[_command_name(args)](Cli(args, env)))
        return ExitStatus.OK

    def as_json(exc: BaseException, status: ExitStatus, message: str) -> None:
        if want_json:
            env.out(json.dumps({"ok": False, "error": {
                "code": int(status), "kind": kind_of(exc), "message": message}},
                sort_keys=True))

    return PROGRAM.run(env, body, tuple((cls, status) for cls, status, _ in ERRORS),
                       on_error=as_json)


def _command_name(args: argparse.Namespace) -> str:
    name = str(args.command)
    if name in GROUPS:
        name = f"{name}_{getattr(args, f'{name}_command')}"
    return name.replace("-", "_")
