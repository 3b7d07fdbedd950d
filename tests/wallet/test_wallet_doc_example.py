"""The example that opens docs/WALLET.md runs, against the in-process fake node: it pays,
waits for finality, saves the receipt and verifies it (tests/e2e_wallet runs it against a
live node process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consensus.types import COIN
from tests.wallet.doc_example import pay_rent
from tests.wallet.wallet_cli_harness import ACCOUNTS, PASSWORD, PAYEE, PAYEE_LOCK, Harness
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet import load_receipt
from wallet.keys import RECEIVE


def test_the_docs_example_pays_and_proves_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    example = pay_rent()
    fake = FakeNode(funded_chain([ACCOUNTS[0].watch().lock(RECEIVE, 0)], [20 * COIN]))
    with serve(fake) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0
        monkeypatch.chdir(tmp_path)  # the example writes rent.receipt where it runs
        asyncio.run(example(str(tmp_path / "w0.json"), PASSWORD, url, PAYEE))
    paying, final = capsys.readouterr().out.splitlines()
    receipt = load_receipt(tmp_path / "rent.receipt")
    assert paying.startswith("paying 1250000000 + fee ") and receipt.txid.hex() in paying
    assert final == "final at height 1: 4/4 signed"
    assert [o.amount for _, o in fake.chain.utxos_of(PAYEE_LOCK)] == [1_250_000_000]
    assert receipt.tx.memo == b"rent, March"
