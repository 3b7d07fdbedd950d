"""A tx validated into the SignatureCache at mempool admission is not verified again in a block."""

from __future__ import annotations

import pytest

from consensus import codec, crypto, ledger
from consensus.errors import InvalidSignature
from consensus.types import COIN, OutPoint, TxId, TxOut
from faircoop_node.storage import MemoryStore
from tests.storage.storage_chain import CHAIN_ID, FEE, make_block, make_genesis, pay, wallet

W = [wallet(i, "sigcache") for i in range(3)]


class CountingBackend:
    """Wraps the real backend and counts verify calls."""

    def __init__(self, inner: crypto.VerifyBackend) -> None:
        self.inner = inner
        self.name = f"counting-{inner.name}"
        self.calls = 0

    def verify(self, pubkey: bytes, signature: bytes, digest: bytes) -> bool:
        self.calls += 1
        return self.inner.verify(pubkey, signature, digest)

    def compact_from_der(self, der: bytes) -> bytes:
        return self.inner.compact_from_der(der)

    def pubkey_valid(self, pubkey: bytes) -> bool:
        return self.inner.pubkey_valid(pubkey)


def _block_of_payments(genesis, count):
    gid = codec.genesis_hash(genesis)
    txs = tuple(
        pay(CHAIN_ID, [(OutPoint(TxId(gid), i), W[i % 3])],
            [TxOut(COIN, W[(i + 1) % 3].lock), TxOut(9 * COIN - FEE, W[i % 3].lock)])
        for i in range(count)
    )
    return make_block(genesis, gid, 1, txs)


def test_block_of_cached_txs_applies_with_zero_signature_verifications():
    genesis = make_genesis(W, [10 * COIN] * 6)
    store = MemoryStore(genesis)
    block = _block_of_payments(genesis, 6)
    bid = codec.block_hash(block.header)
    cache = ledger.SignatureCache()
    counter = CountingBackend(crypto.backend())
    old = crypto.use_backend(counter)
    try:
        for tx in block.txs:  # mempool admission
            ledger.validate_tx(tx, store, genesis.params, chain_id=CHAIN_ID, sig_cache=cache)
        assert counter.calls == 6
        counter.calls = 0
        diff = ledger.apply_block(block, bid, store, genesis.params,
                                  treasury_lock=genesis.treasury_lock, sig_cache=cache)
        assert counter.calls == 0
        assert cache.hits == 6
        # without the cache the same block costs one verification per input
        ledger.apply_block(block, bid, store, genesis.params, treasury_lock=genesis.treasury_lock)
        assert counter.calls == 6
    finally:
        crypto.use_backend(old)
    store.commit_block(block, bid, diff, b"cert", b"")
    assert store.tip().height == 1


def test_cache_entry_does_not_cover_other_signatures():
    genesis = make_genesis(W, [10 * COIN] * 6)
    store = MemoryStore(genesis)
    block = _block_of_payments(genesis, 1)
    cache = ledger.SignatureCache()
    ledger.validate_tx(block.txs[0], store, genesis.params, chain_id=CHAIN_ID, sig_cache=cache)
    tx = block.txs[0]
    other_sig = W[0].key.sign(b"\x07" * 32)  # a valid signature, of the wrong digest
    forged = type(tx)(tx.version, tx.chain_id, tx.inputs, tx.outputs, tx.memo,
                      (type(tx.witnesses[0])(tx.witnesses[0].policy, ((0, other_sig),)),))
    counter = CountingBackend(crypto.backend())
    old = crypto.use_backend(counter)
    try:
        with pytest.raises(InvalidSignature, match="bad_signature"):
            ledger.validate_tx(forged, store, genesis.params, chain_id=CHAIN_ID, sig_cache=cache)
        assert counter.calls == 1
    finally:
        crypto.use_backend(old)
