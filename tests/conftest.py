"""Suite-wide test selection.

`slow` marks multi-process tests; they run in the default suite, and `-m "not slow"` is the
quick subset. `soak` marks long fault and attack runs that are off by default: they run with
FAIRCOOP_SOAK=1 or when selected with `-m soak` (FAIRCOOP_FAULT_SEEDS=N sets their seed count).
Both markers are registered in pyproject.toml.
"""

from __future__ import annotations

import os

import pytest


def soak_enabled(config: pytest.Config) -> bool:
    return os.environ.get("FAIRCOOP_SOAK") == "1" or "soak" in (config.getoption("-m") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak_enabled(config):
        return
    skip = pytest.mark.skip(reason="soak run: set FAIRCOOP_SOAK=1 or select with -m soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
