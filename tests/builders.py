"""Small builders for tests: deterministic keys, policies, a genesis, signed txs and blocks.

Every value is built from explicit arguments (no hidden global state), and keys are derived from
an integer seed so a failing hypothesis example can be replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from consensus.codec import genesis_hash, params_hash, policy_lock, validators_hash
from consensus.crypto import PrivateKey, sha256
from consensus.ledger import assemble_block, tx_sighash
from consensus.params import ChainParams
from consensus.types import (
    BLOCK_VERSION,
    GENESIS_VERSION,
    TX_VERSION,
    Block,
    BlockHash,
    BlockHeader,
    CreditTransfer,
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

CHAIN_ID = "faircoop-test"
ZERO32 = bytes(32)


@lru_cache(maxsize=4096)
def key(seed: int) -> PrivateKey:
    """A deterministic private key: the secret is SHA-256 of the seed (always in range)."""
    return PrivateKey(sha256(b"faircoop-test-key" + seed.to_bytes(8, "big")))


def single(k: PrivateKey) -> SpendPolicy:
    return SpendPolicy.single(k.public_key)


def multisig(threshold: int, keys: Sequence[PrivateKey]) -> SpendPolicy:
    return SpendPolicy.multisig(threshold, [k.public_key for k in keys])


def lock(policy: SpendPolicy) -> Lock:
    return policy_lock(policy)


def make_genesis(
    allocations: Sequence[tuple[Lock, int]],
    *,
    chain_id: str = CHAIN_ID,
    network: str = "test",
    params: ChainParams | None = None,
    validators: Sequence[PrivateKey] = (),
    treasury_lock: Lock | None = None,
) -> Genesis:
    """A genesis paying `allocations` (lock, amount) in order; validators named coop-0.."""
    vals = tuple(Validator(f"coop-{i}", PublicKey(k.public_key)) for i, k in enumerate(validators))
    return Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        network=network,
        time_ms=1_700_000_000_000,
        allocations=tuple(TxOut(amount, lk) for lk, amount in allocations),
        validators=vals,
        governors=tuple(v.pubkey for v in vals),
        governor_threshold=1,
        params=params or ChainParams(),
        treasury_lock=treasury_lock or Lock(sha256(b"treasury")),
    )


def genesis_outpoint(genesis: Genesis, index: int) -> OutPoint:
    return OutPoint(TxId(genesis_hash(genesis)), index)


# A spend: the outpoint, the policy behind its lock, and the keys that sign it.
Spend = tuple[OutPoint, SpendPolicy, Sequence[PrivateKey]]


def unsigned_tx(
    inputs: Sequence[OutPoint],
    outputs: Sequence[tuple[Lock, int]],
    *,
    chain_id: str = CHAIN_ID,
    memo: bytes = b"",
) -> Tx:
    return Tx(
        version=TX_VERSION,
        chain_id=chain_id,
        inputs=tuple(TxIn(op) for op in inputs),
        outputs=tuple(TxOut(amount, lk) for lk, amount in outputs),
        memo=memo,
        witnesses=(),
    )


def witness(tx: Tx, policy: SpendPolicy, signers: Sequence[PrivateKey]) -> Witness:
    """The witness `signers` make for `tx` (signers not in the policy are an error)."""
    digest = tx_sighash(tx)
    index = {pk: i for i, pk in enumerate(policy.pubkeys)}
    pairs = sorted((index[PublicKey(k.public_key)], k.sign(digest)) for k in signers)
    return Witness(policy, tuple(pairs))


def sign(tx: Tx, spends: Sequence[tuple[SpendPolicy, Sequence[PrivateKey]]]) -> Tx:
    """`tx` with one witness per input, each made by that input's signers."""
    unsigned = replace(tx, witnesses=())
    wits = tuple(witness(unsigned, policy, signers) for policy, signers in spends)
    return replace(tx, witnesses=wits)


def make_tx(
    spends: Sequence[Spend],
    outputs: Sequence[tuple[Lock, int]],
    *,
    chain_id: str = CHAIN_ID,
    memo: bytes = b"",
) -> Tx:
    """A signed tx spending `spends` and paying `outputs` (lock, amount)."""
    tx = unsigned_tx([op for op, _, _ in spends], outputs, chain_id=chain_id, memo=memo)
    return sign(tx, [(policy, signers) for _, policy, signers in spends])


def make_header(
    *,
    chain_id: str = CHAIN_ID,
    height: int = 1,
    prev_hash: bytes = ZERO32,
    time_ms: int = 1_700_000_001_000,
    validators: tuple[Validator, ...] = (),
    params: ChainParams | None = None,
    proposer: PrivateKey | None = None,
) -> BlockHeader:
    """A header whose body commitments are placeholders (assemble_block fills them)."""
    vh = validators_hash(validators)
    return BlockHeader(
        version=BLOCK_VERSION,
        chain_id=chain_id,
        height=height,
        prev_hash=BlockHash(prev_hash),
        time_ms=time_ms,
        tx_root=Hash32(ZERO32),
        validators_hash=vh,
        next_validators_hash=vh,
        params_hash=params_hash(params or ChainParams()),
        last_commit_hash=Hash32(ZERO32),
        evidence_hash=Hash32(ZERO32),
        actions_hash=Hash32(ZERO32),
        proposer=PublicKey((proposer or key(0)).public_key),
    )


def make_block(
    txs: Sequence[Tx | CreditTransfer],
    *,
    chain_id: str = CHAIN_ID,
    height: int = 1,
    prev_hash: bytes = ZERO32,
    last_commit: bytes = b"",
    evidence: tuple[bytes, ...] = (),
    actions: tuple[bytes, ...] = (),
) -> Block:
    """A block whose header commits to its body."""
    header = make_header(chain_id=chain_id, height=height, prev_hash=prev_hash)
    return assemble_block(header, tuple(txs), last_commit, evidence, actions)
