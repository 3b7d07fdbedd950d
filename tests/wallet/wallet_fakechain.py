"""A small in-memory chain for wallet tests: the node's own rules, real signed certificates.

Blocks are built with `consensus.chain.make_block` and checked with `validate_block` against a
real `ChainState`, then certified by precommits of the voting set
(`consensus.certificate.build_certificate`), so everything the wallet verifies is genuinely
what a node would accept. Governors change the chain the node's way: `rotate_validators` and
`govern` put signed governance actions in the next block, `recover` installs a recovery
(`install_recovery`) that the next block carries. A lying node is played by
`forge_certificates` (strangers sign) and `mine_forged_recovery` (a recovery block the rules
refuse, certified by the set it names).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from consensus import codec, ledger
from consensus.address import encode_address
from consensus.certificate import build_certificate
from consensus.chain import make_block, proposal_time, validate_block
from consensus.chainstate import ChainState, genesis_state, install_recovery
from consensus.crypto import PrivateKey, sha256
from consensus.governance import (
    ActionBody,
    AddValidator,
    RecoveryAction,
    RemoveValidator,
    SignedAction,
    apply_action,
    check_action,
    decode_block_action,
    encode_action,
    encode_block_action,
    make_action,
    make_recovery,
    use_nonce,
)
from consensus.merkle import merkle_proof
from consensus.params import ChainParams
from consensus.types import (
    Block,
    BlockHash,
    BlockHeader,
    Genesis,
    Lock,
    OutPoint,
    PublicKey,
    Tx,
    TxId,
    TxOut,
    Validator,
)
from consensus.votes import CommitCertificate, VoteType, encode_certificate, sign_vote

CHAIN_ID = "faircoop-test"
BLOCK_SPACING_MS = 200


def make_validators(n: int, seed: int) -> tuple[list[PrivateKey], tuple[Validator, ...]]:
    keys = [PrivateKey(((seed * 1000 + i + 1)).to_bytes(32, "big")) for i in range(n)]
    vals = tuple(sorted((Validator(f"coop{seed}-{i}", PublicKey(k.public_key))
                         for i, k in enumerate(keys)), key=lambda v: v.pubkey))
    by_pub = {k.public_key: k for k in keys}
    return [by_pub[v.pubkey] for v in vals], vals


def governor_key(i: int) -> PrivateKey:
    return PrivateKey(sha256(b"wallet-fakechain/governor/" + i.to_bytes(4, "big")))


@dataclass
class BlockRecord:
    header: BlockHeader
    block_id: BlockHash
    txs: tuple[Tx, ...]
    certificate: bytes
    block: Block


@dataclass
class FakeChain:
    allocations: tuple[TxOut, ...]
    params: ChainParams = field(default_factory=ChainParams)
    network: str = "test"
    n_validators: int = 4
    n_governors: int = 1
    governor_threshold: int = 1
    governors: tuple[bytes, ...] = ()  # the genesis governors' keys (default: n_governors of ours)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        keys, validators = make_validators(self.n_validators, 1)
        self.key_of: dict[bytes, PrivateKey] = {k.public_key: k for k in keys}
        self.governor_keys = [governor_key(i) for i in range(self.n_governors)]
        treasury = Lock(bytes(32))
        governors = self.governors or tuple(k.public_key for k in self.governor_keys)
        self.genesis = Genesis(1, CHAIN_ID, self.network, 1_000, self.allocations, validators,
                               tuple(sorted(PublicKey(bytes(k)) for k in governors)),
                               self.governor_threshold, self.params, treasury)
        self.genesis_id = codec.genesis_hash(self.genesis)
        self.state: ChainState = genesis_state(self.genesis, self.genesis_id)
        self.utxos = ledger.MemoryUtxoSet()
        self.utxos.apply(ledger.genesis_diff(self.genesis, self.genesis_id))
        self.blocks: list[BlockRecord] = []
        self.mempool: list[Tx] = []
        self.next_actions: list[bytes] = []
        self.nonce = 0
        self.tx_index: dict[bytes, tuple[int, int]] = {}  # txid -> (height, position)
        self.sets: dict[bytes, tuple[Validator, ...]] = {}
        self._remember_sets(self.state)
        self.auto_mine = True
        self.forge_certificates = False  # sign with keys outside the set (a lying node)

    # -- chain --

    @property
    def height(self) -> int:
        return len(self.blocks)

    @property
    def tip_id(self) -> BlockHash:
        return self.blocks[-1].block_id if self.blocks else self.genesis_id

    @property
    def validators(self) -> tuple[Validator, ...]:
        """The voting set of the next height."""
        return self.state.validators

    def _remember_sets(self, state: ChainState) -> None:
        for config in (state.current, state.upcoming):
            self.sets[codec.validators_hash(config.validators)] = config.validators

    def govern(self, body: ActionBody, signers: list[PrivateKey] | None = None) -> None:
        """The next block carries `body`, signed by the governors (the first t by default)."""
        keys = self.governor_keys[: self.governor_threshold] if signers is None else signers
        action = make_action(CHAIN_ID, self.nonce, body, tuple(keys))
        self.nonce += 1
        self.next_actions.append(encode_action(action))

    def rotate_validators(self, n: int, seed: int) -> None:
        """The governors replace the voting set by n new coops: the next block carries the
        actions, the block after it commits to the new set, which certifies the one after."""
        keys, vals = make_validators(n, seed)
        self.key_of.update({k.public_key: k for k in keys})
        for v in vals:
            self.govern(AddValidator(v.name, v.pubkey))
        for v in self.state.upcoming.validators:
            self.govern(RemoveValidator(v.pubkey))

    def recover(self, n: int, seed: int, signers: list[PrivateKey] | None = None) -> RecoveryAction:
        """The chain stalled; governors install n new validators, as a node does on receipt of
        the action. The next block carries it first and is certified by the new set."""
        keys, vals = make_validators(n, seed)
        self.key_of.update({k.public_key: k for k in keys})
        chosen = self.governor_keys[: self.governor_threshold] if signers is None else signers
        st = self.state
        action = make_recovery(CHAIN_ID, st.height, st.last_block_id, vals, tuple(chosen))
        self.state = install_recovery(st, action, st.last_block_time_ms
                                      + st.params.recovery_after_ms)
        self._remember_sets(self.state)
        return action

    def submit_action(self, raw: bytes) -> str:
        """Check a governance action (or recovery) as a node's `POST actions` does and pool it
        for the next block (mined at once with `auto_mine`); its id. Raises DecodeError or
        ValidationError (with the rule). A recovery is installed with the fake clock past its
        wait, as a node whose chain stalled would."""
        with self.lock:
            action = decode_block_action(raw)
            st = self.state
            if isinstance(action, RecoveryAction):
                self.state = install_recovery(st, action, st.last_block_time_ms
                                              + st.params.recovery_after_ms)
                self._remember_sets(self.state)
            elif raw not in self.next_actions:
                upcoming, suspended = st.upcoming, st.suspended
                floor, used = st.nonce_floor, st.used_nonces
                for prior in map(decode_block_action, self.next_actions):
                    assert isinstance(prior, SignedAction)
                    upcoming, suspended = apply_action(upcoming, suspended, prior.body)
                    floor, used = use_nonce(prior.nonce, floor, used)
                check_action(action, CHAIN_ID, st.current, floor, used)
                apply_action(upcoming, suspended, action.body)
                self.next_actions.append(raw)
            if self.auto_mine:
                self.mine()
            return sha256(raw).hex()

    def next_free_nonce(self) -> int:
        """The lowest nonce neither used by the chain nor by a pooled action."""
        with self.lock:
            taken = set(self.state.used_nonces) | {
                a.nonce for a in map(decode_block_action, self.next_actions)
                if isinstance(a, SignedAction)}
            nonce = self.state.nonce_floor
            while nonce in taken:
                nonce += 1
            return nonce

    def _certify(self, block: Block, block_id: BlockHash, voters: tuple[PublicKey, ...],
                 signers: list[PrivateKey]) -> bytes:
        height = block.header.height
        votes = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, height, 0, block_id)
                 for k in signers]
        if self.forge_certificates:
            strangers = [PrivateKey((9_999 + i).to_bytes(32, "big")) for i in range(len(signers))]
            forged = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, height, 0, block_id)
                      for k in strangers]
            return encode_certificate(CommitCertificate(
                CHAIN_ID, height, 0, block_id, tuple((i, v.signature) for i, v in
                                                     enumerate(forged))))
        return encode_certificate(build_certificate(votes, voters))

    def _append(self, block: Block, block_id: BlockHash, certificate: bytes) -> BlockRecord:
        record = BlockRecord(block.header, block_id, block.txs, certificate, block)
        self.blocks.append(record)
        for pos, tx in enumerate(block.txs):
            self.tx_index[codec.txid(tx)] = (block.header.height, pos)
        return record

    def mine(self) -> BlockRecord:
        with self.lock:
            txs, self.mempool = tuple(self.mempool), []
            actions, self.next_actions = tuple(self.next_actions), []
            st = self.state
            when = proposal_time(st, st.last_block_time_ms + BLOCK_SPACING_MS)
            last_commit = self.blocks[-1].certificate if self.blocks else b""
            # an installed recovery is already in `st`: its set votes, make_block carries it
            block = make_block(st, st.proposer(st.height + 1, 0), when, txs, last_commit,
                               actions=actions)
            block_id = codec.block_hash(block.header)
            valid = validate_block(st, block, block_id, self.utxos)
            self.utxos.apply(valid.diff)
            voters = st.voting_set()
            cert = self._certify(block, block_id, voters, [self.key_of[pk] for pk in voters])
            self.state = valid.state
            self._remember_sets(self.state)
            return self._append(block, block_id, cert)

    def mine_forged_recovery(self, action: RecoveryAction, time_ms: int) -> BlockRecord:
        """What a lying node serves: a block carrying `action` first, certified by the set it
        names, never checked against the rules (they would refuse it)."""
        with self.lock:
            st = self.state
            vals = action.validators
            forged = replace(st, current=replace(st.current, validators=vals),
                             upcoming=replace(st.upcoming, validators=vals), recovery=b"")
            last_commit = self.blocks[-1].certificate if self.blocks else b""
            shell = make_block(forged, vals[0].pubkey, time_ms, (), last_commit)
            block = ledger.assemble_block(shell.header, (), last_commit, (),
                                          (encode_block_action(action),))
            block_id = codec.block_hash(block.header)
            voters = tuple(v.pubkey for v in vals)
            cert = self._certify(block, block_id, voters, [self.key_of[pk] for pk in voters])
            self.sets[codec.validators_hash(vals)] = vals
            return self._append(block, block_id, cert)

    def submit(self, tx: Tx) -> bytes:
        """Validate against the chain plus the mempool; raises ValidationError."""
        with self.lock:
            view = ledger.MemoryUtxoSet(dict(self.utxos.utxos))
            for m in self.mempool:
                for i in m.inputs:
                    view.utxos.pop(i.prevout, None)
                for n, o in enumerate(m.outputs):
                    view.utxos[OutPoint(codec.txid(m), n)] = o
            ledger.validate_tx(tx, view, self.state.params, chain_id=CHAIN_ID)
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
                 params: ChainParams | None = None, **options: int) -> FakeChain:
    amounts = amounts or [10 * 10**8] * len(locks)
    allocs = tuple(TxOut(a, lk) for lk, a in zip(locks, amounts, strict=True))
    return FakeChain(allocs, params or ChainParams(), **options)  # type: ignore[arg-type]


__all__ = ["CHAIN_ID", "FakeChain", "OutPoint", "TxId", "funded_chain"]
