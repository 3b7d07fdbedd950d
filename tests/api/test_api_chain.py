"""Chain endpoints: status, genesis, tip, blocks by height and hash, headers, validator sets.

Each answer is checked against the store's own objects, and the certificates a client receives
are verified the way a wallet would: against the validator set the header names.
"""

from __future__ import annotations

import pytest

from consensus import codec
from consensus.certificate import verify_certificate
from consensus.crypto import sha256
from tests.api.api_chain import CHAIN_ID, serve, standard_chain


async def test_status_reports_chain_tip_and_live_node_facts() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get("/api/v1/status")
        assert resp.status == 200
        body = await resp.json()
    assert body == {
        "chain_id": CHAIN_ID, "network": "test", "genesis_hash": scene.gid.hex(), "height": 3,
        "tip_hash": scene.blocks[2].hex(), "round": 2, "peers": 3, "mempool_size": 1,
        "node_id": "ab" * 33, "validator": True,
    }


async def test_genesis_hex_decodes_to_the_stores_genesis_and_hash() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get("/api/v1/genesis")).json()
    genesis = codec.decode_genesis(bytes.fromhex(body["hex"]))
    assert genesis == scene.node.genesis
    assert body["hash"] == codec.genesis_hash(genesis).hex() == scene.gid.hex()


async def test_tip_height_and_hash_are_plain_text() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        height = await client.get("/api/v1/blocks/tip/height")
        tip = await client.get("/api/v1/blocks/tip/hash")
        assert height.content_type == tip.content_type == "text/plain"
        assert await height.text() == "3"
        assert await tip.text() == scene.blocks[2].hex()


@pytest.mark.parametrize(
    ("height", "status", "expect"),
    [("0", 200, "genesis"), ("1", 200, 0), ("3", 200, 2), ("4", 404, None),
     ("18446744073709551615", 404, None), ("18446744073709551616", 400, None),
     ("-1", 400, None), ("1.0", 400, None), ("0x1", 400, None), ("abc", 400, None),
     ("１", 400, None)],
)
async def test_block_height_maps_heights_to_hashes_and_refuses_junk(
    height: str, status: int, expect: object
) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/block-height/{height}")
        assert resp.status == status
        if status == 200:
            want = scene.gid if expect == "genesis" else scene.blocks[expect]  # type: ignore[index]
            assert resp.content_type == "text/plain"
            assert await resp.text() == want.hex()
        else:
            body = await resp.json()
            assert isinstance(body["error"], str) and body["error"]


async def test_block_summary_matches_the_stored_block_and_its_certificate_verifies() -> None:
    scene = standard_chain()
    store = scene.node.store
    async with serve(scene.node) as client:
        for height, block_id in enumerate(scene.blocks, start=1):
            body = await (await client.get(f"/api/v1/block/{block_id.hex()}")).json()
            block = store.get_block(block_id)
            assert block is not None
            header = codec.decode_header(bytes.fromhex(body["header_hex"]))
            assert header == block.header and codec.block_hash(header) == block_id
            assert (body["height"], body["tx_count"], body["time_ms"]) == (
                height, len(block.txs), block.header.time_ms)
            assert body["prev_hash"] == block.header.prev_hash.hex()
            assert body["proposer"] == block.header.proposer.hex()
            vs = await (await client.get(
                f"/api/v1/validator-set/{header.validators_hash.hex()}")).json()
            keys = tuple(bytes.fromhex(v["pubkey"]) for v in vs["validators"])
            verify_certificate(bytes.fromhex(body["certificate_hex"]), block_id, keys,  # type: ignore[arg-type]
                               CHAIN_ID, height)


async def test_genesis_in_the_block_shape_has_no_header_and_no_raw_encoding() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/block/{scene.gid.hex()}")).json()
        assert body["height"] == 0 and body["header_hex"] is None and body["tx_count"] == 0
        assert await (await client.get(f"/api/v1/block/{scene.gid.hex()}/txids")).json() == []
        raw = await client.get(f"/api/v1/block/{scene.gid.hex()}/raw")
        assert raw.status == 404 and "genesis" in (await raw.json())["error"]


async def test_block_txids_and_raw_round_trip() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        b2 = scene.blocks[1]
        txids = await (await client.get(f"/api/v1/block/{b2.hex()}/txids")).json()
        assert txids == [codec.txid(scene.bob_to_carol).hex()]
        raw = await (await client.get(f"/api/v1/block/{b2.hex().upper()}/raw")).json()
        assert codec.decode_block(bytes.fromhex(raw["hex"])) == scene.node.store.get_block(b2)


@pytest.mark.parametrize(
    ("suffix", "status", "fragment"),
    [("", 404, "no block"), ("/txids", 404, "no block"), ("/raw", 404, "no block")],
)
async def test_unknown_block_hash_is_a_json_404(suffix: str, status: int, fragment: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/block/{'00' * 32}{suffix}")
        assert resp.status == status
        assert fragment in (await resp.json())["error"]


@pytest.mark.parametrize("bad", ["00" * 31, "00" * 33, "zz" * 32, "0" * 63, "g" + "0" * 63])
async def test_malformed_block_hash_is_a_400_naming_the_problem(bad: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/block/{bad}")
        assert resp.status == 400
        assert "block hash" in (await resp.json())["error"]


@pytest.mark.parametrize(
    ("query", "heights"),
    [("from=1", [1, 2, 3]), ("from=2&count=1", [2]), ("from=3&count=1000", [3]),
     ("from=4", []), ("from=1&count=2", [1, 2])],
)
async def test_headers_come_in_order_with_certificates(query: str, heights: list[int]) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/headers?{query}")).json()
    assert [h["height"] for h in body] == heights
    for item in body:
        header = codec.decode_header(bytes.fromhex(item["header_hex"]))
        want = scene.blocks[header.height - 1].hex()
        assert codec.block_hash(header).hex() == item["hash"] == want
        assert item["certificate_hex"] == scene.node.store.get_certificate(header.height).hex()


@pytest.mark.parametrize(
    "query", ["", "from=0", "from=-1", "from=x", "from=1&count=0", "from=1&count=1001",
              "from=1&count=1e3", "from=99999999999999999999999"],
)
async def test_headers_refuse_bad_ranges_with_400(query: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(f"/api/v1/headers?{query}")
        assert resp.status == 400
        assert (await resp.json())["error"]


async def test_validator_set_serves_the_encoding_its_hash_names() -> None:
    scene = standard_chain()
    vh = codec.validators_hash(scene.node.state.validators)
    async with serve(scene.node) as client:
        body = await (await client.get(f"/api/v1/validator-set/{vh.hex()}")).json()
        missing = await client.get(f"/api/v1/validator-set/{'11' * 32}")
        assert missing.status == 404
    assert sha256(bytes.fromhex(body["hex"])).hex() == body["hash"] == vh.hex()
    assert [(v["name"], v["pubkey"]) for v in body["validators"]] == [
        (v.name, v.pubkey.hex()) for v in scene.node.state.validators]


async def test_a_failing_store_is_a_503_json_not_a_client_error() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        scene.node.store.close()
        resp = await client.get(f"/api/v1/block/{scene.blocks[0].hex()}")
        assert resp.status == 503
        assert "store" in (await resp.json())["error"]
