"""A governed fake chain for the `gov` tests: wallets w0 and w1 (of the CLI harness) hold the
two governor keys (2 of 2 must sign), w2 is a member who does not govern."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from consensus.crypto import PrivateKey
from consensus.governance import Reference
from consensus.types import PublicKey
from tests.wallet.wallet_cli_harness import ACCOUNTS, Harness
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet.keys import RECEIVE

GOVERNOR_KEYS = [a.governor_key() for a in ACCOUNTS[:2]]  # w0 and w1
GOVERNORS = tuple(PublicKey(k.public_key) for k in GOVERNOR_KEYS)
OUTSIDER_KEY = ACCOUNTS[2].governor_key()  # w2's governor key: not a governor of the chain
NEWCOMER = PublicKey(PrivateKey((4_242).to_bytes(32, "big")).public_key)
REF = Reference("https://coop.example/assembly/2026-11#7", "Assembly of 2026-11-20, item 7")


@dataclass
class GovWorld:
    fake: FakeNode
    h: Harness
    url: str
    tmp: Path

    def path(self, name: str) -> str:
        return str(self.tmp / name)

    def propose_add(self, out: str = "p.json", *extra: str, wallet: str = "w0") -> str:
        """`gov propose add-validator` for NEWCOMER; the file's path."""
        r = self.h.run("--json", "gov", "propose", "add-validator", "--name", "Coop Five",
                       "--pubkey", NEWCOMER.hex(), "--ref", REF.uri, "--note", REF.text,
                       "--out", self.path(out), *extra, wallet=wallet)
        assert r.code == 0, r.err
        return self.path(out)


@contextmanager
def gov_world(tmp: Path, threshold: int = 2) -> Iterator[GovWorld]:
    chain = funded_chain([ACCOUNTS[0].watch().lock(RECEIVE, 0)], governors=GOVERNORS,
                         governor_threshold=threshold)
    fake = FakeNode(chain)
    with serve(fake) as url:
        h = Harness(url, tmp)
        for n in range(3):
            assert h.restore(n).code == 0
        yield GovWorld(fake, h, url, tmp)
