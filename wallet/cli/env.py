"""What one invocation of the CLI touches outside itself, and its input and output helpers."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from getpass import getpass
from pathlib import Path
from typing import Any, TypeVar

from faircoop_common.clikit import Environment as CommonEnvironment
from faircoop_common.clikit import UsageError
from wallet.cli.args import DEFAULT_WALLET, PROGRAM
from wallet.client import NodeClient, RetryPolicy
from wallet.errors import WalletError, WatchOnly
from wallet.keystore import ScryptParams
from wallet.session import DEFAULT_LOCK_TIMEOUT_S, Opening, Wallet
from wallet.walletfile import WalletData, load_wallet

T = TypeVar("T")
__all__ = ["Aborted", "Cli", "Environment", "UsageError"]


class Aborted(WalletError):
    """The user said no."""


@dataclass
class Environment(CommonEnvironment):
    """The shared CLI environment, plus what only the wallet needs; tests pass their own."""

    prompt_secret: Callable[[str], str] = getpass
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    kdf: ScryptParams | None = None  # None: the key store's default (scrypt N = 2^15)
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S  # waiting for another process's wallet lock


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
        self._node_url: str | None = None

    # paths, node, wallet
    @property
    def wallet_path(self) -> Path:
        raw = self.args.wallet or self.env.environ.get("FAIRCOOP_WALLET") or DEFAULT_WALLET
        return Path(os.path.expanduser(raw))

    @property
    def node_url(self) -> str:
        """--node, else $FAIRCOOP_NODE, else the old $FAIRCOOP_NODE_URL (warned about once)."""
        if self._node_url is None:
            self._node_url = PROGRAM.node_url(self.env, self.args.node)
        return self._node_url

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
            self.env.out(text)

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
        """Ask the password once (a wallet already unlocked is not asked again)."""
        if wallet.data.watch_only:
            raise WatchOnly("this is a watch-only wallet: it holds no private keys")
        if not wallet.unlocked:
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


