"""The example that opens docs/WALLET.md, run against a live node process: a one-validator
devnet (it finalizes alone) whose demo wallet pays a fresh address, waits until the payment is
final, and verifies its receipt. The node must stop cleanly, having logged no traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.types import SpendPolicy
from faircoop_node.devnet import load_devnet
from tests.fuzz.live import lone_node
from tests.wallet.doc_example import pay_rent
from wallet import load_receipt
from wallet.client import SyncNodeClient

pytestmark = pytest.mark.slow


def test_the_docs_example_pays_a_live_node_and_proves_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    example = pay_rent()
    landlord_lock = codec.policy_lock(SpendPolicy.single(PrivateKey.generate().public_key))
    directory = tmp_path / "dn"
    with lone_node(directory) as (node, _):
        layout = load_devnet(directory)
        password = layout.password_path.read_text(encoding="utf-8").splitlines()[0]
        landlord = encode_address(landlord_lock, "test")
        monkeypatch.chdir(tmp_path)
        asyncio.run(example(str(layout.wallet_path), password, node.api_url, landlord))
        with SyncNodeClient(node.api_url) as client:
            paid = client.address(landlord)
    paying, final = capsys.readouterr().out.splitlines()
    receipt = load_receipt(tmp_path / "rent.receipt")
    assert receipt.txid.hex() in paying and final.endswith(": 1/1 signed")
    assert final == f"final at height {receipt.height}: 1/1 signed"
    assert paid["balance"] == 1_250_000_000
