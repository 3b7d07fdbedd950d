"""The CLI run in process against a fake node: a harness shared by the CLI test modules."""

from __future__ import annotations

import io
import json
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.types import SpendPolicy, TxOut
from wallet import multisig
from wallet.cli import Environment, main
from wallet.client import RetryPolicy
from wallet.keys import HDAccount
from wallet.keystore import ScryptParams

PASSWORD = "correct horse battery staple"
MNEMONICS = [
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
]
ACCOUNTS = [HDAccount.from_mnemonic(m, "test") for m in MNEMONICS]
PAYEE_LOCK = codec.policy_lock(SpendPolicy.single(PrivateKey((4242).to_bytes(32, "big"))
                                                  .public_key))
PAYEE = encode_address(PAYEE_LOCK, "test")
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def doc(self) -> dict:  # type: ignore[type-arg]
        lines = [ln for ln in self.out.splitlines() if ln.strip()]
        assert len(lines) == 1, f"expected one JSON line, got {self.out!r}"
        return json.loads(lines[0])  # type: ignore[no-any-return]


class Harness:
    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        (tmp / "pw").write_text(PASSWORD + "\n")

    def run(self, *argv: str, stdin: str = "", url: str | None = None, wallet: str = "w0",
            password: str | None = PASSWORD, tty: bool = False,
            lock_timeout_s: float = 120.0) -> Result:
        out, err = io.StringIO(), io.StringIO()

        def prompt(_: str) -> str:
            if password is None:
                raise AssertionError("the CLI asked for a password it should not need")
            return password

        env = Environment(stdin=io.StringIO(stdin), stdout=out, stderr=err,
                          environ={"FAIRCOOP_NODE": url or self.url}, prompt_secret=prompt,
                          stderr_is_tty=tty, retry=FAST, kdf=ScryptParams.for_tests(),
                          lock_timeout_s=lock_timeout_s)
        args = ["--wallet", str(self.tmp / f"{wallet}.json"), *argv]
        code = main(args, env)
        return Result(int(code), out.getvalue(), err.getvalue())

    def restore(self, n: int) -> Result:
        mfile = self.tmp / f"m{n}"
        mfile.write_text(MNEMONICS[n] + "\n")
        return self.run("restore", "--mnemonic-file", str(mfile), "--password-file",
                        str(self.tmp / "pw"), "--json", wallet=f"w{n}", password=None)


def free_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def hide_fee(ptx: multisig.PartialTx, amount: int) -> multisig.PartialTx:
    """The lie a dishonest proposer tells: input 0 claims `amount` less than it holds and the
    last output (the change) pays `amount` less, so the fee shown stays the same while the
    real fee grows by `amount`. The sighash does not cover input amounts."""
    *outs, change = ptx.tx.outputs
    tx = replace(ptx.tx, outputs=(*outs, TxOut(change.amount - amount, change.lock)))
    first = ptx.spent[0]
    return replace(ptx, tx=tx, spent=(TxOut(first.amount - amount, first.lock), *ptx.spent[1:]))
