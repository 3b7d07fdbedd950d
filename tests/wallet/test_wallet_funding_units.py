"""The funding library's pure parts: the share split (largest remainder, dust rule), the
structured memos, the claim/refund packing, the status line, and the campaign terms check
against a node that lies about them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.address import encode_address
from consensus.campaign import campaign_id
from consensus.codec import encode_tx, policy_lock, txid
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import (
    CampaignMode,
    CampaignTerms,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
)
from wallet.builder import SweepInput, build_sweep, split_by_size
from wallet.campaigns import CampaignInfo, fetch_campaign, time_left
from wallet.errors import MemoError, NodeError, SharesError, WalletError
from wallet.memos import (
    contribution_memo,
    grant_memo,
    parse_contribution,
    parse_grant,
    parse_rate,
)
from wallet.shares import ShareRow, largest_remainder, split

# -- shares ------------------------------------------------------------------------------------


@given(st.integers(0, 10**17), st.lists(st.integers(1, 10**6), min_size=1, max_size=40))
def test_largest_remainder_is_exact_and_each_within_one_unit_of_its_share(
        total: int, shares: list[int]) -> None:
    amounts = largest_remainder(total, shares)
    assert sum(amounts) == total
    whole = sum(shares)
    for a, s in zip(amounts, shares, strict=True):
        assert total * s // whole <= a <= total * s // whole + 1


@given(st.integers(1, 10**12), st.lists(st.integers(1, 1000), min_size=1, max_size=30),
       st.integers(1, 10**5))
def test_a_split_pays_the_total_exactly_and_nobody_below_the_dust_limit(
        total: int, shares: list[int], dust: int) -> None:
    rows = [ShareRow(f"a{i}", s) for i, s in enumerate(shares)]
    try:
        done = split(total, rows, dust)
    except SharesError:
        assert total < dust  # else one payee at least can always be paid the whole total
        return
    assert sum(p.amount for p in done.paid) == total
    assert all(p.amount >= dust for p in done.paid)
    assert len(done.paid) + len(done.left_out) == len(rows)
    if done.left_out:  # only the fewest shares are left out, and only if they had to be
        assert max(p.shares for p in done.left_out) <= min(p.shares for p in done.paid)
        assert total * min(p.shares for p in done.left_out) // \
            (done.shares + sum(p.shares for p in done.left_out)) < dust


def test_a_split_keeps_the_files_order_and_breaks_remainder_ties_by_it() -> None:
    done = split(10, [ShareRow("a", 1), ShareRow("b", 1), ShareRow("c", 1)], 1)
    assert [(p.address, p.amount) for p in done.paid] == [("a", 4), ("b", 3), ("c", 3)]


def test_a_total_below_the_dust_limit_is_refused() -> None:
    with pytest.raises(SharesError, match="below the dust limit"):
        split(999, [ShareRow("a", 1)], 1000)


# -- memos -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["5", "2.5", "0.01", "100", "12.75"])
def test_a_contribution_memo_round_trips_and_fits(rate: str) -> None:
    memo = contribution_memo("2026-11", parse_rate(rate), 10**17)
    raw = memo.text().encode()
    assert len(raw) <= 80 and parse_contribution(raw) == memo


@pytest.mark.parametrize("raw", [
    b"fc-contribution/1 period=2026-11 rate=5 income=12 extra",
    b"fc-contribution/1 period=2026-13 rate=5 income=12",
    b"fc-contribution/1 period=2026-11 rate=5.0 income=12",  # not the canonical form
    b"fc-contribution/1 period=2026-11 rate=500 income=12",
    b"fc-contribution/1 period=2026-11 rate=5 income=-1",
    b"fc-contribution/2 period=2026-11 rate=5 income=12",
    b"\xff\xfe",
    b"rent, March",
])
def test_anything_else_is_not_a_contribution(raw: bytes) -> None:
    assert parse_contribution(raw) is None


@pytest.mark.parametrize("text", ["0", "101", "5%", "1e1", "2.555", "-5", ""])
def test_a_rate_is_a_percentage_with_at_most_two_places(text: str) -> None:
    with pytest.raises(MemoError):
        parse_rate(text)


def test_a_grant_memo_names_its_reference_and_nothing_else_parses_as_one() -> None:
    ref = "https://coop.example/assembly/2026-11#4"
    assert parse_grant(grant_memo(ref).encode()) == ref
    assert parse_grant(b"fc-grant/1 ref=two words") is None
    assert parse_grant(b"fc-grant/1 ref=") is None
    with pytest.raises(MemoError, match="without spaces"):
        grant_memo("two words")
    with pytest.raises(MemoError, match="at most"):
        grant_memo("x" * 70)
    assert Decimal("5") == parse_rate("5")


# -- packing claims and refunds ------------------------------------------------------------------


KEY = PrivateKey((7).to_bytes(32, "big"))
POLICY = SpendPolicy.single(KEY.public_key)
CAMPAIGN = Lock(b"\x05" * 32)


def pledges(n: int) -> list[SweepInput]:
    return [SweepInput(OutPoint(TxId(i.to_bytes(32, "big")), i), TxOut(10**6, CAMPAIGN,
                                                                        policy_lock(POLICY)),
                       POLICY) for i in range(n)]


@pytest.mark.parametrize(("n", "max_size"), [(1, 4000), (30, 4000), (300, 4000), (300, 100_000)])
def test_sweeps_fit_the_size_limit_in_as_few_txs_as_possible(n: int, max_size: int) -> None:
    params = ChainParams().with_value("max_tx_size", max_size)
    groups = split_by_size(pledges(n), max_size, "faircoop-test")
    assert sum(len(g) for g in groups) == n
    built = [build_sweep(g, policy_lock(POLICY), fee_rate=1, params=params,
                         chain_id="faircoop-test") for g in groups]
    assert all(b.signed_size <= max_size for b in built)
    for group, following in zip(groups, groups[1:], strict=False):  # each tx is full: one
        fuller = build_sweep([*group, following[0]], policy_lock(POLICY), fee_rate=1,  # more
                             params=params, chain_id="faircoop-test")  # input would not fit
        assert fuller.signed_size > max_size
    for b in built:
        assert b.fee == b.signed_size and b.tx.outputs[0].amount == b.value_in - b.fee


# -- what a member reads -------------------------------------------------------------------------


@pytest.mark.parametrize(("ms", "text"), [
    (7 * 86_400_000 + 5, "7 days left"), (86_400_000, "1 day left"),
    (5 * 3_600_000, "5 hours left"), (60_000, "1 minute left"), (59_999, "less than a minute left"),
])
def test_time_left_in_words(ms: int, text: str) -> None:
    assert time_left(ms) == text


def info(status: str, pledged: int) -> CampaignInfo:
    terms = CampaignTerms(Lock(bytes(32)), 1000, 50, CampaignMode.ALL_OR_NOTHING, "t", "u")
    return CampaignInfo(bytes(32), terms, bytes(32), 1, pledged, 3, 2, status, 40,
                        7 * 86_400_000, 1000)


def test_the_status_line_says_what_a_member_needs_to_decide() -> None:
    assert info("open", 620).summary() == "7 days left, 62% of goal"
    assert "the beneficiary may claim" in info("succeeded", 1200).summary()
    assert "each pledger may take theirs back" in info("failed", 10).summary()


# -- a node that lies about the terms ------------------------------------------------------------


class LyingNode:
    """Serves a real creation tx, but names another beneficiary for its campaign."""

    def __init__(self, lie: dict[str, Any]) -> None:
        terms = CampaignTerms(policy_lock(POLICY), 10**9, 500, CampaignMode.ALL_OR_NOTHING,
                              "Bakery", "https://coop.example/b")
        self.made = Tx(2, "faircoop-test", (TxIn(OutPoint(TxId(bytes(32)), 0)),),
                     (TxOut(10**8, policy_lock(POLICY)),), b"", (), terms)
        self.id = campaign_id(txid(self.made))
        self.doc = {"id": self.id.hex(), "txid": txid(self.made).hex(), "created_height": 3,
                    "beneficiary": encode_address(terms.beneficiary, "test"), "goal": 10**9,
                    "deadline": 500, "mode": "all-or-nothing", "title": "Bakery",
                    "uri": "https://coop.example/b", "pledged": 0, "pledges": 0, "pledgers": 0,
                    "status": "open", "blocks_left": 400, "time_left_ms": 400_000,
                    "block_interval_ms": 1000, **lie}

    async def campaign(self, _: str) -> dict[str, Any]:
        return self.doc

    async def tx(self, _: str) -> dict[str, Any]:
        return {"hex": encode_tx(self.made).hex()}


@pytest.mark.parametrize("lie", [
    {}, {"beneficiary": encode_address(Lock(b"\x09" * 32), "test")}, {"goal": 1},
    {"deadline": 501}, {"title": "Bakery!"}, {"mode": "keep-what-you-raise"},
    {"txid": "00" * 32},
])
def test_the_terms_are_checked_against_the_tx_that_created_the_campaign(
        lie: dict[str, Any]) -> None:
    node = LyingNode(lie)
    fetched = fetch_campaign(node, node.id, "test")  # type: ignore[arg-type]
    if not lie:
        assert asyncio.run(fetched).verified is True
        return
    with pytest.raises(NodeError, match="not those of the tx|does not hash|malformed"):
        asyncio.run(fetched)


def test_a_campaign_id_that_is_not_64_hex_digits_is_refused() -> None:
    node = LyingNode({})
    with pytest.raises(WalletError, match="64 hex digits"):
        asyncio.run(fetch_campaign(node, "abc", "test"))  # type: ignore[arg-type]
