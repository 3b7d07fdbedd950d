"""Which way the packages' imports point: no import cycles in consensus/, faircoop_node/ and
wallet/, and the node runtime (faircoop_node/node/) imports nothing of the HTTP API
(faircoop_node/api/), directly or through another module.

The graph is read from the source (`ast`), so every import counts, those inside functions
too: a cycle hidden in a lazy import is still a cycle. `from pkg import name` is an edge to
`pkg.name` when that is a module, else to `pkg`; a package's `__init__` is not counted as
imported by its submodules (Python runs it first, but that is not a dependency).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("consensus", "faircoop_node", "wallet", "faircoop_common")
RUNTIME = "faircoop_node.node"
API = "faircoop_node.api"

# Cycles known and accepted (none): the test below fails once one is gone, so an entry is
# deleted with its cycle and can't hide a new one among the same modules.
KNOWN_CYCLES: dict[frozenset[str], str] = {}
# Modules under faircoop_node/node/ that only re-export something outside it (none).
REEXPORTS: dict[str, str] = {}


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom,
              modules: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        yield candidate if candidate in modules else base


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES
                 ) -> dict[str, set[str]]:
    """Each of our modules -> the modules of ours it imports."""
    modules = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(m for m in _imported(module, path, node, modules)
                             if m in modules and m != module)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def reachable(graph: dict[str, set[str]], start: str, skip: set[str]) -> dict[str, str]:
    """Modules `start` imports, directly or not (not through `skip`) -> the module importing it."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        m = todo.pop()
        for n in sorted(graph[m]):
            if n not in via and n not in skip and n != start:
                via[n] = m
                todo.append(n)
    return via


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"a"}}, [{"a", "b"}]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [{"a", "b", "c"}]),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [{"a", "b"}, {"c", "d"}]),
    ({"a": {"a"}}, []),  # an edge to itself is dropped when the graph is read
])
def test_cycles_finds_every_strongly_connected_group(graph: dict[str, set[str]],
                                                     expected: list[set[str]]) -> None:
    graph = {k: v - {k} for k, v in graph.items()}
    assert sorted(map(sorted, cycles(graph))) == sorted(map(sorted, expected))


SAMPLE = {
    "p/__init__.py": "from p.a import f\n",
    "p/a.py": "import os\nimport p.sub.c\nfrom . import b\n\ndef f():\n    from p.sub import d\n",
    "p/b.py": "from p import a\nfrom .sub.c import name\n",  # cycles: a-b-a, a-d-c-a
    "p/sub/__init__.py": "",
    "p/sub/c.py": "from .. import b\nfrom ..a import f\n",
    "p/sub/d.py": "from p.sub import c, missing\n",
}


def test_the_graph_is_read_from_every_kind_of_import(tmp_path: Path) -> None:
    for name, text in SAMPLE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_graph(tmp_path, ("p",)) == {
        "p": {"p.a"},  # from a package's module import a name
        "p.a": {"p.sub.c", "p.b", "p.sub.d"},  # dotted, relative, inside a function
        "p.b": {"p.a", "p.sub.c"},  # from pkg import module; relative from a subpackage
        "p.sub": set(),
        "p.sub.c": {"p.b", "p.a"},  # two levels up
        "p.sub.d": {"p.sub.c", "p.sub"},  # a name that is not a module: the package
    }
    assert cycles(import_graph(tmp_path, ("p",))) == [frozenset({"p.a", "p.b", "p.sub.c",
                                                                 "p.sub.d"})]


def test_no_import_cycles_in_the_three_packages() -> None:
    found = set(cycles(import_graph()))
    assert found - set(KNOWN_CYCLES) == set(), "import cycles (each a set of modules)"
    fixed = set(KNOWN_CYCLES) - found
    assert not fixed, f"no longer cycles: delete them from KNOWN_CYCLES: {fixed}"


def test_the_node_runtime_imports_nothing_of_the_api() -> None:
    graph = import_graph()
    runtime = [m for m in graph if (m == RUNTIME or m.startswith(RUNTIME + "."))
               and m not in REEXPORTS]
    assert len(runtime) >= 10
    for module in runtime:
        via = reachable(graph, module, skip=set(REEXPORTS))
        api = sorted(m for m in via if m == API or m.startswith(API + "."))
        chains = {m: " <- ".join(_chain(via, m, module)) for m in api}
        assert not api, f"{module} imports the API: {chains}"


def test_a_reexport_left_in_the_runtime_imports_only_its_new_place() -> None:
    graph = import_graph()
    for module, target in REEXPORTS.items():
        assert graph[module] == {target}


def _chain(via: dict[str, str], end: str, start: str) -> list[str]:
    chain = [end]
    while chain[-1] != start:
        chain.append(via[chain[-1]])
    return chain
