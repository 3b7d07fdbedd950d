"""Addresses: balances, UTXOs and history from the store's index; bad addresses are clear 400s."""

from __future__ import annotations

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.ledger import treasury_outpoint
from consensus.types import COIN, OutPoint, TxId
from tests.api.api_chain import ALICE, BOB, CAROL, FEE, TREASURY, serve, standard_chain


def _addr(lock: bytes, network: str = "test") -> str:
    return encode_address(lock, network)


@pytest.mark.parametrize(
    ("who", "balance", "utxos", "delta"),
    [
        # alice: 50 + 7 at genesis; paid bob 5 + FEE; pending spends her 45 - FEE change
        # and returns 44 - 2 FEE.
        ("alice", 52 * COIN - FEE, 2, -COIN - FEE),
        ("bob", 0, 0, 0),
        ("carol", 25 * COIN - FEE + FEE - 1_000, 2, COIN),
        # the treasury got FEE at heights 1 and 2 and 1_000 at 3, and spent height 1's at 3
        ("treasury", FEE + 1_000, 2, 0),
    ],
)
async def test_address_summary_matches_the_ledger(who: str, balance: int, utxos: int,
                                                  delta: int) -> None:
    scene = standard_chain()
    lock = {"alice": ALICE, "bob": BOB, "carol": CAROL, "treasury": TREASURY}[who].lock
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/address/{_addr(lock)}")).json()
    assert body["address"] == _addr(lock) and body["lock"] == lock.hex()
    assert (body["balance"], body["utxo_count"], body["mempool_balance_delta"]) == (
        balance, utxos, delta)
    assert body["tx_count"] == scene.node.store.get_address_summary(lock).tx_count


async def test_upper_case_address_is_the_same_address() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/address/{_addr(ALICE.lock).upper()}")).json()
    assert body["address"] == _addr(ALICE.lock)


async def test_utxo_list_names_each_unspent_output_with_its_height() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/address/{_addr(TREASURY.lock)}/utxo")).json()
        limited = await (await client.get(
            f"/api/v1/address/{_addr(ALICE.lock)}/utxo?limit=1")).json()
    fee_outputs = {(treasury_outpoint(scene.blocks[1]), FEE, 2),
                   (treasury_outpoint(scene.blocks[2]), 1_000, 3)}
    assert {(OutPoint(TxId(bytes.fromhex(u["txid"])), u["index"]), u["amount"], u["height"])
            for u in body} == fee_outputs
    assert len(body) == 2
    assert len(limited) == 1


async def test_history_is_newest_first_and_pages_with_before() -> None:
    scene = standard_chain()
    carol = _addr(CAROL.lock)
    async with serve(scene.node) as client:
        full = await (await client.get(f"/api/v1/address/{carol}/txs")).json()
        first = await (await client.get(f"/api/v1/address/{carol}/txs?limit=1")).json()
        last = first[-1]
        rest = await (await client.get(
            f"/api/v1/address/{carol}/txs?before_height={last['height']}"
            f"&before_position={last['position']}")).json()
    assert full == [
        {"txid": codec.txid(scene.treasury_spend).hex(), "height": 3, "position": 0},
        {"txid": codec.txid(scene.bob_to_carol).hex(), "height": 2, "position": 0},
    ]
    assert first + rest == full


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("tfair1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsqqqqq", "not a valid address"),
        ("nonsense", "not a valid address"),
        ("x" * 300, "not a valid address"),
    ],
)
async def test_malformed_address_is_a_400_with_the_address_error(address: str,
                                                                 fragment: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        for suffix in ("", "/utxo", "/txs"):
            resp = await client.get(f"/api/v1/address/{address}{suffix}")
            assert resp.status == 400
            assert fragment in (await resp.json())["error"]


async def test_typo_in_a_real_address_fails_its_checksum() -> None:
    scene = standard_chain()
    good = _addr(ALICE.lock)
    typo = good[:-3] + ("q" if good[-3] != "q" else "p") + good[-2:]
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/address/{typo}")
        assert resp.status == 400
        assert "checksum" in (await resp.json())["error"]


async def test_main_network_address_on_a_test_node_says_which_network() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/address/{_addr(ALICE.lock, 'main')}/utxo")
        assert resp.status == 400
        message = (await resp.json())["error"]
    assert "main network" in message and "test network" in message


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=10001", "limit=-1", "limit=a", "before_height=1",
              "before_position=0", "before_height=x&before_position=0"],
)
async def test_bad_paging_parameters_are_400(query: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/address/{_addr(CAROL.lock)}/txs?{query}")
        assert resp.status == 400 and (await resp.json())["error"]
