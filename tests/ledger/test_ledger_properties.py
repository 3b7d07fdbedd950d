"""Hypothesis properties of the ledger over random chains of valid blocks.

Each example grows a chain from a genesis with single-key and multisig allocations: blocks of
random payments, splits (one input, many outputs), merges (many inputs), multisig and treasury
spends, and in-block chains (spending an output made earlier in the same block). A plain model
(a dict of coins, updated by hand) predicts the UTXO set after every block, and:

- the ledger's UTXO set equals the model's, and the total supply always equals the genesis
  allocations exactly (fees move to the treasury; nothing is created or burnt);
- a double spend is never accepted: re-spending any outpoint already spent, two txs of one
  block spending one outpoint, or one tx naming an input twice, are all rejected and leave the
  UTXO set untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from consensus.codec import block_hash, genesis_hash, txid
from consensus.crypto import PrivateKey
from consensus.errors import DoubleSpend
from consensus.ledger import MemoryUtxoSet, apply_block, genesis_diff, total_supply, validate_tx
from consensus.params import ChainParams
from consensus.types import BlockHash, OutPoint, SpendPolicy, Tx, TxOut
from tests.builders import CHAIN_ID, key, lock, make_block, make_genesis, make_tx, multisig, single

KEYS = [key(100 + i) for i in range(6)]
BY_PUB: dict[bytes, PrivateKey] = {k.public_key: k for k in KEYS}
TREASURY = multisig(1, KEYS[4:6])
POLICIES: list[SpendPolicy] = [
    single(KEYS[0]), single(KEYS[1]), single(KEYS[2]),
    multisig(2, KEYS[0:3]),  # a 2-of-3 coop treasury
    multisig(3, KEYS[1:4]),  # 3-of-3
    TREASURY,
]
PARAMS = ChainParams()  # min_fee_rate 1, dust_limit 1000
DUST = PARAMS.dust_limit
ALLOCATIONS = [(POLICIES[i % len(POLICIES)], 1_000_000 * (i + 1)) for i in range(8)]
GENESIS = make_genesis([(lock(p), a) for p, a in ALLOCATIONS], params=PARAMS,
                       treasury_lock=lock(TREASURY))
SUPPLY = sum(a for _, a in ALLOCATIONS)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Coin:
    out: TxOut
    policy: SpendPolicy


def _genesis_model() -> dict[OutPoint, Coin]:
    gid = genesis_hash(GENESIS)
    return {OutPoint(gid, i): Coin(TxOut(a, lock(p)), p)  # type: ignore[arg-type]
            for i, (p, a) in enumerate(ALLOCATIONS)}


def _signers(data: st.DataObject, policy: SpendPolicy) -> list[PrivateKey]:
    chosen = data.draw(st.lists(st.sampled_from(policy.pubkeys), min_size=policy.threshold,
                                max_size=policy.threshold, unique=True))
    return [BY_PUB[p] for p in chosen]


def _draw_tx(data: st.DataObject, available: dict[OutPoint, Coin]) -> Tx | None:
    """A valid tx over `available` coins, or None when they can't pay for one."""
    fee = data.draw(st.integers(2_000, 5_000), label="fee")
    candidates = sorted((op for op, c in available.items() if c.out.amount >= fee + DUST),
                        key=lambda op: (op.txid, op.index))
    if not candidates:
        return None
    inputs = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique=True),
                       label="inputs")
    spendable = sum(available[op].out.amount for op in inputs) - fee
    n_out = min(data.draw(st.integers(1, 4), label="outputs"), spendable // DUST)
    # n_out - 1 cut points split `spendable` into parts of at least DUST each.
    spare = spendable - n_out * DUST
    cuts = sorted(data.draw(st.lists(st.integers(0, spare), min_size=n_out - 1,
                                     max_size=n_out - 1)))
    parts = [b - a + DUST for a, b in zip([0, *cuts], [*cuts, spare], strict=True)]
    locks = [lock(data.draw(st.sampled_from(POLICIES))) for _ in parts]
    spends = [(op, available[op].policy, _signers(data, available[op].policy)) for op in inputs]
    for op in inputs:
        event(f"spend of a {available[op].policy.threshold}-of-"
              f"{len(available[op].policy.pubkeys)} coin")
    event("merge" if len(inputs) > 1 else "single input")
    event("split" if n_out > 1 else "single output")
    return make_tx(spends, list(zip(locks, parts, strict=True)))


def _signed_spend(op: OutPoint, coin: Coin, pay_to: SpendPolicy, marker: int) -> Tx:
    """A correctly signed tx spending `op` (marker makes distinct txs over the same coin).

    The output is never below the dust limit, so the tx breaks no rule checked before the
    inputs are looked up; whether the coin can still pay for it is the ledger's question.
    """
    amount = max(DUST + marker, coin.out.amount - 5_000 - marker)
    signers = [BY_PUB[p] for p in coin.policy.pubkeys[:coin.policy.threshold]]
    return make_tx([(op, coin.policy, signers)], [(lock(pay_to), amount)])


def _assert_rejected_as_double_spend(block_txs: list[Tx], utxos: MemoryUtxoSet, height: int,
                                     prev: BlockHash, rules: set[str]) -> None:
    before = dict(utxos.utxos)
    block = make_block(block_txs, height=height, prev_hash=prev)
    with pytest.raises(DoubleSpend) as info:
        apply_block(block, block_hash(block.header), utxos, PARAMS, treasury_lock=lock(TREASURY))
    assert info.value.rule in rules
    assert utxos.utxos == before


@SETTINGS
@given(st.data())
def test_supply_is_conserved_and_double_spends_never_accepted(data: st.DataObject) -> None:
    utxos = MemoryUtxoSet()
    utxos.apply(genesis_diff(GENESIS, genesis_hash(GENESIS)))
    model = _genesis_model()
    spent_ever: dict[OutPoint, Coin] = {}
    prev: BlockHash = genesis_hash(GENESIS)
    n_blocks = data.draw(st.integers(1, 5), label="blocks")
    for height in range(1, n_blocks + 1):
        # Build a valid block against the model, chaining within the block where drawn.
        available = dict(model)
        txs: list[Tx] = []
        fees = 0
        for _ in range(data.draw(st.integers(0, 4), label="txs")):
            tx = _draw_tx(data, available)
            if tx is None:
                break
            tid = txid(tx)
            for i in tx.inputs:
                spent_ever[i.prevout] = available.pop(i.prevout)
            fees += (sum(spent_ever[i.prevout].out.amount for i in tx.inputs)
                     - sum(o.amount for o in tx.outputs))
            for n, out in enumerate(tx.outputs):
                policy = next(p for p in POLICIES if lock(p) == out.lock)
                available[OutPoint(tid, n)] = Coin(out, policy)
            if any(i.prevout not in model for i in tx.inputs):
                event("in-block chaining")
            txs.append(tx)
        block = make_block(txs, height=height, prev_hash=prev)
        bid = block_hash(block.header)
        diff = apply_block(block, bid, utxos, PARAMS, treasury_lock=lock(TREASURY))
        assert diff.fees == fees
        utxos.apply(diff)
        if fees:
            available[OutPoint(bid, 0)] = Coin(TxOut(fees, lock(TREASURY)), TREASURY)  # type: ignore[arg-type]
        model = available
        prev = bid

        # The ledger agrees with the model, and the supply is exactly the genesis supply.
        assert utxos.utxos == {op: c.out for op, c in model.items()}
        assert total_supply(utxos.utxos.values()) == SUPPLY

        # Double spends, each rejected with the state untouched.
        if spent_ever:
            op = data.draw(st.sampled_from(sorted(spent_ever, key=lambda o: (o.txid, o.index))))
            again = _signed_spend(op, spent_ever[op], POLICIES[0], 0)
            with pytest.raises(DoubleSpend) as info:
                validate_tx(again, utxos, PARAMS, chain_id=CHAIN_ID)
            assert info.value.rule == "unknown_input"
            _assert_rejected_as_double_spend([again], utxos, height + 1, prev, {"unknown_input"})
        live = sorted((o for o, c in model.items() if c.out.amount > 20_000),
                      key=lambda o: (o.txid, o.index))
        if live:
            op = data.draw(st.sampled_from(live))
            coin = model[op]
            one, two = (_signed_spend(op, coin, POLICIES[k], k) for k in (1, 2))
            validate_tx(one, utxos, PARAMS, chain_id=CHAIN_ID)  # each alone is fine
            validate_tx(two, utxos, PARAMS, chain_id=CHAIN_ID)
            _assert_rejected_as_double_spend([one, two], utxos, height + 1, prev,
                                             {"duplicate_input_in_block"})
            signers = [BY_PUB[p] for p in coin.policy.pubkeys[:coin.policy.threshold]]
            twice = make_tx([(op, coin.policy, signers)] * 2,
                            [(lock(POLICIES[0]), coin.out.amount - 5_000)])
            with pytest.raises(DoubleSpend) as info:
                validate_tx(twice, utxos, PARAMS, chain_id=CHAIN_ID)
            assert info.value.rule == "duplicate_input"
            _assert_rejected_as_double_spend([twice], utxos, height + 1, prev,
                                             {"duplicate_input"})
        assert total_supply(utxos.utxos.values()) == SUPPLY


@SETTINGS
@given(st.data())
def test_a_block_reusing_an_outpoint_anywhere_is_rejected_whole(data: st.DataObject) -> None:
    """Valid txs plus one that re-spends an input used earlier in the block, at any position."""
    utxos = MemoryUtxoSet()
    utxos.apply(genesis_diff(GENESIS, genesis_hash(GENESIS)))
    available = _genesis_model()
    original = dict(available)
    txs: list[Tx] = []
    spent: dict[OutPoint, Coin] = {}
    for _ in range(data.draw(st.integers(1, 4))):
        tx = _draw_tx(data, available)
        if tx is None:
            break
        for i in tx.inputs:
            spent[i.prevout] = available.pop(i.prevout)
        for n, out in enumerate(tx.outputs):
            available[OutPoint(txid(tx), n)] = Coin(
                out, next(p for p in POLICIES if lock(p) == out.lock))
        txs.append(tx)
    op = data.draw(st.sampled_from(sorted(spent, key=lambda o: (o.txid, o.index))))
    thief = _signed_spend(op, spent[op], POLICIES[2], 7)
    position = data.draw(st.integers(0, len(txs)))
    first_use = next(n for n, t in enumerate(txs) if any(i.prevout == op for i in t.inputs))
    txs.insert(position, thief)
    rules = {"duplicate_input_in_block"}
    if op not in original:
        rules.add("unknown_input")  # re-spending an in-block output before it exists
    _assert_rejected_as_double_spend(txs, utxos, 1, genesis_hash(GENESIS), rules)
    event("thief before first use" if position <= first_use else "thief after first use")
