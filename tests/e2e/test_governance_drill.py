"""Governance from the command line, on a real devnet (issue 14, item 8).

One devnet (4 validators, an observer, governor wallets; `faircoop-node devnet`), then:

(a) a fifth coop runs `faircoop-node init --validator`, starts as an observer peered with the
    devnet, and sends the governors the line `init` printed; three governors propose and
    co-sign its add-validator with the assembly's reference (`faircoop-wallet gov propose`,
    `sign` on their own copies, `combine`), one submits it to a validator that is not the next
    proposer; the action is included at h by another validator, the fifth coop's votes count
    from h + 2 (its participation), `faircoop-node status` says so, and the governance history
    shows the reference;
(b) a parameter change (recovery_after_ms down to 10 s) and the fifth coop's removal, the same
    way;
(c) two of the four validators stop for good, so no block can be made; the governors sign a
    recovery naming the two survivors, submitted to one survivor only, and the chain
    finalizes again on both.

Only the CLIs (as subprocesses) and the HTTP API are used; see tests/e2e/drill.py.
"""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.drill import Drill, Node, get, height, wait_until
from tests.e2e.helpers import free_base_port, wait_for

pytestmark = pytest.mark.slow

ASSEMBLY = "https://coop.example/assembly/2026-12"


def _reference(item: int) -> tuple[str, str]:
    return f"{ASSEMBLY}#{item}", f"Assembly of 2026-12-01, item {item}"


def proposer_rotation(node: Node) -> list[str]:
    """The keys that propose at the next height, in order (GET /validators)."""
    doc = get(node.api_url, "validators")
    members = [v for v in doc["validators"]]
    rotation = [v["pubkey"] for v in members if v["in_rotation"]]
    return rotation or [v["pubkey"] for v in members]


def not_a_next_proposer(validators: list[Node]) -> Node:
    """A validator that proposes none of the next three heights (round 0)."""
    tip = height(validators[0].api_url)
    rotation = proposer_rotation(validators[0])
    soon = {rotation[h % len(rotation)] for h in range(tip + 1, tip + 4)}
    return next(v for v in validators if v.pubkey not in soon)


def history(node: Node) -> list[dict[str, Any]]:
    """Every included action, newest first (GET /governance/history, every page)."""
    entries: list[dict[str, Any]] = []
    path = "governance/history?limit=2"  # small pages, so the cursor is followed too
    for _ in range(100):
        doc = get(node.api_url, path)
        entries.extend(doc["actions"])
        if doc["next"] is None:
            return entries
        path = f"governance/history?limit=2&after={doc['next']}"
    raise AssertionError("governance history longer than 100 pages")


def included(node: Node, uri: str) -> dict[str, Any] | None:
    """The history entry whose reference is `uri`, once included."""
    found = [e for e in history(node) if (e.get("reference") or {}).get("uri") == uri]
    assert len(found) <= 1, f"one action included twice: {found}"
    return found[0] if found else None


def enact(drill: Drill, tmp: Path, name: str, proposal: list[str], item: int,
          submit_to: Node | Callable[[], Node], via: Node) -> dict[str, Any]:
    """Governor 1 proposes (against `via`), governors 2 and 3 sign their own copies, governor
    1 signs and combines the three, governor 3 submits to `submit_to` (a callable is asked
    right before the submit: the CLI steps before it take several heights, so a validator
    that proposes none of the next heights must be picked then); the history entry once
    included, with the node it was submitted to under "submitted_to"."""
    uri, text = _reference(item)
    draft = tmp / f"{name}.gov"
    drill.governor(1, "propose", *proposal, "--ref", uri, "--note", text, "--out", str(draft),
                   node=via)
    copies = [drill.copy(draft, f"{name}-governor-{g}.gov") for g in (2, 3)]
    for g, copy in zip((2, 3), copies, strict=True):
        drill.governor(g, "sign", str(copy), "--yes", node=via)
    drill.governor(1, "sign", str(draft), "--yes", node=via)
    combined = tmp / f"{name}-signed.gov"
    drill.governor(1, "combine", str(draft), *map(str, copies), "--out", str(combined))
    shown = drill.governor(2, "show", str(combined), node=via)
    assert shown["complete"] and shown["signatures_remaining"] == 0, shown
    assert len(shown["signers"]) == 3 and all(s["governor"] for s in shown["signers"]), shown
    assert shown["reference"] == {"uri": uri, "text": text}
    target = submit_to() if callable(submit_to) else submit_to
    drill.governor(3, "submit", str(combined), node=target)
    entry: dict[str, Any] = wait_until(lambda: included(via, uri), 60,
                                       f"{name} in the governance history")
    entry["submitted_to"] = target
    # a recovery governs the very block that carries it; any other action two blocks later
    assert entry["effective_height"] == entry["height"] + (proposal[0] != "recovery") * 2
    return entry


def stalled_height(node: Node, quiet_s: float = 4.0, timeout: float = 30) -> int:
    """The node's height once it has not grown for `quiet_s` (4 devnet heartbeats)."""
    seen = {"height": height(node.api_url), "since": time.monotonic()}

    def quiet() -> bool:
        now = height(node.api_url)
        if now != seen["height"]:
            seen.update(height=now, since=time.monotonic())
        return time.monotonic() - seen["since"] >= quiet_s

    wait_for(quiet, timeout, f"{node.name}'s chain to stall")
    return int(seen["height"])


def record_of(node: Node, pubkey: str) -> dict[str, Any] | None:
    found = [v for v in get(node.api_url, "validators")["validators"] if v["pubkey"] == pubkey]
    return found[0] if found else None


def test_join_change_leave_and_recover_from_the_command_line(tmp_path: Path) -> None:
    drill = Drill(tmp_path / "devnet", free_base_port())
    try:
        nodes = drill.start_devnet()
        validators = [n for n in nodes if n.name.startswith("coop-")]
        first = validators[0]

        # (a) the fifth coop: init, the line for the governors, started as an observer
        api_port, p2p_port = drill.port_slot(len(nodes))
        five_dir = tmp_path / "coop-five"
        made = drill.node_cli("init", "--dir", str(five_dir), "--validator",
                              "--name", "Coop Five", "--api-port", str(api_port),
                              "--p2p-port", str(p2p_port),
                              *(a for v in validators for a in ("--peer", v.p2p_url)))
        shutil.copyfile(drill.directory / "genesis.json", five_dir / "genesis.json")
        five = Node("coop-five", five_dir, f"http://127.0.0.1:{api_port}",
                    f"ws://127.0.0.1:{p2p_port}/p2p")
        drill.start_node(five)
        wait_for(lambda: height(five.api_url) >= height(first.api_url) > 0, 60,
                 "the fifth coop's node in sync")
        status = drill.node_cli("status", "--config", str(five.config))
        assert status["membership"]["role"] == "outside"
        assert made["node_id"] == five.pubkey == status["node_id"]

        # three governors co-sign its add-validator; one submits to a validator that is not
        # the next proposer
        added = enact(drill, tmp_path, "add-coop-five",
                      ["add-validator", *shlex.split(made["governors_line"])], 1,
                      submit_to=lambda: not_a_next_proposer(validators), via=first)
        h = added["height"]
        block = get(first.api_url, f"block/{get(first.api_url, f'block-height/{h}')}")
        assert block["proposer"] != added["submitted_to"].pubkey, \
            "carried by the node it was submitted to"

        # its votes count from h + 2: it is in the set there, and its precommits appear in the
        # certificates the next blocks carry
        wait_for(lambda: height(first.api_url) >= h + 4, 30, "two blocks after h + 2")
        record = wait_until(lambda: (r := record_of(first, five.pubkey)) and
                            r["rounds_voted"] > 0 and r, 30, "the fifth coop's votes")
        assert record["rounds_voted"] <= height(first.api_url) - (h + 2)
        status = drill.node_cli("status", "--config", str(five.config))
        assert status["membership"]["role"] == "voting"
        assert status["membership"]["since_height"] == h + 2
        assert status["validator"] is True

        # (b) a parameter change, then the fifth coop leaves, the same way
        enact(drill, tmp_path, "recovery-after-10s", ["set-param", "recovery_after_ms=10000"],
              2, submit_to=lambda: not_a_next_proposer(validators), via=first)
        wait_for(lambda: get(first.api_url, "params")["params"]["recovery_after_ms"] == 10_000,
                 30, "the new recovery_after_ms in force")
        removed = enact(drill, tmp_path, "remove-coop-five",
                        ["remove-validator", "--pubkey", five.pubkey], 3,
                        submit_to=lambda: not_a_next_proposer(validators), via=first)
        wait_for(lambda: height(first.api_url) >= removed["effective_height"], 30,
                 "the removal in force")
        assert record_of(first, five.pubkey) is None
        status = drill.node_cli("status", "--config", str(five.config))
        assert status["membership"]["role"] == "outside"
        kinds = [e["kind"] for e in history(five)]
        assert kinds == ["remove_validator", "set_param", "add_validator"]

        # (c) two of four validators stop for good: no quorum, no blocks
        survivors, lost = validators[:2], validators[2:]
        for node in lost:
            drill.stop_for_good(node)
        stalled = stalled_height(first)

        # the governors name the survivors as the new set; one survivor gets the recovery
        uri, _ = _reference(4)
        enact(drill, tmp_path, "recovery",
              ["recovery", *(a for n in survivors for a in ("--validator", n.name))],
              4, submit_to=survivors[1], via=survivors[1])
        wait_for(lambda: all(height(n.api_url) >= stalled + 3 for n in survivors), 60,
                 "the chain finalizing again")
        assert {v["pubkey"] for v in get(first.api_url, "validators")["validators"]} == \
            {n.pubkey for n in survivors}
        assert included(first, uri) is not None
        hashes = {get(n.api_url, f"block-height/{stalled + 2}") for n in [*survivors, five]}
        assert len(hashes) == 1
    finally:
        codes = drill.close()
    assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"
