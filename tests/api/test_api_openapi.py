"""The OpenAPI document: valid OpenAPI 3, the same routes as the app, and true of the answers.

The document is written by hand, so these tests are what keeps it honest: every routed path and
method is documented and nothing else is, and every JSON answer of the test chain (successes
and errors alike) matches the schema the document gives for it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web

from consensus import codec
from consensus.address import encode_address
from consensus.governance import Reference, encode_block_action, make_recovery
from faircoop_node.api import create_app
from faircoop_node.api.openapi import DOCUMENT
from tests.api.api_campaign_scene import campaign_chain
from tests.api.api_chain import ALICE, CAROL, VALIDATOR_KEYS, serve, standard_chain
from tests.builders import CHAIN_ID

Schema = dict[str, Any]


def _routes(app: web.Application) -> set[tuple[str, str]]:
    return {(r.method.lower(), r.resource.canonical)  # type: ignore[union-attr]
            for r in app.router.routes() if r.method != "HEAD"}


def _documented() -> set[tuple[str, str]]:
    return {(method, path) for path, ops in DOCUMENT["paths"].items() for method in ops}


def test_every_route_is_documented_and_every_documented_path_is_routed() -> None:
    app = create_app(standard_chain().node)  # type: ignore[arg-type]
    routed, documented = _routes(app), _documented()
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented paths with no route"
    assert ("get", "/metrics") in routed and ("get", "/api/v1/openapi.json") in routed


def test_document_passes_openapi_spec_validator() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(DOCUMENT)


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_document_structure_refs_resolve_and_path_parameters_are_declared() -> None:
    """The checks a validator makes that matter most, done here without one."""
    assert DOCUMENT["openapi"].startswith("3.0.")
    assert {"title", "version"} <= set(DOCUMENT["info"])
    schemas = DOCUMENT["components"]["schemas"]
    for ref in _refs(DOCUMENT):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    for path, ops in DOCUMENT["paths"].items():
        assert path.startswith("/")
        template_params = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            assert method in ("get", "post")
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == template_params, f"{method} {path}"
            assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")
            assert "200" in op["responses"]
            for status, response in op["responses"].items():
                assert response["description"]
                if status.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}


# -- answers match their schemas ---------------------------------------------------------------


def conforms(value: object, schema: Schema, where: str = "$") -> None:
    """A small validator for the subset of schema keywords the document uses."""
    if "$ref" in schema:
        conforms(value, DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], where)
        return
    if value is None:
        assert schema.get("nullable"), f"{where} is null but not nullable"
        return
    kind = schema.get("type")
    python = {"object": dict, "array": list, "string": str, "boolean": bool}.get(kind or "")
    if kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r}"
        assert value >= schema.get("minimum", value), f"{where} below minimum"
    elif python is not None:
        assert isinstance(value, python), f"{where}: expected {kind}, got {value!r}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r} !~ {schema['pattern']}"  # type: ignore[arg-type]
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r}"
    if kind == "object" and "properties" in schema:
        assert isinstance(value, dict)
        missing = set(schema.get("required", ())) - set(value)
        assert not missing, f"{where} lacks {missing}"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(schema["properties"])
            assert not extra, f"{where} has undocumented keys {extra}"
        for k, v in value.items():
            conforms(v, schema["properties"][k], f"{where}.{k}")
    if kind == "array":
        assert isinstance(value, list)
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")


def _response_schema(path: str, method: str, status: int) -> Schema:
    responses = DOCUMENT["paths"][path][method]["responses"]
    response = responses.get(str(status))
    if response is None:  # any route may answer 404/405 through the middleware
        return {"$ref": "#/components/schemas/Error"}
    return response["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


async def test_every_json_answer_of_the_test_chain_matches_its_schema() -> None:
    scene = standard_chain()
    b1, gid = scene.blocks[0].hex(), scene.gid.hex()
    pay, pending = codec.txid(scene.pay_bob).hex(), codec.txid(scene.pending).hex()
    vh = codec.validators_hash(scene.node.state.validators).hex()
    alice = encode_address(ALICE.lock, "test")
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("/api/v1/status", "", {}), ("/api/v1/genesis", "", {}),
        ("/api/v1/block/{hash}", "", {"hash": b1}), ("/api/v1/block/{hash}", "", {"hash": gid}),
        ("/api/v1/block/{hash}", "", {"hash": "00" * 32}),
        ("/api/v1/block/{hash}", "", {"hash": "nothex"}),
        ("/api/v1/block/{hash}/txids", "", {"hash": b1}),
        ("/api/v1/block/{hash}/raw", "", {"hash": b1}),
        ("/api/v1/headers", "?from=1", {}), ("/api/v1/headers", "?from=0", {}),
        ("/api/v1/validator-set/{hash}", "", {"hash": vh}),
        ("/api/v1/tx/{txid}", "", {"txid": pay}), ("/api/v1/tx/{txid}", "", {"txid": pending}),
        ("/api/v1/tx/{txid}/status", "", {"txid": pay}),
        ("/api/v1/tx/{txid}/status", "", {"txid": pending}),
        ("/api/v1/tx/{txid}/proof", "", {"txid": pay}),
        ("/api/v1/tx/{txid}/proof", "", {"txid": pending}),
        ("/api/v1/address/{address}", "", {"address": alice}),
        ("/api/v1/address/{address}", "", {"address": "typo"}),
        ("/api/v1/address/{address}/utxo", "", {"address": alice}),
        ("/api/v1/address/{address}/txs", "", {"address": alice}),
        ("/api/v1/validators", "", {}), ("/api/v1/params", "", {}),
        ("/api/v1/governance", "", {}), ("/api/v1/mempool", "", {}),
        ("/api/v1/governance/history", "", {}), ("/api/v1/governance/history", "?limit=1", {}),
        ("/api/v1/governance/history", "?after=3.0", {}),
        ("/api/v1/governance/history", "?after=x", {}),
        ("/api/v1/openapi.json", "", {}),
        ("/api/v1/credit", "", {}), ("/api/v1/credit/{address}", "", {"address": alice}),
        ("/api/v1/credit/{address}", "", {"address": "typo"}),
        ("/api/v1/credit/{address}/history", "", {"address": alice}),
        ("/api/v1/rates", "", {}), ("/api/v1/rates", "?height=99", {}),
        ("/api/v1/rates/{currency}", "", {"currency": "EUR"}),
        ("/api/v1/rates/{currency}", "", {"currency": "eur"}),
    ]
    async with serve(scene.node) as client:
        seen = await _conform_all(client, requests)
        for body, status in ((codec.encode_tx(scene.pay_bob).hex(), 400), ("zz", 400)):
            resp = await client.post("/api/v1/tx", data=body)
            assert resp.status == status
            conforms(await resp.json(), _response_schema("/api/v1/tx", "post", status))
        recovery = encode_block_action(make_recovery(
            CHAIN_ID, 3, scene.blocks[2], scene.node.state.validators, (VALIDATOR_KEYS[0],),
            Reference("https://coop.example/a#1", "item 1")))
        for raw, status in ((recovery, 200), (recovery, 200), (scene.action, 409),
                            (b"\x93\x01", 400), (b"\x00" * 70_000, 413)):
            resp = await client.post("/api/v1/actions", json={"action": raw.hex()})
            assert resp.status == status
            conforms(await resp.json(), _response_schema("/api/v1/actions", "post", status))
        body = await (await client.get("/api/v1/governance")).json()
        assert body["recoveries"]  # the held recovery's shape, checked too
        conforms(body, _response_schema("/api/v1/governance", "get", 200))
    seen |= await _campaign_answers_conform()
    json_gets = {p for p, ops in DOCUMENT["paths"].items() if "get" in ops and "application/json"
                 in ops["get"]["responses"]["200"]["content"]}
    assert json_gets <= seen, f"JSON endpoints not exercised: {json_gets - seen}"


async def _campaign_answers_conform() -> set[str]:
    """The campaign and treasury endpoints, on the campaign scene (api_campaign_scene.py)."""
    scene = campaign_chain()
    won, kept = scene.won.hex(), scene.kept.hex()
    made = scene.node.store.get_campaign(scene.won)
    assert made is not None
    carol = encode_address(CAROL.lock, "test")
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("/api/v1/campaigns", "", {}), ("/api/v1/campaigns", "?status=open&limit=1", {}),
        ("/api/v1/campaigns", "?status=nope", {}),
        ("/api/v1/campaign/{id}", "", {"id": won}), ("/api/v1/campaign/{id}", "", {"id": kept}),
        ("/api/v1/campaign/{id}", "", {"id": "00" * 32}),
        ("/api/v1/campaign/{id}/pledges", "", {"id": kept}),
        ("/api/v1/campaign/{id}/pledgers", "", {"id": won}),
        ("/api/v1/pledges/{address}", "", {"address": carol}),
        ("/api/v1/treasury", "", {}), ("/api/v1/treasury", "?days=0", {}),
        ("/api/v1/tx/{txid}", "", {"txid": made.txid.hex()}),
        ("/api/v1/tx/{txid}", "", {"txid": codec.txid(scene.grant).hex()}),
    ]
    async with serve(scene.node) as client:
        return await _conform_all(client, requests)


async def _conform_all(client: Any, requests: list[tuple[str, str, dict[str, str]]]
                       ) -> set[str]:
    """GET each (path template, query, path parameters); every answer matches its schema.
    The templates asked."""
    seen = set()
    for template, query, params in requests:
        url = template.format(**params) + query
        resp = await client.get(url)
        assert resp.status < 500
        conforms(await resp.json(), _response_schema(template, "get", resp.status), url)
        seen.add(template)
    return seen


@pytest.mark.parametrize(
    ("value", "schema"),
    [({"error": "x", "extra": 1}, {"$ref": "#/components/schemas/Error"}),
     ({"rule": "x"}, {"$ref": "#/components/schemas/Error"}),
     ({"hash": "AB" * 32, "hex": ""}, {"$ref": "#/components/schemas/Genesis"}),
     ({"txid": None}, {"$ref": "#/components/schemas/TxSubmitted"}),
     ([{"txid": "00" * 32, "index": -1, "amount": 1, "height": 0}],
      {"type": "array", "items": {"$ref": "#/components/schemas/Utxo"}})],
)
def test_the_schema_checker_rejects_answers_that_break_the_document(value: object,
                                                                    schema: Schema) -> None:
    with pytest.raises(AssertionError):
        conforms(value, schema)
