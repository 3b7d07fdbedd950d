"""Named whole-network scenarios: Clique's deadlock, a wiped validator, a proposer that stays
down, and what breaks when a third or more of the validators are Byzantine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.certificate import verify_certificate
from consensus.chain import make_block
from consensus.chainstate import genesis_state
from consensus.codec import block_hash
from consensus.engine import (
    BlockValidated,
    Broadcast,
    Commit,
    Engine,
    EvidenceFound,
    NewHeight,
    ProposalReceived,
    ValidateBlock,
    VoteReceived,
)
from consensus.quorum import quorum_size
from consensus.types import PublicKey
from consensus.votes import Vote, VoteType, sign_proposal, sign_vote
from faircoop_node.simulation import SimConfig, Simulation, run_simulation
from faircoop_node.simulation.faults import FaultPlan, NetworkFaults
from faircoop_node.simulation.sim import SIM_PARAMS, sim_genesis, sim_keys

QUIET = FaultPlan(heal_ms=0, network=NetworkFaults(), partition=None, crashes=(), byzantine=())


def _chains_agree(sim: Simulation) -> None:
    honest = [n for n in sim.nodes if n.honest]
    for node in honest:
        for other in honest:
            common = min(len(node.blocks), len(other.blocks))
            assert [b[1] for b in node.blocks[:common]] == [b[1] for b in other.blocks[:common]]


@pytest.mark.parametrize("n", [4, 6])
def test_clique_deadlock_equal_halves_then_heal_resumes(n: int) -> None:
    """Clique (EIP-225) can stay stuck after a partition into equal halves; BFT rounds resume."""
    sim = Simulation(SimConfig(validators=n, seed=11, heights=4), plan=QUIET)
    half = n // 2
    sim.partition_at(0, [range(half), range(half, n)])
    sim.heal_at(5_000)
    sim.run_until(5_000)
    assert sim.commits == {}, "neither half holds a quorum"
    # without 2f+1 prevotes of any kind no prevote timeout is even scheduled: everyone waits
    assert all((node.engine.height, node.engine.round) == (1, 0) for node in sim.nodes)
    result = sim.run()
    assert result.ok and result.min_honest_height >= 4
    assert result.recovery_ms is not None and result.recovery_ms < 5_000
    _chains_agree(sim)


def test_validator_restarted_with_an_empty_data_dir_syncs_and_rejoins() -> None:
    sim = Simulation(SimConfig(validators=4, seed=3, heights=12), plan=QUIET)
    sim.run_until(600)
    before = sim.nodes[2].height
    assert before >= 3
    sim.crash_at(600, 2)
    sim.restart_at(1_100, 2, wipe=True)
    result = sim.run()
    wiped = sim.nodes[2]
    assert wiped.wiped and result.ok
    assert dict(result.stats)["synced_blocks"] >= before  # its chain came back from peers
    assert wiped.height >= 12
    _chains_agree(sim)
    assert not result.offenders  # it rejoined above its floor: it never signed twice
    # after syncing it votes again: the chain records its precommits in later blocks
    voted = wiped.state.participation_of(wiped.pub).voted
    sim.run_until(sim.now + 3_000)
    assert sim.nodes[0].state.participation_of(wiped.pub).voted > voted


def _intervals(sim: Simulation) -> list[int]:
    times = [t for _, t in sorted(sim.commit_times.items())]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_proposer_down_for_many_heights_is_quarantined_and_blocks_stay_fast() -> None:
    down = 2
    runs = {}
    never = replace(SIM_PARAMS, quarantine_after=10_000)  # no quarantine: a static rotation
    for name, params in (("quarantine", SIM_PARAMS), ("static", never)):
        sim = Simulation(SimConfig(validators=4, seed=5, params=params), plan=QUIET)
        sim.crash_at(0, down)  # and never restarted
        sim.run_until(10_000)
        runs[name] = sim
    quarantined, static = runs["quarantine"], runs["static"]
    propose_timeout = SIM_PARAMS.timeout_propose_ms
    # with quarantine, after k = quarantine_after misses nobody waits for the dead proposer again
    k = SIM_PARAMS.quarantine_after
    late = _intervals(quarantined)[4 * k + 4:]
    assert late and max(late) < propose_timeout
    state = quarantined.nodes[0].state
    assert quarantined.nodes[down].pub in state.quarantined()
    # without it, every 4th height waits out a propose timeout for ever
    slow = [i for i in _intervals(static)[4 * k + 4:] if i >= propose_timeout]
    assert len(slow) >= 5
    # every block waits out a heartbeat (100 ms) anyway; the dead proposer adds 200 ms per turn
    assert len(quarantined.commit_times) > 1.4 * len(static.commit_times)


# -- f >= n/3 ---------------------------------------------------------------------------------


def test_a_third_silent_stops_the_chain_but_never_forks_it() -> None:
    """n = 3, f = 1 = n/3: quorum(3) = 3 needs the silent one. No liveness; safety holds."""
    for seed in range(3):
        result = run_simulation(SimConfig(validators=3, byzantine=1, seed=seed,
                                          behaviours=("silence",), liveness_bound_ms=5_000))
        assert result.liveness_failure and result.heights_finalized == 0
        assert not result.safety_violations


def test_exactly_a_third_equivocating_is_still_safe_and_convicted() -> None:
    """n = 6, f = 2 = n/3: two quorums of 5 share 4 validators, 2 of them honest: no fork."""
    convicted = set()
    for seed in range(6):
        result = run_simulation(SimConfig(
            validators=6, byzantine=2, seed=seed, liveness_bound_ms=10_000,
            behaviours=("equivocate_votes", "equivocate_votes")))
        assert not result.safety_violations
        assert set(result.offenders) <= set(result.byzantine)
        convicted |= set(result.offenders)
    assert convicted, "the equivocators' duplicate votes were caught"


class _Split:
    """Two honest engines and a Byzantine coalition that shows each a different block."""

    def __init__(self, n: int, byzantine: tuple[int, ...], honest: tuple[int, int]) -> None:
        self.genesis = sim_genesis(n, SIM_PARAMS)
        self.keys = sim_keys(n)
        self.vals = tuple(PublicKey(k.public_key) for k in self.keys)
        self.byz, self.honest = byzantine, honest
        self.engines = {i: Engine(self.genesis.chain_id, self.keys[i]) for i in honest}
        self.out: dict[int, list[object]] = {i: [] for i in honest}
        self.received: dict[int, list[Vote]] = {i: [] for i in honest}

    def feed(self, i: int, event: object) -> None:
        if isinstance(event, VoteReceived):
            self.received[i].append(event.vote)
        pending = self.engines[i].handle(event)  # type: ignore[arg-type]
        while pending:
            a = pending.pop(0)
            self.out[i].append(a)
            if isinstance(a, ValidateBlock):
                pending.extend(self.engines[i].handle(BlockValidated(a.block_id, True)))

    def attack(self) -> tuple[bytes, bytes]:
        chain = self.genesis.chain_id
        for i in self.honest:
            self.feed(i, NewHeight(1, self.vals, self.vals, SIM_PARAMS))
        proposer = 1 % len(self.vals)  # proposer(1, 0) = V[(1 + 0) mod n]
        assert proposer in self.byz, "the coalition must hold the round-0 proposer"
        start = genesis_state(self.genesis)
        blocks = [make_block(start, self.vals[proposer], t) for t in (1, 2)]
        ids = [block_hash(b.header) for b in blocks]
        for side, i in enumerate(self.honest):
            p = sign_proposal(self.keys[proposer], chain, 1, 0, -1, ids[side])
            self.feed(i, ProposalReceived(p, blocks[side]))
            for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT):
                for b in self.byz:
                    self.feed(i, VoteReceived(sign_vote(self.keys[b], chain, kind, 1, 0,
                                                        ids[side])))
        return ids[0], ids[1]

    def gossip_between_honest(self) -> None:
        """Honest nodes relay every vote they saw: each now sees the coalition's other votes."""
        a, b = self.honest
        seen = {i: self._votes_seen(i) for i in self.honest}
        for frm, to in ((a, b), (b, a)):
            for v in seen[frm]:
                self.feed(to, VoteReceived(v))

    def _votes_seen(self, i: int) -> list[Vote]:
        own = [x.message for x in self.out[i]
               if isinstance(x, Broadcast) and isinstance(x.message, Vote)]
        return own + list(self.received[i])

    def commits(self, i: int) -> list[Commit]:
        return [a for a in self.out[i] if isinstance(a, Commit)]

    def evidence(self, i: int) -> set[int]:
        return {self.vals.index(a.vote_a.validator) for a in self.out[i]
                if isinstance(a, EvidenceFound)}


def test_half_byzantine_can_fork_and_the_evidence_names_exactly_them() -> None:
    """n = 4 with f = 2 >= n/3 colluding: each honest node sees a quorum for its own block.

    Two quorums of 3 in a set of 4 share 2 validators; when both are Byzantine nothing stops
    two conflicting certificates. This is the documented limit (n >= 3f + 1). What still holds:
    each side's certificate verifies, and as soon as the honest nodes exchange votes, the
    duplicate votes convict precisely the coalition, never an honest validator.
    """
    split = _Split(4, byzantine=(1, 3), honest=(0, 2))
    id_a, id_b = split.attack()
    (ca,), (cb,) = split.commits(0), split.commits(2)
    assert ca.block_id == id_a and cb.block_id == id_b and id_a != id_b  # a fork
    for c in (ca, cb):
        verify_certificate(c.certificate, c.block_id, split.vals, split.genesis.chain_id, 1)
    for i in split.honest:
        split.feed(i, NewHeight(2, split.vals, split.vals, SIM_PARAMS))
    split.gossip_between_honest()
    assert split.evidence(0) == {1, 3} and split.evidence(2) == {1, 3}


def test_the_same_attack_with_one_byzantine_cannot_fork() -> None:
    """n = 4, f = 1 < n/3: the lone equivocator gives each side 2 votes, short of quorum(4)."""
    split = _Split(4, byzantine=(1,), honest=(0, 2))
    split.attack()
    assert quorum_size(4) == 3
    assert split.commits(0) == [] and split.commits(2) == []


def test_equivocator_is_caught_included_in_a_block_and_suspended() -> None:
    """Evidence end to end: EvidenceFound -> a proposer includes it -> chain state suspends."""
    for seed in range(3):
        sim = Simulation(SimConfig(validators=4, byzantine=1, seed=seed, heights=6,
                                   behaviours=("equivocate_votes",)))
        result = sim.run()
        assert result.ok and result.offenders == result.byzantine
        offender = sim.nodes[result.byzantine[0]].pub
        for node in (n for n in sim.nodes if n.honest):
            assert any(block.evidence for block, _, _ in node.blocks)
            state = node.state
            assert offender in {v.pubkey for v in state.suspended}
            assert offender not in state.voting_set()
