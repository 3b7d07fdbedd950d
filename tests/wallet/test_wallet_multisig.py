"""Treasuries: 2-of-3 spends passed around as files, signed offline, combined, finalized."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec, ledger
from consensus.address import decode_address
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import COIN, OutPoint, SpendPolicy, TxId, TxOut
from wallet import multisig
from wallet.builder import Coin, Payment, build_transaction
from wallet.cli import render
from wallet.errors import ClaimedInputMismatch, PartialTxChanged, PartialTxError

CHAIN = "faircoop-test"
MEMBERS = [PrivateKey((i + 31).to_bytes(32, "big")) for i in range(3)]
POLICY = multisig.treasury_policy(2, [k.public_key for k in MEMBERS])
PAYEE = codec.policy_lock(SpendPolicy.single(PrivateKey((77).to_bytes(32, "big")).public_key))
PARAMS = ChainParams()
COINS = [Coin(OutPoint(TxId(bytes([9]) * 32), 0), 3 * COIN, POLICY),
         Coin(OutPoint(TxId(bytes([8]) * 32), 1), 2 * COIN, POLICY)]


def proposal(amount: int = 4 * COIN) -> multisig.PartialTx:
    unsigned = build_transaction(COINS, [Payment(PAYEE, amount)], fee_rate=2, params=PARAMS,
                                 chain_id=CHAIN, change_policy=POLICY, memo=b"roof repair")
    return multisig.from_unsigned(unsigned, "test")


def key(i: int) -> dict[bytes, PrivateKey]:
    return {MEMBERS[i].public_key: MEMBERS[i]}


def sign(ptx: multisig.PartialTx, i: int) -> tuple[multisig.PartialTx, int]:
    """Member i signs as its wallet would: for the one treasury the file spends."""
    own = multisig.OwnKeys(personal=frozenset(), cosigner=frozenset({MEMBERS[i].public_key}))
    signed = multisig.sign_partial(ptx, key(i), multisig.signing_scope(ptx, own),
                                   spent=multisig.OFFLINE)
    assert not signed.inputs_checked
    return signed.ptx, signed.added


def test_treasury_address_encodes_the_policy_lock() -> None:
    addr = multisig.treasury_address(POLICY, "test")
    assert addr.startswith("tfair1") and decode_address(addr, "test") == codec.policy_lock(POLICY)
    assert multisig.treasury_policy(2, [k.public_key for k in reversed(MEMBERS)]) == POLICY


@pytest.mark.parametrize("m,keys", [(3, 2), (0, 2)])
def test_bad_policies_are_refused(m: int, keys: int) -> None:
    with pytest.raises(PartialTxError):
        multisig.treasury_policy(m, [k.public_key for k in MEMBERS[:keys]])
    with pytest.raises(PartialTxError, match="once"):
        multisig.treasury_policy(1, [MEMBERS[0].public_key] * 2)


def test_two_of_three_via_files_signed_offline_then_combined(tmp_path: Path) -> None:
    ptx = proposal()
    (tmp_path / "p.json").write_text(multisig.to_json(ptx))
    copies = []
    for member in (0, 2):  # each member signs their own copy of the file
        mine = multisig.from_json((tmp_path / "p.json").read_text())
        signed, added = sign(mine, member)
        assert added == len(ptx.tx.inputs)
        (tmp_path / f"s{member}.json").write_text(multisig.to_json(signed))
        copies.append(multisig.from_json((tmp_path / f"s{member}.json").read_text()))
    assert multisig.remaining(copies[0]) == (1, 1)
    with pytest.raises(PartialTxError, match="more needed"):
        multisig.finalize(copies[0])
    merged = multisig.combine(copies)
    assert multisig.remaining(merged) == (0, 0)
    tx = multisig.finalize(merged)
    view = ledger.MemoryUtxoSet({c.outpoint: c.output for c in COINS})
    valid = ledger.validate_tx(tx, view, PARAMS, chain_id=CHAIN)
    assert valid.fee == merged.fee == valid.size * 2


def test_describe_shows_payments_fee_change_and_signers() -> None:
    ptx, _ = sign(proposal(), 1)
    d = multisig.describe(ptx)
    pay = [o for o in d.outputs if not o.change]
    change = [o for o in d.outputs if o.change]
    assert [(o.address, o.amount) for o in pay] == [(codec_addr(PAYEE), 4 * COIN)]
    assert change and decode_address(change[0].address, "test") == codec.policy_lock(POLICY)
    assert d.paid == 4 * COIN and d.fee == d.value_in - 4 * COIN - change[0].amount
    assert d.remaining == 2 and all(i.signed == (MEMBERS[1].public_key,) for i in d.inputs)
    doc = d.as_json()
    assert doc["signatures_remaining"] == 2 and doc["complete"] is False
    assert doc["memo"] == "roof repair"
    text = render.partial_summary(d, [MEMBERS[1].public_key])
    assert "(you)" in text and "2 signature(s) still needed" in text and "0.00" in text


def codec_addr(lock: bytes) -> str:
    return multisig.encode_address(lock, "test")


@pytest.mark.parametrize("change", ["output_amount", "output_lock", "memo", "drop_input"])
def test_signing_refuses_a_tx_changed_after_others_signed(change: str) -> None:
    signed, _ = sign(proposal(), 0)
    tx = signed.tx
    if change == "output_amount":
        tx = replace(tx, outputs=(TxOut(tx.outputs[0].amount + 1, tx.outputs[0].lock),
                                  *tx.outputs[1:]))
    elif change == "output_lock":
        tx = replace(tx, outputs=(TxOut(tx.outputs[0].amount, codec.policy_lock(POLICY)),
                                  *tx.outputs[1:]))
    elif change == "memo":
        tx = replace(tx, memo=b"something else")
    tampered = replace(signed, tx=tx)
    if change == "drop_input":
        smaller = (TxOut(2 * COIN, tx.outputs[0].lock),)  # still covered by the input left
        tampered = replace(signed, tx=replace(tx, inputs=tx.inputs[:1], outputs=smaller),
                           spent=signed.spent[:1], policies=signed.policies[:1],
                           signatures=signed.signatures[:1], change=())
    # Even through the file format (as a member receives it):
    reread = multisig.from_json(multisig.to_json(tampered))
    with pytest.raises(PartialTxChanged, match="changed after"):
        sign(reread, 1)
    with pytest.raises(PartialTxChanged):
        multisig.finalize(reread)


def test_combining_different_transactions_is_refused() -> None:
    a, _ = sign(proposal(4 * COIN), 0)
    b, _ = sign(proposal(3 * COIN), 1)
    with pytest.raises(PartialTxError, match="different transaction"):
        multisig.combine([a, b])


def _doc() -> dict:  # type: ignore[type-arg]
    return json.loads(multisig.to_json(proposal()))


@pytest.mark.parametrize("edit,match", [
    (lambda d: d.update(format="other"), "not a faircoop"),
    (lambda d: d.update(version=2), "version"),
    (lambda d: d.update(txid="00" * 32), "txid does not match"),
    (lambda d: d["inputs"][0].update(policy=d["inputs"][1]["policy"][:-2] + "00"),
     "policy"),
    (lambda d: d["inputs"].pop(), "one entry per tx input"),
    (lambda d: d["signatures"][0].update({"7": "00" * 64}), "key index"),
    (lambda d: d["signatures"][0].update({"0": "00" * 10}), "64 bytes"),
    (lambda d: d["inputs"][0].update(amount=-5), "amount"),
    (lambda d: d.update(change=[99]), "change"),
])
def test_malformed_partial_files_are_refused(edit, match: str) -> None:  # type: ignore[no-untyped-def]
    doc = _doc()
    edit(doc)
    with pytest.raises(PartialTxError, match=match):
        multisig.from_json(json.dumps(doc))


def test_not_json_is_refused() -> None:
    with pytest.raises(PartialTxError, match="invalid JSON"):
        multisig.from_json("{not json")


def test_roundtrip_is_lossless() -> None:
    signed, _ = sign(proposal(), 2)
    assert multisig.from_json(multisig.to_json(signed)) == signed


@given(claimed=st.sets(st.integers(min_value=0, max_value=1)),
       payee_first=st.booleans())
def test_change_is_what_pays_the_spender_whatever_the_file_claims(claimed: set[int],
                                                                  payee_first: bool) -> None:
    ptx = proposal()
    if not payee_first:
        ptx = replace(ptx, tx=replace(ptx.tx, outputs=tuple(reversed(ptx.tx.outputs))))
    ptx = replace(ptx, change=tuple(sorted(claimed)))
    d = multisig.describe(ptx)
    treasury = codec.policy_lock(POLICY)
    truth = [o.lock == treasury for o in ptx.tx.outputs]
    assert [o.change for o in d.outputs] == truth
    assert len(d.warnings) == sum(1 for i in claimed if not truth[i])
    assert d.paid == sum(o.amount for o, t in zip(ptx.tx.outputs, truth, strict=True) if not t)


def test_the_signer_checks_the_claimed_inputs_itself() -> None:
    """Input amounts are not covered by the sighash: a proposer that understates one (and pays
    the difference out of the change) hides a larger fee. `sign_partial` takes what the inputs
    really spend and refuses such a file; signing without knowing takes an explicit OFFLINE,
    and the result says so."""
    honest = proposal()
    *outs, change = honest.tx.outputs
    lie = replace(honest, tx=replace(honest.tx, outputs=(
        *outs, TxOut(change.amount - COIN, change.lock))),
        spent=(TxOut(honest.spent[0].amount - COIN, honest.spent[0].lock), *honest.spent[1:]))
    assert lie.fee == honest.fee  # what a member would be shown
    truth = {c.outpoint: c.output for c in COINS}
    own = multisig.OwnKeys(personal=frozenset(), cosigner=frozenset({MEMBERS[0].public_key}))
    scope = multisig.signing_scope(lie, own)
    with pytest.raises(ClaimedInputMismatch, match="claims 200000000"):
        multisig.sign_partial(lie, key(0), scope, spent=truth)
    with pytest.raises(ClaimedInputMismatch):
        multisig.review_partial(lie, own, spent=truth)
    with pytest.raises(TypeError):  # no default: a caller can't leave the check out
        multisig.sign_partial(lie, key(0), scope)  # type: ignore[call-arg]
    checked = multisig.sign_partial(honest, key(0), scope, spent=truth)
    assert checked.inputs_checked and checked.added == 2  # one signature per input
    blind = multisig.sign_partial(lie, key(0), scope, spent=multisig.OFFLINE)
    assert blind.added == 2 and not blind.inputs_checked


def test_a_partial_file_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("the old content\n")
    multisig.save_partial(path, proposal())
    assert multisig.load_partial(path) == proposal()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text('{"format": "faircoop-partial-tx", "version": 9}')
    with pytest.raises(PartialTxError, match=f"^{path}: partial-tx version 9"):
        multisig.load_partial(path)
