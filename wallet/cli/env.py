"""What one invocation of the CLI touches outside itself, and its input and output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from getpass import getpass
from pathlib import Path
from typing import Any, TextIO, TypeVar

from wallet.client import DEFAULT_NODE_URL, NodeClient, RetryPolicy
from wallet.errors import WalletError, WatchOnly
from wallet.keystore import ScryptParams
from wallet.session import Opening, Wallet
from wallet.walletfile import WalletData, load_wallet

DEFAULT_WALLET = "~/.faircoop/wallet.json"
T = TypeVar("T")


class UsageError(WalletError):
    """Bad command-line usage."""


class Aborted(WalletError):
    """The user said no."""


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

    # paths, node, wallet
    @property
    def wallet_path(self) -> Path:
        raw = self.args.wallet or self.env.environ.get("FAIRCOOP_WALLET") or DEFAULT_WALLET
        return Path(os.path.expanduser(raw))

    @property
    def node_url(self) -> str:
        return str(self.args.node or self.env.environ.get("FAIRCOOP_NODE") or DEFAULT_NODE_URL)

    def client(self) -> NodeClient:
        return NodeClient(self.node_url, retry=self.env.retry)

    def open_wallet(self) -> Opening:
        """`async with cli.open_wallet() as wallet:` (no password yet: `unlock` asks)."""
        return Wallet.open(self.wallet_path, node=self.node_url, retry=self.env.retry,
                           lock_timeout_s=self.env.lock_timeout_s)

    def wallet_data(self) -> WalletData | None:
        """The wallet file if there is one (commands that work without a wallet)."""
        return load_wallet(self.wallet_path) if self.wallet_path.exists() else None

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

    # input
    def password(self, confirm: bool = False) -> str:
        if self.args.password_file:
            pw = next(iter(self.read_text(self.args.password_file, "password file")
                           .splitlines()), "")
        else:
            pw = self.env.prompt_secret("Wallet password: ")
            if confirm and self.env.prompt_secret("Repeat password: ") != pw:
                raise UsageError("the passwords do not match")
        if confirm and not pw:
            raise UsageError("an empty password is not allowed")
        return pw

    def unlock(self, wallet: Wallet) -> None:
        if wallet.data.watch_only:
            raise WatchOnly("this is a watch-only wallet: it holds no private keys")
        wallet.unlock(self.password())

    def confirm(self, summary: str) -> None:
        if getattr(self.args, "yes", False):
            return
        self.env.stderr.write(summary + "\nProceed? [y/N] ")
        self.env.stderr.flush()
        answer = self.env.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("cancelled: nothing was sent")

    @staticmethod
    def read(path: str, reader: Callable[[str], T]) -> T:
        """`reader(path)`, an unreadable file being a usage error that names it."""
        try:
            return reader(path)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None

    def read_text(self, path: str, what: str = "") -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {what or path}: {exc.strerror}") from None


