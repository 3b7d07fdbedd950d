"""A seeded whole-network simulation: N real engines, one simulated clock, one message queue.

Everything random (latencies, faults, who is Byzantine) comes from one `random.Random(seed)`,
and the event queue breaks ties by insertion order, so a seed replays exactly; `trace_hash`
fingerprints every processed event to prove it.

What each simulated node does is what the real node does with the engine's actions: persist
the last-signed state, send, schedule timeouts, build and judge blocks, commit, then feed
`NewHeight`. On top, the harness models the network's duties the engine leaves out: vote relay
(gossip fan-out), re-gossip of a stuck node's own messages, and block sync (a node hearing of a
higher height asks that peer for the committed blocks and checks each certificate).

Checks:
- *safety*: no two honest nodes ever hold different blocks at one height;
- *liveness*: after the last fault heals, every honest node reaches the goal height within
  `liveness_bound_ms` of simulated time.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import cast

from consensus.codec import block_hash, encode_genesis, genesis_hash
from consensus.crypto import PrivateKey, sha256
from consensus.engine import (
    Action,
    BlockValidated,
    Broadcast,
    Commit,
    Engine,
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
from consensus.errors import FaircoopError
from consensus.evidence import decode_evidence, encode_evidence, evidence_for
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, Genesis, Lock, PublicKey, Validator
from consensus.votes import (
    NIL,
    Proposal,
    Vote,
    VoteType,
    encode_certificate,
    sign_proposal,
    sign_vote,
)
from faircoop_node.simulation.chain import (
    ChainRules,
    ChainView,
    StaticRules,
    SyncError,
    verify_synced_block,
)
from faircoop_node.simulation.faults import (
    CrashPlan,
    FaultPlan,
    NetworkFaults,
    draw_plan,
)

SIM_PARAMS = ChainParams(timeout_propose_ms=200, timeout_vote_ms=100, timeout_delta_ms=50)
SYNC_BATCH = 50
SYNC_BACKOFF_MS = 100


def sim_key(index: int) -> PrivateKey:
    """Validator i's key: fixed, so every seed's run signs with the same keys."""
    return PrivateKey(sha256(f"faircoop-sim-validator-{index}".encode()))


def sim_keys(n: int) -> list[PrivateKey]:
    """Validators 0..n-1's keys in voting-set order (by public key), as `sim_genesis` lists
    them: key i signs as validator index i of a certificate."""
    return sorted((sim_key(i) for i in range(n)), key=lambda k: k.public_key)


def sim_genesis(n: int, params: ChainParams, chain_id: str = "faircoop-sim") -> Genesis:
    keys = [sim_key(i).public_key for i in range(n)]
    validators = tuple(
        Validator(f"coop-{keys.index(k)}", PublicKey(k)) for k in sorted(keys)
    )
    governors = tuple(sorted(PublicKey(k) for k in keys))
    return Genesis(
        version=1, chain_id=chain_id, network="test", time_ms=0, allocations=(),
        validators=validators, governors=governors, governor_threshold=max(1, len(keys) // 2 + 1),
        params=params, treasury_lock=Lock(bytes(32)),
    )


# -- configuration and results ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimConfig:
    validators: int = 4
    byzantine: int = 0
    faults: frozenset[str] = frozenset()
    seed: int = 0
    heights: int = 3  # every honest node must reach this height (or one past the heal height)
    params: ChainParams = SIM_PARAMS
    latency_ms: int = 5
    build_ms: int = 20  # how long the application takes to hand over a block to propose
    gossip_ms: int = 400
    relay_fanout: int = 2  # each honest node forwards each new vote to this many peers
    liveness_bound_ms: int = 30_000
    window_ms: tuple[int, int] = (500, 3_000)  # the heal time is drawn from this range
    behaviours: tuple[str, ...] = ()  # Byzantine behaviours, in node order; drawn if empty
    rules: str = "auto"  # "static", "chainstate" or "auto" (chainstate when it exists)
    max_events: int = 3_000_000


@dataclass(frozen=True, slots=True)
class SimResult:
    config: SimConfig
    plan: FaultPlan
    heights_finalized: int  # the highest height an honest node committed
    min_honest_height: int
    safety_violations: tuple[str, ...]
    liveness_failure: bool
    recovery_ms: int | None  # heal -> goal height reached
    offenders: tuple[int, ...]  # validator indexes honest nodes caught equivocating
    byzantine: tuple[int, ...]
    commit_times: tuple[tuple[int, int], ...]  # (height, first honest commit time ms)
    sim_time_ms: int
    events: int
    trace_hash: str
    stats: tuple[tuple[str, int], ...] = ()  # fault name -> times it struck

    @property
    def ok(self) -> bool:
        return not self.safety_violations and not self.liveness_failure

    def replay_command(self) -> str:
        c = self.config
        faults = ",".join(sorted(c.faults)) or "none"
        return (
            f"python scripts/simulate.py --validators {c.validators} --byzantine {c.byzantine}"
            f" --seeds {c.seed}:{c.seed + 1} --faults {faults} --heights {c.heights}"
            f" --rules {c.rules}"
        )


# -- wire messages inside the simulation -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireProposal:
    proposal: Proposal
    block: Block


@dataclass(frozen=True, slots=True)
class WireVote:
    vote: Vote


@dataclass(frozen=True, slots=True)
class SyncRequest:
    from_height: int


@dataclass(frozen=True, slots=True)
class SyncResponse:
    blocks: tuple[tuple[Block, BlockHash, bytes], ...]


Wire = WireProposal | WireVote | SyncRequest | SyncResponse


def _summary(msg: Wire) -> str:
    if isinstance(msg, WireVote):
        v = msg.vote
        who = v.validator[:3].hex()
        return f"v{int(v.vote_type)}/{v.height}/{v.round}/{v.block_id[:4].hex()}/{who}"
    if isinstance(msg, WireProposal):
        p = msg.proposal
        return f"p/{p.height}/{p.round}/{p.pol_round}/{p.block_id[:4].hex()}"
    if isinstance(msg, SyncRequest):
        return f"sreq/{msg.from_height}"
    return f"sresp/{len(msg.blocks)}"


# -- one simulated node ------------------------------------------------------------------------


@dataclass
class SimNode:
    index: int  # position in the validator set (certificate index order)
    key: PrivateKey
    behaviour: str  # "honest" or a Byzantine behaviour name
    view: ChainView
    engine: Engine
    blocks: list[tuple[Block, BlockHash, bytes]] = field(default_factory=list)
    last_signed: SignedState | None = None  # the node's "disk": last-signed state ...
    signed_votes: list[Vote] = field(default_factory=list)  # ... and this height's own votes
    signed_blocks: list[Block] = field(default_factory=list)  # ... and the blocks they name
    alive: bool = True
    epoch: int = 0  # bumped at each crash, so timers set before it are ignored
    relayed: dict[bytes, int] = field(default_factory=dict)  # vote signature -> height
    evidence: dict[tuple[bytes, int, int, int], bytes] = field(default_factory=dict)
    included: set[tuple[bytes, int, int, int]] = field(default_factory=set)
    last_sync_ms: int = -(10**9)
    progress: int = 0  # the engine height at the last gossip tick
    wiped: bool = False

    @property
    def honest(self) -> bool:
        return self.behaviour == "honest"

    @property
    def pub(self) -> PublicKey:
        return PublicKey(self.key.public_key)


class SimulationError(FaircoopError):
    """The harness itself went wrong (not a consensus failure: those are results)."""


# -- the simulation ----------------------------------------------------------------------------


class Simulation:
    """Build with a config, optionally add scripted faults, then `run()` (or step by hand)."""

    def __init__(self, config: SimConfig, plan: FaultPlan | None = None,
                 rules: ChainRules | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        n = config.validators
        self.genesis = sim_genesis(n, config.params)
        self.genesis_id = genesis_hash(self.genesis)
        self.rules: ChainRules = rules or make_rules(config.rules, self.genesis, self.genesis_id)
        self.plan = plan or draw_plan(
            self.rng, n, config.byzantine, config.faults, config.window_ms, config.behaviours
        )
        behaviour = dict(self.plan.byzantine)
        keys = sim_keys(n)
        self.nodes: list[SimNode] = []
        for i, key in enumerate(keys):
            view = self.rules.genesis_view()
            self.nodes.append(SimNode(i, key, behaviour.get(i, "honest"), view,
                                      Engine(view.chain_id, key)))
        self.index_of = {node.pub: node.index for node in self.nodes}
        self.now = 0
        self._queue: list[tuple[int, int, str, int, object]] = []
        self._seq = 0
        self._trace = hashlib.sha256()
        self.events = 0
        self.net: NetworkFaults = self.plan.network
        self.heal_ms = self.plan.heal_ms
        self.groups: dict[int, int] | None = None
        self.commits: dict[int, tuple[BlockHash, int]] = {}
        self.commit_times: dict[int, int] = {}
        self.violations: list[str] = []
        self.offenders: set[int] = set()
        self.stats: dict[str, int] = {}  # how often each fault actually struck
        self._schedule_plan()
        for node in self.nodes:
            self._start_engine(node)
            self._push(self.config.gossip_ms + node.index, "gossip", node.index, None)

    # -- the queue --

    def _push(self, at: int, kind: str, node: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, kind, node, payload))

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def _trace_event(self, kind: str, node: int, detail: str) -> None:
        self._trace.update(f"{self.now}|{kind}|{node}|{detail}\n".encode())

    @property
    def trace_hash(self) -> str:
        return self._trace.hexdigest()

    def _schedule_plan(self) -> None:
        if self.plan.partition is not None:
            start, groups = self.plan.partition
            self._push(start, "partition", -1, groups)
        for c in self.plan.crashes:
            self._push(c.crash_ms, "crash", c.node, None)
            self._push(c.restart_ms, "restart", c.node, c.wipe)
        if self.heal_ms:
            self._push(self.heal_ms, "heal", -1, None)

    # scripted faults, for named scenarios (times in ms of simulated time)

    def partition_at(self, at: int, groups: Iterable[Iterable[int]]) -> None:
        self._push(at, "partition", -1, tuple(tuple(g) for g in groups))

    def heal_at(self, at: int) -> None:
        self.heal_ms = max(self.heal_ms, at)
        self._push(at, "heal", -1, None)

    def crash_at(self, at: int, node: int) -> None:
        self._push(at, "crash", node, None)

    def restart_at(self, at: int, node: int, wipe: bool = False) -> None:
        self.heal_ms = max(self.heal_ms, at)
        self._push(at, "restart", node, wipe)

    # -- running --

    def step(self) -> bool:
        """Process one event; False when the queue is empty."""
        if not self._queue:
            return False
        at, _, kind, index, payload = heapq.heappop(self._queue)
        self.now = at
        self.events += 1
        if self.events > self.config.max_events:
            raise SimulationError("event budget exhausted")
        if kind == "deliver":
            frm, msg = cast(tuple[int, Wire], payload)
            self._deliver(self.nodes[index], frm, msg)
        elif kind == "timeout":
            epoch, ev = cast(tuple[int, TimeoutFired], payload)
            node = self.nodes[index]
            if node.alive and node.epoch == epoch:
                self._trace_event("timeout", index, f"{ev.height}/{ev.round}/{int(ev.step)}")
                self._feed(node, ev)
        elif kind == "build":
            epoch, height, round_ = cast(tuple[int, int, int], payload)
            node = self.nodes[index]
            if node.alive and node.epoch == epoch and node.view.height + 1 == height:
                self._trace_event("build", index, f"{height}/{round_}")
                self._feed(node, ProposalBlockReady(height, round_, self._build(node, self.now)))
        elif kind == "gossip":
            self._gossip(self.nodes[index])
        elif kind == "crash":
            self._crash(self.nodes[index])
        elif kind == "restart":
            self._restart(self.nodes[index], bool(payload))
        elif kind == "partition":
            groups = cast(tuple[tuple[int, ...], ...], payload)
            self.groups = {m: g for g, members in enumerate(groups) for m in members}
            self._trace_event("partition", -1, repr(groups))
        elif kind == "heal":
            self.groups = None
            self._trace_event("heal", -1, "")
        return True

    def run_until(self, time_ms: int) -> None:
        while self._queue and self._queue[0][0] <= time_ms:
            self.step()
        self.now = max(self.now, time_ms)

    def honest_nodes(self) -> list[SimNode]:
        return [n for n in self.nodes if n.honest]

    def run(self) -> SimResult:
        """Run to the heal time, then until every honest node reaches the goal, or the bound."""
        self.run_until(self.heal_ms)
        honest = self.honest_nodes()
        at_heal = max((n.view.height for n in honest), default=0)
        goal = max(self.config.heights, at_heal + 1)
        deadline = self.heal_ms + self.config.liveness_bound_ms
        recovered: int | None = None
        while self._queue and self._queue[0][0] <= deadline:
            if all(n.view.height >= goal for n in honest):
                recovered = self.now - self.heal_ms
                break
            self.step()
        else:
            if all(n.view.height >= goal for n in honest):
                recovered = max(0, self.now - self.heal_ms)
        return self.result(liveness_failure=recovered is None, recovery_ms=recovered)

    def result(self, liveness_failure: bool = False, recovery_ms: int | None = None) -> SimResult:
        honest = self.honest_nodes()
        return SimResult(
            config=self.config,
            plan=self.plan,
            heights_finalized=max((n.view.height for n in honest), default=0),
            min_honest_height=min((n.view.height for n in honest), default=0),
            safety_violations=tuple(self.violations),
            liveness_failure=liveness_failure,
            recovery_ms=recovery_ms,
            offenders=tuple(sorted(self.offenders)),
            byzantine=tuple(n.index for n in self.nodes if not n.honest),
            commit_times=tuple(sorted(self.commit_times.items())),
            sim_time_ms=self.now,
            events=self.events,
            trace_hash=self.trace_hash,
            stats=tuple(sorted(self.stats.items())),
        )

    # -- driving one engine --

    def _start_engine(self, node: SimNode) -> None:
        node.engine = Engine(node.view.chain_id, node.key, node.last_signed,
                             tuple(node.signed_votes), tuple(node.signed_blocks))
        self._feed(node, self._new_height(node))

    @staticmethod
    def _new_height(node: SimNode) -> NewHeight:
        v = node.view
        return NewHeight(v.height + 1, v.voting_keys, v.proposers, v.params)

    def _feed(self, node: SimNode, event: object) -> None:
        actions = node.engine.handle(event)  # type: ignore[arg-type]
        self._carry_out(node, actions)

    def _carry_out(self, node: SimNode, actions: list[Action]) -> None:
        pending = list(actions)
        while pending:
            a = pending.pop(0)
            if isinstance(a, PersistLastSigned):
                node.last_signed = a.state
                if isinstance(a.message, Vote):
                    node.signed_votes = [v for v in node.signed_votes
                                         if v.height == a.state.height]
                    node.signed_votes += [a.message, *a.justification]
                node.signed_blocks = [b for b in node.signed_blocks
                                      if b.header.height == a.state.height]
                if a.block is not None:
                    node.signed_blocks.append(a.block)
            elif isinstance(a, Broadcast):
                self._broadcast(node, a)
            elif isinstance(a, ScheduleTimeout):
                ev = TimeoutFired(a.height, a.round, a.step)
                self._push(self.now + a.delay_ms, "timeout", node.index, (node.epoch, ev))
            elif isinstance(a, RequestProposalBlock):
                # the application answers after a block interval, as the node's mempool would
                self._push(self.now + self.config.build_ms, "build", node.index,
                           (node.epoch, a.height, a.round))
            elif isinstance(a, ValidateBlock):
                ok = self.rules.check_block(node.view, a.block)
                pending.extend(node.engine.handle(BlockValidated(a.block_id, ok)))
            elif isinstance(a, Commit):
                self._commit(node, a.block, a.block_id, encode_certificate(a.certificate))
                pending.extend(node.engine.handle(self._new_height(node)))
            elif isinstance(a, EvidenceFound):
                self._on_evidence(node, a)

    def _build(self, node: SimNode, time_ms: int) -> Block:
        evidence = tuple(
            item for k, item in sorted(node.evidence.items()) if k not in node.included
        )
        return self.rules.build_block(node.view, node.pub, time_ms, evidence)

    def _commit(self, node: SimNode, block: Block, block_id: BlockHash, cert: bytes) -> None:
        height = node.view.height + 1
        node.blocks.append((block, block_id, cert))
        node.view = self.rules.advance(node.view, block, block_id, cert)
        for item in block.evidence:
            node.included.add(decode_evidence(item).key())
        self._trace_event("commit", node.index, f"{height}/{block_id[:6].hex()}")
        if not node.honest:
            return
        first = self.commits.get(height)
        if first is None:
            self.commits[height] = (block_id, node.index)
            self.commit_times[height] = self.now
        elif first[0] != block_id:
            self.violations.append(
                f"height {height}: node {node.index} committed {block_id[:6].hex()},"
                f" node {first[1]} committed {first[0][:6].hex()}"
            )

    def _on_evidence(self, node: SimNode, a: EvidenceFound) -> None:
        self._trace_event("evidence", node.index, a.vote_a.validator[:3].hex())
        if node.honest:
            offender = self.index_of.get(a.vote_a.validator)
            if offender is not None:
                self.offenders.add(offender)
        try:
            e = evidence_for(a.vote_a, a.vote_b, node.view.chain_id)
        except FaircoopError:
            return
        node.evidence.setdefault(e.key(), encode_evidence(e))

    # -- the network --

    def _send(self, frm: int, to: int, msg: Wire) -> None:
        if self.groups is not None and self.groups.get(frm) != self.groups.get(to):
            self._count("partitioned")
            return
        faulty = self.now < self.heal_ms
        net = self.net
        if faulty and net.drop and self.rng.random() < net.drop:
            self._count("dropped")
            return
        delay = self.config.latency_ms
        if faulty and net.jitter_ms:
            delay += self.rng.randint(0, net.jitter_ms)
            self._count("reordered")
        if faulty and net.delay and self.rng.random() < net.delay:
            delay += self.rng.randint(50, net.max_delay_ms)
            self._count("delayed")
        self._push(self.now + delay, "deliver", to, (frm, msg))
        if faulty and net.duplicate and self.rng.random() < net.duplicate:
            self._count("duplicated")
            self._push(self.now + delay + self.rng.randint(0, 50), "deliver", to, (frm, msg))

    def _peers(self, node: SimNode) -> list[int]:
        return [p.index for p in self.nodes if p.index != node.index]

    def _broadcast(self, node: SimNode, b: Broadcast) -> None:
        msg: Wire = WireVote(b.message) if isinstance(b.message, Vote) else \
            WireProposal(b.message, b.block)  # type: ignore[arg-type]
        if node.behaviour == "silence":
            self._count("silence")
            return
        peers = self._peers(node)
        if node.behaviour == "equivocate_votes" and isinstance(msg, WireVote):
            other = self._conflicting_vote(node, msg.vote)
            self._count("equivocate_votes")
            for i, p in enumerate(peers):
                self._send(node.index, p, msg if i % 2 == 0 else WireVote(other))
            return
        if isinstance(msg, WireProposal) and node.behaviour in (
            "equivocate_proposer", "invalid_proposal"
        ):
            twin = self._twin_proposal(node, msg)
            self._count(node.behaviour)
            for i, p in enumerate(peers):
                if node.behaviour == "invalid_proposal":
                    self._send(node.index, p, twin)
                else:
                    self._send(node.index, p, msg if i % 2 == 0 else twin)
            return
        for p in peers:
            self._send(node.index, p, msg)

    def _conflicting_vote(self, node: SimNode, vote: Vote) -> Vote:
        """The same (height, round, type), another block: nil for a block vote, else a block."""
        if vote.block_id:
            target = NIL
        else:
            target = BlockHash(sha256(b"phantom" + vote.height.to_bytes(8, "big")))
        return sign_vote(node.key, vote.chain_id, vote.vote_type, vote.height, vote.round, target)

    def _twin_proposal(self, node: SimNode, msg: WireProposal) -> WireProposal:
        """A second proposal for the same (height, round): another valid block, or a bad one."""
        p = msg.proposal
        block = msg.block
        if node.behaviour == "invalid_proposal":
            bad_header = replace(block.header, prev_hash=BlockHash(sha256(b"nowhere")))
            twin = Block(bad_header, block.txs, block.last_commit, block.evidence, block.actions)
        else:
            twin = self.rules.build_block(node.view, node.pub, block.header.time_ms + 1, ())
        twin_id = block_hash(twin.header)
        signed = sign_proposal(node.key, p.chain_id, p.height, p.round, p.pol_round, twin_id)
        return WireProposal(signed, twin)

    def _relay(self, node: SimNode, msg: WireVote, frm: int) -> None:
        sig = msg.vote.signature
        if sig in node.relayed:
            return
        node.relayed[sig] = msg.vote.height
        if len(node.relayed) > 20_000:
            floor = node.view.height
            node.relayed = {s: h for s, h in node.relayed.items() if h > floor}
        peers = [p for p in self._peers(node) if p != frm]
        k = min(self.config.relay_fanout, len(peers))
        for p in self.rng.sample(peers, k) if k else ():
            self._send(node.index, p, msg)

    def _deliver(self, node: SimNode, frm: int, msg: Wire) -> None:
        if not node.alive:
            return
        self._trace_event("deliver", node.index, f"{frm}>{_summary(msg)}")
        if isinstance(msg, WireVote):
            if node.honest:
                self._relay(node, msg, frm)
            self._maybe_sync(node, frm, msg.vote.height)
            self._feed(node, VoteReceived(msg.vote))
        elif isinstance(msg, WireProposal):
            self._maybe_sync(node, frm, msg.proposal.height)
            self._feed(node, ProposalReceived(msg.proposal, msg.block))
        elif isinstance(msg, SyncRequest):
            blocks = tuple(node.blocks[msg.from_height - 1: msg.from_height - 1 + SYNC_BATCH])
            if blocks:
                self._send(node.index, frm, SyncResponse(blocks))
        else:
            self._apply_sync(node, msg)

    def _maybe_sync(self, node: SimNode, frm: int, height: int) -> None:
        if height > node.view.height + 1 and self.now - node.last_sync_ms >= SYNC_BACKOFF_MS:
            node.last_sync_ms = self.now
            self._send(node.index, frm, SyncRequest(node.view.height + 1))

    def _apply_sync(self, node: SimNode, msg: SyncResponse) -> None:
        advanced = False
        for block, block_id, cert in msg.blocks:
            height = block.header.height
            if height <= node.view.height:
                have = node.blocks[height - 1][1]
                if node.honest and have != block_id:
                    self.violations.append(f"height {height}: node {node.index} was offered a"
                                           f" certified block other than its own")
                continue
            try:
                verify_synced_block(self.rules, node.view, block, cert)
            except SyncError:
                break
            self._commit(node, block, block_id, cert)
            self._count("synced_blocks")
            advanced = True
        if advanced:
            self._feed(node, self._new_height(node))
            if msg.blocks and len(msg.blocks) == SYNC_BATCH:
                node.last_sync_ms = -(10**9)

    def _gossip(self, node: SimNode) -> None:
        self._push(self.now + self.config.gossip_ms, "gossip", node.index, None)
        if not node.alive or not node.honest:
            return
        e = node.engine
        progress = e.height  # rounds that time out are not progress
        if progress != node.progress:
            node.progress = progress
            return
        self._trace_event("regossip", node.index, repr(progress))
        self._count("regossip")
        for b in e.gossip():
            self._broadcast(node, b)
        # a stuck node also asks a peer whether it missed a commit
        peers = self._peers(node)
        if peers:
            self._send(node.index, self.rng.choice(peers), SyncRequest(node.view.height + 1))

    # -- crashes --

    def _crash(self, node: SimNode) -> None:
        if not node.alive:
            return
        self._trace_event("crash", node.index, "")
        self._count("crash")
        node.alive = False
        node.epoch += 1

    def _restart(self, node: SimNode, wipe: bool) -> None:
        if node.alive:
            return
        self._trace_event("restart", node.index, "wipe" if wipe else "keep")
        node.alive = True
        node.progress = -1
        if wipe:
            self._count("wipe")
            node.wiped = True
            node.last_signed = None
            node.signed_votes = []
            node.signed_blocks = []
            node.blocks = []
            node.view = self.rules.genesis_view()
            node.relayed = {}
            node.included = set()
        self._start_engine(node)
        if wipe:
            for p in self._peers(node):
                self._send(node.index, p, SyncRequest(1))


def make_rules(mode: str, genesis: Genesis, genesis_id: BlockHash) -> ChainRules:
    """`static`, `chainstate`, or `auto` (chain-state rules when `consensus.chainstate` exists)."""
    if mode not in ("static", "chainstate", "auto"):
        raise SimulationError(f"unknown rules {mode!r}")
    if mode != "static":
        try:
            from faircoop_node.simulation.chainstate_rules import ChainStateRules
        except ImportError:
            if mode == "chainstate":
                raise
        else:
            return ChainStateRules(genesis, genesis_id)
    return StaticRules(genesis, genesis_id)


def run_simulation(config: SimConfig) -> SimResult:
    return Simulation(config).run()


def genesis_bytes(n: int, params: ChainParams = SIM_PARAMS) -> bytes:
    return encode_genesis(sim_genesis(n, params))


__all__ = [
    "SIM_PARAMS", "CrashPlan", "SimConfig", "SimNode", "SimResult", "Simulation",
    "SimulationError", "Step", "VoteType", "make_rules", "run_simulation", "sim_genesis",
    "sim_key",
]
