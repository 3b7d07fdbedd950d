"""A small real chain on a `MemoryStore`, and `FakeNode`, a `NodeView` over it, for API tests.

Every block is built by `consensus.chain.make_block`, checked by `validate_block`, certified by
real precommits of all four validators, and committed with its chain state, exactly as a node
does. `standard_chain()` builds the fixed scene most tests read:

- height 1: alice pays bob 5 coins (tx `pay_bob`, fee FEE);
- height 2, committed in round 1 (round 0's proposer missed): bob pays carol from his genesis
  coins and alice's payment (`bob_to_carol`);
- height 3: the treasury spends block 1's fee output to carol (`treasury_spend`), with a
  governance action setting min_fee_rate = 2 (pending: in force at height 5);
- the mempool holds `pending`: alice spends her change from height 1.

`FakeNode.submit_action` judges an action as the node does (`admission.judge_action`, against
the fake's chain state) and holds it in pools bounded like the node's; a commit drops what the
block carried. The in-process cluster test (`test_api_actions_node.py`) runs the real node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request

from consensus import codec
from consensus.certificate import build_certificate
from consensus.chain import make_block, validate_block
from consensus.chainstate import ChainState, encode_chain_state, genesis_state
from consensus.crypto import PrivateKey
from consensus.errors import ValidationError
from consensus.governance import RecoveryAction, SetParam, encode_action, make_action
from consensus.ledger import SignatureCache, treasury_outpoint
from consensus.types import (
    COIN,
    BlockHash,
    CreditTransfer,
    Genesis,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
)
from consensus.votes import VoteType, encode_certificate, sign_vote
from faircoop_node.api import create_app
from faircoop_node.api.feed import BlockFeed, NewBlock
from faircoop_node.api.watch import AddressWatch
from faircoop_node.mempool import Mempool
from faircoop_node.node.admission import Verdict, judge_action
from faircoop_node.node.driver import MAX_ACTIONS, MAX_RECOVERIES
from faircoop_node.node.runner import NodeStatus
from faircoop_node.storage import BaseStore, MemoryStore
from tests.builders import CHAIN_ID, key, make_genesis, make_tx, single

FEE = 10_000
T0 = 1_700_000_000_000


@dataclass(frozen=True, slots=True)
class Member:
    key: PrivateKey
    policy: SpendPolicy
    lock: Lock


def member(seed: int) -> Member:
    k = key(seed)
    policy = single(k)
    return Member(k, policy, codec.policy_lock(policy))


ALICE, BOB, CAROL, TREASURY = member(10), member(11), member(12), member(13)
# Sorted by public key, so the genesis order is the voting-set order.
VALIDATOR_KEYS = tuple(sorted((key(i) for i in range(1, 5)), key=lambda k: k.public_key))


def make_chain_genesis() -> Genesis:
    return make_genesis(
        [(ALICE.lock, 50 * COIN), (BOB.lock, 20 * COIN), (ALICE.lock, 7 * COIN)],
        validators=VALIDATOR_KEYS,
        treasury_lock=TREASURY.lock,
    )


@dataclass
class FakeNode:
    """A `NodeView` over a real store, mempool and chain state; commits like a node does."""

    genesis: Genesis
    store: BaseStore
    mempool: Mempool
    feed: BlockFeed
    state: ChainState
    live: NodeStatus = field(default_factory=lambda: NodeStatus("ab" * 33, 2, 3, True))
    last_commit: bytes = b""
    submitted: list[TxId] = field(default_factory=list)
    actions: dict[bytes, None] = field(default_factory=dict)
    recoveries: dict[bytes, None] = field(default_factory=dict)
    max_actions: int = MAX_ACTIONS
    watch: AddressWatch = field(default_factory=AddressWatch)

    def __post_init__(self) -> None:
        self.mempool.on_admit(lambda e: self.watch.pooled(e.tx, e.txid))

    def status(self) -> NodeStatus:
        return self.live

    def chain_state(self) -> ChainState:
        return self.state

    async def submit_tx(self, tx: Tx | CreditTransfer) -> TxId:
        entry = self.mempool.add(tx, self.store, self.state.params)
        self.submitted.append(entry.txid)
        return entry.txid

    async def submit_action(self, raw: bytes) -> str:
        judgement, action = judge_action(self.state, raw, {**self.actions, **self.recoveries})
        if judgement.reason == "action already pooled":
            return "already_pooled"
        if judgement.verdict != Verdict.ACCEPT or action is None:
            raise ValidationError(judgement.rule or "refused", judgement.reason)
        recovery = isinstance(action, RecoveryAction)
        pool = self.recoveries if recovery else self.actions
        if len(pool) >= (MAX_RECOVERIES if recovery else self.max_actions):
            raise ValidationError("pool_full", "the node holds as many actions as it keeps")
        pool[raw] = None
        return "pooled"

    def pooled_actions(self) -> tuple[bytes, ...]:
        return tuple(self.actions)

    def held_recoveries(self) -> tuple[bytes, ...]:
        return tuple(self.recoveries)

    def commit(self, txs: tuple[Tx | CreditTransfer, ...] = (), actions: tuple[bytes, ...] = (),
               round_: int = 0, after_ms: int = 1000) -> BlockHash:
        """Build, check, certify and store the next block, `after_ms` after the last one, then
        announce it."""
        state = self.state
        height = state.height + 1
        block = make_block(state, state.proposer(height, round_),
                           state.last_block_time_ms + after_ms, txs, self.last_commit, (), actions)
        block_id = codec.block_hash(block.header)
        valid = validate_block(state, block, block_id, self.store)
        precommits = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, height, round_, block_id)
                      for k in VALIDATOR_KEYS]
        certificate = build_certificate(precommits, state.voting_set())
        cert_bytes = encode_certificate(certificate)
        sets = {bytes(codec.validators_hash(v)): codec.pack(codec.validators_obj(v))
                for v in (state.current.validators, state.upcoming.validators)}
        self.store.commit_block(block, block_id, valid.diff, cert_bytes,
                                encode_chain_state(valid.state), validator_sets=sets,
                                credit=valid.credit)
        self.state = valid.state
        self.last_commit = cert_bytes
        self.mempool.remove_committed(block.txs)
        for raw in block.actions:
            self.actions.pop(raw, None)
        self.feed.publish(NewBlock(height, block_id, len(block.txs), block.header.time_ms))
        self.watch.committed(block, block_id)
        return block_id


def fresh_node(feed: BlockFeed | None = None, genesis: Genesis | None = None,
               store: BaseStore | None = None) -> FakeNode:
    """A node at height 0 of `genesis` (the standard one), over `store` (a new MemoryStore)."""
    genesis = genesis or make_chain_genesis()
    store = store or MemoryStore(genesis)
    gid = codec.genesis_hash(genesis)
    state = genesis_state(genesis, gid)
    store.put_validator_set(codec.validators_hash(state.validators),
                            codec.pack(codec.validators_obj(state.validators)))
    return FakeNode(genesis, store, Mempool(CHAIN_ID, SignatureCache()), feed or BlockFeed(), state)


@dataclass(frozen=True, slots=True)
class Scene:
    node: FakeNode
    gid: BlockHash
    blocks: tuple[BlockHash, ...]  # heights 1..3
    pay_bob: Tx
    bob_to_carol: Tx
    treasury_spend: Tx
    pending: Tx
    action: bytes


def genesis_op(gid: bytes, index: int) -> OutPoint:
    return OutPoint(TxId(gid), index)


def standard_chain(feed: BlockFeed | None = None) -> Scene:
    node = fresh_node(feed)
    gid = node.store.genesis_hash
    pay_bob = make_tx([(genesis_op(gid, 0), ALICE.policy, [ALICE.key])],
                      [(BOB.lock, 5 * COIN), (ALICE.lock, 45 * COIN - FEE)], memo=b"rent")
    b1 = node.commit((pay_bob,))
    bob_to_carol = make_tx(
        [(genesis_op(gid, 1), BOB.policy, [BOB.key]),
         (OutPoint(codec.txid(pay_bob), 0), BOB.policy, [BOB.key])],
        [(CAROL.lock, 25 * COIN - FEE)])
    b2 = node.commit((bob_to_carol,), round_=1)  # round 0's proposer missed
    treasury_spend = make_tx([(treasury_outpoint(b1), TREASURY.policy, [TREASURY.key])],
                             [(CAROL.lock, FEE - 1_000)])
    action = encode_action(make_action(CHAIN_ID, 0, SetParam("min_fee_rate", 2),
                                       (VALIDATOR_KEYS[0],)))
    b3 = node.commit((treasury_spend,), actions=(action,))
    pending = make_tx([(OutPoint(codec.txid(pay_bob), 1), ALICE.policy, [ALICE.key])],
                      [(CAROL.lock, COIN), (ALICE.lock, 44 * COIN - 2 * FEE)])
    node.mempool.add(pending, node.store, node.state.params)
    return Scene(node, gid, (b1, b2, b3), pay_bob, bob_to_carol, treasury_spend, pending, action)


@dataclass(frozen=True, slots=True)
class FeeScene:
    """A treasury spend of the fees of one block of many txs: GET /tx's costliest lookup."""

    node: FakeNode
    fee_block: BlockHash  # height 2: `n` txs, each paying FEE
    treasury_spend: Tx  # height 3: spends height 2's fee output


SPLIT = 1_000  # outputs per splitting tx: 1,000 is ~45 kB, under max_tx_size


def fee_chain_genesis() -> Genesis:
    return make_genesis([(ALICE.lock, 10_000 * COIN)], validators=VALIDATOR_KEYS,
                        treasury_lock=TREASURY.lock)


def fee_chain(n: int, store: BaseStore | None = None) -> FeeScene:
    """Height 1: alice splits a genesis coin into `n` outputs (1,000 a tx); height 2: `n` txs,
    each spending one of them to bob with fee FEE; height 3: the treasury spends height 2's fees.

    `store` (over `fee_chain_genesis()`) lets a test count what the API reads from it.
    """
    node = fresh_node(genesis=fee_chain_genesis(), store=store)
    coin = genesis_op(node.store.genesis_hash, 0)
    left = 10_000 * COIN
    splits: list[Tx] = []
    for start in range(0, n, SPLIT):
        count = min(SPLIT, n - start)
        left -= 2 * COIN * count + 60 * count + FEE
        splits.append(make_tx([(coin, ALICE.policy, [ALICE.key])],
                              [(ALICE.lock, 2 * COIN)] * count + [(ALICE.lock, left)]))
        coin = OutPoint(codec.txid(splits[-1]), count)  # the change output
    node.commit(tuple(splits))
    pays = tuple(make_tx([(OutPoint(codec.txid(splits[i // SPLIT]), i % SPLIT), ALICE.policy,
                           [ALICE.key])], [(BOB.lock, 2 * COIN - FEE)]) for i in range(n))
    fee_block = node.commit(pays)
    spend = make_tx([(treasury_outpoint(fee_block), TREASURY.policy, [TREASURY.key])],
                    [(CAROL.lock, n * FEE - 1_000)])
    node.commit((spend,))
    return FeeScene(node, fee_block, spend)


@asynccontextmanager
async def serve(node: FakeNode, **options: Any) -> AsyncIterator[TestClient[Request, Application]]:
    """An HTTP client talking to `create_app(node)` on a loopback port."""
    app = create_app(node, **options)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client
