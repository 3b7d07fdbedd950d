"""The wallet data file: JSON round trip (with pending spends), old files, malformed files."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.types import OutPoint, TxId
from wallet.errors import WalletFileError
from wallet.keys import HDAccount
from wallet.walletfile import PendingSpend, WalletData

ACCOUNT = HDAccount.from_mnemonic(
    "legal winner thank year wave sausage worth useful legal winner thank yellow", "test")
BASE = WalletData("test", "faircoop-test", bytes(range(32)), 0, ACCOUNT.xpub, False, 3, 2, 1, (),
                  None)

outpoints = st.builds(lambda t, i: OutPoint(TxId(t), i), st.binary(min_size=32, max_size=32),
                      st.integers(0, 2**32 - 1))
pendings = st.lists(st.builds(lambda t, ops: PendingSpend(t, tuple(ops)),
                              st.binary(min_size=32, max_size=32),
                              st.lists(outpoints, min_size=1, max_size=4)), max_size=5)


@settings(max_examples=60, deadline=None)
@given(pendings)
def test_pending_spends_survive_a_round_trip(pending: list[PendingSpend]) -> None:
    data = replace(BASE, pending=tuple(pending))
    again = WalletData.from_json(data.to_json())
    assert again == data
    assert again.held_outpoints() == frozenset(op for p in pending for op in p.spends)


def test_a_file_written_before_pending_existed_reads_as_none() -> None:
    doc = json.loads(BASE.to_json())
    del doc["pending"]
    assert WalletData.from_json(json.dumps(doc)) == BASE


@pytest.mark.parametrize("pending", [
    [{"txid": "zz", "spends": []}],
    [{"txid": "00" * 32}],
    [{"txid": "00" * 32, "spends": [["00" * 32]]}],
    [{"txid": "00" * 32, "spends": [["00" * 32, "x"]]}],
    "not a list of entries",
    [7],
])
def test_a_malformed_pending_list_is_a_wallet_file_error(pending: object) -> None:
    doc = json.loads(BASE.to_json())
    doc["pending"] = pending
    with pytest.raises(WalletFileError, match="malformed"):
        WalletData.from_json(json.dumps(doc))
