"""Every ledger rule in consensus/ledger.py, from one table of named cases.

Each row builds a tx or a block from the same small chain (a genesis with a single-key and a
2-of-3 allocation) and names the exact `rule` it must break, or None for the valid cases. A
meta-test reads ledger.py and fails if a rule exists that the table does not exercise.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from consensus import ledger
from consensus.codec import block_hash, genesis_hash, policy_lock, tx_size, txid
from consensus.crypto import CURVE_ORDER, PrivateKey, tagged_hash
from consensus.errors import (
    DoubleSpend,
    InsufficientFee,
    InvalidSignature,
    ValidationError,
    WrongChain,
)
from consensus.ledger import (
    MemoryUtxoSet,
    SignatureCache,
    apply_block,
    genesis_diff,
    total_supply,
    treasury_outpoint,
    tx_sighash,
    validate_tx,
)
from consensus.params import ChainParams
from consensus.types import MAX_AMOUNT, Block, Hash32, Lock, OutPoint, Tx, TxId, Witness
from tests.builders import (
    CHAIN_ID,
    genesis_outpoint,
    key,
    lock,
    make_block,
    make_genesis,
    make_tx,
    multisig,
    sign,
    single,
    unsigned_tx,
)

A, B, C, D, T1, T2 = (key(i) for i in range(10, 16))
PA = single(A)
PB = single(B)
PM = multisig(2, [B, C, D])  # a coop treasury: any two of three
TREASURY = multisig(1, [T1, T2])
PARAMS = ChainParams()
FEE = 5_000
GENESIS = make_genesis(
    [(lock(PA), 10_000_000), (lock(PM), 20_000_000), (lock(PA), 5_000_000)],
    params=PARAMS,
    treasury_lock=lock(TREASURY),
)
G0, G1, G2 = (genesis_outpoint(GENESIS, i) for i in range(3))
SUPPLY = 35_000_000


def chain() -> MemoryUtxoSet:
    utxos = MemoryUtxoSet()
    utxos.apply(genesis_diff(GENESIS, genesis_hash(GENESIS)))
    return utxos


def pay_a(amount: int = 1_000_000, to: Lock | None = None) -> Tx:
    """A spends G0: `amount` to B (or `to`), the rest minus FEE back to A."""
    return make_tx([(G0, PA, [A])],
                   [(to or lock(PB), amount), (lock(PA), 10_000_000 - amount - FEE)])


def pay_m(signers: tuple[PrivateKey, ...] = (B, C)) -> Tx:
    return make_tx([(G1, PM, list(signers))],
                   [(lock(PA), 3_000_000), (lock(PM), 17_000_000 - FEE)])


def with_witness(tx: Tx, n: int, w: Witness) -> Tx:
    wits = list(tx.witnesses)
    wits[n] = w
    return replace(tx, witnesses=tuple(wits))


def high_s(sig: bytes) -> bytes:
    return sig[:32] + (CURVE_ORDER - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")


def exact_fee_tx(fee_delta: int) -> Tx:
    """A tx whose fee is size * min_fee_rate + fee_delta (amounts keep their encoded width)."""
    probe = pay_a()
    fee = tx_size(probe) * PARAMS.min_fee_rate + fee_delta
    tx = make_tx([(G0, PA, [A])], [(lock(PB), 1_000_000), (lock(PA), 9_000_000 - fee)])
    assert tx_size(tx) == tx_size(probe)
    return tx


@dataclass(frozen=True)
class TxCase:
    build: Callable[[], Tx]
    rule: str | None  # None: the tx is valid
    error: type[ValidationError] = ValidationError
    params: ChainParams = PARAMS


TX_CASES: dict[str, TxCase] = {
    # -- valid ----------------------------------------------------------------------------
    "valid_single_key": TxCase(pay_a, None),
    "valid_multisig_2_of_3_bc": TxCase(lambda: pay_m((B, C)), None),
    "valid_multisig_2_of_3_bd": TxCase(lambda: pay_m((B, D)), None),
    "valid_multisig_2_of_3_cd": TxCase(lambda: pay_m((C, D)), None),
    "valid_two_inputs_two_policies": TxCase(lambda: make_tx(
        [(G0, PA, [A]), (G1, PM, [C, D])], [(lock(PB), 30_000_000 - FEE)]), None),
    "valid_fee_exactly_size_times_rate": TxCase(lambda: exact_fee_tx(0), None),
    "valid_zero_fee_rate": TxCase(lambda: make_tx([(G0, PA, [A])], [(lock(PB), 10_000_000)]),
                                  None, params=PARAMS.with_value("min_fee_rate", 0)),
    "valid_memo_80_bytes": TxCase(lambda: make_tx([(G0, PA, [A])], [(lock(PB), 9_000_000)],
                                                  memo=b"m" * 80), None),
    "valid_output_at_dust_limit": TxCase(lambda: make_tx(
        [(G0, PA, [A])], [(lock(PB), PARAMS.dust_limit), (lock(PA), 9_000_000)]), None),
    # -- context-free shape rules ---------------------------------------------------------
    "wrong_chain": TxCase(lambda: make_tx([(G0, PA, [A])], [(lock(PB), 9_000_000)],
                                          chain_id="another-coop-chain"),
                          "wrong_chain", WrongChain),
    "no_inputs": TxCase(lambda: make_tx([], [(lock(PB), 9_000_000)]), "no_inputs"),
    "no_outputs": TxCase(lambda: make_tx([(G0, PA, [A])], []), "no_outputs"),
    "memo_too_long": TxCase(lambda: replace(pay_a(), memo=b"m" * 81), "memo_too_long"),
    "oversize_tx": TxCase(
        lambda: make_tx([(G0, PA, [A])], [(lock(PB), 50_000)] * 120), "oversize_tx",
        params=PARAMS.with_value("max_tx_size", 4_000)),
    "duplicate_input": TxCase(lambda: make_tx([(G0, PA, [A]), (G0, PA, [A])],
                                              [(lock(PB), 9_000_000)]),
                              "duplicate_input", DoubleSpend),
    "amount_zero": TxCase(lambda: pay_a(0), "amount_range"),
    "amount_negative": TxCase(lambda: pay_a(-1), "amount_range"),
    "amount_over_max": TxCase(lambda: pay_a(MAX_AMOUNT + 1), "amount_range"),
    "amount_overflow": TxCase(lambda: make_tx([(G0, PA, [A])],
                                              [(lock(PB), MAX_AMOUNT), (lock(PB), MAX_AMOUNT)]),
                              "amount_overflow"),
    "dust_output": TxCase(lambda: pay_a(PARAMS.dust_limit - 1), "dust_output"),
    "missing_witness_unsigned": TxCase(
        lambda: unsigned_tx([G0], [(lock(PB), 9_000_000)]), "missing_witness", InvalidSignature),
    "missing_witness_one_of_two": TxCase(
        lambda: replace(make_tx([(G0, PA, [A]), (G2, PA, [A])], [(lock(PB), 14_000_000)]),
                        witnesses=make_tx([(G0, PA, [A])], [(lock(PB), 1)]).witnesses),
        "missing_witness", InvalidSignature),
    # -- rules against the UTXO view --------------------------------------------------------
    "unknown_input": TxCase(lambda: make_tx([(OutPoint(TxId(b"\x07" * 32), 0), PA, [A])],
                                            [(lock(PB), 9_000_000)]),
                            "unknown_input", DoubleSpend),
    "unknown_output_index": TxCase(lambda: make_tx([(genesis_outpoint(GENESIS, 3), PA, [A])],
                                                   [(lock(PB), 9_000_000)]),
                                   "unknown_input", DoubleSpend),
    "outputs_exceed_inputs": TxCase(lambda: make_tx([(G0, PA, [A])], [(lock(PB), 10_000_001)]),
                                    "outputs_exceed_inputs"),
    "fee_too_low_by_one": TxCase(lambda: exact_fee_tx(-1), "fee_too_low", InsufficientFee),
    "fee_zero": TxCase(lambda: make_tx([(G0, PA, [A])], [(lock(PB), 10_000_000)]),
                       "fee_too_low", InsufficientFee),
    # -- witnesses ------------------------------------------------------------------------
    "policy_mismatch_other_key": TxCase(lambda: make_tx([(G0, PB, [B])], [(lock(PB), 9_000_000)]),
                                        "policy_mismatch"),
    "policy_mismatch_other_threshold": TxCase(
        lambda: make_tx([(G1, multisig(1, [B, C, D]), [B])], [(lock(PB), 19_000_000)]),
        "policy_mismatch"),
    "bad_signature_wrong_signer": TxCase(
        lambda: with_witness(pay_a(), 0, Witness(PA, ((0, B.sign(tx_sighash(pay_a()))),))),
        "bad_signature", InvalidSignature),
    "bad_signature_other_tx": TxCase(
        lambda: with_witness(pay_a(), 0, pay_a(2_000_000).witnesses[0]),
        "bad_signature", InvalidSignature),
    "bad_signature_signed_txid_not_sighash": TxCase(
        lambda: with_witness(pay_a(), 0, Witness(PA, ((0, A.sign(txid(pay_a()))),))),
        "bad_signature", InvalidSignature),
    "bad_signature_high_s": TxCase(
        lambda: with_witness(pay_a(), 0,
                             Witness(PA, ((0, high_s(pay_a().witnesses[0].signatures[0][1])),))),
        "bad_signature", InvalidSignature),
    "bad_signature_zero_bytes": TxCase(
        lambda: with_witness(pay_a(), 0, Witness(PA, ((0, bytes(64)),))),
        "bad_signature", InvalidSignature),
    "bad_signature_multisig_second": TxCase(
        lambda: with_witness(pay_m(), 0, Witness(PM, (pay_m().witnesses[0].signatures[0],
                                                      (2, bytes(64))))),
        "bad_signature", InvalidSignature),
    "missing_signature_single_key": TxCase(
        lambda: with_witness(pay_a(), 0, Witness(PA, ())), "insufficient_signatures",
        InvalidSignature),
    "insufficient_signatures_1_of_2_of_3": TxCase(
        lambda: with_witness(pay_m(), 0, Witness(PM, pay_m().witnesses[0].signatures[:1])),
        "insufficient_signatures", InvalidSignature),
    "too_many_signatures_3_of_2_of_3": TxCase(
        lambda: pay_m((B, C, D)), "too_many_signatures", InvalidSignature),
    "duplicate_signature_same_key_twice": TxCase(
        lambda: with_witness(pay_m(), 0, Witness(PM, (pay_m().witnesses[0].signatures[0],) * 2)),
        "duplicate_signature", InvalidSignature),
    "duplicate_signature_descending": TxCase(
        lambda: with_witness(pay_m(), 0, Witness(PM, pay_m().witnesses[0].signatures[::-1])),
        "duplicate_signature", InvalidSignature),
    "duplicate_signature_key_not_in_policy": TxCase(
        lambda: with_witness(pay_m(), 0, Witness(PM, (pay_m().witnesses[0].signatures[0],
                                                      (3, bytes(64))))),
        "duplicate_signature", InvalidSignature),
}


@pytest.mark.parametrize("case", list(TX_CASES))
def test_validate_tx_table(case: str) -> None:
    row = TX_CASES[case]
    tx = row.build()
    utxos = chain()
    if row.rule is None:
        valid = validate_tx(tx, utxos, row.params, chain_id=CHAIN_ID)
        spent = sum(utxos.utxos[i.prevout].amount for i in tx.inputs)
        assert valid.txid == txid(tx)
        assert valid.size == tx_size(tx)
        assert valid.fee == spent - sum(o.amount for o in tx.outputs)
        assert valid.fee >= valid.size * row.params.min_fee_rate
        return
    with pytest.raises(ValidationError) as info:
        validate_tx(tx, utxos, row.params, chain_id=CHAIN_ID)
    assert info.value.rule == row.rule
    assert isinstance(info.value, row.error)
    assert str(info.value).startswith(row.rule)


# -- blocks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockCase:
    build: Callable[[], Block]
    rule: str | None
    error: type[ValidationError] = ValidationError
    params: ChainParams = PARAMS


def chained_pair() -> tuple[Tx, Tx]:
    """tx1: A pays B from G0; tx2: B spends tx1's output 0 in the same block."""
    tx1 = pay_a(2_000_000)
    tx2 = make_tx([(OutPoint(txid(tx1), 0), PB, [B])], [(lock(PM), 2_000_000 - FEE)])
    return tx1, tx2


def mutate_header(block: Block, **changes: object) -> Block:
    return replace(block, header=replace(block.header, **changes))


BLOCK_CASES: dict[str, BlockCase] = {
    "valid_empty_block": BlockCase(lambda: make_block([]), None),
    "valid_two_independent_txs": BlockCase(lambda: make_block([pay_a(), pay_m()]), None),
    "valid_in_block_chaining": BlockCase(lambda: make_block(list(chained_pair())), None),
    "valid_with_consensus_payloads": BlockCase(
        lambda: make_block([pay_a()], last_commit=b"cert", evidence=(b"e1",), actions=(b"a",)),
        None),
    "duplicate_input_in_block": BlockCase(
        lambda: make_block([pay_a(1_000_000), pay_a(2_000_000)]), "duplicate_input_in_block",
        DoubleSpend),
    "same_tx_twice_in_block": BlockCase(lambda: make_block([pay_a(), pay_a()]),
                                        "duplicate_input_in_block", DoubleSpend),
    "chained_spend_in_wrong_order": BlockCase(
        lambda: make_block(list(chained_pair())[::-1]), "unknown_input", DoubleSpend),
    "tx_rule_inside_block": BlockCase(
        lambda: make_block([pay_a(), with_witness(pay_m(), 0, Witness(PM, ()))]),
        "insufficient_signatures", InvalidSignature),
    "tx_of_another_chain_in_block": BlockCase(
        lambda: make_block([pay_a()], chain_id="another-coop-chain"), "wrong_chain", WrongChain),
    "too_many_txs": BlockCase(lambda: make_block([pay_a(), pay_m()]), "too_many_txs",
                              params=PARAMS.with_value("max_block_txs", 1)),
    "oversize_block": BlockCase(lambda: make_block([pay_a()], last_commit=b"c" * 100_001),
                                "oversize_block",
                                params=PARAMS.with_value("max_block_size", 100_000)),
    "tx_root_mismatch": BlockCase(
        lambda: mutate_header(make_block([pay_a()]), tx_root=Hash32(bytes(32))),
        "tx_root_mismatch"),
    "tx_root_of_other_order": BlockCase(
        lambda: replace(make_block([pay_a(), pay_m()]), txs=(pay_m(), pay_a())),
        "tx_root_mismatch"),
    "tx_dropped_from_body": BlockCase(
        lambda: replace(make_block([pay_a(), pay_m()]), txs=(pay_a(),)), "tx_root_mismatch"),
    "last_commit_mismatch": BlockCase(
        lambda: replace(make_block([], last_commit=b"cert"), last_commit=b"other cert"),
        "last_commit_mismatch"),
    "evidence_hash_mismatch": BlockCase(
        lambda: replace(make_block([], evidence=(b"e1",)), evidence=()),
        "evidence_hash_mismatch"),
    "actions_hash_mismatch": BlockCase(
        lambda: replace(make_block([], actions=(b"a1",)), actions=(b"a1", b"a2")),
        "actions_hash_mismatch"),
}


@pytest.mark.parametrize("case", list(BLOCK_CASES))
def test_apply_block_table(case: str) -> None:
    row = BLOCK_CASES[case]
    block = row.build()
    utxos = chain()
    before = dict(utxos.utxos)
    bid = block_hash(block.header)
    if row.rule is None:
        diff = apply_block(block, bid, utxos, row.params, treasury_lock=lock(TREASURY))
        assert utxos.utxos == before  # apply_block only returns a diff; it never writes
        utxos.apply(diff)
        assert total_supply(utxos.utxos.values()) == SUPPLY
        return
    with pytest.raises(ValidationError) as info:
        apply_block(block, bid, utxos, row.params, treasury_lock=lock(TREASURY))
    assert info.value.rule == row.rule
    assert isinstance(info.value, row.error)
    assert utxos.utxos == before


def _rules_in_ledger_source() -> set[str]:
    """Every rule name raised in consensus/ledger.py (first argument of an error call)."""
    tree = ast.parse(inspect.getsource(ledger))
    rules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            first = node.exc.args[0]
            for sub in ast.walk(first):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    rules.add(sub.value)
    return rules


def test_the_tables_cover_every_rule_in_ledger_py() -> None:
    covered = {r.rule for r in TX_CASES.values()} | {r.rule for r in BLOCK_CASES.values()}
    in_source = _rules_in_ledger_source()
    assert len(in_source) >= 20
    assert in_source - covered == set()
    assert covered - {None} - in_source == set()


def test_tx_errors_inside_a_block_name_the_position() -> None:
    block = make_block([pay_a(), with_witness(pay_m(), 0, Witness(PM, ()))])
    with pytest.raises(InvalidSignature) as info:
        apply_block(block, block_hash(block.header), chain(), PARAMS, treasury_lock=lock(TREASURY))
    assert info.value.detail.startswith("tx 1:")


# -- what a valid block does -------------------------------------------------------------------


def test_fees_go_to_the_treasury_outpoint_under_the_treasury_lock() -> None:
    tx1, tx2 = chained_pair()
    tx3 = pay_m()
    block = make_block([tx1, tx2, tx3])
    bid = block_hash(block.header)
    utxos = chain()
    diff = apply_block(block, bid, utxos, PARAMS, treasury_lock=lock(TREASURY))
    assert diff.fees == 3 * FEE
    assert treasury_outpoint(bid) == OutPoint(TxId(bid), 0)
    created = dict(diff.created)
    assert created[treasury_outpoint(bid)].amount == 3 * FEE
    assert created[treasury_outpoint(bid)].lock == lock(TREASURY)
    # tx1's output 0 was made and spent inside the block: it appears in neither list.
    assert OutPoint(txid(tx1), 0) not in created
    assert OutPoint(txid(tx1), 0) not in diff.spent
    assert set(diff.spent) == {G0, G1}
    assert set(created) == {OutPoint(txid(tx1), 1), OutPoint(txid(tx2), 0),
                            OutPoint(txid(tx3), 0), OutPoint(txid(tx3), 1),
                            treasury_outpoint(bid)}
    utxos.apply(diff)
    assert total_supply(utxos.utxos.values()) == SUPPLY

    # The treasury can spend its fees in the next block with its own policy.
    spend = make_tx([(treasury_outpoint(bid), TREASURY, [T2])], [(lock(PA), 3 * FEE - 2_000)],)
    nxt = make_block([spend], height=2, prev_hash=bid)
    diff2 = apply_block(nxt, block_hash(nxt.header), utxos, PARAMS, treasury_lock=lock(TREASURY))
    assert diff2.spent == (treasury_outpoint(bid),) and diff2.fees == 2_000


def test_a_block_without_fees_creates_no_treasury_output() -> None:
    params = PARAMS.with_value("min_fee_rate", 0)
    tx = make_tx([(G0, PA, [A])], [(lock(PB), 10_000_000)])
    block = make_block([tx])
    diff = apply_block(block, block_hash(block.header), chain(), params,
                       treasury_lock=lock(TREASURY))
    assert diff.fees == 0
    assert treasury_outpoint(block_hash(block.header)) not in dict(diff.created)


def test_spending_an_output_spent_in_an_earlier_block_is_unknown_input() -> None:
    utxos = chain()
    first = make_block([pay_a()])
    utxos.apply(apply_block(first, block_hash(first.header), utxos, PARAMS,
                            treasury_lock=lock(TREASURY)))
    again = make_block([pay_a(3_000_000)], height=2, prev_hash=block_hash(first.header))
    with pytest.raises(DoubleSpend) as info:
        apply_block(again, block_hash(again.header), utxos, PARAMS, treasury_lock=lock(TREASURY))
    assert info.value.rule == "unknown_input"


def test_genesis_allocations_are_spendable_at_genesis_hash_index() -> None:
    diff = genesis_diff(GENESIS, genesis_hash(GENESIS))
    assert diff.spent == () and diff.fees == 0
    assert [op for op, _ in diff.created] == [G0, G1, G2]
    assert [op.txid for op, _ in diff.created] == [genesis_hash(GENESIS)] * 3
    assert tuple(out for _, out in diff.created) == GENESIS.allocations


def test_sighash_is_the_tagged_hash_of_chain_id_and_txid() -> None:
    tx = pay_a()
    chain_bytes = CHAIN_ID.encode()
    expected = tagged_hash("faircoop/tx/v1", bytes([len(chain_bytes)]), chain_bytes, txid(tx))
    assert tx_sighash(tx) == expected
    assert tx_sighash(tx) == tx_sighash(replace(tx, witnesses=()))
    assert tx_sighash(tx) != tx_sighash(replace(tx, chain_id="other"))


def test_signature_for_another_chain_does_not_verify_here() -> None:
    """Replay: the same inputs and outputs signed for another chain id."""
    theirs = make_tx([(G0, PA, [A])], [(lock(PB), 9_000_000)], chain_id="another-coop-chain")
    ours = unsigned_tx([G0], [(lock(PB), 9_000_000)])
    replayed = replace(ours, witnesses=theirs.witnesses)
    with pytest.raises(InvalidSignature) as info:
        validate_tx(replayed, chain(), PARAMS, chain_id=CHAIN_ID)
    assert info.value.rule == "bad_signature"


def test_signature_cache_skips_reverification_but_not_new_witnesses() -> None:
    cache = SignatureCache(capacity=2)
    tx = pay_a()
    utxos = chain()
    validate_tx(tx, utxos, PARAMS, chain_id=CHAIN_ID, sig_cache=cache)
    assert len(cache) == 1 and cache.misses == 1
    validate_tx(tx, utxos, PARAMS, chain_id=CHAIN_ID, sig_cache=cache)
    assert cache.hits == 1
    forged = with_witness(tx, 0, Witness(PA, ((0, bytes(64)),)))
    with pytest.raises(InvalidSignature):
        validate_tx(forged, utxos, PARAMS, chain_id=CHAIN_ID, sig_cache=cache)
    assert len(cache) == 1  # a failing tx is never cached
    for other in (pay_a(2_000_000), pay_a(3_000_000)):
        validate_tx(other, utxos, PARAMS, chain_id=CHAIN_ID, sig_cache=cache)
    assert len(cache) == 2 and SignatureCache.key(tx) not in cache  # bounded, oldest evicted


def test_sign_builder_replaces_existing_witnesses() -> None:
    tx = pay_a()
    assert sign(tx, [(PA, [A])]) == tx
    assert policy_lock(PA) == lock(PA)
