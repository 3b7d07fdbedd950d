"""Which way the packages' imports point: `faircoop_node` imports `wallet` (the devnet's demo
wallet), so neither `wallet` nor `faircoop_common` may import `faircoop_node`, and
`faircoop_common` imports no `wallet` either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_packages(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("faircoop_common", {"faircoop_node", "wallet"}),
    ("wallet", {"faircoop_node"}),
    ("consensus", {"faircoop_node", "wallet", "faircoop_common"}),
])
def test_imports_point_one_way(package: str, forbidden: set[str]) -> None:
    offenders = {path: sorted(names & forbidden)
                 for path, names in _imported_packages(package).items() if names & forbidden}
    assert offenders == {}
