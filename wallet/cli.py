"""faircoop-wallet: the command-line wallet.

Shape (after httpie): `main(argv, env)` parses, runs one command, and returns an `ExitStatus`.
Every error is mapped to its exit code in one place, `_exit_status_for`. `Environment` carries
stdin/stdout/stderr, the environment variables, the password prompt and the TTY check, so tests
run the CLI in-process and assert on stdout and the exit code.

Output: human text by default; with `--json`, exactly one JSON object on stdout, success or
error (schemas in docs/WALLET.md). Progress goes to stderr, and only when stderr is a terminal.
Passwords come from a prompt or `--password-file`, never from argv. Amounts on the command line
are coins as decimal strings; JSON amounts are integer base units.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import IntEnum
from getpass import getpass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from consensus.address import decode_address, encode_address
from consensus.codec import encode_tx, txid
from consensus.crypto import PrivateKey
from consensus.errors import AddressError, FaircoopError
from consensus.ledger import MemoryUtxoSet, validate_tx
from consensus.types import Lock, SpendPolicy, Tx
from wallet import multisig, ops
from wallet.amounts import format_coins, parse_coins
from wallet.builder import Coin, Payment, UnsignedTx, build_transaction, sign_transaction
from wallet.client import NodeClient, RetryPolicy
from wallet.errors import (
    AmountError,
    BadNodeUrl,
    ChainMismatch,
    ClaimedInputMismatch,
    DustOutput,
    FeeRateError,
    InsufficientFunds,
    KeystoreFormatError,
    NodeError,
    NodeUnreachable,
    NotFound,
    PartialTxChanged,
    PartialTxError,
    ReceiptInvalid,
    TamperedKeystore,
    TxRejected,
    UnexpectedInput,
    WalletBusy,
    WalletError,
    WalletFileError,
    WatchOnly,
    WrongPassword,
)
from wallet.fileio import FileLock
from wallet.keys import CHANGE, COSIGNER, RECEIVE, HDAccount, KeyDerivationError, generate_mnemonic
from wallet.keystore import ScryptParams, WalletSecrets
from wallet.receipts import (
    Receipt,
    decode_validator_set,
    fetch_receipt,
    save_receipt,
    sync_headers,
    verify_receipt,
)
from wallet.walletfile import (
    PendingSpend,
    Treasury,
    WalletData,
    create_wallet_files,
    create_watch_only,
    load_wallet,
    save_wallet,
    unlock,
)

DEFAULT_NODE = "http://127.0.0.1:7070"  # the node's default [api] port
DEFAULT_WALLET = "~/.faircoop/wallet.json"


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


class UsageError(WalletError):
    """Bad command-line usage."""


class Aborted(WalletError):
    """The user said no."""


def _exit_status_for(exc: BaseException) -> tuple[ExitStatus, str]:
    """The one place that maps errors to exit codes (and a stable `kind` for JSON)."""
    table: tuple[tuple[type[BaseException], ExitStatus, str], ...] = (
        (UsageError, ExitStatus.USAGE, "usage"),
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


@dataclass
class Environment:
    """Everything the CLI touches outside itself; tests pass their own."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    prompt_secret: Callable[[str], str] = getpass
    stderr_is_tty: bool | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    kdf: ScryptParams | None = None  # None: the key store's default (scrypt N = 2^15)
    lock_timeout_s: float = 120.0  # how long to wait for another process using the wallet

    def progress_enabled(self) -> bool:
        if self.stderr_is_tty is not None:
            return self.stderr_is_tty
        return bool(getattr(self.stderr, "isatty", lambda: False)())


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
                        help=f"node API base URL (default $FAIRCOOP_NODE or {DEFAULT_NODE})")
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


# -- running ----------------------------------------------------------------------------------


class Cli:
    """One invocation: parsed arguments, the environment, and output helpers."""

    def __init__(self, args: argparse.Namespace, env: Environment) -> None:
        for name in ("wallet", "node", "password_file"):
            if not hasattr(args, name):
                setattr(args, name, None)
        if not hasattr(args, "json"):
            args.json = False
        self.args = args
        self.env = env
        self.json = bool(args.json)
        self.lock: FileLock | None = None  # the wallet's lock, for commands that write it

    # paths and node
    @property
    def wallet_path(self) -> Path:
        raw = self.args.wallet or self.env.environ.get("FAIRCOOP_WALLET") or DEFAULT_WALLET
        return Path(os.path.expanduser(raw))

    @property
    def node_url(self) -> str:
        return str(self.args.node or self.env.environ.get("FAIRCOOP_NODE") or DEFAULT_NODE)

    def client(self) -> NodeClient:
        return NodeClient(self.node_url, retry=self.env.retry)

    # output
    def out(self, text: str) -> None:
        if not self.json:
            self.env.stdout.write(text + "\n")

    def emit(self, doc: dict[str, Any]) -> None:
        if self.json:
            self.env.stdout.write(json.dumps({"ok": True, **doc}, sort_keys=True) + "\n")

    def progress(self, text: str) -> None:
        if self.env.progress_enabled():
            self.env.stderr.write(f"\r{text}\x1b[K")
            self.env.stderr.flush()

    def progress_done(self) -> None:
        if self.env.progress_enabled():
            self.env.stderr.write("\n")

    # secrets
    def password(self, confirm: bool = False) -> str:
        if self.args.password_file:
            try:
                text = Path(self.args.password_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot read password file: {exc.strerror}") from None
            lines = text.splitlines()
            pw = lines[0] if lines else ""
        else:
            pw = self.env.prompt_secret("Wallet password: ")
            if confirm and self.env.prompt_secret("Repeat password: ") != pw:
                raise UsageError("the passwords do not match")
        if confirm and not pw:
            raise UsageError("an empty password is not allowed")
        return pw

    def confirm(self, summary: str) -> None:
        if getattr(self.args, "yes", False):
            return
        self.env.stderr.write(summary + "\nProceed? [y/N] ")
        self.env.stderr.flush()
        answer = self.env.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("cancelled: nothing was sent")

    # wallet
    def wallet(self) -> WalletData:
        return load_wallet(self.wallet_path)

    def save(self, data: WalletData) -> None:
        save_wallet(self.wallet_path, data)


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        cli = Cli(args, env)
        name = _command_name(args)
        if name in WALLET_WRITERS and cli.wallet_path.exists():
            cli.lock = FileLock(Path(f"{cli.wallet_path}.lock"), timeout_s=env.lock_timeout_s)
        try:
            if cli.lock is not None:
                cli.lock.acquire()
            asyncio.run(HANDLERS[name](cli))
        finally:
            if cli.lock is not None:
                cli.lock.release()
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


Handler = Callable[[Cli], Coroutine[Any, Any, None]]


def _describe_os_error(exc: OSError) -> str:
    """A file the wallet could not read or write (a full disk, a read-only directory...)."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


# Commands that read, change and write the wallet file: they hold its lock (FILE.lock) while
# they run, so two processes using one wallet neither pick the same coins nor lose updates.
# (`--wait` lets go of it while it polls for finality.) Readers need none: writes are atomic.
WALLET_WRITERS = frozenset({
    "address", "sync", "send", "pay_many", "multisig_key", "multisig_create", "multisig_spend",
    "multisig_broadcast", "receipt_export",
})


def _command_name(args: argparse.Namespace) -> str:
    name = str(args.command)
    if name == "multisig":
        name = f"multisig_{args.multisig_command}"
    elif name == "receipt":
        name = f"receipt_{args.receipt_command}"
    return name.replace("-", "_")


# -- create / restore -------------------------------------------------------------------------


async def _chain_for_new_wallet(cli: Cli) -> tuple[str, str, bytes, Any]:
    """network, chain id, genesis hash, light state: from flags (offline) or the node."""
    a = cli.args
    if a.network and a.chain_id and a.genesis_hash:
        try:
            gh = bytes.fromhex(a.genesis_hash)
        except ValueError:
            raise UsageError("--genesis-hash must be hex") from None
        if len(gh) != 32:
            raise UsageError("--genesis-hash is 32 bytes of hex")
        return a.network, a.chain_id, gh, None
    if a.network or a.chain_id or a.genesis_hash:
        raise UsageError("give all of --network, --chain-id and --genesis-hash, or none "
                         "(then they come from the node)")
    async with cli.client() as node:
        info = await ops.chain_info(node)
        genesis = await ops.fetch_genesis(node, info.genesis_hash)
    if genesis.network != info.network or genesis.chain_id != info.chain_id:
        raise ChainMismatch("the node's status and genesis disagree")
    from wallet.receipts import genesis_light_state

    return info.network, info.chain_id, info.genesis_hash, genesis_light_state(genesis)


async def cmd_create(cli: Cli) -> None:
    network, chain_id, gh, light = await _chain_for_new_wallet(cli)
    path = cli.wallet_path
    if cli.args.watch_only:
        data = create_watch_only(path, xpub=cli.args.watch_only, network=network,
                                 chain_id=chain_id, genesis_hash=gh, light=light)
        # An xpub usually belongs to a wallet already in use: find its used addresses, or its
        # balance and history would miss every coin past the first address.
        scanned = light is not None and not cli.args.no_scan
        if scanned:
            async with cli.client() as node:
                data = await ops.scan_used(node, data)
            cli.save(data)
        address = data.address(RECEIVE, data.receive_index)
        cli.out(f"watch-only wallet created at {path}\nreceive address: {address}")
        cli.emit({"command": "create", "wallet": str(path), "network": network,
                  "chain_id": chain_id, "watch_only": True, "address": address,
                  "scanned": scanned, "receive_index": data.receive_index,
                  "change_index": data.change_index})
        return
    if path.exists():
        raise WalletFileError(f"{path} already exists; refusing to overwrite a wallet")
    password = cli.password(confirm=True)
    mnemonic = generate_mnemonic(cli.args.words)
    data, hd = create_wallet_files(path, secrets_=WalletSecrets(mnemonic), password=password,
                                   network=network, chain_id=chain_id, genesis_hash=gh,
                                   light=light, kdf=cli.env.kdf)
    cli.out(f"wallet created at {path} ({network} network, chain {chain_id})\n"
            f"Write down these {len(mnemonic.split())} words; they are the only backup:\n\n"
            f"  {mnemonic}\n\nreceive address: {data.address(RECEIVE, 0)}")
    cli.emit({"command": "create", "wallet": str(path), "network": network, "chain_id": chain_id,
              "watch_only": False, "mnemonic": mnemonic, "xpub": hd.xpub,
              "address": data.address(RECEIVE, 0)})


async def cmd_restore(cli: Cli) -> None:
    network, chain_id, gh, light = await _chain_for_new_wallet(cli)
    if cli.args.mnemonic_file:
        try:
            words = Path(cli.args.mnemonic_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read mnemonic file: {exc.strerror}") from None
    else:
        words = cli.env.prompt_secret("Mnemonic words: ")
    from wallet.keys import normalize_mnemonic

    mnemonic = normalize_mnemonic(words)
    if cli.wallet_path.exists():
        raise WalletFileError(f"{cli.wallet_path} already exists; refusing to overwrite")
    password = cli.password(confirm=True)
    data, _ = create_wallet_files(cli.wallet_path, secrets_=WalletSecrets(mnemonic),
                                  password=password, network=network, chain_id=chain_id,
                                  genesis_hash=gh, light=light, kdf=cli.env.kdf)
    scanned = False
    if not cli.args.no_scan and light is not None:
        async with cli.client() as node:
            data = await ops.scan_used(node, data)
        cli.save(data)
        scanned = True
    cli.out(f"wallet restored at {cli.wallet_path}; receive address "
            f"{data.address(RECEIVE, data.receive_index)}")
    cli.emit({"command": "restore", "wallet": str(cli.wallet_path), "network": network,
              "chain_id": chain_id, "scanned": scanned, "receive_index": data.receive_index,
              "change_index": data.change_index,
              "address": data.address(RECEIVE, data.receive_index)})


# -- address / balance / sync -----------------------------------------------------------------


async def cmd_address(cli: Cli) -> None:
    data = cli.wallet()
    if cli.args.new:
        data = replace(data, receive_index=data.receive_index + 1)
        cli.save(data)
    addr = data.address(RECEIVE, data.receive_index)
    cli.out(addr)
    cli.emit({"command": "address", "address": addr, "index": data.receive_index,
              "path": f"{RECEIVE}/{data.receive_index}"})


async def cmd_balance(cli: Cli) -> None:
    data = cli.wallet()
    async with cli.client() as node:
        await ops.check_chain(node, data)
        bal = await ops.balance(node, data)
    cli.out(f"balance: {format_coins(bal.confirmed)} "
            f"(pending {format_coins(bal.pending_delta)}) in {bal.utxo_count} coin(s)")
    cli.emit({"command": "balance", "confirmed": bal.confirmed, "pending": bal.pending_delta,
              "utxo_count": bal.utxo_count, "addresses": bal.addresses})


async def cmd_sync(cli: Cli) -> None:
    data = cli.wallet()
    async with cli.client() as node:
        await ops.check_chain(node, data)
        light = await ops.ensure_light(node, data)
        light = await sync_headers(node, light, progress=lambda h: cli.progress(f"header {h}"))
    cli.progress_done()
    cli.save(replace(data, light=light))
    cli.out(f"followed and verified headers up to height {light.height}")
    for h in light.recoveries:
        cli.out(f"  height {h}: the governors replaced the validator set (a recovery)")
    cli.emit({"command": "sync", "height": light.height, "header_hash": light.header_hash.hex(),
              "validator_set_changes": len(light.epochs) - 1,
              "recoveries": list(light.recoveries)})


# -- paying -----------------------------------------------------------------------------------


def _lock_of(data: WalletData, address: str) -> Lock:
    return decode_address(address.strip(), data.network)


def _memo(text: str) -> bytes:
    memo = text.encode("utf-8")
    if len(memo) > 80:
        raise UsageError(f"memo is {len(memo)} bytes; the maximum is 80")
    return memo


def _read_payments(data: WalletData, path: str) -> list[tuple[str, Payment]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    rows: list[tuple[str, Payment]] = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if n == 1 and cells[0].lower() == "address":
            continue  # header row
        if len(cells) < 2:
            raise UsageError(f"{path}:{n}: expected address,amount")
        try:
            lock = _lock_of(data, cells[0])
            amount = parse_coins(cells[1])
        except (AddressError, AmountError) as exc:
            raise type(exc)(f"{path}:{n}: {exc}") from None
        rows.append((cells[0], Payment(lock, amount)))
    if not rows:
        raise UsageError(f"{path}: no payments")
    return rows


def _summary(data: WalletData, unsigned: UnsignedTx, recipients: list[tuple[str, int]]) -> str:
    lines = ["About to send:"]
    for addr, amount in recipients:
        lines.append(f"  pay     {format_coins(amount):>20}  to {addr}")
    lines.append(f"  fee     {format_coins(unsigned.fee):>20}  ({unsigned.signed_size} bytes)")
    if unsigned.change_index is not None:
        change = unsigned.tx.outputs[unsigned.change_index]
        lines.append(f"  change  {format_coins(change.amount):>20}  to "
                     f"{encode_address(change.lock, data.network)}")
    else:
        lines.append("  change  none")
    if unsigned.tx.memo:
        lines.append(f"  memo    {unsigned.tx.memo.decode('utf-8', 'replace')!r}")
    return "\n".join(lines)


def _private_keys(hd: HDAccount, data: WalletData,
                  wanted: Iterable[bytes] | None = None) -> dict[bytes, PrivateKey]:
    """The private keys of `wanted` public keys (default: every handed-out key) that this
    wallet holds, looking a little past the last handed-out address."""
    keys: dict[bytes, PrivateKey] = {}
    source = data.known_keys() if wanted is None else data.keys_ahead()
    want = None if wanted is None else set(wanted)
    for chain, index, pub in source:
        if want is None or bytes(pub) in want:
            keys[bytes(pub)] = hd.private_key(chain, index)
    return keys


async def _pay(cli: Cli, recipients: list[tuple[str, Payment]]) -> None:
    data = cli.wallet()
    memo = _memo(cli.args.memo)
    change_pub = data.watch().pubkey(CHANGE, data.change_index)
    async with cli.client() as node:
        await ops.check_chain(node, data)
        data = await ops.settle_pending(node, data)
        params = await ops.chain_params(node)
        coins, held = ops.split_held(await ops.fetch_coins(node, data), data)
        fee_rate = params.min_fee_rate if cli.args.fee_rate is None else cli.args.fee_rate
        with _held_coins_noted(held):
            unsigned = build_transaction(
                coins, [p for _, p in recipients], fee_rate=fee_rate, params=params,
                chain_id=data.chain_id, change_policy=SpendPolicy.single(change_pub),
                memo=memo)
        shown = [(a, p.amount) for a, p in recipients]
        if cli.args.unsigned:
            ptx = multisig.from_unsigned(unsigned, data.network, data.genesis_hash)
            multisig.save_partial(cli.args.unsigned, ptx)
            if unsigned.change_index is not None:
                cli.save(replace(data, change_index=data.change_index + 1))
            cli.out(_summary(data, unsigned, shown) +
                    f"\nunsigned transaction written to {cli.args.unsigned}")
            cli.emit({"command": cli.args.command, "unsigned": cli.args.unsigned,
                      **_tx_json(data, unsigned)})
            return
        cli.confirm(_summary(data, unsigned, shown))
        hd = unlock(cli.wallet_path, data, cli.password())
        tx = sign_transaction(unsigned, _private_keys(hd, data))
        # Check locally with the ledger's own rules before anything leaves the machine.
        view = MemoryUtxoSet({c.outpoint: c.output for c in coins})
        validate_tx(tx, view, params, chain_id=data.chain_id)
        if unsigned.change_index is not None:
            data = replace(data, change_index=data.change_index + 1)
            cli.save(data)
        sent = await node.broadcast(encode_tx(tx).hex())
        _record_pending(cli, tx)
        result = {"command": cli.args.command, "txid": sent, **_tx_json(data, unsigned)}
        cli.out(f"sent: txid {sent}")
        if cli.args.wait:
            result["receipt"] = await _wait_and_verify(cli, node, data, sent, cli.args.timeout)
        cli.emit(result)


@contextmanager
def _held_coins_noted(held: Sequence[Coin]) -> Iterator[None]:
    """Say so when coins held by the wallet's own pending txs are why funds fall short."""
    try:
        yield
    except InsufficientFunds as exc:
        if not held:
            raise
        raise InsufficientFunds(exc.needed, exc.available,
                                held=sum(c.amount for c in held)) from None


def _record_pending(cli: Cli, tx: Tx) -> None:
    """Remember a broadcast tx's inputs, so the next payment does not choose them again."""
    data = cli.wallet()
    spend = PendingSpend(txid(tx), tuple(i.prevout for i in tx.inputs))
    cli.save(replace(data, pending=(*data.pending, spend)))


def _tx_json(data: WalletData, unsigned: UnsignedTx) -> dict[str, Any]:
    outs = [{"address": encode_address(o.lock, data.network), "amount": o.amount,
             "change": i == unsigned.change_index} for i, o in enumerate(unsigned.tx.outputs)]
    change = (unsigned.tx.outputs[unsigned.change_index].amount
              if unsigned.change_index is not None else 0)
    return {"outputs": outs, "fee": unsigned.fee, "size": unsigned.signed_size,
            "change": change, "inputs": len(unsigned.tx.inputs),
            "amount": sum(o["amount"] for o in outs if not o["change"])}


async def _wait_and_verify(cli: Cli, node: NodeClient, data: WalletData, txid_hex: str,
                           timeout: float) -> dict[str, Any]:
    # The tx is recorded as pending: let other processes use the wallet while we wait.
    if cli.lock is not None:
        cli.lock.release()
    try:
        await ops.wait_final(node, txid_hex, timeout,
                             progress=lambda s: cli.progress(f"tx {s}"))
    finally:
        if cli.lock is not None:
            await asyncio.to_thread(cli.lock.acquire)
    data = cli.wallet()
    light = await ops.ensure_light(node, data)
    _, light, verified = await fetch_receipt(node, light, txid_hex, data.network,
                                             progress=lambda h: cli.progress(f"header {h}"))
    cli.progress_done()
    now = cli.wallet()
    cli.save(replace(now, light=light,
                     pending=tuple(p for p in now.pending if p.txid.hex() != txid_hex)))
    cli.out(f"final at height {verified.height} (block {verified.block_hash.hex()[:16]}, "
            f"{verified.signers}/{verified.set_size} validators), verified by this wallet")
    return {"final": True, "height": verified.height, "block_hash": verified.block_hash.hex(),
            "signers": verified.signers, "validators": verified.set_size}


async def cmd_send(cli: Cli) -> None:
    data = cli.wallet()
    lock = _lock_of(data, cli.args.address)
    amount = parse_coins(cli.args.amount)
    await _pay(cli, [(cli.args.address.strip(), Payment(lock, amount))])


async def cmd_pay_many(cli: Cli) -> None:
    await _pay(cli, _read_payments(cli.wallet(), cli.args.csv_file))


# -- history / tx -----------------------------------------------------------------------------


async def cmd_history(cli: Cli) -> None:
    data = cli.wallet()
    async with cli.client() as node:
        await ops.check_chain(node, data)
        entries = await ops.history(node, data, cli.args.limit)
    for e in entries:
        where = f"height {e.height}" if e.height is not None else "mempool"
        net = ("sent " + format_coins(e.sent) + " + unknown fee" if e.net is None
               else f"{'+' if e.net >= 0 else ''}{format_coins(e.net)}")
        cli.out(f"{e.txid}  {where:>14}  {net}")
    if not entries:
        cli.out("no transactions yet")
    cli.emit({"command": "history", "transactions": [
        {"txid": e.txid, "height": e.height, "position": e.position, "received": e.received,
         "sent": e.sent, "fee": e.fee, "outgoing": e.outgoing, "net": e.net}
        for e in entries]})


async def cmd_tx(cli: Cli) -> None:
    async with cli.client() as node:
        doc = await node.tx(cli.args.txid)
        status = await node.tx_status(cli.args.txid)
    fee = ops.fee_of(doc)  # None: the node can't trace an input's amount
    try:
        outputs = [{"address": o.get("address"), "amount": int(o["amount"])}
                   for o in doc.get("outputs", [])]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise NodeError(200, "tx: malformed outputs") from None
    final = bool(status.get("final")) if isinstance(status, dict) else False
    cli.out(f"tx {doc.get('txid')}  {'final' if final else 'not final'}"
            + (f" at height {status.get('height')}" if final else ""))
    for o in outputs:
        cli.out(f"  {format_coins(o['amount']):>20}  to {o['address']}")
    cli.out(f"  fee {'unknown' if fee is None else format_coins(fee)}, {doc.get('size')} bytes")
    cli.emit({"command": "tx", "txid": doc.get("txid"), "final": final,
              "height": status.get("height") if isinstance(status, dict) else None,
              "outputs": outputs, "fee": fee, "size": doc.get("size")})


# -- multisig ---------------------------------------------------------------------------------


async def cmd_multisig_key(cli: Cli) -> None:
    data = cli.wallet()
    pub = data.watch().pubkey(COSIGNER, data.cosigner_index)
    cli.save(replace(data, cosigner_index=data.cosigner_index + 1))
    cli.out(pub.hex())
    cli.emit({"command": "multisig key", "pubkey": pub.hex(), "index": data.cosigner_index})


async def cmd_multisig_create(cli: Cli) -> None:
    data = cli.wallet()
    keys: list[bytes] = []
    for k in cli.args.key:
        try:
            keys.append(bytes.fromhex(k))
        except ValueError:
            raise UsageError(f"--key {k[:16]}...: not hex") from None
    policy = multisig.treasury_policy(cli.args.threshold, keys)
    if any(t.name == cli.args.name for t in data.treasuries):
        raise UsageError(f"a treasury named {cli.args.name!r} already exists")
    address = multisig.treasury_address(policy, data.network)
    mine = {bytes(pub) for _, _, pub in data.known_keys()}
    members = [k for k in policy.pubkeys if k in mine]
    cli.save(replace(data, treasuries=(*data.treasuries, Treasury(cli.args.name, policy))))
    cli.out(f"treasury {cli.args.name}: {policy.threshold}-of-{len(policy.pubkeys)}\n"
            f"address: {address}\nthis wallet holds {len(members)} of its keys")
    cli.emit({"command": "multisig create", "name": cli.args.name, "address": address,
              "threshold": policy.threshold, "pubkeys": [k.hex() for k in policy.pubkeys],
              "own_keys": len(members)})


async def cmd_multisig_spend(cli: Cli) -> None:
    data = cli.wallet()
    treasury = data.treasury(cli.args.treasury)
    lock = _lock_of(data, cli.args.address)
    amount = parse_coins(cli.args.amount)
    async with cli.client() as node:
        await ops.check_chain(node, data)
        data = await ops.settle_pending(node, data)
        params = await ops.chain_params(node)
        coins, held = ops.split_held(
            await ops.fetch_policy_coins(node, treasury.policy, data.network), data)
    fee_rate = params.min_fee_rate if cli.args.fee_rate is None else cli.args.fee_rate
    with _held_coins_noted(held):
        unsigned = build_transaction(coins, [Payment(lock, amount)], fee_rate=fee_rate,
                                     params=params, chain_id=data.chain_id,
                                     change_policy=treasury.policy, memo=_memo(cli.args.memo))
    cli.save(data)
    ptx = multisig.from_unsigned(unsigned, data.network, data.genesis_hash)
    multisig.save_partial(cli.args.out, ptx)
    d = multisig.describe(ptx, own_locks=data.signer_keys().personal_locks)
    cli.out(multisig.render(d) + f"\nproposal written to {cli.args.out}")
    cli.emit({"command": "multisig spend", "file": cli.args.out, **d.as_json()})


def _load_ptx(cli: Cli, path: str, data: WalletData | None) -> multisig.PartialTx:
    try:
        with open(path, "rb") as f:
            raw = f.read(multisig.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        ptx = multisig.from_bytes(raw)
        if data is not None:
            multisig.check_chain(ptx, data.chain_id, data.network, data.genesis_hash)
    except PartialTxError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except ChainMismatch as exc:
        raise ChainMismatch(f"{path}: {exc}") from None
    return ptx


async def cmd_multisig_show(cli: Cli) -> None:
    data = cli.wallet() if cli.wallet_path.exists() else None
    ptx = _load_ptx(cli, cli.args.file, data)
    own = [bytes(p) for _, _, p in data.known_keys()] if data else []
    d = multisig.describe(ptx, own_locks=data.signer_keys().personal_locks if data else frozenset())
    cli.out(multisig.render(d, own))
    cli.emit({"command": "multisig show", **d.as_json()})


async def cmd_multisig_sign(cli: Cli) -> None:
    data = cli.wallet()
    ptx = _load_ptx(cli, cli.args.file, data)
    multisig.check_signatures(ptx)  # refuse before showing or asking anything
    own = data.signer_keys()
    scope = multisig.signing_scope(ptx, own, own_coins=cli.args.own_coins)
    spent = await _check_spent(cli, data, ptx)
    checked = spent is not multisig.OFFLINE
    note = ("input amounts and addresses checked against their parent transactions (each "
            "checked against its txid: no node can forge them)" if checked
            else "input amounts NOT checked (node unreachable): the fee and the addresses "
                 "spent are as the file claims")
    d = multisig.describe(ptx, scope.spender_locks, own.personal_locks)
    own_pubs = [bytes(k) for k in own.personal | own.cosigner]
    cli.confirm(multisig.render(d, own_pubs, scope.label) + "\n  " + note)
    hd = unlock(cli.wallet_path, data, cli.password())
    signed = multisig.sign_partial(ptx, _private_keys(hd, data, scope.keys), scope,
                                   spent=spent)
    out = cli.args.out or cli.args.file
    multisig.save_partial(out, signed.ptx)
    d2 = multisig.describe(signed.ptx, scope.spender_locks, own.personal_locks)
    cli.out(f"added {signed.added} signature(s); {d2.remaining} still needed; written to {out}")
    cli.emit({"command": "multisig sign", "file": out, "added": signed.added,
              "inputs_checked": signed.inputs_checked, "spending": scope.label,
              "own_coins": scope.own_coins, **d2.as_json()})


async def _check_spent(cli: Cli, data: WalletData,
                       ptx: multisig.PartialTx) -> multisig.SpentOutputs:
    """What the inputs really spend, from the parent txs, if a node answers; else OFFLINE.

    The sighash does not cover input amounts, so a dishonest proposer could understate them
    and hide a large fee, or name a lock its input does not spend. Refused here, before the
    member is asked, and again by `sign_partial`.
    """
    try:
        async with cli.client() as node:
            await ops.check_chain(node, data)
            actual = await ops.spent_outputs(node, [i.prevout for i in ptx.tx.inputs],
                                             data.genesis_hash)
    except NodeUnreachable:
        return multisig.OFFLINE
    multisig.verify_spent(ptx, actual)
    return actual


async def cmd_multisig_combine(cli: Cli) -> None:
    data = cli.wallet() if cli.wallet_path.exists() else None
    parts = [_load_ptx(cli, f, data) for f in cli.args.files]
    merged = multisig.combine(parts)
    multisig.save_partial(cli.args.out, merged)
    d = multisig.describe(merged)
    cli.out(multisig.render(d) + f"\ncombined into {cli.args.out}")
    cli.emit({"command": "multisig combine", "file": cli.args.out, **d.as_json()})


async def cmd_multisig_broadcast(cli: Cli) -> None:
    data = cli.wallet()
    ptx = _load_ptx(cli, cli.args.file, data)
    tx: Tx = multisig.finalize(ptx)
    async with cli.client() as node:
        await ops.check_chain(node, data)
        sent = await node.broadcast(encode_tx(tx).hex())
        if sent != txid(tx).hex():
            raise NodeError(200, "the node reported another txid than the one sent")
        _record_pending(cli, tx)
        result: dict[str, Any] = {"command": "multisig broadcast", "txid": sent}
        cli.out(f"sent: txid {sent}")
        if cli.args.wait:
            result["receipt"] = await _wait_and_verify(cli, node, data, sent, cli.args.timeout)
    cli.emit(result)


# -- receipts ---------------------------------------------------------------------------------


async def cmd_receipt_export(cli: Cli) -> None:
    data = cli.wallet()
    async with cli.client() as node:
        await ops.check_chain(node, data)
        light = await ops.ensure_light(node, data)
        receipt, light, verified = await fetch_receipt(
            node, light, cli.args.txid, data.network,
            progress=lambda h: cli.progress(f"header {h}"))
    cli.progress_done()
    cli.save(replace(data, light=light))
    save_receipt(cli.args.out, receipt)
    cli.out(f"receipt for {cli.args.txid} written to {cli.args.out}: final at height "
            f"{verified.height}, {verified.signers}/{verified.set_size} validators")
    cli.emit({"command": "receipt export", "file": cli.args.out, "txid": verified.txid.hex(),
              "height": verified.height, "block_hash": verified.block_hash.hex(),
              "signers": verified.signers, "validators": verified.set_size})


def _trusted_set_hash(path: str) -> bytes:
    from consensus.codec import validators_hash

    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text)["hex"] if text.startswith("{") else text
        vs = decode_validator_set(bytes.fromhex(raw))
    except (ValueError, KeyError, TypeError, FaircoopError):
        raise UsageError(f"{path}: not a validator set (hex, or the JSON of validator-set/)")\
            from None
    return validators_hash(vs)


async def cmd_receipt_verify(cli: Cli) -> None:
    try:
        text = Path(cli.args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {cli.args.file}: {exc.strerror}") from None
    receipt = Receipt.from_json(text)
    data = cli.wallet() if cli.wallet_path.exists() else None
    chain_id = cli.args.chain_id or (data.chain_id if data else None)
    gh_hex = cli.args.genesis_hash or (data.genesis_hash.hex() if data else None)
    if chain_id is None or gh_hex is None:
        raise UsageError("no wallet: give --chain-id and --genesis-hash")
    if cli.args.validator_set:
        trusted = _trusted_set_hash(cli.args.validator_set)
    else:
        light = data.light if data else None
        found = light.set_hash_at(receipt.height) if light else None
        if found is None:
            raise UsageError(
                f"the wallet has not followed the chain to height {receipt.height}: run "
                "`sync` first, or pass --validator-set FILE")
        trusted = found
    network = cli.args.network or (data.network if data else None)
    verified = verify_receipt(receipt, chain_id=chain_id, network=network or receipt.network,
                              genesis_hash=bytes.fromhex(gh_hex),
                              trusted_validators_hash=trusted)
    paid = [(encode_address(o.lock, receipt.network), o.amount) for o in receipt.tx.outputs]
    cli.out(f"valid: tx {verified.txid.hex()} is final at height {verified.height} "
            f"(block {verified.block_hash.hex()[:16]}, {verified.signers}/{verified.set_size} "
            "validators)")
    if network is None:
        cli.out(f"  network {receipt.network!r} as the receipt claims (not checked: pass "
                "--network)")
    for addr, amount in paid:
        cli.out(f"  {format_coins(amount):>20}  to {addr}")
    cli.emit({"command": "receipt verify", "valid": True, "txid": verified.txid.hex(),
              "height": verified.height, "block_hash": verified.block_hash.hex(),
              "signers": verified.signers, "validators": verified.set_size,
              "network": receipt.network, "network_checked": network is not None,
              "outputs": [{"address": a, "amount": m} for a, m in paid]})


HANDLERS: dict[str, Handler] = {
    "create": cmd_create,
    "restore": cmd_restore,
    "address": cmd_address,
    "balance": cmd_balance,
    "sync": cmd_sync,
    "send": cmd_send,
    "pay_many": cmd_pay_many,
    "history": cmd_history,
    "tx": cmd_tx,
    "multisig_key": cmd_multisig_key,
    "multisig_create": cmd_multisig_create,
    "multisig_spend": cmd_multisig_spend,
    "multisig_show": cmd_multisig_show,
    "multisig_sign": cmd_multisig_sign,
    "multisig_combine": cmd_multisig_combine,
    "multisig_broadcast": cmd_multisig_broadcast,
    "receipt_export": cmd_receipt_export,
    "receipt_verify": cmd_receipt_verify,
}
