"""Files the tests leave for a person to look at (screenshots), listed at the end of the run."""

from __future__ import annotations

from pathlib import Path

SAVED: list[tuple[str, Path]] = []


def record(what: str, where: Path) -> None:
    SAVED.append((what, where))
