"""Print where the explorer tests saved their artifacts (screenshots), whatever the outcome."""

from __future__ import annotations

import pytest

from tests.explorer import artifacts


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, where in artifacts.SAVED:
        files = sorted(p.name for p in where.iterdir()) if where.is_dir() else []
        terminalreporter.write_line(f"{what}: {where} ({len(files)} files: {', '.join(files)})")
