"""A hand-driven cluster of real engines, for interaction and text-script scenario tests.

Nothing happens by itself: messages wait in each node's inbox until the test delivers them, and
timeouts wait until the test fires them, as in etcd raft's interaction tests. Blocks are built
and judged by the simulator's `StaticRules`, so they are real blocks with real hashes; each gets
a readable alias (`h1r0`: built for height 1, round 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from consensus.codec import block_hash, genesis_hash
from consensus.crypto import PrivateKey
from consensus.engine import (
    Action,
    BlockValidated,
    Broadcast,
    Commit,
    Engine,
    Event,
    EvidenceFound,
    NewHeight,
    PersistLastSigned,
    ProposalBlockReady,
    ProposalReceived,
    RequestProposalBlock,
    ScheduleTimeout,
    SignedState,
    Step,
    TimeoutFired,
    ValidateBlock,
    VoteReceived,
)
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, PublicKey
from consensus.votes import Proposal, Vote, VoteType, encode_certificate
from faircoop_node.simulation.chain import ChainView, StaticRules, verify_synced_block
from faircoop_node.simulation.sim import sim_genesis, sim_keys

PARAMS = ChainParams(timeout_propose_ms=1000, timeout_vote_ms=500, timeout_delta_ms=250)
STEP_NAMES = {Step.PROPOSE: "propose", Step.PREVOTE: "prevote", Step.PRECOMMIT: "precommit"}
STEPS = {v: k for k, v in STEP_NAMES.items()}


@dataclass
class Node:
    index: int
    key: PrivateKey
    engine: Engine
    view: ChainView
    inbox: list[tuple[int, Proposal | Vote, Block | None]] = field(default_factory=list)
    timeouts: dict[tuple[int, int, Step], int] = field(default_factory=dict)
    persisted: list[PersistLastSigned] = field(default_factory=list)
    evidence: list[EvidenceFound] = field(default_factory=list)
    alive: bool = True
    build_pending: tuple[int, int] | None = None  # a block request waiting for `propose`
    blocks: list[tuple[Block, BlockHash, bytes]] = field(default_factory=list)  # committed


class Cluster:
    def __init__(self, n: int, params: ChainParams = PARAMS) -> None:
        self.genesis = sim_genesis(n, params)
        self.rules = StaticRules(self.genesis, genesis_hash(self.genesis))
        keys = sim_keys(n)
        self.nodes = [
            Node(i, k, Engine(self.genesis.chain_id, k), self.rules.genesis_view())
            for i, k in enumerate(keys)
        ]
        self.validators = tuple(v.pubkey for v in self.genesis.validators)
        self.names = {k.public_key: f"v{i}" for i, k in enumerate(keys)}
        self.aliases: dict[bytes, str] = {}
        self.invalid: set[str] = set()  # aliases of blocks the application rejects
        self.groups: dict[int, int] | None = None
        self.log: list[str] = []
        self.build_time = 1_000

    # -- naming --

    def alias(self, block_id: bytes) -> str:
        if not block_id:
            return "nil"
        return self.aliases.get(block_id, block_id[:4].hex())

    def describe(self, msg: Proposal | Vote) -> str:
        if isinstance(msg, Vote):
            kind = "prevote" if msg.vote_type == VoteType.PREVOTE else "precommit"
            return f"{kind} h{msg.height} r{msg.round} {self.alias(msg.block_id)}"
        pol = f" pol={msg.pol_round}" if msg.pol_round >= 0 else ""
        return f"proposal h{msg.height} r{msg.round} {self.alias(msg.block_id)}{pol}"

    # -- driving --

    def start(self) -> None:
        for node in self.nodes:
            self.feed(node.index, self.new_height(node))

    def new_height(self, node: Node) -> NewHeight:
        v = node.view
        return NewHeight(v.height + 1, v.voting_keys, v.proposers, v.params)

    def feed(self, i: int, event: Event) -> list[Action]:
        node = self.nodes[i]
        actions = node.engine.handle(event)
        self.carry_out(node, actions)
        return actions

    def carry_out(self, node: Node, actions: Iterable[Action]) -> None:
        name = f"v{node.index}"
        pending = list(actions)
        after_commit = False
        while pending:
            a = pending.pop(0)
            if isinstance(a, PersistLastSigned):
                node.persisted.append(a)
            elif isinstance(a, Broadcast):
                self.log.append(f"{name} -> {self.describe(a.message)}")
                for peer in self.nodes:
                    if peer.index != node.index and self.connected(node.index, peer.index):
                        peer.inbox.append((node.index, a.message, a.block))
            elif isinstance(a, ScheduleTimeout):
                node.timeouts[(a.height, a.round, a.step)] = a.delay_ms
                self.log.append(
                    f"{name} schedules {STEP_NAMES[a.step]} timeout h{a.height} r{a.round}"
                    f" {a.delay_ms}ms"
                )
            elif isinstance(a, RequestProposalBlock):
                if after_commit:
                    # the next height's block waits for `propose`, as the node's block interval
                    node.build_pending = (a.height, a.round)
                    self.log.append(f"{name} will propose h{a.height} r{a.round}")
                else:
                    pending.extend(self.build(node, a.height, a.round))
            elif isinstance(a, ValidateBlock):
                ok = self.rules.check_block(node.view, a.block) and \
                    self.alias(a.block_id) not in self.invalid
                if not ok:
                    self.log.append(f"{name} rejects {self.alias(a.block_id)}")
                pending.extend(node.engine.handle(BlockValidated(a.block_id, ok)))
            elif isinstance(a, Commit):
                self.log.append(
                    f"{name} commits h{a.certificate.height} {self.alias(a.block_id)}"
                    f" round {a.certificate.round} signers {len(a.certificate.signatures)}"
                )
                cert = encode_certificate(a.certificate)
                node.blocks.append((a.block, a.block_id, cert))
                node.view = self.rules.advance(node.view, a.block, a.block_id, cert)
                node.timeouts.clear()
                after_commit = True
                pending.extend(node.engine.handle(self.new_height(node)))
            elif isinstance(a, EvidenceFound):
                node.evidence.append(a)
                self.log.append(f"{name} found evidence against {self.names[a.vote_a.validator]}"
                                f": {self.describe(a.vote_a)} / {self.describe(a.vote_b)}")

    def build(self, node: Node, height: int, round_: int) -> list[Action]:
        block = self.rules.build_block(node.view, PublicKey(node.key.public_key),
                                       self.build_time + round_, ())
        self.aliases.setdefault(block_hash(block.header), f"h{height}r{round_}")
        return node.engine.handle(ProposalBlockReady(height, round_, block))

    def propose(self) -> None:
        """Answer every block request that was waiting for the next height."""
        for node in self.nodes:
            if node.build_pending is not None and node.alive:
                h, r = node.build_pending
                node.build_pending = None
                self.carry_out(node, self.build(node, h, r))

    def gossip(self) -> None:
        """Every live node re-sends what `Engine.gossip()` hands it."""
        for node in self.nodes:
            if node.alive:
                self.carry_out(node, node.engine.gossip())

    def sync(self, i: int) -> int:
        """Fetch committed blocks from the furthest peer, checking each certificate; a count."""
        node = self.nodes[i]
        source = max(self.nodes, key=lambda n: len(n.blocks))
        fetched = 0
        for block, block_id, cert in source.blocks[node.view.height:]:
            verify_synced_block(self.rules, node.view, block, cert)
            node.blocks.append((block, block_id, cert))
            node.view = self.rules.advance(node.view, block, block_id, cert)
            fetched += 1
        if fetched:
            self.log.append(f"v{i} synced {fetched} blocks from v{source.index}")
            node.timeouts.clear()
            self.feed(i, self.new_height(node))
        return fetched

    def connected(self, a: int, b: int) -> bool:
        return self.groups is None or self.groups.get(a) == self.groups.get(b)

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        self.groups = {m: g for g, members in enumerate(groups) for m in members}

    def heal(self) -> None:
        self.groups = None

    def deliver(self, to: int | None = None) -> int:
        """Deliver what is in the inboxes now (not what delivering it makes); a count."""
        targets = [self.nodes[to]] if to is not None else self.nodes
        batches = [(node, node.inbox) for node in targets]
        for node, _ in batches:
            node.inbox = []
        count = 0
        for node, batch in batches:
            for frm, msg, block in batch:
                if not node.alive or not self.connected(frm, node.index):
                    continue
                count += 1
                if isinstance(msg, Vote):
                    self.feed(node.index, VoteReceived(msg))
                else:
                    assert block is not None
                    self.feed(node.index, ProposalReceived(msg, block))
        return count

    def stabilize(self, limit: int = 1000) -> None:
        for _ in range(limit):
            if not self.deliver():
                return
        raise AssertionError("no quiescence")

    def fire(self, i: int, step: Step) -> bool:
        """Fire node i's pending `step` timeout for its current height and round."""
        node = self.nodes[i]
        e = node.engine
        key = (e.height, e.round, step)
        if key not in node.timeouts:
            return False
        del node.timeouts[key]
        self.feed(i, TimeoutFired(*key))
        return True

    def restart(self, i: int, keep_state: bool = True) -> None:
        node = self.nodes[i]
        last: SignedState | None = node.persisted[-1].state if keep_state and node.persisted \
            else None
        votes = tuple(
            v for p in node.persisted if keep_state and isinstance(p.message, Vote)
            for v in (p.message, *p.justification)
        )
        blocks = tuple(p.block for p in node.persisted if keep_state and p.block is not None)
        node.engine = Engine(self.genesis.chain_id, node.key, last, votes, blocks)
        node.inbox = []
        node.timeouts.clear()
        self.feed(i, self.new_height(node))

    def status(self, i: int) -> str:
        node = self.nodes[i]
        e = node.engine
        lv, lr = e.locked
        vv, vr = e.valid
        ls = e.last_signed
        signed = f"h{ls.height} r{ls.round} {STEP_NAMES[ls.step]}" if ls else "none"
        return (
            f"v{i}: h{e.height} r{e.round} {STEP_NAMES[e.step]}"
            f"{' decided' if e.decided else ''} locked={self.alias(lv or b'')}/{lr}"
            f" valid={self.alias(vv or b'')}/{vr} committed={node.view.height}"
            f" last_signed={signed}"
        )

    def take_log(self) -> list[str]:
        out, self.log = self.log, []
        return out

    def block_id_of(self, alias: str) -> BlockHash:
        for block_id, name in self.aliases.items():
            if name == alias:
                return BlockHash(block_id)
        raise KeyError(alias)

