"""A seeded, in-process, whole-network simulator of the node's consensus.

It runs N of the node's own `ConsensusDriver`s (engine, chain state, pools, production gate,
action handling) on memory stores against a simulated clock and message queue, injects
network, process and Byzantine faults drawn from one integer seed, and checks safety (no two
honest validators commit different blocks at one height) and liveness (blocks resume within a
bound once faults heal). It is a test harness, not consensus: it may use `random.Random(seed)`.

It leaves out transactions (blocks are empty), real time and real sockets; see
`faircoop_node.net` for those. `scripts/simulate.py` is its command line.
"""

from faircoop_node.simulation.faults import ALL_FAULTS, FaultPlan, parse_faults
from faircoop_node.simulation.sim import (
    SIM_PARAMS,
    SimConfig,
    SimResult,
    Simulation,
    run_simulation,
)

__all__ = [
    "ALL_FAULTS", "SIM_PARAMS", "FaultPlan", "SimConfig", "SimResult", "Simulation",
    "parse_faults", "run_simulation",
]
