"""Text-script scenario tests for the engine, in the manner of etcd raft's `testdata/*.txt`.

Each file in `testdata/` is a sequence of blocks:

    # a comment, kept on rewrite
    command args
    ----
    expected output
    (a blank line ends the block)

Commands (validators are `v0..v{n-1}`, in certificate index order):

    new n=4                 a fresh cluster of n engines, started at height 1
    deliver [v1]            deliver the messages waiting now (to everyone, or to v1)
    stabilize               deliver until no message is left
    timeout v2 propose      fire v2's pending timeout for that step (or `all`)
    partition 0,1 | 2,3     messages between groups are lost; `heal` ends it
    drop v1 [from v2]       lose every message waiting for v1 (or only those from v2)
    sync v0                 v0 fetches committed blocks (checking certificates) from a peer
    propose                 hand proposers the block for a new height (the block interval)
    gossip                  every node re-sends `Engine.gossip()` (own votes, polka proof)
    crash v1 / restart v1 [empty]
                            stop v1; restart it from its persisted state (or none)
    invalid h2r0            the application rejects the block with that alias
    status                  every node's height, round, step, lock, valid value, last-signed

The output is the actions the command caused, one per line (`ok` if none). To accept new
output after an intended change, run with FAIRCOOP_REWRITE=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.cluster import STEPS, Cluster

TESTDATA = Path(__file__).parent / "testdata"
REWRITE = os.environ.get("FAIRCOOP_REWRITE") == "1"


class ScriptError(Exception):
    """A malformed script line."""


def _node(cluster: Cluster, word: str) -> int:
    if not word.startswith("v") or not word[1:].isdigit() or int(word[1:]) >= len(cluster.nodes):
        raise ScriptError(f"no validator {word!r}")
    return int(word[1:])


def run_command(cluster: Cluster | None, line: str) -> tuple[Cluster | None, list[str]]:
    words = line.split()
    cmd, args = words[0], words[1:]
    if cmd == "new":
        opts = dict(a.split("=", 1) for a in args)
        cluster = Cluster(int(opts.get("n", "4")))
        cluster.start()
        return cluster, cluster.take_log()
    if cluster is None:
        raise ScriptError("start with `new`")
    out: list[str] = []
    if cmd == "deliver":
        cluster.deliver(_node(cluster, args[0]) if args else None)
    elif cmd == "stabilize":
        cluster.stabilize()
    elif cmd == "timeout":
        who, step = args
        targets = range(len(cluster.nodes)) if who == "all" else [_node(cluster, who)]
        for i in targets:
            if cluster.nodes[i].alive and not cluster.fire(i, STEPS[step]):
                out.append(f"v{i}: no {step} timeout pending")
    elif cmd == "partition":
        groups = [[int(x) for x in g.split(",")] for g in " ".join(args).split("|")]
        cluster.partition(groups)
    elif cmd == "heal":
        cluster.heal()
    elif cmd == "drop":
        node = cluster.nodes[_node(cluster, args[0])]
        if len(args) == 3 and args[1] == "from":
            frm = _node(cluster, args[2])
            node.inbox = [m for m in node.inbox if m[0] != frm]
        else:
            node.inbox = []
    elif cmd == "sync":
        cluster.sync(_node(cluster, args[0]))
    elif cmd == "propose":
        cluster.propose()
    elif cmd == "gossip":
        cluster.gossip()
    elif cmd == "crash":
        node = cluster.nodes[_node(cluster, args[0])]
        node.alive = False
        node.inbox = []
    elif cmd == "restart":
        i = _node(cluster, args[0])
        cluster.nodes[i].alive = True
        cluster.restart(i, keep_state=args[1:] != ["empty"])
    elif cmd == "invalid":
        cluster.invalid.update(args)
    elif cmd == "status":
        return cluster, [cluster.status(i) for i in range(len(cluster.nodes))]
    else:
        raise ScriptError(f"unknown command {cmd!r}")
    return cluster, out + cluster.take_log()


def parse(text: str) -> list[tuple[list[str], str, list[str]]]:
    """(comment lines, command, expected output lines) per block."""
    blocks: list[tuple[list[str], str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    comments: list[str] = []
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("#"):
            comments.append(line)
            i += 1
            continue
        command = line.strip()
        i += 1
        if i >= len(lines) or lines[i] != "----":
            raise ScriptError(f"line {i}: expected ---- after {command!r}")
        i += 1
        expected: list[str] = []
        while i < len(lines) and lines[i].strip():
            expected.append(lines[i])
            i += 1
        blocks.append((comments, command, expected))
        comments = []
    return blocks


def render(blocks: list[tuple[list[str], str, list[str]]]) -> str:
    parts = []
    for comments, command, output in blocks:
        parts.append("\n".join([*comments, command, "----", *(output or ["ok"])]))
    return "\n\n".join(parts) + "\n"


SCRIPTS = sorted(TESTDATA.glob("*.txt"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script(path: Path) -> None:
    blocks = parse(path.read_text())
    cluster: Cluster | None = None
    actual: list[tuple[list[str], str, list[str]]] = []
    mismatches: list[str] = []
    for comments, command, expected in blocks:
        cluster, output = run_command(cluster, command)
        output = output or ["ok"]
        actual.append((comments, command, output))
        if output != expected and not mismatches:
            mismatches.append(
                f"{path.name}: `{command}`\n--- expected\n" + "\n".join(expected)
                + "\n--- actual\n" + "\n".join(output)
            )
    if REWRITE:
        path.write_text(render(actual))
        return
    assert not mismatches, mismatches[0] + "\n(FAIRCOOP_REWRITE=1 accepts the new output)"


def test_scripts_exist_and_parse() -> None:
    """The scenario set is not empty and every file round-trips through the parser."""
    assert len(SCRIPTS) >= 5
    for path in SCRIPTS:
        blocks = parse(path.read_text())
        assert blocks and blocks[0][1].startswith("new ")
        assert render(blocks) == path.read_text(), f"{path.name} is not in canonical form"


def test_script_errors_are_reported() -> None:
    with pytest.raises(ScriptError):
        run_command(None, "deliver")
    cluster, _ = run_command(None, "new n=1")
    with pytest.raises(ScriptError):
        run_command(cluster, "frobnicate")
    with pytest.raises(ScriptError):
        run_command(cluster, "drop v9")
