"""`faircoop-wallet` follows the convention both CLIs share (docs/CLI.md): --version, usage
errors with the usage line and exit 2, Ctrl-C exits 130, a description and an example on
every command, help on every option, shell completion, and the node URL from $FAIRCOOP_NODE
(the old $FAIRCOOP_NODE_URL still read, with a warning). The wallet's own exit codes keep
their numbers.

In-process through `main(argv, env)`, and through the installed `faircoop-wallet` script.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from consensus.types import COIN
from faircoop_common.clikit import ExitStatus, audit_help, package_version, walk_parsers
from tests.wallet.wallet_cli_harness import ACCOUNTS, Harness, free_url
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet.cli import Environment, main
from wallet.cli.args import build_parser
from wallet.keys import RECEIVE

W = "faircoop-wallet"


def _env(environ: dict[str, str] | None = None, stdin: str = "") -> Environment:
    def no_prompt(_: str) -> str:
        raise AssertionError("asked for a secret")

    return Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                       environ=environ or {}, prompt_secret=no_prompt)


def _run(*argv: str, env: Environment | None = None) -> tuple[ExitStatus, str, str]:
    env = env or _env()
    status = main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    root = build_parser(_env())
    return {p.prog.removeprefix(W).strip(): p for p in walk_parsers(root) if p is not root}


def test_the_wallets_exit_codes_keep_their_numbers() -> None:
    assert [(s.name, int(s)) for s in ExitStatus if int(s) <= 12] == [
        ("OK", 0), ("ERROR", 1), ("USAGE", 2), ("INSUFFICIENT_FUNDS", 3), ("WRONG_PASSWORD", 4),
        ("NODE_UNREACHABLE", 5), ("TX_REJECTED", 6), ("BAD_ADDRESS", 7),
        ("KEYSTORE_TAMPERED", 8), ("NOT_FINAL", 9), ("ABORTED", 10), ("PARTIAL_TX", 11),
        ("CHAIN_MISMATCH", 12)]


def test_version_prints_the_package_version_and_exits_ok() -> None:
    status, out, err = _run("--version")
    assert (status, err) == (ExitStatus.OK, "")
    assert out == f"{W} {package_version()}\n"


@pytest.mark.parametrize(("argv", "usage", "message"), [
    ([], f"usage: {W} [-h]", "the following arguments are required: COMMAND"),
    (["frobnicate"], f"usage: {W} [-h]", "invalid choice: 'frobnicate'"),
    (["send"], f"usage: {W} send [-h]", "required: address"),  # AMOUNT: a URI may name it
    (["multisig"], f"usage: {W} multisig [-h]", "required: COMMAND"),
    (["multisig", "create", "--key", "02"], f"usage: {W} multisig create",
     "required: --threshold"),
    (["history", "--limit", "0"], f"usage: {W} history", "0 is not positive"),
    # no abbreviations: --password is not --password-file
    (["balance", "--password", "x"], f"usage: {W} balance", "unrecognized arguments"),
    (["--print-completion", "fish"], f"usage: {W} [-h]", "invalid choice: 'fish'"),
])
def test_usage_errors_print_the_usage_line_then_one_error_line_and_exit_2(
        argv: list[str], usage: str, message: str) -> None:
    status, out, err = _run(*argv)
    assert status == ExitStatus.USAGE and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(usage), err
    assert lines[-1].startswith(f"{W}: error: ") and message in lines[-1], err
    status, out, _ = _run(*argv, "--json")  # and with --json, the one JSON object too
    assert status == ExitStatus.USAGE and json.loads(out)["error"]["kind"] == "usage"


@pytest.mark.parametrize("json_flag", [False, True])
def test_ctrl_c_at_a_prompt_exits_130(tmp_path: Path, json_flag: bool) -> None:
    def interrupted(_: str) -> str:
        raise KeyboardInterrupt

    env = _env()
    env.prompt_secret = interrupted
    argv = ["--wallet", str(tmp_path / "w.json"), "create", "--network", "test", "--chain-id",
            "c", "--genesis-hash", "00" * 32, *(["--json"] if json_flag else [])]
    status, out, err = _run(*argv, env=env)
    assert status == ExitStatus.INTERRUPTED and int(status) == 130
    assert err == f"{W}: interrupted\n"
    if json_flag:
        assert json.loads(out)["error"] == {"code": 130, "kind": "interrupted",
                                            "message": "interrupted"}
    else:
        assert out == ""
    assert not (tmp_path / "w.json").exists()


# -- help -------------------------------------------------------------------------------------


def test_every_command_and_option_is_documented() -> None:
    assert audit_help(build_parser(_env())) == []


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_each_command_help_has_a_description_and_an_example(command: str) -> None:
    parser = _subcommands()[command]
    status, out, err = _run(*command.split(), "--help")
    assert (status, err) == (ExitStatus.OK, "")
    assert out.startswith(f"usage: {W} {command} ")
    first_words = " ".join((parser.description or "").split()[:4])
    assert first_words and first_words in " ".join(out.split())
    example = out.split("\nexample:\n" if "\nexample:\n" in out else "\nexamples:\n")[1]
    assert example.strip().splitlines()[0].strip().startswith(f"{W} ")
    assert "--json" in out and "--wallet" in out  # the common options, on every command


# -- completion -------------------------------------------------------------------------------


def _complete_in_bash(script: str, words: list[str]) -> list[str]:
    driver = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); '
        'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); '
        '_shtab_faircoop_wallet faircoop-wallet "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; '
        'printf "%s\\n" "${COMPREPLY[@]}"')
    with open(os.devnull, "w") as devnull:
        done = subprocess.run(["bash", "-c", driver, "complete", script, *words],
                              capture_output=True, text=True, timeout=30, stdin=devnull)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_subcommands_options_and_choices(
        tmp_path: Path) -> None:
    status, script, err = _run("--print-completion", "bash")
    assert (status, err) == (ExitStatus.OK, "")
    path = tmp_path / "faircoop-wallet.bash"
    path.write_text(script)
    assert _complete_in_bash(str(path), [W, "mu"]) == ["multisig"]
    assert set(_complete_in_bash(str(path), [W, "multisig", "s"])) == {"show", "sign", "spend"}
    assert {"--fee-rate", "--memo", "--wait", "--unsigned"} <= set(
        _complete_in_bash(str(path), [W, "send", "--"]))
    assert _complete_in_bash(str(path), [W, "receipt", "verify", "--network", ""]) == [
        "main", "test"]


def test_zsh_completion_script_is_generated() -> None:
    status, script, _ = _run("--print-completion", "zsh")
    assert status == ExitStatus.OK
    assert script.startswith(f"#compdef {W}") and "multisig" in script


# -- the node URL -----------------------------------------------------------------------------


@pytest.fixture()
def node(tmp_path: Path) -> Iterator[Harness]:
    fake = FakeNode(funded_chain([ACCOUNTS[0].watch().lock(RECEIVE, 0)], [20 * COIN]))
    with serve(fake) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0
        yield h


@pytest.mark.parametrize(("argv", "environ", "warning"), [
    ([], {"FAIRCOOP_NODE": "up"}, None),
    ([], {"FAIRCOOP_NODE_URL": "up"}, "$FAIRCOOP_NODE_URL is deprecated and will stop "
                                      "working; set $FAIRCOOP_NODE instead"),
    ([], {"FAIRCOOP_NODE": "up", "FAIRCOOP_NODE_URL": "down"},
     "$FAIRCOOP_NODE_URL is deprecated and ignored ($FAIRCOOP_NODE is set)"),
    (["--node", "up"], {"FAIRCOOP_NODE": "down", "FAIRCOOP_NODE_URL": "down"}, None),
])
def test_the_node_comes_from_the_flag_then_faircoop_node_then_the_old_variable(
        node: Harness, argv: list[str], environ: dict[str, str], warning: str | None) -> None:
    down = free_url()

    def url(v: str) -> str:
        return {"up": node.url, "down": down}.get(v, v)

    env = _env({k: url(v) for k, v in environ.items()})
    status, out, err = _run("--wallet", str(node.tmp / "w0.json"), *[url(a) for a in argv],
                            "--json", "balance", env=env)
    assert status == ExitStatus.OK, err
    assert json.loads(out)["confirmed"] == 20 * COIN
    assert err == ("" if warning is None else f"{W}: warning: {warning}\n")


# -- the installed script ---------------------------------------------------------------------


def _script() -> str:
    found = shutil.which(W, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{W} is not installed beside this Python")
    return found


def test_installed_script_version_usage_and_completion() -> None:
    script = _script()
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{W} {package_version()}\n", "")
    done = subprocess.run([script, "send"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"usage: {W} send ")
    assert done.stderr.endswith(f"{W}: error: the following arguments are required: "
                                "address\n")
    done = subprocess.run([script, "--print-completion", "bash"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "_shtab_faircoop_wallet" in done.stdout


def test_installed_script_exits_130_on_sigint() -> None:
    """A real SIGINT while `tx` waits for a node that accepted but never answers."""
    script = _script()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        silent.settimeout(60)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.Popen([script, "--node", url, "tx", "ab" * 32],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            conn, _ = silent.accept()
            with conn:
                conn.recv(1024)  # its request: it is inside the command, past start-up
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130
    assert err == f"{W}: interrupted\n" and out == ""


def test_the_library_and_the_cli_default_to_the_same_node() -> None:
    from faircoop_common.clikit import DEFAULT_NODE_URL as CLI_DEFAULT
    from wallet.client import DEFAULT_NODE_URL as LIBRARY_DEFAULT

    assert LIBRARY_DEFAULT == CLI_DEFAULT
