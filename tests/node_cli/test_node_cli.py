"""`faircoop-node` in-process: init and genesis, exit statuses, placeholders."""

from __future__ import annotations

import io
import json
import shlex
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consensus.address import encode_address
from consensus.codec import encode_genesis, policy_lock
from consensus.crypto import PrivateKey
from consensus.governance import (
    AddValidator,
    RemoveValidator,
    encode_block_action,
    make_action,
)
from consensus.types import PublicKey, SpendPolicy
from faircoop_common.clikit import Environment, ExitStatus
from faircoop_node.cli import main
from faircoop_node.config import load_config
from faircoop_node.genesis_file import load_genesis
from faircoop_node.keys import load_node_key
from tests.builders import key, make_genesis
from tests.node_cli.fake_api import node_documents, serve


class Env(Environment):
    def __init__(self) -> None:
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO(), environ={},
                         now_ms=lambda: 1_700_000_000_000)

    @property
    def out_text(self) -> str:
        return self.stdout.getvalue()  # type: ignore[attr-defined, no-any-return]

    @property
    def err_text(self) -> str:
        return self.stderr.getvalue()  # type: ignore[attr-defined, no-any-return]


def _run(*argv: str) -> tuple[ExitStatus, Env]:
    env = Env()
    return main(list(argv), env), env


def test_init_writes_key_config_and_identity(tmp_path: Path) -> None:
    d = tmp_path / "coop-a"
    status, env = _run("init", "--dir", str(d), "--validator", "--name", "Coop A",
                       "--p2p-port", "7101", "--api-port", "7100",
                       "--peer", "ws://127.0.0.1:7201/p2p")
    assert status == ExitStatus.OK, env.err_text
    assert stat.S_IMODE((d / "node.key").stat().st_mode) == 0o600
    key = load_node_key(d / "node.key")
    identity = json.loads((d / "node.json").read_text())
    assert identity == {"name": "Coop A", "pubkey": key.public_key.hex(), "validator": True}
    cfg = load_config(d / "config.toml", env={})
    assert cfg.validator and cfg.name == "Coop A"
    assert (cfg.p2p.port, cfg.api.port, cfg.p2p.peers) == (7101, 7100,
                                                           ("ws://127.0.0.1:7201/p2p",))
    assert cfg.key_file == (d / "node.key").resolve()
    assert key.public_key.hex() in env.out_text
    assert key.secret_bytes().hex() not in env.out_text + env.err_text


def test_init_refuses_an_existing_node_directory(tmp_path: Path) -> None:
    assert _run("init", "--dir", str(tmp_path / "n"))[0] == ExitStatus.OK
    key_before = (tmp_path / "n" / "node.key").read_text()
    status, env = _run("init", "--dir", str(tmp_path / "n"))
    assert status == ExitStatus.CONFIG and "already exists" in env.err_text
    assert (tmp_path / "n" / "node.key").read_text() == key_before


def test_init_with_an_existing_key_but_no_config_refuses_to_overwrite_the_key(
        tmp_path: Path) -> None:
    d = tmp_path / "n"
    d.mkdir()
    (d / "node.key").write_text("precious\n")
    status, env = _run("init", "--dir", str(d))
    assert status == ExitStatus.KEY and "refusing to overwrite" in env.err_text
    assert (d / "node.key").read_text() == "precious\n"


def test_init_rejects_bad_values_as_config_errors(tmp_path: Path) -> None:
    status, env = _run("init", "--dir", str(tmp_path / "n"), "--p2p-port", "99999")
    assert status == ExitStatus.CONFIG and "p2p.port" in env.err_text
    assert not (tmp_path / "n" / "node.key").exists()


def _two_validators(tmp_path: Path) -> list[str]:
    files = []
    for name in ("a", "b"):
        assert _run("init", "--dir", str(tmp_path / name), "--validator")[0] == 0
        files.append(str(tmp_path / name / "node.json"))
    return files


def test_genesis_from_init_identities_and_inline_keys(tmp_path: Path) -> None:
    files = _two_validators(tmp_path)
    extra = PrivateKey.generate().public_key.hex()
    gov = [PrivateKey.generate().public_key for _ in range(3)]
    member = policy_lock(SpendPolicy.single(gov[0]))
    out = tmp_path / "genesis.json"
    status, env = _run(
        "genesis", "--validators", *files, f"Coop C:{extra}",
        "--governors", *(g.hex() for g in gov), "--threshold", "2",
        "--alloc", f"{encode_address(member, 'test')}:1_000_000_000",
        "--alloc", f"{member.hex()}:5000",
        "--chain-id", "faircoop-dev", "--param", "heartbeat_ms=1000", "--out", str(out))
    assert status == ExitStatus.OK, env.err_text
    g = load_genesis(out)
    assert sorted(v.name for v in g.validators) == ["Coop C", "a", "b"]
    assert g.governor_threshold == 2 and set(g.governors) == set(gov)
    assert [(o.amount, o.lock) for o in g.allocations] == [(10**9, member), (5000, member)]
    assert g.params.heartbeat_ms == 1000 and g.time_ms == 1_700_000_000_000
    assert g.treasury_lock == policy_lock(SpendPolicy.multisig(2, gov))
    assert json.loads(out.read_text())["hash"] in env.out_text


def test_genesis_refuses_to_replace_a_file_without_force(tmp_path: Path) -> None:
    files = _two_validators(tmp_path)
    out = tmp_path / "genesis.json"
    args = ["genesis", "--validators", *files, "--governors", files[0], "--threshold", "1",
            "--chain-id", "faircoop-dev", "--time-ms", "5", "--out", str(out)]
    assert _run(*args)[0] == ExitStatus.OK
    status, env = _run(*args)
    assert status == ExitStatus.GENESIS and "--force" in env.err_text
    assert _run(*args, "--force")[0] == ExitStatus.OK
    assert load_genesis(out).time_ms == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alloc", "nonsense"], "ADDRESS_OR_LOCK:AMOUNT"),
        (["--alloc", "tfair1qqq:10"], "--alloc"),
        (["--alloc", "ab" * 32 + ":0"], "amount must be"),
        (["--alloc", "ab" * 32 + ":1.5"], "whole number"),
        (["--param", "heartbeat_ms"], "NAME=INTEGER"),
        (["--param", "heartbeat_ms=1"], "heartbeat_ms"),
        (["--threshold", "9"], "threshold"),
    ],
)
def test_genesis_input_errors_exit_with_the_genesis_status(tmp_path: Path, extra: list[str],
                                                           message: str) -> None:
    files = _two_validators(tmp_path)
    status, env = _run("genesis", "--validators", *files, "--governors", files[0],
                       "--threshold", "1", "--chain-id", "faircoop-dev",
                       "--out", str(tmp_path / "g.json"), *extra)
    assert status == ExitStatus.GENESIS
    assert message in env.err_text
    assert not (tmp_path / "g.json").exists()


@pytest.mark.parametrize(
    ("validators", "message"),
    [
        (["just-a-name"], "neither NAME:PUBKEY nor a file"),
        (["coop:zz"], "is not hex"),
        (["coop:" + "05" + "00" * 32], "not a 33-byte"),
    ],
)
def test_bad_validator_arguments(tmp_path: Path, validators: list[str], message: str) -> None:
    status, env = _run("genesis", "--validators", *validators,
                       "--governors", PrivateKey.generate().public_key.hex(), "--threshold",
                       "1", "--chain-id", "c", "--out", str(tmp_path / "g.json"))
    assert status == ExitStatus.GENESIS and message in env.err_text


def test_bad_identity_file(tmp_path: Path) -> None:
    bad = tmp_path / "v.json"
    bad.write_text('{"name": "x"}')
    status, env = _run("genesis", "--validators", str(bad), "--governors", str(bad),
                       "--threshold", "1", "--chain-id", "c", "--out", str(tmp_path / "g"))
    assert status == ExitStatus.GENESIS and "'pubkey'" in env.err_text


@pytest.mark.parametrize("argv, expected, text", [
    (["run"], ExitStatus.USAGE, "--config"),
    (["run", "--config", "/nonexistent/x.toml"], ExitStatus.CONFIG, "does not exist"),
    (["status", "--api", "http://127.0.0.1:9", "--timeout", "2"], ExitStatus.ERROR,
     "no node answering"),
    (["devnet", "--validators", "0", "--init-only"], ExitStatus.ERROR, "--validators"),
])
def test_run_status_devnet_report_bad_input(argv: list[str], expected: ExitStatus,
                                            text: str) -> None:
    """(The node's own tests cover these commands working: tests/node_runtime, tests/e2e.)"""
    status, env = _run(*argv)
    assert status == expected
    assert text in env.err_text


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["init"], ["genesis", "--threshold", "x"]])
def test_usage_errors(argv: list[str]) -> None:
    status, env = _run(*argv)
    assert status == ExitStatus.USAGE
    assert "usage:" in env.err_text and env.out_text == ""


def test_help_goes_to_stdout_and_succeeds() -> None:
    status, env = _run("--help")
    assert status == ExitStatus.OK
    assert "init" in env.out_text and "genesis" in env.out_text


# -- init --validator: the line for the governors; status: where the key stands ----------------


def test_init_validator_prints_the_line_for_the_governors(tmp_path: Path) -> None:
    status, env = _run("init", "--dir", str(tmp_path / "five"), "--validator", "--name",
                       "Coop Five")
    assert status == ExitStatus.OK, env.err_text
    pubkey = json.loads((tmp_path / "five" / "node.json").read_text())["pubkey"]
    line = env.out_text.splitlines()[-1]
    assert shlex.split(line) == ["--name", "Coop Five", "--pubkey", pubkey]
    assert "faircoop-wallet gov propose add-validator" in env.out_text


def test_init_json_is_one_object_with_the_governors_line(tmp_path: Path) -> None:
    status, env = _run("init", "--dir", str(tmp_path / "five"), "--validator", "--json")
    assert status == ExitStatus.OK, env.err_text
    doc = json.loads(env.out_text)
    pubkey = load_node_key(tmp_path / "five" / "node.key").public_key.hex()
    assert (doc["ok"], doc["command"], doc["node_id"], doc["name"]) == (True, "init", pubkey,
                                                                         "five")
    assert doc["governors_line"] == f"--name five --pubkey {pubkey}"
    status, env = _run("init", "--dir", str(tmp_path / "obs"), "--json")
    assert json.loads(env.out_text)["governors_line"] is None and status == ExitStatus.OK


def test_init_json_error_is_one_object(tmp_path: Path) -> None:
    assert _run("init", "--dir", str(tmp_path / "n"))[0] == ExitStatus.OK
    status, env = _run("init", "--dir", str(tmp_path / "n"), "--json")
    assert status == ExitStatus.CONFIG
    error = json.loads(env.out_text)["error"]
    assert (error["code"], error["kind"]) == (int(ExitStatus.CONFIG), "config")
    assert "already exists" in error["message"] and "already exists" in env.err_text


ME = PrivateKey.generate().public_key.hex()


def _record(index: int, pubkey: str, **flags: bool) -> dict[str, Any]:
    return {"index": index, "name": "c", "pubkey": pubkey, "in_rotation": True,
            "quarantined": False, "suspended": False, "blocks_proposed": 4, "rounds_voted": 9,
            "proposals_missed": 0, "missed_in_row": 0, **flags}


def _pending_add(pubkey: str) -> dict[str, Any]:
    action = make_action("c", 0, AddValidator("me", PublicKey(bytes.fromhex(pubkey))),
                         (PrivateKey.generate(),))
    return {"kind": "add_validator", "included_height": 9, "effective_height": 11,
            "summary": "", "hex": encode_block_action(action).hex()}


@pytest.mark.parametrize(("records", "pending", "phrases", "role"), [
    ([_record(0, "02" + "aa" * 32), _record(1, ME)], [],
     ["validator:  in the voting set (index 1 of 2, proposes in turn)",
      "participation: 4 blocks proposed, 9 rounds voted"], "voting"),
    ([_record(0, ME, quarantined=True, in_rotation=False)], [], ["QUARANTINED"], "quarantined"),
    ([_record(0, "02" + "aa" * 32)], [_pending_add(ME)],
     ["validator:  not in the voting set\n",
      "joins the voting set at height 11 (action included at 9)"], "outside"),
])
def test_status_says_where_the_key_stands(records: list[dict[str, Any]],
                                          pending: list[dict[str, Any]], phrases: list[str],
                                          role: str) -> None:
    with serve(node_documents(ME, records=records, pending=pending)) as base:
        status, env = _run("status", "--node", base)
        assert status == ExitStatus.OK, env.err_text
        for phrase in phrases:
            assert phrase in env.out_text
        assert f"node:       {ME}" in env.out_text
        status, env = _run("status", "--node", base, "--json")
    assert status == ExitStatus.OK, env.err_text
    doc = json.loads(env.out_text)
    assert (doc["ok"], doc["command"], doc["node_id"], doc["height"]) == (True, "status", ME, 9)
    assert doc["membership"]["role"] == role
    assert doc["membership"]["since_height"] is None  # this node serves no history


@pytest.mark.parametrize(("answer", "message"), [
    (lambda path: None, "answered HTTP 404"),
    (lambda path: "<html>", "not a status object"),
    (lambda path: {"node_id": ME} if path.endswith("status") else {"x": 1}, "no int 'height'"),
])
def test_status_of_something_that_is_not_a_node_is_a_clear_error(
        answer: Callable[[str], Any], message: str) -> None:
    with serve(answer) as base:
        status, env = _run("status", "--node", base, "--json")
    assert status == ExitStatus.ERROR
    assert message in json.loads(env.out_text)["error"]["message"]
    assert message in env.err_text and "Traceback" not in env.err_text


def _doc_block(command: str) -> list[str]:
    """The output lines of the example session of `command` in docs/CLI.md."""
    text = (Path(__file__).parents[2] / "docs" / "CLI.md").read_text(encoding="utf-8")
    lines = text.split(f"    $ faircoop-node {command} ", 1)[1].splitlines()[1:]
    return [line[4:] for line in lines[:lines.index("")]]


def _shape(line: str) -> str:
    """A line with its values blanked: what the docs promise of it."""
    return line.split(":", 1)[0] if ":" in line[:12] else line.split(" ", 1)[0]


def test_docs_show_the_output_init_and_status_print(tmp_path: Path) -> None:
    status, env = _run("init", "--dir", str(tmp_path / "five"), "--validator", "--name",
                       "Coop Five")
    assert status == ExitStatus.OK
    assert [_shape(x) for x in env.out_text.splitlines()] == \
        [_shape(x) for x in _doc_block("init")]
    with serve(node_documents(ME, records=[_record(0, ME)])) as base:
        status, env = _run("status", "--node", base)
    assert status == ExitStatus.OK
    assert [_shape(x) for x in env.out_text.splitlines()] == \
        [_shape(x) for x in _doc_block("status")]


def test_status_dates_the_membership_from_the_history_page_by_page() -> None:
    """Founded at genesis, removed at 12, added back at 30: a member since 30. The history
    comes newest first in pages of one, so the CLI must follow the cursor to the end."""
    me, founder = key(1), key(2)
    me_hex = me.public_key.hex()
    genesis = make_genesis([], validators=[me, founder])
    pubkey = PublicKey(me.public_key)
    entries = [  # newest first, as the node serves them
        {"effective_height": 30, "hex": encode_block_action(make_action(
            "c", 1, AddValidator("me", pubkey), (founder,))).hex()},
        {"effective_height": 12, "hex": encode_block_action(make_action(
            "c", 0, RemoveValidator(pubkey), (founder,))).hex()},
    ]
    asked: list[str] = []

    def answer(path: str) -> Any:
        if path.startswith("/api/v1/governance/history"):
            asked.append(path)
            page = 1 if "after=p1" in path else 0
            return {"actions": [entries[page]], "next": "p1" if page == 0 else None}
        if path == "/api/v1/genesis":
            return {"hash": "00" * 32, "hex": encode_genesis(genesis).hex()}
        return node_documents(me_hex, records=[_record(0, me_hex)])(path)

    with serve(answer) as base:
        status, env = _run("status", "--node", base)
    assert status == ExitStatus.OK, env.err_text
    assert "in the voting set since height 30 (index 0 of 1" in env.out_text
    assert len(asked) == 2 and "after=p1" in asked[1]
