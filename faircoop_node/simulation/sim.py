"""A seeded whole-network simulation: N consensus drivers, one simulated clock, one queue.

Each simulated node is the node's own `ConsensusDriver` (the engine, the chain state, the
pools, the production gate, the carrying out of every engine action) on a `MemoryStore`, a
simulated clock and a simulated network. So what the simulator checks is the node's code: how it
persists before it sends, builds, judges and commits blocks, pools evidence, and restarts from
its store. Peers' messages go through the node's admission rules (`node/admission.py`) and block
ranges through its sync checks (`node/sync.py`). What stays here is what a simulated network and
disk need: latency, drops, duplicates, reordering, partitions, crashes, wipes, a simplified
catch-up, and the Byzantine behaviours. The simulated network is a full mesh, so by the node's
relay rule (a vote goes only to peers that could not have it first-hand) nothing is relayed: a
message lost is made up by the senders' re-gossip, as on the real network.

Everything random comes from one `random.Random(seed)`, and the event queue breaks ties by
insertion order, so a seed replays exactly; `trace_hash` fingerprints every processed event.

Checks:
- *safety*: no two honest nodes ever hold different blocks at one height;
- *liveness*: after the last fault heals, every honest node reaches the goal height within
  `liveness_bound_ms` of simulated time;
- *campaigns* (with `campaigns=True`, `campaigns.py`): every honest node holds the same campaign
  records at every height, decides each at its deadline, and commits no tx the rules refuse;
- *credit* (with `credit=True`, `credit.py`): every honest node holds the same credit accounts
  at every height, their balances sum to zero, and no account sends below minus its limit.
  A run carries one load at a time (campaigns or credit).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import cast

from consensus.chain import ValidBlock, make_block, validate_block
from consensus.chainstate import (
    ChainState,
    encode_chain_state,
    genesis_state,
)
from consensus.codec import block_hash, decode_block, encode_block, encode_genesis, genesis_hash
from consensus.crypto import PrivateKey, VerifiedMemo, sha256
from consensus.engine import Engine, ProposalReceived, Step, TimeoutFired
from consensus.errors import FaircoopError
from consensus.evidence import DuplicateVoteEvidence
from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, Genesis, Lock, PublicKey, TxOut, Validator
from consensus.votes import (
    NIL,
    Proposal,
    Vote,
    VoteType,
    decode_certificate,
    encode_proposal,
    sign_proposal,
    sign_vote,
)
from faircoop_node.node.admission import Verdict, judge_proposal, judge_vote
from faircoop_node.node.commit import store_block, stored_tip
from faircoop_node.node.contract import NoTxs, TxPool
from faircoop_node.node.driver import Committed, ConsensusDriver, DriverOptions, run_now
from faircoop_node.node.signing import decode_signed_record, rejoin_floor
from faircoop_node.node.sync import store_range
from faircoop_node.simulation.campaigns import GOAL_HEIGHT, CampaignLoad
from faircoop_node.simulation.campaigns import allocations as campaign_allocations
from faircoop_node.simulation.credit import GOAL_HEIGHT as CREDIT_GOAL
from faircoop_node.simulation.credit import CreditLoad
from faircoop_node.simulation.faults import (
    CrashPlan,
    FaultPlan,
    NetworkFaults,
    draw_plan,
)
from faircoop_node.storage import MemoryStore

# The simulator's chain runs fast: an empty block after 100 ms (the least heartbeat allowed).
SIM_PARAMS = ChainParams(timeout_propose_ms=200, timeout_vote_ms=100, timeout_delta_ms=50,
                         heartbeat_ms=100)
SYNC_BATCH = 50
SYNC_BACKOFF_MS = 100
JOIN_WAIT_MS = 500  # a wiped validator waits this long for peers' blocks before rejoining


def sim_key(index: int) -> PrivateKey:
    """Validator i's key: fixed, so every seed's run signs with the same keys."""
    return PrivateKey(sha256(f"faircoop-sim-validator-{index}".encode()))


def sim_keys(n: int) -> list[PrivateKey]:
    """Validators 0..n-1's keys in voting-set order (by public key), as `sim_genesis` lists
    them: key i signs as validator index i of a certificate."""
    return sorted((sim_key(i) for i in range(n)), key=lambda k: k.public_key)


def sim_genesis(n: int, params: ChainParams, chain_id: str = "faircoop-sim",
                allocations: tuple[TxOut, ...] = ()) -> Genesis:
    keys = [sim_key(i).public_key for i in range(n)]
    validators = tuple(
        Validator(f"coop-{keys.index(k)}", PublicKey(k)) for k in sorted(keys)
    )
    governors = tuple(sorted(PublicKey(k) for k in keys))
    return Genesis(
        version=1, chain_id=chain_id, network="test", time_ms=0, allocations=allocations,
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
    build_ms: int = 20  # kept for the command line; blocks are built when the gate opens
    gossip_ms: int = 400
    liveness_bound_ms: int = 30_000
    window_ms: tuple[int, int] = (500, 3_000)  # the heal time is drawn from this range
    behaviours: tuple[str, ...] = ()  # Byzantine behaviours, in node order; drawn if empty
    rules: str = "auto"  # "chainstate" (or "auto"): the node's own chain-state rules
    max_events: int = 3_000_000
    campaigns: bool = False  # members with coins, and campaign txs in every node's pool
    credit: bool = False  # credit lines granted, and credit transfers in every node's pool


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
    campaigns: tuple[tuple[str, str, int], ...] = ()  # (name, status, pledged) on node 0
    credit_transfers: int = 0  # credit transfers the honest nodes committed

    @property
    def ok(self) -> bool:
        return not self.safety_violations and not self.liveness_failure

    @property
    def messages_per_block(self) -> float:
        """Messages sent (all nodes) per height the honest nodes finalized."""
        sent = dict(self.stats).get("messages", 0)
        return sent / max(1, self.heights_finalized)

    def replay_command(self) -> str:
        c = self.config
        faults = ",".join(sorted(c.faults)) or "none"
        return (
            f"python scripts/simulate.py --validators {c.validators} --byzantine {c.byzantine}"
            f" --seeds {c.seed}:{c.seed + 1} --faults {faults} --heights {c.heights}"
            f" --rules {c.rules}" + (" --campaigns" if c.campaigns else "")
            + (" --credit" if c.credit else "")
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
class WireEvidence:
    evidence: DuplicateVoteEvidence


@dataclass(frozen=True, slots=True)
class SyncRequest:
    from_height: int


@dataclass(frozen=True, slots=True)
class SyncResponse:
    blocks: tuple[tuple[Block, bytes], ...]


Wire = WireProposal | WireVote | WireEvidence | SyncRequest | SyncResponse


def _summary(msg: Wire) -> str:
    if isinstance(msg, WireVote):
        v = msg.vote
        who = v.validator[:3].hex()
        return f"v{int(v.vote_type)}/{v.height}/{v.round}/{v.block_id[:4].hex()}/{who}"
    if isinstance(msg, WireProposal):
        p = msg.proposal
        return f"p/{p.height}/{p.round}/{p.pol_round}/{p.block_id[:4].hex()}"
    if isinstance(msg, WireEvidence):
        return f"e/{msg.evidence.offender[:3].hex()}"
    if isinstance(msg, SyncRequest):
        return f"sreq/{msg.from_height}"
    return f"sresp/{len(msg.blocks)}"


# -- the driver's ports, simulated ---------------------------------------------------------------


class SimLedger:
    """The node's store is a `MemoryStore` here; every call completes at once."""

    def __init__(self, store: MemoryStore, sig_cache: SignatureCache, sigs: VerifiedMemo) -> None:
        self.store = store
        self.sig_cache = sig_cache
        self.sigs = sigs

    async def validate(self, state: ChainState, block: Block, block_id: BlockHash) -> ValidBlock:
        return validate_block(state, block, block_id, self.store, sig_cache=self.sig_cache,
                              verify=self.sigs.verify)

    async def commit(self, state: ChainState, block: Block, block_id: BlockHash,
                     certificate: bytes, valid: ValidBlock) -> None:
        store_block(self.store, state, block, block_id, certificate, valid)

    async def write_signed(self, record: bytes) -> None:
        self.store.put_last_signed(record)


class _SimClock:
    def __init__(self, sim: Simulation) -> None:
        self._sim = sim

    def now_ms(self) -> int:
        return self._sim.now

    def monotonic(self) -> float:
        return self._sim.now / 1000


class _SimOutbox:
    def __init__(self, sim: Simulation, node: SimNode) -> None:
        self._sim = sim
        self._node = node

    def proposal(self, proposal: Proposal, block: Block, raw_proposal: bytes,
                 raw_block: bytes, to: bytes | None = None) -> None:
        self._sim._broadcast(self._node, WireProposal(proposal, block), to)

    def vote(self, vote: Vote, to: bytes | None = None) -> None:
        self._sim._broadcast(self._node, WireVote(vote), to)

    def evidence(self, evidence: DuplicateVoteEvidence, exclude: bytes | None) -> None:
        self._sim._evidence_pooled(self._node, evidence, exclude)


# -- one simulated node ------------------------------------------------------------------------


@dataclass
class SimNode:
    index: int  # position in the validator set (certificate index order)
    key: PrivateKey
    behaviour: str  # "honest" or a Byzantine behaviour name
    store: MemoryStore  # its disk: blocks, chain state, the last-signed record
    driver: ConsensusDriver | None = None  # None while crashed
    alive: bool = True
    epoch: int = 0  # bumped at each crash, so timers set before it are ignored
    last_sync_ms: int = -(10**9)
    joining: bool = False  # wiped: syncs before it may sign again
    wiped: bool = False

    @property
    def honest(self) -> bool:
        return self.behaviour == "honest"

    @property
    def pub(self) -> PublicKey:
        return PublicKey(self.key.public_key)

    @property
    def state(self) -> ChainState:
        assert self.driver is not None, "a crashed node has no running state"
        return self.driver.state

    @property
    def height(self) -> int:
        return self.store.tip().height

    @property
    def engine(self) -> Engine:
        assert self.driver is not None and self.driver.engine is not None
        return self.driver.engine

    @property
    def blocks(self) -> list[tuple[Block, BlockHash, bytes]]:
        """The committed chain, from the store: (block, id, certificate) for heights 1..tip."""
        out = []
        for h in range(1, self.height + 1):
            block_id = self.store.get_hash_at(h)
            raw = self.store.get_block_bytes(block_id) if block_id is not None else None
            cert = self.store.get_certificate(h)
            assert block_id is not None and raw is not None and cert is not None
            out.append((decode_block(raw), block_id, cert))
        return out


class SimulationError(FaircoopError):
    """The harness itself went wrong (not a consensus failure: those are results)."""


def _fresh_store(genesis: Genesis, genesis_id: BlockHash) -> MemoryStore:
    return MemoryStore(genesis, genesis_chain_state=encode_chain_state(
        genesis_state(genesis, genesis_id)))


# -- the simulation ----------------------------------------------------------------------------


class Simulation:
    """Build with a config, optionally add scripted faults, then `run()` (or step by hand)."""

    def __init__(self, config: SimConfig, plan: FaultPlan | None = None) -> None:
        if config.rules not in ("auto", "chainstate"):
            raise SimulationError(
                f"rules {config.rules!r}: the simulator runs the node's own chain-state rules "
                "through its consensus driver ('auto' or 'chainstate')")
        if config.campaigns and config.credit:
            raise SimulationError("campaigns and credit: a run carries one load at a time")
        self.config = config
        self.rng = random.Random(config.seed)
        n = config.validators
        self.genesis = sim_genesis(n, config.params, allocations=campaign_allocations()
                                   if config.campaigns else ())
        self.genesis_id = genesis_hash(self.genesis)
        self.load = (CampaignLoad.build(self.genesis_id, self.genesis.chain_id, config.params)
                     if config.campaigns else None)
        self.credit = (CreditLoad.build(random.Random(f"credit-{config.seed}"),
                                        self.genesis.chain_id, config.params, sim_keys(n),
                                        self.genesis.governor_threshold)
                       if config.credit else None)
        self.plan = plan or draw_plan(
            self.rng, n, config.byzantine, config.faults, config.window_ms, config.behaviours
        )
        behaviour = dict(self.plan.byzantine)
        self.nodes = [SimNode(i, key, behaviour.get(i, "honest"),
                              _fresh_store(self.genesis, self.genesis_id))
                      for i, key in enumerate(sim_keys(n))]
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
        self._clock = _SimClock(self)
        self._schedule_plan()
        for node in self.nodes:
            self._boot(node, start=True)
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
        node = self.nodes[index] if index >= 0 else None
        if kind == "deliver":
            assert node is not None
            frm, msg = cast(tuple[int, Wire], payload)
            self._deliver(node, frm, msg)
        elif kind in ("timeout", "tick", "join"):
            assert node is not None
            epoch, ev = cast(tuple[int, TimeoutFired | None], payload)
            if node.alive and node.epoch == epoch and node.driver is not None:
                self._trace_event(kind, index, "" if ev is None else
                                  f"{ev.height}/{ev.round}/{int(ev.step)}")
                if kind == "timeout":
                    assert ev is not None
                    run_now(node.driver.timeout(ev))
                elif kind == "tick":
                    run_now(node.driver.tick())
                else:
                    self._finish_join(node)
        elif kind == "gossip":
            assert node is not None
            self._gossip(node)
        elif kind == "crash":
            assert node is not None
            self._crash(node)
        elif kind == "restart":
            assert node is not None
            self._restart(node, bool(payload))
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
        at_heal = max((n.height for n in honest), default=0)
        goal = max(self.config.heights, at_heal + 1,
                   GOAL_HEIGHT if self.load is not None else 0,
                   CREDIT_GOAL if self.credit is not None else 0)
        deadline = self.heal_ms + self.config.liveness_bound_ms
        recovered: int | None = None
        while self._queue and self._queue[0][0] <= deadline:
            if all(n.height >= goal for n in honest):
                recovered = self.now - self.heal_ms
                break
            self.step()
        else:
            if all(n.height >= goal for n in honest):
                recovered = max(0, self.now - self.heal_ms)
        return self.result(liveness_failure=recovered is None, recovery_ms=recovered)

    def result(self, liveness_failure: bool = False, recovery_ms: int | None = None) -> SimResult:
        honest = self.honest_nodes()
        return SimResult(
            config=self.config,
            plan=self.plan,
            heights_finalized=max((n.height for n in honest), default=0),
            min_honest_height=min((n.height for n in honest), default=0),
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
            campaigns=() if self.load is None else self.load.outcomes(self.nodes[0].store),
            credit_transfers=0 if self.credit is None else self.credit.committed,
        )

    # -- a node's driver --

    def _boot(self, node: SimNode, start: bool) -> None:
        """A driver on the node's store (as a restarted process builds one), started from its
        last-signed record unless it must first rejoin (`start` False)."""
        state, last_cert = stored_tip(node.store)
        epoch = node.epoch

        def schedule(ev: TimeoutFired, delay_ms: int) -> None:
            self._push(self.now + delay_ms, "timeout", node.index, (epoch, ev))

        def on_commit(c: Committed) -> None:
            self._committed(node, c)

        sigs = VerifiedMemo(20_000)
        node.driver = ConsensusDriver(
            self.genesis, state, last_cert, node.key, validator=True,
            ledger=SimLedger(node.store, SignatureCache(1_000), sigs),
            outbox=_SimOutbox(self, node), schedule=schedule, clock=self._clock,
            pool=self._pool(node.store),
            on_commit=on_commit, options=DriverOptions(gossip_s=self.config.gossip_ms / 1000),
            sigs=sigs)
        if self.credit is not None:  # governance as gossip would bring it
            for action in self.credit.actions_due(node.height):
                node.driver.add_action(action)
        if start:
            raw = node.store.get_last_signed()
            run_now(node.driver.start(decode_signed_record(raw) if raw is not None else None))

    def _committed(self, node: SimNode, c: Committed) -> None:
        height = c.block.header.height
        self._trace_event("commit", node.index, f"{height}/{c.block_id[:6].hex()}")
        if c.source == "sync":
            self._count("synced_blocks")
        assert node.driver is not None
        # the gate opens a heartbeat after this block: look at it then
        self._push(self.now + self.config.params.heartbeat_ms + 1, "tick", node.index,
                   (node.epoch, None))
        if not node.honest:
            return
        if self.load is not None:
            self.violations += self.load.observe(node.index, height, node.store)
        if self.credit is not None:
            self._credit_committed(node, height, c.block)
        first = self.commits.get(height)
        if first is None:
            self.commits[height] = (c.block_id, node.index)
            self.commit_times[height] = self.now
        elif first[0] != c.block_id:
            self.violations.append(
                f"height {height}: node {node.index} committed {c.block_id[:6].hex()},"
                f" node {first[1]} committed {first[0][:6].hex()}"
            )

    def _pool(self, store: MemoryStore) -> TxPool:
        """The txs a node's driver proposes: the run's load, if it has one."""
        if self.load is not None:
            return self.load.pool(store)
        if self.credit is not None:
            return self.credit.pool(store)
        return NoTxs()

    def _credit_committed(self, node: SimNode, height: int, block: Block) -> None:
        assert self.credit is not None
        lowered = self.credit.lowered
        self.violations += self.credit.observe(node.index, height, node.store, block.txs)
        if self.credit.lowered and not lowered:  # the assembly cuts member 0's line: gossip it
            for other in self.nodes:
                if other.alive and other.driver is not None:
                    other.driver.add_action(self.credit.lower)

    def _evidence_pooled(self, node: SimNode, ev: DuplicateVoteEvidence,
                         exclude: bytes | None) -> None:
        self._trace_event("evidence", node.index, ev.offender[:3].hex())
        if node.honest:
            offender = self.index_of.get(ev.offender)
            if offender is not None:
                self.offenders.add(offender)
        for p in self._peers(node):
            if exclude is None or self.nodes[p].pub != exclude:
                self._send(node.index, p, WireEvidence(ev))

    # -- the network --

    def _send(self, frm: int, to: int, msg: Wire) -> None:
        self._count("messages")
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

    def _broadcast(self, node: SimNode, msg: WireProposal | WireVote,
                   to: bytes | None = None) -> None:
        if node.behaviour == "silence":
            self._count("silence")
            return
        peers = self._peers(node) if to is None else \
            [i for i in (self.index_of.get(PublicKey(to)),) if i is not None and i != node.index]
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
            assert node.driver is not None
            twin = make_block(node.driver.state, node.pub, block.header.time_ms + 1, (),
                              block.last_commit, block.evidence, block.actions)
        twin_id = block_hash(twin.header)
        signed = sign_proposal(node.key, p.chain_id, p.height, p.round, p.pol_round, twin_id)
        return WireProposal(signed, twin)

    def _deliver(self, node: SimNode, frm: int, msg: Wire) -> None:
        driver = node.driver
        if not node.alive or driver is None:
            return
        self._trace_event("deliver", node.index, f"{frm}>{_summary(msg)}")
        if isinstance(msg, WireVote):
            self._maybe_sync(node, frm, msg.vote.height)
            judged = judge_vote(driver.frontier(), msg.vote, driver.sigs.verify)
            if judged.verdict != Verdict.ACCEPT:
                return
            run_now(driver.deliver_vote(msg.vote))
        elif isinstance(msg, WireProposal):
            self._maybe_sync(node, frm, msg.proposal.height)
            received = driver.held_proposal(msg.proposal)
            if received is None:
                raw_block = encode_block(msg.block)
                judged = judge_proposal(driver.frontier(), msg.proposal, raw_block,
                                        driver.slot_taken, driver.sigs.verify)
                received = ProposalReceived(msg.proposal, msg.block)
                if judged.verdict != Verdict.ACCEPT or not driver.take_proposal(
                        received, encode_proposal(msg.proposal), raw_block):
                    return
            run_now(driver.deliver_proposal(received))
        elif isinstance(msg, WireEvidence):
            driver.pool_evidence(msg.evidence, self.nodes[frm].pub)
        elif isinstance(msg, SyncRequest):
            blocks = self._blocks_from(node, msg.from_height)
            if blocks:
                self._send(node.index, frm, SyncResponse(blocks))
        else:
            self._apply_sync(node, msg)

    def _blocks_from(self, node: SimNode, start: int) -> tuple[tuple[Block, bytes], ...]:
        out = []
        for h in range(start, min(node.height, start + SYNC_BATCH - 1) + 1):
            block, cert = node.store.get_block_at(h), node.store.get_certificate(h)
            if block is None or cert is None:
                break
            out.append((block, cert))
        return tuple(out)

    def _maybe_sync(self, node: SimNode, frm: int, height: int) -> None:
        if height > node.height + 1 and self.now - node.last_sync_ms >= SYNC_BACKOFF_MS:
            node.last_sync_ms = self.now
            self._send(node.index, frm, SyncRequest(node.height + 1))

    def _apply_sync(self, node: SimNode, msg: SyncResponse) -> None:
        """The node's own sync checks and store (`node.sync.store_range`), then the driver."""
        driver = node.driver
        assert driver is not None
        items = []
        for block, cert in msg.blocks:
            height = block.header.height
            if height <= node.height:
                have = node.store.get_hash_at(height)
                if node.honest and have != block_hash(block.header):
                    self.violations.append(f"height {height}: node {node.index} was offered a"
                                           f" certified block other than its own")
                continue
            items.append((block, cert))
        if not items:
            return
        signed = None if driver.record is None else driver.record.state.height
        outcome = store_range(node.store, SignatureCache(1_000), driver.state, items, signed,
                              verify=driver.sigs.verify)
        for block, block_id, cert, valid in outcome.done:
            driver.committed(Committed(block, block_id, cert, decode_certificate(cert).round,
                                       "sync"), valid.state)
        if outcome.done:
            run_now(driver.after_sync())
            if len(msg.blocks) == SYNC_BATCH:
                node.last_sync_ms = -(10**9)

    def _gossip(self, node: SimNode) -> None:
        self._push(self.now + self.config.gossip_ms, "gossip", node.index, None)
        if not node.alive or not node.honest or node.driver is None:
            return
        if run_now(node.driver.tick()):
            self._trace_event("regossip", node.index, repr(node.engine.height))
            self._count("regossip")
            # a stuck node also asks a peer whether it missed a commit
            peers = self._peers(node)
            if peers:
                self._send(node.index, self.rng.choice(peers), SyncRequest(node.height + 1))

    # -- crashes --

    def _crash(self, node: SimNode) -> None:
        if not node.alive:
            return
        self._trace_event("crash", node.index, "")
        self._count("crash")
        node.alive = False
        node.epoch += 1
        node.driver = None  # the process is gone; its store (its disk) stays

    def _restart(self, node: SimNode, wipe: bool) -> None:
        if node.alive:
            return
        self._trace_event("restart", node.index, "wipe" if wipe else "keep")
        node.alive = True
        if wipe:
            self._count("wipe")
            node.wiped = True
            node.store = _fresh_store(self.genesis, self.genesis_id)
            node.joining = True
            self._boot(node, start=False)  # no record: catch up first, then rejoin
            for p in self._peers(node):
                self._send(node.index, p, SyncRequest(1))
            self._push(self.now + JOIN_WAIT_MS, "join", node.index, (node.epoch, None))
        else:
            self._boot(node, start=True)

    def _finish_join(self, node: SimNode) -> None:
        """A wiped validator: once no peer it can reach is ahead, it records the rejoin floor
        and votes from tip + 2 on (as the node's catch-up does, with peers' tips known here)."""
        if not node.joining or node.driver is None:
            return
        reachable = [p for p in self.nodes if p is not node and p.alive and
                     (self.groups is None or self.groups.get(p.index) ==
                      self.groups.get(node.index))]
        if any(p.height > node.height for p in reachable):
            for p in reachable:
                self._send(node.index, p.index, SyncRequest(node.height + 1))
            self._push(self.now + JOIN_WAIT_MS, "join", node.index, (node.epoch, None))
            return
        node.joining = False
        run_now(node.driver.rejoin(rejoin_floor(node.height)))


def run_simulation(config: SimConfig) -> SimResult:
    return Simulation(config).run()


def genesis_bytes(n: int, params: ChainParams = SIM_PARAMS) -> bytes:
    return encode_genesis(sim_genesis(n, params))


__all__ = [
    "SIM_PARAMS", "CrashPlan", "SimConfig", "SimNode", "SimResult", "Simulation",
    "SimulationError", "Step", "VoteType", "run_simulation", "sim_genesis", "sim_key",
]
