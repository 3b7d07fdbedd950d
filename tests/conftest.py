"""Suite-wide test selection.

`slow` marks multi-process tests; they run in the default suite, and `-m "not slow"` is the
quick subset. `soak` marks long fault and attack runs that are off by default: they run with
FAIRCOOP_SOAK=1 or when selected with `-m soak` (FAIRCOOP_FAULT_SEEDS=N sets their seed count).
`alone` marks tests whose pass mark is a timing on this machine (block gaps, throughput under
load): a neighbouring test's CPU would fail them, not the code. `scripts/dev test` runs the
suite in two phases: everything else on several pytest-xdist workers
(FAIRCOOP_TEST_PHASE=shared), then the `alone` tests one at a time with nothing beside them
(FAIRCOOP_TEST_PHASE=alone). A plain `pytest` sets no phase and runs both kinds.
All markers are registered in pyproject.toml.
"""

from __future__ import annotations

import os

import pytest


def soak_enabled(config: pytest.Config) -> bool:
    return os.environ.get("FAIRCOOP_SOAK") == "1" or "soak" in (config.getoption("-m") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep_phase(config, items)
    if soak_enabled(config):
        return
    skip = pytest.mark.skip(reason="soak run: set FAIRCOOP_SOAK=1 or select with -m soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


PHASES = {"shared": False, "alone": True}  # FAIRCOOP_TEST_PHASE: does it keep the `alone` tests


def keep_phase(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests that don't belong to FAIRCOOP_TEST_PHASE (none without it)."""
    phase = os.environ.get("FAIRCOOP_TEST_PHASE", "")
    if not phase:
        return
    if phase not in PHASES:
        raise pytest.UsageError(f"FAIRCOOP_TEST_PHASE={phase!r}: expected one of {sorted(PHASES)}")
    wanted = PHASES[phase]
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (kept if (item.get_closest_marker("alone") is not None) == wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
