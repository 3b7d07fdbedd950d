"""Twenty-five cooperatives, one process each: kill f = 8 of them, the rest go on; restart them,
they catch up; no fork (issue 17, item 6).

n = 25 tolerates f = 8 (quorum 17). The 8 are SIGKILLed at once while the chain runs, the 17
left must keep finalizing, then the 8 restart on their data dirs and must reach the tip, and
every node must hold the same block at every height.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from faircoop_node.devnet import Devnet, create_devnet
from tests.e2e.helpers import free_base_port, get, height, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

N = 25
KILLED = 8  # f for n = 25: quorum 17 of 25 survives


def test_kill_eight_of_twenty_five_and_bring_them_back(tmp_path: Path) -> None:
    layout = create_devnet(tmp_path / "net", N, free_base_port(30_500, N + 1, step=211))
    net = Devnet(layout)
    validators = [node for node in layout.nodes if node.validator]
    net.start_all(validators)
    try:
        wait_for(lambda: min(height(v) for v in validators) >= 3, 240, "every validator at 3")
        victims, survivors = validators[-KILLED:], validators[:-KILLED]
        for v in victims:
            net.signal(v.name, signal.SIGKILL)
        at_kill = max(height(v) for v in survivors)
        wait_for(lambda: min(height(v) for v in survivors) >= at_kill + 3, 120,
                 "the 17 survivors finalizing three more blocks")
        for v in victims:
            net.start(v)  # on the data dir it was killed with
        target = max(height(v) for v in survivors)
        wait_for(lambda: min(height(v) for v in validators) >= target + 2, 240,
                 "the 8 restarted validators caught up, and the chain on")
        top = min(height(v) for v in validators)
        for h in range(1, top + 1):
            hashes = {get(v, f"block-height/{h}") for v in validators}
            assert len(hashes) == 1, f"fork at height {h}: {hashes}"
        # the restarted ones sign again: the chain records their precommits
        def voted() -> dict[str, int]:
            return {r["name"]: r["rounds_voted"] for r in
                    get(validators[0], "validators")["validators"]}
        before = voted()
        wait_for(lambda: all(voted()[v.name] > before[v.name] for v in victims), 60,
                 "the restarted validators' precommits on chain")
    finally:
        codes = net.stop_all()
    assert set(codes.values()) == {0}, codes
