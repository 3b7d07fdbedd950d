"""The credit transfer's bytes: what its id covers, how a block tells it from a coin tx, and
each way a hostile encoding is refused (with the DecodeError's words)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import msgpack
import pytest

from consensus import codec
from consensus.credit import credit_sighash, new_transfer, sign_credit_transfer
from consensus.errors import DecodeError
from consensus.ledger import tx_sighash
from consensus.types import (
    CAMPAIGN_TX_VERSION,
    CREDIT_VERSION,
    MAX_CREDIT,
    MAX_CREDIT_PAYMENTS,
    CampaignMode,
    CampaignTerms,
    CreditPayment,
    CreditTransfer,
    Lock,
    OutPoint,
    Tx,
    TxId,
    TxOut,
)
from tests.builders import CHAIN_ID, key, lock, make_block, multisig, single, unsigned_tx

K = [key(40 + i) for i in range(4)]
TREASURY = multisig(2, K[:3])
TO = [lock(single(k)) for k in K]
CREDIT = sign_credit_transfer(
    new_transfer(CHAIN_ID, lock(TREASURY), 7, [(TO[3], 5 * 10**8), (TO[0], 1)], b"wages"),
    TREASURY, [K[1], K[2]])


def tree(t: CreditTransfer) -> list[object]:
    def to_list(x: object) -> object:
        return [to_list(y) for y in x] if isinstance(x, tuple) else x

    out = to_list(msgpack.unpackb(codec.encode_tx(t), use_list=False))
    assert isinstance(out, list)
    return out


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def test_encoding_is_the_documented_7_array() -> None:
    t = tree(CREDIT)
    assert t[0] == CREDIT_VERSION == 16
    assert t[1:7] == [CHAIN_ID, lock(TREASURY), 7, [[5 * 10**8, TO[3]], [1, TO[0]]], b"wages",
                      t[6]]
    assert len(t[6]) == 1  # one witness: [policy, signatures]
    assert codec.encode_tx(CREDIT)[:2] == b"\x97\x10"


def test_id_is_sha256_of_the_first_six_fields() -> None:
    core = msgpack.unpackb(codec.encode_tx(CREDIT), use_list=False)[:6]
    assert codec.txid(CREDIT) == codec.sha256(pack(core))
    assert codec.txid(replace(CREDIT, witness=None)) == codec.txid(CREDIT)


@pytest.mark.parametrize("change", [
    lambda t: replace(t, chain_id="other-chain"),
    lambda t: replace(t, sender=TO[1]),
    lambda t: replace(t, sequence=8),
    lambda t: replace(t, payments=t.payments[::-1]),
    lambda t: replace(t, payments=(replace(t.payments[0], amount=6 * 10**8), t.payments[1])),
    lambda t: replace(t, memo=b"wages 2"),
], ids=["chain_id", "sender", "sequence", "payment_order", "amount", "memo"])
def test_id_and_signed_digest_cover_every_field_but_the_witness(
        change: Callable[[CreditTransfer], CreditTransfer]) -> None:
    changed = change(CREDIT)
    assert codec.txid(changed) != codec.txid(CREDIT)
    assert credit_sighash(changed) != credit_sighash(CREDIT)


def test_signed_digest_is_domain_separated_from_a_coin_txs() -> None:
    # same chain, and a coin tx whose txid preimage can't equal a 6-array: the tags differ
    # anyway, so no signature of one kind can serve the other
    assert codec.txid(CREDIT) != codec.sha256(pack(tree(CREDIT)[:5]))
    assert credit_sighash(CREDIT) != tx_sighash(_a_coin_tx())


def _a_coin_tx() -> Tx:
    return unsigned_tx([OutPoint(TxId(bytes(32)), 0)], [(TO[0], 10_000)])


def test_round_trips_through_every_decoder_that_should_take_it() -> None:
    data = codec.encode_tx(CREDIT)
    assert codec.decode_credit_transfer(data) == CREDIT
    assert codec.decode_block_tx(data) == CREDIT
    unsigned = replace(CREDIT, witness=None)
    assert codec.decode_block_tx(codec.encode_tx(unsigned)) == unsigned
    block = make_block([CREDIT, _a_coin_tx()], height=3)
    assert codec.decode_block(codec.encode_block(block)) == block
    assert codec.decode_canonical(codec.encode_block(block), "block", codec.block_from) == block


def test_a_coin_tx_decoder_refuses_a_credit_transfer() -> None:
    with pytest.raises(DecodeError, match="unsupported version 16"):
        codec.decode_tx(codec.encode_tx(CREDIT))


def _a_campaign_tx() -> Tx:
    """A version 2 tx (it creates a campaign) with a pledge output: 7 fields, as a credit
    transfer has."""
    terms = CampaignTerms(TO[1], 10**9, 1000, CampaignMode.ALL_OR_NOTHING, "Bakery",
                          "https://coop.example/b")
    tx = _a_coin_tx()
    return replace(tx, version=CAMPAIGN_TX_VERSION, campaign=terms,
                   outputs=(*tx.outputs, TxOut(5_000, Lock(b"\x05" * 32), TO[2])))


@pytest.mark.parametrize("make, kind, opening", [
    (_a_coin_tx, Tx, b"\x96\x01"),
    (_a_campaign_tx, Tx, b"\x97\x02"),
    (lambda: CREDIT, CreditTransfer, b"\x97\x10"),
], ids=["coin_v1", "campaign_v2", "credit_16"])
def test_a_block_item_is_a_credit_transfer_only_if_it_opens_with_16(
        make: Callable[[], Tx | CreditTransfer], kind: type, opening: bytes) -> None:
    item = make()
    data = codec.encode_tx(item)
    assert data[:2] == opening
    decoded = codec.decode_block_tx(bytes(data))  # a fresh bytes object: no memo hit by identity
    assert type(decoded) is kind and decoded == item
    core = msgpack.unpackb(data, use_list=False)[:-1]  # every field but the witnesses
    assert codec.txid(decoded) == codec.sha256(pack(core)) == codec.txid(item)
    block = make_block([CREDIT, _a_coin_tx(), item], height=3)
    assert codec.decode_block(codec.encode_block(block)) == block


def test_a_credit_decoder_refuses_a_coin_tx() -> None:
    with pytest.raises(DecodeError):
        codec.decode_credit_transfer(codec.encode_tx(_a_coin_tx()))


def _with(index: int, value: object) -> bytes:
    t = tree(CREDIT)
    t[index] = value
    return pack(t)


BAD: dict[str, tuple[bytes, str]] = {
    "version": (_with(0, 17), "unsupported version 17"),
    "six_fields": (pack(tree(CREDIT)[:6]), "missing fields"),
    "sender_short": (_with(2, b"\x01" * 31), "sender: expected 32 bytes"),
    "sender_text": (_with(2, "x" * 32), "sender: expected bytes"),
    "sequence_negative": (_with(3, -1), "sequence"),
    "zero_amount": (_with(4, [[0, TO[1]]]), "payments[0].amount: 0 is outside"),
    "amount_over_max": (_with(4, [[MAX_CREDIT + 1, TO[1]]]), "is outside"),
    "payment_three_fields": (_with(4, [[1, TO[1], 0]]), "payments[0]: extra fields"),
    "too_many_payments": (_with(4, [[1, TO[1]]] * (MAX_CREDIT_PAYMENTS + 1)),
                          "over the limit of 64"),
    "memo_81": (_with(5, b"m" * 81), "memo: 81 bytes is over the limit of 80"),
    "memo_text": (_with(5, "memo"), "memo: expected bytes"),
    "two_witnesses": (_with(6, tree(CREDIT)[6] * 2), "witness: 2 items is over the limit of 1"),
    "witness_not_list": (_with(6, 0), "expected an array"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_hostile_credit_encodings_are_refused(case: str) -> None:
    data, words = BAD[case]
    with pytest.raises(DecodeError) as info:
        codec.decode_credit_transfer(data)
    assert words in str(info.value)
    with pytest.raises(DecodeError):  # in a block: a version other than 16 reads as a coin tx
        codec.decode_block_tx(data)
    block = codec.encode_block(make_block([CREDIT], height=2))
    with pytest.raises(DecodeError):
        codec.decode_block(block.replace(codec.encode_tx(CREDIT), data))


def test_payments_built_in_memory_keep_their_order_and_types() -> None:
    t = new_transfer(CHAIN_ID, TO[0], 0, [(TO[2], 3), (TO[1], 4)])
    assert t.payments == (CreditPayment(3, Lock(TO[2])), CreditPayment(4, Lock(TO[1])))
    assert t.witness is None
