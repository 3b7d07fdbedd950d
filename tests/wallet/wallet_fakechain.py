"""A small in-memory chain for wallet tests: real ledger rules, real signed certificates.

Blocks are assembled with `consensus.ledger`, applied to a `MemoryUtxoSet`, and certified by
precommits of the test validators (`consensus.certificate.build_certificate`), so everything
the wallet verifies is genuinely signed. The validator set can be rotated to test that the
light client follows `next_validators_hash`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from consensus import codec, ledger
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.merkle import merkle_proof
from consensus.params import ChainParams
from consensus.types import (
    COIN,
    BlockHash,
    BlockHeader,
    Genesis,
    Hash32,
    Lock,
    OutPoint,
    PublicKey,
    Tx,
    TxId,
    TxOut,
    Validator,
)
from consensus.votes import VoteType, encode_certificate, sign_vote

CHAIN_ID = "faircoop-test"
ZERO32 = Hash32(bytes(32))


def make_validators(n: int, seed: int) -> tuple[list[PrivateKey], tuple[Validator, ...]]:
    keys = [PrivateKey(((seed * 1000 + i + 1)).to_bytes(32, "big")) for i in range(n)]
    vals = tuple(sorted((Validator(f"coop{seed}-{i}", PublicKey(k.public_key))
                         for i, k in enumerate(keys)), key=lambda v: v.pubkey))
    by_pub = {k.public_key: k for k in keys}
    return [by_pub[v.pubkey] for v in vals], vals


@dataclass
class BlockRecord:
    header: BlockHeader
    block_id: BlockHash
    txs: tuple[Tx, ...]
    certificate: bytes


@dataclass
class FakeChain:
    allocations: tuple[TxOut, ...]
    params: ChainParams = field(default_factory=ChainParams)
    network: str = "test"
    n_validators: int = 4

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.keys, self.validators = make_validators(self.n_validators, 1)
        treasury = Lock(bytes(32))
        self.genesis = Genesis(1, CHAIN_ID, self.network, 1_000, self.allocations,
                               self.validators, (self.keys[0].public_key,), 1, self.params,
                               treasury)
        self.genesis_id = codec.genesis_hash(self.genesis)
        self.utxos = ledger.MemoryUtxoSet()
        self.utxos.apply(ledger.genesis_diff(self.genesis, self.genesis_id))
        self.blocks: list[BlockRecord] = []
        self.mempool: list[Tx] = []
        self.tx_index: dict[bytes, tuple[int, int]] = {}  # txid -> (height, position)
        self.sets: dict[bytes, tuple[Validator, ...]] = {
            codec.validators_hash(self.validators): self.validators}
        self.pending_set: tuple[list[PrivateKey], tuple[Validator, ...]] | None = None
        self.auto_mine = True
        self.forge_certificates = False  # sign with keys outside the set (a lying node)

    # -- chain --

    @property
    def height(self) -> int:
        return len(self.blocks)

    @property
    def tip_id(self) -> BlockHash:
        return self.blocks[-1].block_id if self.blocks else self.genesis_id

    def rotate_validators(self, n: int, seed: int) -> None:
        """The next block commits to a new set, which certifies the block after it."""
        keys, vals = make_validators(n, seed)
        self.sets[codec.validators_hash(vals)] = vals
        self.pending_set = (keys, vals)

    def mine(self) -> BlockRecord:
        with self.lock:
            txs = tuple(self.mempool)
            self.mempool = []
            height = self.height + 1
            vhash = codec.validators_hash(self.validators)
            next_keys, next_vals = self.pending_set or (self.keys, self.validators)
            fields = BlockHeader(
                1, CHAIN_ID, height, self.tip_id, 1_000 + height * 200, ZERO32, vhash,
                codec.validators_hash(next_vals), codec.params_hash(self.params), ZERO32,
                ZERO32, ZERO32, PublicKey(self.keys[0].public_key))
            last_commit = self.blocks[-1].certificate if self.blocks else b""
            block = ledger.assemble_block(fields, txs, last_commit)
            block_id = codec.block_hash(block.header)
            diff = ledger.apply_block(block, block_id, self.utxos, self.params,
                                      treasury_lock=self.genesis.treasury_lock)
            self.utxos.apply(diff)
            signers = self.keys
            if self.forge_certificates:
                signers = [PrivateKey((9_999 + i).to_bytes(32, "big")) for i in range(len(signers))]
            votes = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, height, 0, block_id)
                     for k in signers]
            from consensus.certificate import build_certificate

            keys = tuple(PublicKey(v.pubkey) for v in self.validators)
            if self.forge_certificates:
                from consensus.votes import CommitCertificate

                cert = CommitCertificate(CHAIN_ID, height, 0, block_id,
                                         tuple((i, v.signature) for i, v in enumerate(votes)))
            else:
                cert = build_certificate(votes, keys)
            record = BlockRecord(block.header, block_id, txs, encode_certificate(cert))
            self.blocks.append(record)
            for pos, tx in enumerate(txs):
                self.tx_index[codec.txid(tx)] = (height, pos)
            if self.pending_set is not None:
                self.keys, self.validators = self.pending_set
                self.pending_set = None
            return record

    def submit(self, tx: Tx) -> bytes:
        """Validate against the chain plus the mempool; raises ValidationError."""
        with self.lock:
            view = ledger.MemoryUtxoSet(dict(self.utxos.utxos))
            for m in self.mempool:
                for i in m.inputs:
                    view.utxos.pop(i.prevout, None)
                for n, o in enumerate(m.outputs):
                    view.utxos[OutPoint(codec.txid(m), n)] = o
            ledger.validate_tx(tx, view, self.params, chain_id=CHAIN_ID)
            self.mempool.append(tx)
            if self.auto_mine:
                self.mine()
            return codec.txid(tx)

    # -- lookups --

    def find_tx(self, tid: bytes) -> tuple[Tx, int | None, int | None] | None:
        with self.lock:
            loc = self.tx_index.get(tid)
            if loc is not None:
                h, pos = loc
                return self.blocks[h - 1].txs[pos], h, pos
            for m in self.mempool:
                if codec.txid(m) == tid:
                    return m, None, None
            return None

    def proof(self, tid: bytes) -> dict[str, object] | None:
        with self.lock:
            loc = self.tx_index.get(tid)
            if loc is None:
                return None
            h, pos = loc
            rec = self.blocks[h - 1]
            ids = [codec.txid(t) for t in rec.txs]
            return {
                "txid": tid.hex(), "height": h, "block_hash": rec.block_id.hex(),
                "header_hex": codec.encode_header(rec.header).hex(), "position": pos,
                "tx_count": len(ids), "merkle_proof": [p.hex() for p in merkle_proof(ids, pos)],
                "certificate_hex": rec.certificate.hex(),
                "validator_set_hex": codec.pack(codec.validators_obj(
                    self.sets[rec.header.validators_hash])).hex(),
            }

    def utxos_of(self, lock: bytes) -> list[tuple[OutPoint, TxOut]]:
        with self.lock:
            return sorted(((op, o) for op, o in self.utxos.utxos.items() if o.lock == lock),
                          key=lambda x: (x[0].txid, x[0].index))

    def txs_of(self, lock: bytes) -> list[tuple[bytes, int, int]]:
        with self.lock:
            out = []
            for rec in self.blocks:
                for pos, tx in enumerate(rec.txs):
                    if any(o.lock == lock for o in tx.outputs) or any(
                        w.policy and codec.policy_lock(w.policy) == lock for w in tx.witnesses
                    ):
                        out.append((codec.txid(tx), rec.header.height, pos))
            return list(reversed(out))

    def address(self, lock: bytes) -> str:
        return encode_address(lock, self.network)


def funded_chain(locks: list[Lock], amounts: list[int] | None = None,
                 params: ChainParams | None = None) -> FakeChain:
    amounts = amounts or [10 * COIN] * len(locks)
    allocs = tuple(TxOut(a, lk) for lk, a in zip(locks, amounts, strict=True))
    return FakeChain(allocs, params or ChainParams())


__all__ = ["CHAIN_ID", "FakeChain", "OutPoint", "TxId", "funded_chain"]
