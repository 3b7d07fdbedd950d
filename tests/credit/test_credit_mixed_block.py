"""Coin txs and credit transfers share one block: one Merkle root, one tx count, one size limit.

Each row is a block holding a coin tx and a credit transfer (or a tampered copy) and the rule
`check_block_body` must name, or None: then the coin rules see only the coin tx and the credit
rules only the transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from consensus.codec import block_hash, genesis_hash, tx_size, txid
from consensus.credit import (
    CreditAccount,
    MemoryCreditLedger,
    apply_credit,
    new_transfer,
    sign_credit_transfer,
)
from consensus.errors import ValidationError
from consensus.ledger import MemoryUtxoSet, apply_block, check_block_body, genesis_diff
from consensus.merkle import merkle_root
from consensus.params import PARAM_RANGES, ChainParams
from consensus.types import MAX_CREDIT_PAYMENTS, MAX_MEMO, Block
from tests.builders import (
    CHAIN_ID,
    genesis_outpoint,
    key,
    lock,
    make_block,
    make_genesis,
    make_tx,
    single,
)

PAYER, DEBTOR, SHOP = (single(key(i)) for i in range(80, 83))
PARAMS = ChainParams()
GENESIS = make_genesis([(lock(PAYER), 10_000_000)], params=PARAMS, treasury_lock=lock(SHOP))
COIN_TX = make_tx([(genesis_outpoint(GENESIS, 0), PAYER, [key(80)])],
                  [(lock(SHOP), 1_000_000), (lock(PAYER), 8_995_000)])
TRANSFER = sign_credit_transfer(
    new_transfer(CHAIN_ID, lock(DEBTOR), 0, [(lock(SHOP), 7)], b"soup"), DEBTOR, [key(81)])
MIXED = make_block([COIN_TX, TRANSFER], height=1)
# Credit transfers (unsigned: the body check reads no witness) that fill the smallest block.
MIN_BLOCK_SIZE = PARAM_RANGES["max_block_size"][0]
WIDE = new_transfer(CHAIN_ID, lock(DEBTOR), 0, [
    (lock(single(key(1000 + i))), 1) for i in range(MAX_CREDIT_PAYMENTS)], b"m" * MAX_MEMO)
BULK = tuple(replace(WIDE, sequence=n) for n in range(MIN_BLOCK_SIZE // tx_size(WIDE) + 1))


def views() -> tuple[MemoryUtxoSet, MemoryCreditLedger]:
    utxos = MemoryUtxoSet()
    utxos.apply(genesis_diff(GENESIS, genesis_hash(GENESIS)))
    return utxos, MemoryCreditLedger({lock(DEBTOR): CreditAccount(0, 10, 0)})


@dataclass(frozen=True)
class Case:
    build: Callable[[], Block]
    rule: str | None
    params: ChainParams = PARAMS


CASES: dict[str, Case] = {
    "valid_mixed": Case(lambda: MIXED, None),
    "credit_transfer_changed_under_the_root": Case(
        lambda: replace(MIXED, txs=(COIN_TX, replace(TRANSFER, memo=b"stew"))),
        "tx_root_mismatch"),
    "credit_transfer_left_out_of_the_root": Case(
        lambda: replace(MIXED, txs=(COIN_TX,)), "tx_root_mismatch"),
    "credit_counts_toward_max_block_txs": Case(
        lambda: MIXED, "too_many_txs", replace(PARAMS, max_block_txs=1)),
    "credit_counts_toward_max_block_size": Case(
        lambda: make_block([COIN_TX, *BULK], height=1), "oversize_block",
        replace(PARAMS, max_block_size=MIN_BLOCK_SIZE)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_mixed_block(case: str) -> None:
    row = CASES[case]
    block = row.build()
    if row.rule is not None:
        with pytest.raises(ValidationError) as info:
            check_block_body(block, row.params)
        assert info.value.rule == row.rule
        check_block_body(make_block([COIN_TX], height=1), row.params)  # the coins alone pass
        return
    assert block.header.tx_root == merkle_root([txid(COIN_TX), txid(TRANSFER)])
    utxos, accounts = views()
    coins = apply_block(block, block_hash(block.header), utxos, row.params,
                        treasury_lock=lock(SHOP))
    assert coins.fees == 5_000 and len(coins.spent) == 1  # the coin tx alone
    accounts.apply(apply_credit(block, accounts, row.params, ()))
    assert accounts.accounts[lock(DEBTOR)].balance == -7  # the transfer alone
    assert accounts.accounts[lock(SHOP)].balance == 7
