"""A fast clock can't bring a governors' recovery forward (issue 20, item 2).

Real `Node`s in one process (the harness): the recovery needs the chain stalled, governors'
keys and an inbox, which the process devnet tests can't set up in a test's time. Each node
installs a recovery when *its own* clock says `recovery_after_ms` has passed since the last
block; a node whose clock runs fast installs it at once, but the recovered set can't finalize
anything until enough of its members' clocks agree. The chain's `max_clock_drift_ms` here
(60 s) is larger than the wait (10 s), the case where a proposal stamped at parent + wait is
still "not from the future" for an honest node, so only the per-node install keeps the wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from consensus.governance import encode_recovery, make_recovery
from faircoop_node.logs import record_fields
from tests.builders import CHAIN_ID
from tests.node_runtime.harness import (
    FAST_PARAMS,
    VALIDATOR_KEYS,
    inbox_options,
    lose_quorum,
    start_cluster,
    wait_for,
)

WAIT_MS = 10_000  # recovery_after_ms: the least the rules allow
PARAMS = replace(FAST_PARAMS, recovery_after_ms=WAIT_MS)


def logged(caplog: pytest.LogCaptureFixture, event: str, rule: str | None = None) -> set[str]:
    return {f["node"] for f in map(record_fields, caplog.records)
            if f["event"] == event and (rule is None or f.get("rule") == rule)}


async def test_a_fast_clock_installs_a_recovery_early_but_cannot_finalize_it_early(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    options = inbox_options(tmp_path)
    inboxes = [o.inbox for o in options.values()]
    cluster = await start_cluster(4, options, params=PARAMS)
    try:
        alive = await lose_quorum(cluster)
        await asyncio.sleep(1.0)
        stalled = alive[0].state
        assert alive[1].state.height == stalled.height, "the chain moved without a quorum"
        due_ms = stalled.last_block_time_ms + WAIT_MS  # by the honest clock
        cluster.slots[0].skew_ms = WAIT_MS + 1_000  # node 0's clock jumps past the wait
        keep = tuple(v for v in cluster.genesis.validators
                     if v.pubkey in {n.pubkey for n in alive})
        recovery = make_recovery(CHAIN_ID, stalled.height, stalled.last_block_id, keep,
                                 (VALIDATOR_KEYS[0],))
        for d in inboxes:
            (d / f"recovery-{stalled.height}.action").write_text(
                encode_recovery(recovery).hex())
        await wait_for(lambda: bool(logged(caplog, "recovery_installed")) and
                       bool(logged(caplog, "recovery_refused", "recovery_too_early")), 5,
                       "the fast node installing the recovery, the other refusing it")
        assert len(logged(caplog, "recovery_installed")) == 1  # only the fast one
        assert int(time.time() * 1000) < due_ms - 3_000, "the test was too slow to tell"
        await wait_for(lambda: min(n.state.height for n in alive) >= stalled.height + 1,
                       WAIT_MS / 1000 + 15, "the recovered set's first block")
        final_ms = int(time.time() * 1000)
        assert final_ms >= due_ms, \
            f"the recovery was final {due_ms - final_ms} ms before recovery_after_ms was over"
        assert len(logged(caplog, "recovery_installed")) == 2
        first = alive[1].store.get_block_at(stalled.height + 1)
        assert first is not None and first.actions[0] == encode_recovery(recovery)
        assert alive[0].store.get_hash_at(stalled.height + 1) == \
            alive[1].store.get_hash_at(stalled.height + 1)
    finally:
        await cluster.stop_all()
