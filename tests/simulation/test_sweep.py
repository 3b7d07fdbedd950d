"""The seed sweep: 500 seeded whole-network runs with every kind of fault, n in {1, 4, 7}.

Each run draws its faults from its seed (`faircoop_node.simulation.faults.draw_plan`): message
drops, delays, reordering and duplicates, a partition, a crash-restart, a wipe (restart from an
empty data dir, only while byzantine + 1 <= f), and f < n/3 Byzantine validators each with one
behaviour (equivocating proposer, equivocating voter, invalid proposals, silence). Every run
must be safe (no two honest nodes hold different blocks at a height) and live (every honest node
reaches the goal height within the bound after the heal). A failure names its replay command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from consensus.quorum import max_faulty
from faircoop_node.simulation import ALL_FAULTS, SimConfig, SimResult, run_simulation
from faircoop_node.simulation.faults import BYZANTINE_FAULTS

ROOT = Path(__file__).resolve().parents[2]
FAULTS = frozenset(ALL_FAULTS)

# (validators, first seed, seeds): 100 + 250 + 150 = 500 runs; Byzantine count cycles over
# 0..f with the seed so every chunk mixes wipes (byzantine 0) and Byzantine behaviours.
CHUNKS = [(1, 0, 50), (1, 50, 50),
          (4, 0, 50), (4, 50, 50), (4, 100, 50), (4, 150, 50), (4, 200, 50),
          (7, 0, 50), (7, 50, 50), (7, 100, 50)]


def byzantine_for(n: int, seed: int) -> int:
    return seed % (max_faulty(n) + 1)


def test_the_sweep_has_at_least_500_runs_over_1_4_7() -> None:
    assert sum(c for _, _, c in CHUNKS) >= 500
    assert {n for n, _, _ in CHUNKS} == {1, 4, 7}


@pytest.mark.parametrize(("n", "first", "count"), CHUNKS,
                         ids=[f"n{n}-seeds{a}-{a + c}" for n, a, c in CHUNKS])
def test_seed_sweep_is_safe_and_live(n: int, first: int, count: int) -> None:
    struck: Counter[str] = Counter()
    failures = []
    heights = 0
    for seed in range(first, first + count):
        config = SimConfig(validators=n, byzantine=byzantine_for(n, seed), faults=FAULTS,
                           seed=seed)
        result = run_simulation(config)
        struck.update(dict(result.stats))
        heights += result.heights_finalized
        if not result.ok:
            failures.append(f"seed {seed}: {result.safety_violations or 'liveness'}\n"
                            f"  {result.replay_command()}")
        assert set(result.offenders) <= set(result.byzantine) | _wiped(result), \
            f"seed {seed}: an honest validator was convicted"
    assert not failures, "\n".join(failures)
    assert heights >= 3 * count
    # every kind of fault that can apply at this n actually struck in this chunk (a lone
    # validator sends no messages, and may neither be Byzantine nor lose its data: f = 0)
    expected = {"crash"}
    if n > 1:
        expected |= {"dropped", "delayed", "reordered", "duplicated", "partitioned", "wipe",
                     *BYZANTINE_FAULTS}
    missing = expected - set(struck)
    assert not missing, f"faults that never struck: {sorted(missing)}"


def _wiped(result: SimResult) -> set[int]:
    """A wiped validator forgets what it signed and may equivocate unknowingly: it is a fault."""
    return {c.node for c in result.plan.crashes if c.wipe}


def test_same_seed_replays_exactly_and_seeds_differ() -> None:
    config = SimConfig(validators=4, byzantine=1, faults=FAULTS, seed=4242)
    a, b = run_simulation(config), run_simulation(config)
    assert a.trace_hash == b.trace_hash
    assert (a.events, a.sim_time_ms, a.commit_times, a.stats) == \
        (b.events, b.sim_time_ms, b.commit_times, b.stats)
    other = run_simulation(SimConfig(validators=4, byzantine=1, faults=FAULTS, seed=4243))
    assert other.trace_hash != a.trace_hash


def test_replay_is_independent_of_the_process_hash_seed() -> None:
    """Two processes with different PYTHONHASHSEED print the same trace hashes."""
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        proc = subprocess.run(
            [sys.executable, "scripts/simulate.py", "--validators", "4", "--byzantine", "1",
             "--seeds", "7:10", "--faults", "all", "--verbose"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append([line for line in proc.stdout.splitlines() if "trace" in line])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 3


@pytest.mark.slow
@pytest.mark.parametrize("n", [4, 7])
def test_soak_many_more_seeds(n: int) -> None:
    """600 seeds a size in a soak run (FAIRCOOP_SOAK=1), 150 in the default suite."""
    failures = []
    for seed in range(10_000, 10_000 + (600 if os.environ.get("FAIRCOOP_SOAK") == "1" else 150)):
        result = run_simulation(SimConfig(validators=n, byzantine=byzantine_for(n, seed),
                                          faults=FAULTS, seed=seed, heights=6))
        if not result.ok:
            failures.append(result.replay_command())
    assert not failures, "\n".join(failures)
