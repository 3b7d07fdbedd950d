"""A tour of the ledger layer: a genesis allocation, a signed payment, and its validation.

This is what `./scripts/dev devnet` runs until the node exists.
"""

from __future__ import annotations

from consensus import codec, ledger
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.params import ChainParams
from consensus.types import (
    COIN,
    Genesis,
    OutPoint,
    SpendPolicy,
    Tx,
    TxIn,
    TxOut,
    Validator,
    Witness,
)


def main() -> None:
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    a_policy, b_policy = SpendPolicy.single(alice.public_key), SpendPolicy.single(bob.public_key)
    a_lock, b_lock = codec.policy_lock(a_policy), codec.policy_lock(b_policy)
    params = ChainParams()
    genesis = Genesis(1, "faircoop-demo", "test", 0, (TxOut(100 * COIN, a_lock),),
                      (Validator("demo-coop", alice.public_key),), (alice.public_key,), 1,
                      params, a_lock)
    gid = codec.genesis_hash(genesis)
    utxos = ledger.MemoryUtxoSet()
    utxos.apply(ledger.genesis_diff(genesis, gid))
    print("alice:", encode_address(a_lock, "test"))
    print("bob:  ", encode_address(b_lock, "test"))
    unsigned = Tx(1, genesis.chain_id, (TxIn(OutPoint(gid, 0)),),
                  (TxOut(25 * COIN, b_lock), TxOut(75 * COIN - 1_000, a_lock)), b"hello", ())
    sig = alice.sign(ledger.tx_sighash(unsigned))
    tx = Tx(unsigned.version, unsigned.chain_id, unsigned.inputs, unsigned.outputs,
            unsigned.memo, (Witness(a_policy, ((0, sig),)),))
    valid = ledger.validate_tx(tx, utxos, params, chain_id=genesis.chain_id)
    print(f"tx {valid.txid.hex()} is valid: {valid.size} bytes, fee {valid.fee} base units")


if __name__ == "__main__":
    main()
