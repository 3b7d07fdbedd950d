"""A hand-driven cluster of the node's consensus drivers, for interaction and script tests.

Each validator is the node's own `ConsensusDriver` on a `MemoryStore`. Nothing happens by
itself: messages wait in each node's inbox until the test delivers them, timeouts wait until
the test fires them, and a height starts when the test opens the gate (`propose`), as in etcd
raft's interaction tests. The ports log what the driver does, in the order it does it, so a
script shows a validator persisting its last-signed state before its signature leaves. Blocks
are real blocks judged by the real rules; each gets a readable alias (`h1r0`: proposed for
height 1 in round 0), and `invalid` makes the application refuse one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from consensus.chain import ValidBlock, validate_block
from consensus.chainstate import ChainState, encode_chain_state, genesis_state
from consensus.codec import block_hash, encode_block, genesis_hash
from consensus.crypto import PrivateKey
from consensus.engine import ProposalReceived, Step, TimeoutFired
from consensus.errors import ValidationError
from consensus.evidence import DuplicateVoteEvidence
from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import Block, BlockHash
from consensus.votes import Proposal, Vote, VoteType, decode_certificate, encode_proposal
from faircoop_node.node.commit import store_block, stored_tip
from faircoop_node.node.contract import NoTxs
from faircoop_node.node.driver import Committed, ConsensusDriver, run_now
from faircoop_node.node.signing import decode_signed_record
from faircoop_node.node.sync import store_range
from faircoop_node.simulation.sim import sim_genesis, sim_keys
from faircoop_node.storage import MemoryStore

PARAMS = ChainParams(timeout_propose_ms=1000, timeout_vote_ms=500, timeout_delta_ms=250)
STEP_NAMES = {Step.PROPOSE: "propose", Step.PREVOTE: "prevote", Step.PRECOMMIT: "precommit"}
STEPS = {v: k for k, v in STEP_NAMES.items()}
BUILD_TIME = 1_000


@dataclass
class Node:
    index: int
    key: PrivateKey
    store: MemoryStore
    driver: ConsensusDriver | None = None
    inbox: list[tuple[int, Proposal | Vote, Block | None]] = field(default_factory=list)
    timeouts: dict[tuple[int, int, Step], int] = field(default_factory=dict)
    alive: bool = True

    @property
    def d(self) -> ConsensusDriver:
        assert self.driver is not None
        return self.driver


class _Ledger:
    def __init__(self, cluster: Cluster, node: Node) -> None:
        self._cluster = cluster
        self._node = node

    async def validate(self, state: ChainState, block: Block, block_id: BlockHash) -> ValidBlock:
        if self._cluster.alias(block_id) in self._cluster.invalid:
            raise ValidationError("rejected", "the script says this block is invalid")
        return validate_block(state, block, block_id, self._node.store)

    async def commit(self, state: ChainState, block: Block, block_id: BlockHash,
                     certificate: bytes, valid: ValidBlock) -> None:
        store_block(self._node.store, state, block, block_id, certificate, valid)

    async def write_signed(self, record: bytes) -> None:
        self._node.store.put_last_signed(record)
        s = decode_signed_record(record).state
        self._cluster.log.append(f"v{self._node.index} persists h{s.height} r{s.round}"
                                 f" {STEP_NAMES[s.step]}")


class _Outbox:
    def __init__(self, cluster: Cluster, node: Node) -> None:
        self._cluster = cluster
        self._node = node

    def proposal(self, proposal: Proposal, block: Block, raw_proposal: bytes,
                 raw_block: bytes, to: bytes | None = None) -> None:
        self._cluster.aliases.setdefault(proposal.block_id,
                                         f"h{proposal.height}r{proposal.round}")
        self._cluster.send(self._node, proposal, block, to)

    def vote(self, vote: Vote, to: bytes | None = None) -> None:
        self._cluster.send(self._node, vote, None, to)

    def evidence(self, evidence: DuplicateVoteEvidence, exclude: bytes | None) -> None:
        c = self._cluster
        c.log.append(f"v{self._node.index} found evidence against "
                     f"{c.names[evidence.offender]}: {c.describe(evidence.vote_a)} / "
                     f"{c.describe(evidence.vote_b)}")


class _Clock:
    """Time stands still; a proposer's block is stamped by its round, so rounds differ."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def now_ms(self) -> int:
        driver = self._node.driver
        return BUILD_TIME + (driver.current_round() if driver is not None else 0)

    def monotonic(self) -> float:
        return 0.0


class Cluster:
    def __init__(self, n: int, params: ChainParams = PARAMS) -> None:
        self.genesis = sim_genesis(n, params)
        gid = genesis_hash(self.genesis)
        keys = sim_keys(n)
        self.nodes = [Node(i, k, MemoryStore(self.genesis, genesis_chain_state=encode_chain_state(
            genesis_state(self.genesis, gid)))) for i, k in enumerate(keys)]
        for node in self.nodes:
            self._boot(node)
        self.validators = tuple(v.pubkey for v in self.genesis.validators)
        self.names = {k.public_key: f"v{i}" for i, k in enumerate(keys)}
        self.aliases: dict[bytes, str] = {}
        self.invalid: set[str] = set()  # aliases of blocks the application rejects
        self.groups: dict[int, int] | None = None
        self.log: list[str] = []

    def _boot(self, node: Node) -> None:
        """The node's driver on its store, as a (re)started process builds it."""
        state, cert = stored_tip(node.store)

        def schedule(ev: TimeoutFired, delay_ms: int) -> None:
            node.timeouts[(ev.height, ev.round, ev.step)] = delay_ms
            self.log.append(f"v{node.index} schedules {STEP_NAMES[ev.step]} timeout"
                            f" h{ev.height} r{ev.round} {delay_ms}ms")

        def committed(c: Committed) -> None:
            if c.source == "consensus":
                cert = decode_certificate(c.certificate)
                self.log.append(f"v{node.index} commits h{cert.height} {self.alias(c.block_id)}"
                                f" round {cert.round} signers {len(cert.signatures)}")
            node.timeouts.clear()

        node.driver = ConsensusDriver(
            self.genesis, state, cert, node.key, validator=True, ledger=_Ledger(self, node),
            outbox=_Outbox(self, node), schedule=schedule, clock=_Clock(node), pool=NoTxs(),
            on_commit=committed)

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
            run_now(node.d.start(None))

    def send(self, node: Node, msg: Proposal | Vote, block: Block | None,
             to: bytes | None = None) -> None:
        """To every connected peer, or only to the node whose key is `to`."""
        target = "" if to is None else f" (to {self.names[to]})"
        self.log.append(f"v{node.index} -> {self.describe(msg)}{target}")
        for peer in self.nodes:
            if peer.index != node.index and self.connected(node.index, peer.index) and \
                    (to is None or peer.key.public_key == to):
                peer.inbox.append((node.index, msg, block))

    def propose(self) -> None:
        """Open every waiting node's gate: the next height starts (the block interval)."""
        for node in self.nodes:
            if node.alive and node.d.gated:
                run_now(node.d.start_height())

    def gossip(self) -> None:
        """Every live node re-sends what it would on a stall (`Engine.gossip()`)."""
        for node in self.nodes:
            if node.alive:
                node.d.regossip()

    def sync(self, i: int) -> int:
        """Fetch committed blocks from the furthest peer, with the node's own sync checks."""
        node = self.nodes[i]
        source = max(self.nodes, key=lambda n: n.store.tip().height)
        start = node.store.tip().height + 1
        items = [(b, c) for h in range(start, source.store.tip().height + 1)
                 if (b := source.store.get_block_at(h)) is not None
                 and (c := source.store.get_certificate(h)) is not None]
        if not items:
            return 0
        outcome = store_range(node.store, SignatureCache(), node.d.state, items, None)
        for block, block_id, cert, valid in outcome.done:
            node.d.committed(Committed(block, block_id, cert, decode_certificate(cert).round,
                                       "sync"), valid.state)
        self.log.append(f"v{i} synced {len(outcome.done)} blocks from v{source.index}")
        run_now(node.d.after_sync())
        return len(outcome.done)

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
                    run_now(node.d.deliver_vote(msg))
                else:
                    assert block is not None
                    received = node.d.held_proposal(msg) or ProposalReceived(msg, block)
                    node.d.take_proposal(received, encode_proposal(msg), encode_block(block))
                    run_now(node.d.deliver_proposal(received))
        return count

    def stabilize(self, limit: int = 1000) -> None:
        for _ in range(limit):
            if not self.deliver():
                return
        raise AssertionError("no quiescence")

    def fire(self, i: int, step: Step) -> bool:
        """Fire node i's pending `step` timeout for its current height and round."""
        node = self.nodes[i]
        e = node.d.engine
        assert e is not None
        key = (e.height, e.round, step)
        if key not in node.timeouts:
            return False
        del node.timeouts[key]
        run_now(node.d.timeout(TimeoutFired(*key)))
        return True

    def restart(self, i: int, keep_state: bool = True) -> None:
        """A new driver on the node's store: from its last-signed record, or from none."""
        node = self.nodes[i]
        raw = node.store.get_last_signed() if keep_state else None
        node.inbox = []
        node.timeouts.clear()
        self._boot(node)
        run_now(node.d.start(decode_signed_record(raw) if raw is not None else None))

    def status(self, i: int) -> str:
        node = self.nodes[i]
        e = node.d.engine
        assert e is not None
        lv, lr = e.locked
        vv, vr = e.valid
        ls = e.last_signed
        signed = f"h{ls.height} r{ls.round} {STEP_NAMES[ls.step]}" if ls else "none"
        return (
            f"v{i}: h{e.height} r{e.round} {STEP_NAMES[e.step]}"
            f"{' decided' if e.decided else ''} locked={self.alias(lv or b'')}/{lr}"
            f" valid={self.alias(vv or b'')}/{vr} committed={node.store.tip().height}"
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

    def heights(self) -> list[int]:
        return [node.store.tip().height for node in self.nodes]

    def block_hash_at(self, i: int, height: int) -> bytes | None:
        return self.nodes[i].store.get_hash_at(height)


__all__ = ["BUILD_TIME", "Cluster", "STEPS", "block_hash"]
