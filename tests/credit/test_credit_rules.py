"""Every credit rule in consensus/credit.py, from one table of named cases.

Each row builds a credit transfer (or a block of them) against the same small set of accounts
and names the exact `rule` it must break, or None for the valid cases. A meta-test reads
credit.py and fails if a rule exists that the tables do not exercise.

The accounts: A (single key) has a limit of 100 units and owes 30; M (a coop's 2-of-3
treasury) has a limit of 50; R has no limit but was paid 5 units; L had its limit lowered
below its debt (owes 40, limit 10); N was never touched.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from consensus import credit
from consensus.codec import block_hash, tx_size, txid
from consensus.credit import (
    LIMIT,
    RECEIVED,
    SENT,
    CreditAccount,
    LimitChange,
    MemoryCreditLedger,
    apply_credit,
    credit_sighash,
    new_transfer,
    sign_credit_transfer,
    validate_transfer,
)
from consensus.crypto import PrivateKey
from consensus.errors import InvalidSignature, ValidationError, WrongChain
from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import (
    MAX_CREDIT,
    MAX_CREDIT_PAYMENTS,
    Block,
    CreditPayment,
    CreditTransfer,
    Lock,
    SpendPolicy,
    Witness,
)
from tests.builders import CHAIN_ID, key, lock, make_block, multisig, single

UNIT = 10**8
A, B, C, D, R_KEY, L_KEY, N_KEY, X, S_KEY = (key(i) for i in range(60, 69))
PA, PR, PL, PN, PS = single(A), single(R_KEY), single(L_KEY), single(N_KEY), single(S_KEY)
PM = multisig(2, [B, C, D])
LA, LM, LR, LL, LN, LX = lock(PA), lock(PM), lock(PR), lock(PL), lock(PN), lock(single(X))
LS = lock(PS)
RICH, DEBTOR = lock(single(key(70))), lock(single(key(71)))  # at the edge of the balance range
PARAMS = ChainParams()


def accounts() -> MemoryCreditLedger:
    """Balances sum to zero: A -30, R +5, L -40, S +0.00001, X the rest (about +65)."""
    return MemoryCreditLedger({
        LA: CreditAccount(-30 * UNIT, 100 * UNIT, 4),
        LM: CreditAccount(0, 50 * UNIT, 0),
        LR: CreditAccount(5 * UNIT, 0, 0),
        LL: CreditAccount(-40 * UNIT, 10 * UNIT, 2),
        LS: CreditAccount(1_000, 0, 0),
        LX: CreditAccount(65 * UNIT - 1_000, 0, 0),
        RICH: CreditAccount(MAX_CREDIT - 10 * UNIT, 0, 0),
        DEBTOR: CreditAccount(-(MAX_CREDIT - 10 * UNIT), MAX_CREDIT, 9),
    })


def transfer(sender: SpendPolicy = PA, keys: tuple[PrivateKey, ...] = (A,),
             payments: tuple[tuple[Lock, int], ...] = ((LN, 10 * UNIT),),
             sequence: int | None = None, memo: bytes = b"bread", chain_id: str = CHAIN_ID,
             ) -> CreditTransfer:
    sender_lock = lock(sender)
    if sequence is None:
        sequence = (accounts().get_credit_account(sender_lock) or CreditAccount()).sequence
    t = new_transfer(chain_id, sender_lock, sequence, payments, memo)
    return sign_credit_transfer(t, sender, keys)


def resigned(t: CreditTransfer, policy: SpendPolicy = PA, keys: tuple[PrivateKey, ...] = (A,)
             ) -> CreditTransfer:
    return sign_credit_transfer(replace(t, witness=None), policy, keys)


def with_sigs(t: CreditTransfer, sigs: tuple[tuple[int, bytes], ...]) -> CreditTransfer:
    assert t.witness is not None
    return replace(t, witness=Witness(t.witness.policy, sigs))


def sig_of(k: PrivateKey, t: CreditTransfer) -> bytes:
    return k.sign(credit_sighash(t))


@dataclass(frozen=True)
class Case:
    build: Callable[[], CreditTransfer]
    rule: str | None
    error: type[ValidationError] = ValidationError
    params: ChainParams = PARAMS


M_PAYS = transfer(PM, (B, D), ((LA, 20 * UNIT),))
assert M_PAYS.witness is not None
M_SIGS = M_PAYS.witness.signatures
BIG_KEYS = tuple(key(3000 + i) for i in range(16))
BIG = multisig(16, BIG_KEYS)  # the largest policy: its witness alone is about 1.6 KB

CASES: dict[str, Case] = {
    # -- valid ---------------------------------------------------------------------------------
    "valid_within_limit": Case(transfer, None),
    "valid_to_the_exact_limit": Case(lambda: transfer(payments=((LN, 70 * UNIT),)), None),
    "valid_multisig_2_of_3_bd": Case(lambda: M_PAYS, None),
    "valid_multisig_2_of_3_cd": Case(lambda: transfer(PM, (C, D), ((LA, 50 * UNIT),)), None),
    "valid_several_recipients": Case(lambda: transfer(
        payments=((LN, 1), (LR, 2), (LM, 3))), None),
    "valid_positive_balance_no_limit": Case(lambda: transfer(PR, (R_KEY,), ((LN, 5 * UNIT),)),
                                           None),
    "valid_empty_memo": Case(lambda: transfer(memo=b""), None),
    "valid_max_payments": Case(lambda: transfer(payments=tuple(
        (lock(single(key(1000 + i))), 1) for i in range(MAX_CREDIT_PAYMENTS))), None),
    "valid_min_balance_param_met": Case(lambda: transfer(PS, (S_KEY,), ((LN, 1),)), None,
                                        params=replace(PARAMS,
                                                       credit_sender_min_balance=1_000)),
    # -- shape ---------------------------------------------------------------------------------
    "wrong_chain": Case(lambda: transfer(chain_id="other-chain"), "wrong_chain", WrongChain),
    "no_payments": Case(lambda: transfer(payments=()), "credit_no_payments"),
    "too_many_payments": Case(lambda: transfer(payments=tuple(
        (lock(single(key(1000 + i))), 1) for i in range(MAX_CREDIT_PAYMENTS + 1))),
        "credit_too_many_payments"),
    "memo_too_long": Case(lambda: transfer(memo=b"m" * 81), "memo_too_long"),
    "oversize": Case(lambda: transfer(BIG, BIG_KEYS, tuple(
        (lock(single(key(2000 + i))), 1) for i in range(64)), memo=b"m" * 80),
        "oversize_tx", params=replace(PARAMS, max_tx_size=4_000)),
    "zero_amount": Case(lambda: transfer(payments=((LN, 0),)), "amount_range"),
    "amount_over_max": Case(lambda: transfer(payments=((LN, MAX_CREDIT + 1),)), "amount_range"),
    "self_payment": Case(lambda: transfer(payments=((LN, 1), (LA, 1))), "credit_self_payment"),
    "duplicate_recipient": Case(lambda: transfer(payments=((LN, 1), (LR, 1), (LN, 2))),
                                "credit_duplicate_recipient"),
    "payments_overflow": Case(lambda: transfer(payments=((LN, MAX_CREDIT), (LR, 1))),
                              "amount_overflow"),
    "missing_witness": Case(lambda: replace(transfer(), witness=None), "missing_witness",
                            InvalidSignature),
    # -- the sender's account ------------------------------------------------------------------
    "never_touched_account": Case(lambda: transfer(PN, (N_KEY,), ((LA, 1),)),
                                  "credit_not_admitted"),
    "below_min_balance_param": Case(lambda: transfer(PS, (S_KEY,), ((LN, 1),)),
                                    "credit_not_admitted",
                                    params=replace(PARAMS, credit_sender_min_balance=1_001)),
    "replayed_sequence": Case(lambda: transfer(sequence=3), "credit_sequence"),
    "skipped_sequence": Case(lambda: transfer(sequence=5), "credit_sequence"),
    "over_the_limit_by_one": Case(lambda: transfer(payments=((LN, 70 * UNIT + 1),)),
                                  "credit_limit_exceeded"),
    "positive_balance_overspent": Case(lambda: transfer(PR, (R_KEY,), ((LN, 5 * UNIT + 1),)),
                                       "credit_limit_exceeded"),
    "limit_lowered_below_debt": Case(lambda: transfer(PL, (L_KEY,), ((LN, 1),)),
                                     "credit_limit_exceeded"),
    "valid_recipient_to_the_max": Case(lambda: transfer(payments=((RICH, 10 * UNIT),)), None),
    "recipient_overflow": Case(lambda: transfer(payments=((RICH, 10 * UNIT + 1),)),
                               "credit_balance_overflow"),
    # -- the witness (the coin rules) ------------------------------------------------------------
    "policy_mismatch": Case(lambda: resigned(transfer(), PN, (N_KEY,)), "policy_mismatch"),
    "insufficient_signatures": Case(lambda: with_sigs(M_PAYS, M_SIGS[:1]),
                                    "insufficient_signatures", InvalidSignature),
    "too_many_signatures": Case(lambda: with_sigs(M_PAYS, tuple(
        (i, sig_of(k, M_PAYS)) for i, k in enumerate(sorted((B, C, D),
                                                            key=lambda k: k.public_key)))),
        "too_many_signatures", InvalidSignature),
    "duplicate_signature": Case(lambda: with_sigs(M_PAYS, (M_SIGS[0],) * 2),
                                "duplicate_signature", InvalidSignature),
    "bad_signature_other_key": Case(lambda: with_sigs(transfer(), ((0, sig_of(X, transfer())),)),
                                    "bad_signature", InvalidSignature),
    "bad_signature_other_chain_digest": Case(lambda: with_sigs(transfer(), (
        (0, A.sign(credit_sighash(transfer(chain_id="other-chain")))),)), "bad_signature",
        InvalidSignature),
    "bad_signature_moved_to_other_sequence": Case(lambda: replace(
        transfer(payments=((LN, 1),)), sequence=4, memo=b"other"), "bad_signature",
        InvalidSignature),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_transfer_table(case: str) -> None:
    row = CASES[case]
    t = row.build()
    view = accounts()
    if row.rule is None:
        valid = validate_transfer(t, view, row.params, chain_id=CHAIN_ID)
        assert valid.txid == txid(t)
        assert valid.size == tx_size(t)
        assert valid.total == sum(p.amount for p in t.payments)
        return
    with pytest.raises(ValidationError) as info:
        validate_transfer(t, view, row.params, chain_id=CHAIN_ID)
    assert info.value.rule == row.rule, info.value
    assert isinstance(info.value, row.error)


# -- blocks -------------------------------------------------------------------------------------


def block_of(*items: CreditTransfer) -> Block:
    return make_block(list(items), height=5)


def a_pays(sequence: int, amount: int = UNIT, to: Lock = LN) -> CreditTransfer:
    return transfer(payments=((to, amount),), sequence=sequence)


@dataclass(frozen=True)
class BlockCase:
    build: Callable[[], Block]
    rule: str | None
    params: ChainParams = PARAMS
    limits: tuple[LimitChange, ...] = ()


BLOCK_CASES: dict[str, BlockCase] = {
    "valid_sequence_run": BlockCase(lambda: block_of(a_pays(4), a_pays(5), a_pays(6)), None),
    "valid_spends_what_it_received_earlier_in_the_block": BlockCase(lambda: block_of(
        transfer(PA, (A,), ((LR, 70 * UNIT),)),
        transfer(PR, (R_KEY,), ((LN, 75 * UNIT),))), None),
    "valid_up_to_the_cap": BlockCase(lambda: block_of(a_pays(4), a_pays(5)), None,
                                     replace(PARAMS, credit_block_cap=2)),
    "valid_limit_change_only": BlockCase(lambda: block_of(), None,
                                         limits=(LimitChange(LN, 7, b"r" * 32),)),
    "cap_exceeded": BlockCase(lambda: block_of(a_pays(4), a_pays(5), a_pays(6)),
                              "credit_block_cap", replace(PARAMS, credit_block_cap=2)),
    "sequence_reordered": BlockCase(lambda: block_of(a_pays(5), a_pays(4)), "credit_sequence"),
    "same_sequence_twice": BlockCase(lambda: block_of(a_pays(4), a_pays(4, 2 * UNIT)),
                                     "credit_sequence"),
    "limit_exceeded_by_the_run": BlockCase(lambda: block_of(
        a_pays(4, 40 * UNIT), a_pays(5, 30 * UNIT), a_pays(6, 1)), "credit_limit_exceeded"),
    "received_later_in_the_block_does_not_count": BlockCase(lambda: block_of(
        transfer(PR, (R_KEY,), ((LN, 75 * UNIT),)),
        transfer(PA, (A,), ((LR, 70 * UNIT),))), "credit_limit_exceeded"),
}


@pytest.mark.parametrize("case", list(BLOCK_CASES))
def test_apply_credit_table(case: str) -> None:
    row = BLOCK_CASES[case]
    block = row.build()
    view = accounts()
    before = dict(view.accounts)
    if row.rule is None:
        diff = apply_credit(block, view, row.params, row.limits)
        assert view.accounts == before  # a diff, nothing written
        view.apply(diff)
        assert view.total() == 0
        return
    with pytest.raises(ValidationError) as info:
        apply_credit(block, view, row.params, row.limits)
    assert info.value.rule == row.rule
    assert view.accounts == before


def test_block_errors_name_the_transfers_position() -> None:
    block = make_block([a_pays(4), a_pays(9)], height=5)
    with pytest.raises(ValidationError, match="tx 1: sequence 9"):
        apply_credit(block, accounts(), PARAMS)


def test_a_block_whose_changes_would_not_sum_to_zero_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The zero-sum check is a second line of defence: break the effect, it catches it."""
    real = credit._transfer_effect

    def leaky(accts: credit._Accounts, t: CreditTransfer, *args: object) -> None:
        real(accts, t, *args)  # type: ignore[arg-type]
        got = accts.get_credit_account(t.payments[0].lock)
        accts.set(t.payments[0].lock, replace(got, balance=got.balance + 1))

    monkeypatch.setattr(credit, "_transfer_effect", leaky)
    with pytest.raises(ValidationError) as info:
        apply_credit(block_of(a_pays(4)), accounts(), PARAMS)
    assert info.value.rule == "credit_not_zero_sum"


def test_the_effect_and_history_of_a_block() -> None:
    """A pays N and R, then R pays N; then a limit change lands after the transfers."""
    t1 = transfer(payments=((LN, 3 * UNIT), (LR, 2 * UNIT)), memo=b"t1")
    t2 = transfer(PR, (R_KEY,), ((LN, 6 * UNIT),), memo=b"t2")
    change = LimitChange(LN, 20 * UNIT, b"a" * 32)
    block = block_of(t1, t2)
    diff = apply_credit(block, accounts(), PARAMS, (change,))
    assert dict(diff.accounts) == {
        LA: CreditAccount(-35 * UNIT, 100 * UNIT, 5),
        LN: CreditAccount(9 * UNIT, 20 * UNIT, 0),
        LR: CreditAccount(1 * UNIT, 0, 1),
    }
    assert [(m.lock, m.position, m.kind, m.amount, m.balance, m.memo) for m in diff.moves] == [
        (LA, 0, SENT, 5 * UNIT, -35 * UNIT, b"t1"),
        (LN, 0, RECEIVED, 3 * UNIT, 3 * UNIT, b"t1"),
        (LR, 0, RECEIVED, 2 * UNIT, 7 * UNIT, b"t1"),
        (LR, 1, SENT, 6 * UNIT, 1 * UNIT, b"t2"),
        (LN, 1, RECEIVED, 6 * UNIT, 9 * UNIT, b"t2"),
        (LN, 2, LIMIT, 20 * UNIT, 9 * UNIT, b""),
    ]
    assert diff.moves[0].counterparty == LN and diff.moves[1].counterparty == LA
    assert diff.moves[0].ref == txid(t1) and diff.moves[-1].ref == b"a" * 32
    replayed = credit.replay_credit(block, accounts().get_credit_account, (change,))
    assert replayed == diff


def test_a_limit_set_in_a_block_governs_only_later_blocks() -> None:
    """Raising N's limit in this block's limit changes does not let N send in this block."""
    n_sends = transfer(PN, (N_KEY,), ((LA, 1),), sequence=0)
    with pytest.raises(ValidationError, match="tx 0") as info:
        apply_credit(block_of(n_sends), accounts(), PARAMS,
                     (LimitChange(LN, 5 * UNIT, b"x" * 32),))
    assert info.value.rule == "credit_not_admitted"


def test_signature_cache_skips_only_the_witness_check() -> None:
    cache = SignatureCache()
    t = transfer()
    validate_transfer(t, accounts(), PARAMS, chain_id=CHAIN_ID, sig_cache=cache)
    assert len(cache) == 1
    # a cached transfer still meets every account rule
    ledger = accounts()
    ledger.accounts[LA] = replace(ledger.accounts[LA], sequence=5)
    with pytest.raises(ValidationError) as info:
        validate_transfer(t, ledger, PARAMS, chain_id=CHAIN_ID, sig_cache=cache)
    assert info.value.rule == "credit_sequence"
    # other signatures on the same transfer are not in the cache
    forged = with_sigs(t, ((0, sig_of(X, t)),))
    with pytest.raises(InvalidSignature):
        validate_transfer(forged, accounts(), PARAMS, chain_id=CHAIN_ID, sig_cache=cache)


def test_available_is_never_negative() -> None:
    assert CreditAccount(-40, 10, 0).available == 0
    assert CreditAccount(-30, 100, 0).available == 70
    assert CreditAccount(5, 0, 0).available == 5


def test_payment_amounts_are_carried_unchanged() -> None:
    t = transfer(payments=((LN, 1), (LR, 2)))
    assert t.payments == (CreditPayment(1, LN), CreditPayment(2, LR))
    assert block_hash(block_of(t).header)  # the block builds


def _rules_in_credit_source() -> set[str]:
    tree = ast.parse(inspect.getsource(credit))
    rules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            first = node.exc.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                rules.add(first.value)
    return rules


def test_the_tables_cover_every_rule_in_credit_py() -> None:
    covered = {r.rule for r in CASES.values()} | {r.rule for r in BLOCK_CASES.values()}
    covered |= {"credit_not_zero_sum"}  # test_a_block_whose_changes_would_not_sum_to_zero_...
    in_source = _rules_in_credit_source() - {"rule"}
    assert len(in_source) >= 14
    assert in_source - covered == set()
    # the witness rules come from consensus.ledger.check_witness, shared with coin inputs
    witness_rules = {"policy_mismatch", "insufficient_signatures", "too_many_signatures",
                     "duplicate_signature", "bad_signature"}
    assert covered - {None} - in_source - witness_rules == set()

