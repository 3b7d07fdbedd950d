"""Build small valid chains for the storage tests, and check a store against a fresh replay.

Everything is deterministic from a seed: keys are derived from their index, and each block's
content is drawn from `random.Random(f"{seed}/{height}")` over the store's own address index, so
a writer killed and restarted builds the same chain it would have built uninterrupted.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from consensus import codec, ledger
from consensus.crypto import PrivateKey, sha256
from consensus.params import ChainParams
from consensus.types import (
    COIN,
    Block,
    BlockHash,
    BlockHeader,
    Genesis,
    Hash32,
    Lock,
    OutPoint,
    PublicKey,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Validator,
    Witness,
)
from faircoop_node.storage import BaseStore, CommittedTx, TxLocation

CHAIN_ID = "faircoop-storage-test"
FEE = 2_000  # comfortably above size x min_fee_rate for the 1-2 input txs built here
ZERO = Hash32(bytes(32))


@dataclass(frozen=True, slots=True)
class Wallet:
    key: PrivateKey
    policy: SpendPolicy
    lock: Lock


def wallet(index: int, tag: str = "storage-test") -> Wallet:
    key = PrivateKey(sha256(f"{tag}/key/{index}".encode()))
    policy = SpendPolicy.single(key.public_key)
    return Wallet(key, policy, codec.policy_lock(policy))


def make_genesis(
    wallets: list[Wallet], amounts: list[int] | None = None, chain_id: str = CHAIN_ID
) -> Genesis:
    amounts = amounts if amounts is not None else [100 * COIN] * len(wallets)
    allocations = tuple(TxOut(a, wallets[i % len(wallets)].lock) for i, a in enumerate(amounts))
    first = wallets[0]
    return Genesis(1, chain_id, "test", 1_700_000_000_000, allocations,
                   (Validator("coop-a", first.key.public_key),), (first.key.public_key,), 1,
                   ChainParams(), first.lock)


def sign(tx: Tx, signers: list[Wallet]) -> Tx:
    """Sign every input; `signers[i]` owns input i."""
    digest = ledger.tx_sighash(tx)
    witnesses = tuple(Witness(w.policy, ((0, w.key.sign(digest)),)) for w in signers)
    return Tx(tx.version, tx.chain_id, tx.inputs, tx.outputs, tx.memo, witnesses)


def pay(chain_id: str, spends: list[tuple[OutPoint, Wallet]], outputs: list[TxOut],
        memo: bytes = b"") -> Tx:
    unsigned = Tx(1, chain_id, tuple(TxIn(op) for op, _ in spends), tuple(outputs), memo, ())
    return sign(unsigned, [w for _, w in spends])


def make_block(genesis: Genesis, parent: BlockHash, height: int, txs: tuple[Tx, ...],
               last_commit: bytes = b"", evidence: tuple[bytes, ...] = (),
               actions: tuple[bytes, ...] = ()) -> Block:
    vhash = codec.validators_hash(genesis.validators)
    fields = BlockHeader(1, genesis.chain_id, height, parent, genesis.time_ms + height * 1000,
                         ZERO, vhash, vhash, codec.params_hash(genesis.params), ZERO, ZERO, ZERO,
                         PublicKey(genesis.validators[0].pubkey))
    return ledger.assemble_block(fields, txs, last_commit, evidence, actions)


def fake_certificate(block_id: bytes) -> bytes:
    return b"cert/" + block_id


def chain_state_for(height: int, block_id: bytes) -> bytes:
    return codec.pack((height, block_id))


def commit(store: BaseStore, block: Block, sig_cache: ledger.SignatureCache | None = None,
           validator_sets: dict[bytes, bytes] | None = None) -> ledger.UtxoDiff:
    """Validate `block` against the store with the real ledger rules, then commit it."""
    block_id = codec.block_hash(block.header)
    g = store.genesis
    diff = ledger.apply_block(block, block_id, store, g.params, treasury_lock=g.treasury_lock,
                              sig_cache=sig_cache)
    store.commit_block(block, block_id, diff, fake_certificate(block_id),
                       chain_state_for(block.header.height, block_id),
                       validator_sets=validator_sets)
    return diff


def next_block(store: BaseStore, wallets: list[Wallet], seed: str, max_txs: int = 8) -> Block:
    """The block the seed says comes next: payments between `wallets`, from the address index.

    Some txs spend an output made earlier in the same block; some blocks carry evidence bytes,
    and some governance action bytes (the store keeps both without reading them).
    """
    tip = store.tip()
    height = tip.height + 1
    rng = random.Random(f"{seed}/{height}")
    by_lock = {w.lock: w for w in wallets}
    coins: list[tuple[OutPoint, int, Wallet]] = []
    for w in wallets:
        coins.extend((u.outpoint, u.amount, w) for u in store.get_address_utxos(w.lock))
    rng.shuffle(coins)
    txs: list[Tx] = []
    for _ in range(rng.randint(0, max_txs)):
        if txs and rng.random() < 0.25:  # chain on the previous tx's first output
            prev = txs[-1]
            spends = [(OutPoint(codec.txid(prev), 0), prev.outputs[0].amount,
                       by_lock[prev.outputs[0].lock])]
        else:
            take = min(len(coins), rng.choice((1, 1, 2)))
            if take == 0:
                break
            spends = [coins.pop() for _ in range(take)]
        total = sum(amount for _, amount, _ in spends)
        if total < FEE + 2 * 1_000:
            continue
        first = rng.randint(1_000, total - FEE - 1_000)
        outs = [TxOut(first, rng.choice(wallets).lock),
                TxOut(total - FEE - first, rng.choice(wallets).lock)]
        txs.append(pay(store.genesis.chain_id, [(op, w) for op, _, w in spends], outs,
                       memo=f"{height}".encode()))
    evidence = (sha256(f"{seed}/evidence/{height}".encode()),) if rng.random() < 0.1 else ()
    actions = tuple(codec.pack((f"{seed}/action/{height}/{i}", rng.randbytes(rng.randint(0, 90))))
                    for i in range(rng.choice((0, 0, 0, 0, 1, 2))))
    last_commit = (store.get_certificate(tip.height) or b"") if tip.height else b""
    return make_block(store.genesis, tip.block_hash, height, tuple(txs), last_commit, evidence,
                      actions)


def extend_chain(store: BaseStore, wallets: list[Wallet], seed: str, blocks: int) -> BaseStore:
    """`store` with `blocks` more blocks of `next_block`; returns it."""
    for _ in range(blocks):
        commit(store, next_block(store, wallets, seed))
    return store


class Replay:
    """What the store must hold, computed by replaying its blocks with `ledger.apply_block`.

    `extend` replays only blocks it has not seen (after checking the ones it has are unchanged),
    so checking after every crash stays cheap while still being a replay from genesis.
    """

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        gid = codec.genesis_hash(genesis)
        self.hashes: list[bytes] = [gid]
        self.utxos = ledger.MemoryUtxoSet()
        self.heights: dict[OutPoint, int] = {}
        self.txlocs: dict[bytes, tuple[int, int]] = {}
        self.committed: dict[bytes, CommittedTx] = {}  # what get_committed_tx must answer
        self.history: dict[Lock, dict[tuple[int, int], bytes]] = defaultdict(dict)
        self.evidence: dict[bytes, tuple[int, bytes]] = {}
        self.actions: dict[tuple[int, int], bytes] = {}  # (height, index) -> action bytes
        self.sig_cache = ledger.SignatureCache()
        self._apply(0, gid, (), ledger.genesis_diff(genesis, gid))

    def _apply(self, height: int, block_id: bytes, txs: tuple[Tx, ...],
               diff: ledger.UtxoDiff) -> None:
        made: dict[OutPoint, TxOut] = {}
        for position, tx in enumerate(txs):
            tid = codec.txid(tx)
            self.txlocs[tid] = (height, position)
            fee = -sum(out.amount for out in tx.outputs)
            for txin in tx.inputs:
                prev = made.get(txin.prevout) or self.utxos.get_utxo(txin.prevout)
                assert prev is not None
                self.history[prev.lock][(height, position)] = tid
                fee += prev.amount
            self.committed[tid] = CommittedTx(tx, TxLocation(height, position), fee)
            for i, out in enumerate(tx.outputs):
                made[OutPoint(TxId(tid), i)] = out
                self.history[out.lock][(height, position)] = tid
        for op, out in diff.created:
            if op.txid == block_id:
                self.history[out.lock][(height, len(txs))] = block_id
        self.utxos.apply(diff)
        for op in diff.spent:
            del self.heights[op]
        for op, _ in diff.created:
            self.heights[op] = height

    def extend(self, store: BaseStore) -> int:
        """Replay the store's new blocks; returns how many were replayed."""
        tip = store.tip()
        assert tip.height >= len(self.hashes) - 1, "the tip went backwards: a commit was lost"
        for h, known in enumerate(self.hashes):
            assert store.get_hash_at(h) == known, f"height {h} changed under the replay"
        g = self.genesis
        start = len(self.hashes)
        for h in range(start, tip.height + 1):
            block_id = store.get_hash_at(h)
            block = store.get_block_at(h)
            assert block_id is not None and block is not None, f"block {h} missing below tip"
            diff = ledger.apply_block(block, BlockHash(block_id), self.utxos, g.params,
                                      treasury_lock=g.treasury_lock, sig_cache=self.sig_cache)
            self._apply(h, block_id, block.txs, diff)
            for item in block.evidence:
                self.evidence[sha256(item)] = (h, item)
            for i, action in enumerate(block.actions):
                self.actions[(h, i)] = action
            self.hashes.append(block_id)
        return tip.height + 1 - start

    def assert_matches(self, store: BaseStore) -> None:
        """The tip is consistent and every derived keyspace equals what the replay derived."""
        from faircoop_node.storage import schema

        tip = store.tip()
        assert tip.height == len(self.hashes) - 1
        assert store.get_hash_at(tip.height) == tip.block_hash
        assert store.get_hash_at(tip.height + 1) is None
        if tip.height:
            block = store.get_block(tip.block_hash)
            assert block is not None and block.header.height == tip.height
            assert store.get_certificate(tip.height) == fake_certificate(tip.block_hash)
            assert store.get_chain_state() == chain_state_for(tip.height, tip.block_hash)
        # the UTXO set
        stored = {op: (out, h) for op, out, h in store.iter_utxos()}
        expected = {op: (out, self.heights[op]) for op, out in self.utxos.utxos.items()}
        assert stored == expected, "UTXO set differs from a replay of the blocks"
        # the tx index: nothing missing, nothing extra, every location right
        kv = store.backend
        txindex = {k[1:]: schema.decode_tx_location(v, k) for k, v in kv.items(schema.TX)}
        assert txindex == self.txlocs, "tx index differs from the blocks"
        for tid, committed in self.committed.items():  # fees, and spans that slice the tx out
            assert store.get_committed_tx(tid) == committed, f"tx {tid.hex()} reads back wrong"
        # the address index: unspent outputs, summaries and history, all from raw scans
        addr_utxos = {(schema.lock_from_addr_key(k), schema.outpoint_from_addr_utxo_key(k)):
                      schema.decode_addr_utxo(v, k) for k, v in kv.items(schema.ADDR_UTXO)}
        want_utxos = {(out.lock, op): (out.amount, self.heights[op])
                      for op, out in self.utxos.utxos.items()}
        assert addr_utxos == want_utxos, "address utxo index differs from the UTXO set"
        summaries = {schema.lock_from_addr_key(k): schema.decode_summary(v, k)
                     for k, v in kv.items(schema.ADDR_SUMMARY)}
        want_summary: dict[bytes, list[int]] = {
            lock: [0, 0, len(entries)] for lock, entries in self.history.items()
        }
        for out in self.utxos.utxos.values():
            s = want_summary.setdefault(out.lock, [0, 0, 0])
            s[0] += out.amount
            s[1] += 1
        assert summaries == {k: tuple(v) for k, v in want_summary.items()}
        history = {(schema.lock_from_addr_key(k), schema.history_from_key(k)): v
                   for k, v in kv.items(schema.ADDR_HISTORY)}
        want_history = {(lock, at): tid for lock, entries in self.history.items()
                        for at, tid in entries.items()}
        assert history == want_history, "address history differs from the blocks"
        evidence = {k[1:]: schema.decode_evidence(v, k) for k, v in kv.items(schema.EVIDENCE)}
        assert evidence == self.evidence
        actions = {schema.governance_from_key(k): schema.decode_governance(v, k)
                   for k, v in kv.items(schema.GOVERNANCE)}
        assert actions == self.actions, "governance index differs from the blocks"


ROOT = Path(__file__).resolve().parents[2]  # writers run as tests.storage.<module>


def start_writer(module: str, path: Path, seed: int) -> subprocess.Popen[str]:
    """A crash test's writer process (`python -m tests.storage.<module> PATH SEED`), once it
    says its store is open."""
    proc = subprocess.Popen(
        [sys.executable, "-m", f"tests.storage.{module}", str(path), str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        proc.kill()
        raise AssertionError(f"writer did not start: {line!r} {proc.stderr.read()}")
    return proc
