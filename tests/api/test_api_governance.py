"""Validators with the participation ledger, parameters with their ranges, governance."""

from __future__ import annotations

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import sha256
from consensus.params import PARAM_RANGES, ChainParams
from tests.api.api_chain import TREASURY, VALIDATOR_KEYS, serve, standard_chain
from tests.builders import CHAIN_ID


async def test_validators_carry_the_participation_ledger_of_the_chain_state() -> None:
    scene = standard_chain()
    state = scene.node.state
    async with serve(scene.node) as client:
        body = await (await client.get("/api/v1/validators")).json()
    assert body["height"] == 4 and body["count"] == 4 and body["quorum"] == 3
    assert body["validators_hash"] == codec.validators_hash(state.validators).hex()
    assert [v["pubkey"] for v in body["validators"]] == [k.public_key.hex() for k in VALIDATOR_KEYS]
    assert [v["index"] for v in body["validators"]] == [0, 1, 2, 3]
    for v in body["validators"]:
        p = state.participation_of(bytes.fromhex(v["pubkey"]))  # type: ignore[arg-type]
        assert (v["blocks_proposed"], v["rounds_voted"], v["proposals_missed"],
                v["missed_in_row"]) == (p.proposed, p.voted, p.missed, p.missed_in_a_row)
        assert v["in_rotation"] and not v["quarantined"] and not v["suspended"]
    # Heights 1 and 2 are attributed (height 3's certificate is not on chain yet); height 2
    # was committed in round 1, so its round-0 proposer missed.
    assert sum(v["blocks_proposed"] for v in body["validators"]) == 2
    assert sum(v["proposals_missed"] for v in body["validators"]) == 1
    assert all(v["rounds_voted"] == 2 for v in body["validators"])


async def test_params_give_every_value_and_its_range() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        body = await (await client.get("/api/v1/params")).json()
    assert body["params"] == dict(zip(PARAM_RANGES, ChainParams().as_tuple(), strict=True))
    assert body["hash"] == codec.params_hash(ChainParams()).hex()
    assert codec.decode_params(bytes.fromhex(body["hex"])) == ChainParams()
    assert body["ranges"]["min_fee_rate"] == {"min": PARAM_RANGES["min_fee_rate"][0],
                                              "max": PARAM_RANGES["min_fee_rate"][1]}
    assert set(body["ranges"]) == set(PARAM_RANGES)


async def test_governance_lists_governors_treasury_and_the_pending_action() -> None:
    scene = standard_chain()
    state = scene.node.state
    async with serve(scene.node) as client:
        body = await (await client.get("/api/v1/governance")).json()
    assert body["chain_id"] == CHAIN_ID and body["network"] == "test"
    assert body["genesis_hash"] == scene.gid.hex()
    assert body["governors"] == sorted(k.public_key.hex() for k in VALIDATOR_KEYS)
    assert body["threshold"] == 1
    assert body["treasury_lock"] == TREASURY.lock.hex()
    assert body["treasury_address"] == encode_address(TREASURY.lock, "test")
    assert body["next_nonce"] == 1  # the action at height 3 used nonce 0
    assert body["last_final"] == {"height": 3, "hash": scene.blocks[2].hex(),
                                  "time_ms": state.last_block_time_ms}
    assert body["pending"] == [{
        "id": sha256(scene.action).hex(), "kind": "set_param",
        "summary": "set min_fee_rate = 2", "nonce": 0,
        "signers": [VALIDATOR_KEYS[0].public_key.hex()], "reference": None,
        "hex": scene.action.hex(), "included_height": 3, "effective_height": 5,
    }]
    assert body["pooled"] == [] and body["recoveries"] == []


async def test_pending_action_takes_effect_two_blocks_later() -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        before = await (await client.get("/api/v1/params")).json()
        scene.node.commit()
        after = await (await client.get("/api/v1/params")).json()
        pending = (await (await client.get("/api/v1/governance")).json())["pending"]
    assert before["params"]["min_fee_rate"] == 1  # the state at 3 gives height 4's params
    assert after["params"]["min_fee_rate"] == 2  # the state at 4 gives height 5's
    assert after["hash"] != before["hash"]
    assert pending == []
