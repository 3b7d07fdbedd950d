"""GET /rates and /rates/{currency}: the assembly's reference prices as a real chain carries them
(actions in blocks made and checked by the consensus rules), each since when and on whose
decision, at any height the chain can answer for."""

from __future__ import annotations

import pytest

from consensus.governance import Reference, SetReferenceRate, encode_action, make_action
from tests.api.api_chain import VALIDATOR_KEYS, FakeNode, fresh_node, serve
from tests.api.test_api_openapi import _response_schema, conforms
from tests.builders import CHAIN_ID

R = [Reference(f"https://coop.example/assembly/{i}", f"item {i}") for i in range(3)]


def rated_chain() -> FakeNode:
    """Height 1 sets EUR 1.25 (nonce 0), height 2 CHF 1.10 (nonce 1, no reference: version
    1), height 3 EUR 1.30 (nonce 2); each is in force two heights after its block."""
    node = fresh_node()
    sets = [(SetReferenceRate("EUR", 125_000_000), R[0]),
            (SetReferenceRate("CHF", 110_000_000), None),
            (SetReferenceRate("EUR", 130_000_000), R[2])]
    for nonce, (body, ref) in enumerate(sets):
        action = make_action(CHAIN_ID, nonce, body, (VALIDATOR_KEYS[0],), ref)
        node.commit(actions=(encode_action(action),))
    return node


def rate(currency: str, units: int, since: int, nonce: int,
         ref: Reference | None) -> dict[str, object]:
    return {"currency": currency, "units_per_coin": units, "since": since, "nonce": nonce,
            "price": f"{units // 10**8}.{units % 10**8:08d}",
            "reference": None if ref is None else {"uri": ref.uri, "text": ref.text}}


@pytest.mark.parametrize(("query", "height", "expected"), [
    ("", 4, [rate("CHF", 110_000_000, 4, 1, None), rate("EUR", 125_000_000, 3, 0, R[0])]),
    ("?height=5", 5, [rate("CHF", 110_000_000, 4, 1, None),
                      rate("EUR", 130_000_000, 5, 2, R[2])]),
    ("?height=3", 3, [rate("EUR", 125_000_000, 3, 0, R[0])]),
    ("?height=2", 2, []),
    ("?height=0", 0, []),
])
async def test_rates_in_force_at_a_height_with_since_and_reference(
        query: str, height: int, expected: list[dict[str, object]]) -> None:
    async with serve(rated_chain()) as client:
        resp = await client.get(f"/api/v1/rates{query}")
        assert resp.status == 200
        body = await resp.json()
    conforms(body, _response_schema("/api/v1/rates", "get", 200))
    assert body == {"height": height, "tip": 3, "scale": 10**8, "rates": expected,
                    "unknown": [], "currencies": ["CHF", "EUR"]}


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/rates?height=6", 400),  # past tip + 2: not decided yet
    ("/api/v1/rates?height=-1", 400),
    ("/api/v1/rates?height=x", 400),
    ("/api/v1/rates/eur", 400),
    ("/api/v1/rates/EURO12345", 400),
    ("/api/v1/rates/%00", 400),
    ("/api/v1/rates/USD", 404),
])
async def test_bad_rate_queries_are_4xx_with_a_reason(path: str, status: int) -> None:
    async with serve(rated_chain()) as client:
        resp = await client.get(path)
        assert resp.status == status
        body = await resp.json()
    conforms(body, _response_schema("/api/v1/rates", "get", status))
    assert body["error"]


async def test_a_currency_history_lists_its_kept_changes() -> None:
    async with serve(rated_chain()) as client:
        body = await (await client.get("/api/v1/rates/EUR")).json()
    conforms(body, _response_schema("/api/v1/rates/{currency}", "get", 200))
    assert body == {"currency": "EUR", "known_from": 0, "changes": [
        {"since": 3, "units_per_coin": 125_000_000, "price": "1.25000000", "nonce": 0},
        {"since": 5, "units_per_coin": 130_000_000, "price": "1.30000000", "nonce": 2}]}


async def test_the_rate_action_reads_in_words_in_the_governance_history() -> None:
    async with serve(rated_chain()) as client:
        body = await (await client.get("/api/v1/governance/history")).json()
    newest = body["actions"][0]
    assert newest["kind"] == "set_reference_rate"
    assert newest["summary"] == "set the reference rate: 1 coin = 1.30000000 EUR"
    conforms(body, _response_schema("/api/v1/governance/history", "get", 200))
