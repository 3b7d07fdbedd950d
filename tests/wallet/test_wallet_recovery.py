"""The light client follows recoveries and governance as the node does (issue 12, finding 13).

The chain is the fake chain on the node's own rules: 2-of-3 governors, a recovery wait of 10 s.
After a stall the governors install a new voting set (`FakeChain.recover`), the next block
carries the recovery and the new set certifies it. A lying node serves recovery blocks the
rules refuse (`FakeChain.mine_forged_recovery`), certified by the set they name: each is
refused, with the node's rule named. Governor and parameter changes are followed too, so a
recovery is checked against the governors and the wait in force, not the genesis ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.governance import RecoveryAction, SetGovernors, SetParam, make_recovery
from consensus.params import ChainParams
from consensus.types import COIN, BlockHash, PublicKey, SpendPolicy
from tests.wallet.wallet_cli_harness import ACCOUNTS, PAYEE, Harness
from tests.wallet.wallet_fakechain import (
    CHAIN_ID,
    FakeChain,
    funded_chain,
    governor_key,
    make_validators,
)
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet.builder import Coin, Payment, build_transaction, sign_transaction
from wallet.cli import ExitStatus
from wallet.client import NodeClient, RetryPolicy
from wallet.errors import ReceiptInvalid
from wallet.keys import RECEIVE
from wallet.lightclient import follow_header
from wallet.receipts import LightState, fetch_receipt, genesis_light_state, sync_headers
from wallet.walletfile import WalletData

FAST = RetryPolicy(attempts=2, base_delay=0.01)
WAIT = 10_000  # the chain's recovery_after_ms (the least the rules allow)
KEY = PrivateKey((11).to_bytes(32, "big"))
POLICY = SpendPolicy.single(KEY.public_key)
LOCK = codec.policy_lock(POLICY)
PAYEE_LOCK = codec.policy_lock(SpendPolicy.single(PrivateKey((12).to_bytes(32, "big"))
                                                  .public_key))


def stalled_chain(lock: bytes = LOCK) -> FakeChain:
    """Two blocks, then a stall: the state is at height 2."""
    c = funded_chain([lock], [50 * COIN], ChainParams(recovery_after_ms=WAIT), n_governors=3,
                     governor_threshold=2)
    c.mine()
    c.mine()
    return c


def pay(chain: FakeChain, amount: int) -> bytes:
    coins = [Coin(op, o.amount, POLICY) for op, o in chain.utxos_of(LOCK)]
    unsigned = build_transaction(coins, [Payment(PAYEE_LOCK, amount)], fee_rate=1,
                                 params=chain.state.params, chain_id=CHAIN_ID,
                                 change_policy=POLICY)
    tx = sign_transaction(unsigned, {KEY.public_key: KEY})
    chain.submit(tx)
    return codec.txid(tx)


async def follow(chain: FakeChain, fake: FakeNode | None = None) -> LightState:
    with serve(fake or FakeNode(chain)) as url:
        async with NodeClient(url, retry=FAST) as client:
            return await sync_headers(client, genesis_light_state(chain.genesis))


async def test_the_wallet_follows_a_recovery_and_proves_a_later_payment_final() -> None:
    chain = stalled_chain()
    chain.recover(3, seed=5)
    chain.mine()  # height 3: carries the recovery, certified by the new set
    chain.mine()
    tid = pay(chain, COIN)  # height 5
    with serve(FakeNode(chain)) as url:
        async with NodeClient(url, retry=FAST) as client:
            state = await sync_headers(client, genesis_light_state(chain.genesis))
            assert state.height == chain.height and state.header_hash == chain.tip_id
            assert state.recoveries == (3,)
            new_set = codec.validators_hash(make_validators(3, 5)[1])
            assert state.set_hash_at(2) != new_set and state.set_hash_at(3) == new_set
            _, state, verified = await fetch_receipt(client, state, tid.hex(), "test")
    assert verified.height == 5 and verified.signers == 3 and verified.set_size == 3
    assert LightState.from_json(json.loads(json.dumps(state.to_json()))) == state


def _signed_by(chain: FakeChain, keys: list[PrivateKey], **binding: object) -> RecoveryAction:
    st = chain.state
    height = int(binding.get("height", st.height))  # type: ignore[call-overload]
    last = binding.get("last", st.last_block_id)
    chain_id = str(binding.get("chain_id", CHAIN_ID))
    _, vals = make_validators(3, 6)
    for k in make_validators(3, 6)[0]:
        chain.key_of[k.public_key] = k
    return make_recovery(chain_id, height, BlockHash(bytes(last)), vals,  # type: ignore[arg-type]
                         tuple(keys))


@dataclass(frozen=True)
class Tampered:
    name: str
    action: Callable[[FakeChain], RecoveryAction]
    wait: int  # the block's time after its parent's
    rule: str


STRANGERS = [PrivateKey((8_000 + i).to_bytes(32, "big")) for i in range(3)]
TAMPERED = [
    Tampered("one governor of a 2-of-3", lambda c: _signed_by(c, c.governor_keys[:1]), WAIT,
             "below_threshold"),
    Tampered("signed by strangers", lambda c: _signed_by(c, STRANGERS[:2]), WAIT,
             "not_a_governor"),
    Tampered("a stranger beside the governors",
             lambda c: _signed_by(c, [*c.governor_keys[:2], STRANGERS[0]]), WAIT,
             "not_a_governor"),
    Tampered("bound to the parent's parent",
             lambda c: _signed_by(c, c.governor_keys[:2], height=1, last=c.blocks[0].block_id),
             WAIT, "recovery_not_at_tip"),
    Tampered("bound to another block at the tip's height",
             lambda c: _signed_by(c, c.governor_keys[:2], last=bytes(32)), WAIT,
             "recovery_not_at_tip"),
    Tampered("too early", lambda c: _signed_by(c, c.governor_keys[:2]), WAIT - 1,
             "recovery_too_early"),
    Tampered("for another chain", lambda c: _signed_by(c, c.governor_keys[:2],
                                                       chain_id="other-chain"), WAIT,
             "wrong_chain"),
]


@pytest.mark.parametrize("case", TAMPERED, ids=[c.name for c in TAMPERED])
async def test_a_recovery_the_rules_refuse_is_refused(case: Tampered) -> None:
    chain = stalled_chain()
    parent_time = chain.state.last_block_time_ms
    chain.mine_forged_recovery(case.action(chain), parent_time + case.wait)
    with pytest.raises(ReceiptInvalid, match=f"header 3 carries a recovery the rules refuse "
                                             f"\\({case.rule}"):
        await follow(chain)


async def test_a_recovery_by_retired_governors_is_refused_and_by_new_ones_followed() -> None:
    """Governors 0-1 hand over to 3-4 at height 1 (in force at 3): only the new ones count."""
    chain = funded_chain([LOCK], [50 * COIN], ChainParams(recovery_after_ms=WAIT),
                         n_governors=3, governor_threshold=2)
    new = [governor_key(3), governor_key(4)]
    chain.govern(SetGovernors(tuple(sorted(PublicKey(k.public_key) for k in new)), 2))
    for _ in range(3):
        chain.mine()
    retired = _signed_by(chain, chain.governor_keys[:2])
    parent_time = chain.state.last_block_time_ms
    saved = list(chain.blocks)
    chain.mine_forged_recovery(retired, parent_time + WAIT)
    with pytest.raises(ReceiptInvalid, match="not_a_governor"):
        await follow(chain)
    chain.blocks[:] = saved  # the honest node: the new governors recover instead
    chain.recover(3, seed=7, signers=new)
    chain.mine()
    state = await follow(chain)
    assert state.recoveries == (4,) and state.governance.governors == tuple(
        sorted(PublicKey(k.public_key) for k in new))


async def test_the_recovery_wait_is_the_one_governance_set() -> None:
    """recovery_after_ms raised to 60 s at height 1: a recovery after 10 s is now too early."""
    chain = funded_chain([LOCK], [50 * COIN], ChainParams(recovery_after_ms=WAIT),
                         n_governors=3, governor_threshold=2)
    chain.govern(SetParam("recovery_after_ms", 60_000))
    for _ in range(3):
        chain.mine()
    saved = list(chain.blocks)
    early = _signed_by(chain, chain.governor_keys[:2])
    chain.mine_forged_recovery(early, chain.state.last_block_time_ms + WAIT)
    with pytest.raises(ReceiptInvalid, match="recovery_too_early"):
        await follow(chain)
    chain.blocks[:] = saved
    chain.recover(3, seed=8)
    chain.mine()
    state = await follow(chain)
    assert state.recoveries == (4,) and state.governance.params.recovery_after_ms == 60_000


async def test_a_node_that_withholds_or_swaps_a_blocks_actions_is_caught() -> None:
    chain = stalled_chain()
    chain.recover(3, seed=5)
    chain.mine()
    recovery_block = chain.blocks[-1]
    with serve(FakeNode(chain)) as url:
        async with NodeClient(url, retry=FAST) as client:
            async def other_block(_: str) -> object:
                return {"hex": codec.encode_block(chain.blocks[0].block).hex()}

            client.block_raw = other_block  # type: ignore[method-assign]
            with pytest.raises(ReceiptInvalid, match="another block"):
                await sync_headers(client, genesis_light_state(chain.genesis))
    # a header claiming actions that are not the block's
    state = genesis_light_state(chain.genesis)
    for rec in chain.blocks[:2]:
        state = follow_header(state, rec.header, rec.certificate)
    with pytest.raises(ReceiptInvalid, match="was not given"):
        follow_header(state, recovery_block.header, recovery_block.certificate)
    with pytest.raises(ReceiptInvalid, match="not the ones it commits to"):
        follow_header(state, recovery_block.header, recovery_block.certificate, actions=())
    followed = follow_header(state, recovery_block.header, recovery_block.certificate,
                             actions=recovery_block.block.actions)
    assert followed.recoveries == (3,)


def test_a_followed_state_from_before_governance_is_dropped_and_followed_again() -> None:
    chain = stalled_chain()
    state = genesis_light_state(chain.genesis)
    legacy = {k: v for k, v in state.to_json().items()
              if k not in ("governance", "network", "header_time_ms", "recoveries")}
    assert LightState.is_legacy(legacy) and not LightState.is_legacy(state.to_json())
    data = WalletData("test", CHAIN_ID, chain.genesis_id, 0, ACCOUNTS[0].xpub, True, 0, 0, 0,
                      (), state)
    doc = json.loads(data.to_json())
    doc["light_client"] = legacy
    assert WalletData.from_json(json.dumps(doc)).light is None
    assert WalletData.from_json(data.to_json()).light == state


def test_the_cli_syncs_across_a_recovery_and_verifies_a_later_receipt(tmp_path: Path) -> None:
    chain = stalled_chain(ACCOUNTS[0].watch().lock(RECEIVE, 0))
    chain.recover(4, seed=9)
    chain.mine()
    with serve(FakeNode(chain)) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0
        synced = h.run("sync", "--json")
        assert synced.code == 0, synced.err
        assert synced.doc["height"] == 3 and synced.doc["recoveries"] == [3]
        assert "a recovery" in h.run("sync").out
        paid = h.run("send", PAYEE, "1", "--yes", "--wait", "--json")
        assert paid.code == 0, paid.err
        assert paid.doc["receipt"]["validators"] == 4
        out = tmp_path / "receipt.json"
        assert h.run("receipt", "export", paid.doc["txid"], "--out", str(out)).code == 0
        verified = h.run("receipt", "verify", str(out), "--json")
        assert verified.code == 0 and verified.doc["height"] == 4
        # a forged recovery on top: sync refuses it with NOT_FINAL, naming the rule
        forged = _signed_by(chain, STRANGERS[:2])
        chain.mine_forged_recovery(forged, chain.state.last_block_time_ms + WAIT)
        refused = h.run("sync", "--json")
        assert refused.code == ExitStatus.NOT_FINAL
        assert "not_a_governor" in refused.doc["error"]["message"]

