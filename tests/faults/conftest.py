"""Markers for the fault suite.

`slow` (registered in pyproject) marks every multi-process test; those still run in the default
suite. `soak` marks the long runs that do not: they run only with FAIRCOOP_SOAK=1 or when
selected with `-m soak`. FAIRCOOP_FAULT_SEEDS=N sets how many seeds a soak run uses (default 10).
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "soak: long fault/attack runs, off by default (FAIRCOOP_SOAK=1 or -m soak)")


def soak_enabled(config: pytest.Config) -> bool:
    return os.environ.get("FAIRCOOP_SOAK") == "1" or "soak" in (config.getoption("-m") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak_enabled(config):
        return
    skip = pytest.mark.skip(reason="soak run: set FAIRCOOP_SOAK=1 or select with -m soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
