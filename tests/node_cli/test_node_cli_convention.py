"""`faircoop-node` follows the convention both CLIs share (docs/CLI.md): --version, usage
errors with the usage line and exit 2, Ctrl-C exits 130, a description and an example on
every command, help on every option, shell completion, and the node URL from $FAIRCOOP_NODE
(the old $FAIRCOOP_NODE_URL still read, with a warning).

In-process through `main(argv, env)`, and through the installed `faircoop-node` script.
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
from typing import Any

import pytest

from faircoop_common.clikit import (
    DEFAULT_NODE_URL,
    Environment,
    ExitStatus,
    audit_help,
    package_version,
    walk_parsers,
)
from faircoop_node import cli
from faircoop_node.config import DEFAULT_API_PORT
from tests.node_cli.fake_api import node_documents, serve


def _env(environ: dict[str, str] | None = None) -> Environment:
    return Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                       environ=environ or {}, now_ms=lambda: 1_700_000_000_000)


def _run(*argv: str, environ: dict[str, str] | None = None) -> tuple[ExitStatus, str, str]:
    env = _env(environ)
    status = cli.main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    root = cli.build_parser(_env())
    return {p.prog.removeprefix("faircoop-node ").strip(): p for p in walk_parsers(root)
            if p is not root}


# -- version, usage, interrupt ----------------------------------------------------------------


def test_version_prints_the_package_version_and_exits_ok() -> None:
    status, out, err = _run("--version")
    assert (status, err) == (ExitStatus.OK, "")
    assert out == f"faircoop-node {package_version()}\n"
    assert package_version()[0].isdigit()  # the installed distribution's, not a fallback


@pytest.mark.parametrize(("argv", "usage", "message"), [
    ([], "usage: faircoop-node [-h]", "the following arguments are required: COMMAND"),
    (["frobnicate"], "usage: faircoop-node [-h]", "invalid choice: 'frobnicate'"),
    (["init"], "usage: faircoop-node init [-h] --dir DIR", "required: --dir"),
    (["genesis", "--threshold", "x"], "usage: faircoop-node genesis", "invalid int value"),
    (["status", "--node", "http://a", "--config", "c.toml"], "usage: faircoop-node status",
     "not allowed with argument"),
    # no abbreviations: a prefix of an option is not that option
    (["init", "--dir", "d", "--valid"], "usage: faircoop-node init", "unrecognized arguments"),
    (["--print-completion", "fish"], "usage: faircoop-node [-h]", "invalid choice: 'fish'"),
])
def test_usage_errors_print_the_usage_line_then_one_error_line_and_exit_2(
        argv: list[str], usage: str, message: str) -> None:
    status, out, err = _run(*argv)
    assert status == ExitStatus.USAGE and int(status) == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(usage), err
    assert lines[-1].startswith("faircoop-node: error: ") and message in lines[-1], err


def test_ctrl_c_in_a_command_exits_130(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "init_node_dir", interrupted)
    status, out, err = _run("init", "--dir", str(tmp_path / "n"))
    assert status == ExitStatus.INTERRUPTED and int(status) == 130
    assert err == "faircoop-node: interrupted\n" and out == ""


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_output_pipe_ends_quietly() -> None:
    """`faircoop-node --help | head -0`: no error line about the reader leaving."""
    env = _env()
    env.stdout = _ClosedPipe()
    assert cli.main(["--help"], env) == ExitStatus.ERROR
    assert env.stderr.getvalue() == ""  # type: ignore[attr-defined]


def test_errors_use_the_program_prefix_and_their_own_status(tmp_path: Path) -> None:
    status, _, err = _run("run", "--config", str(tmp_path / "missing.toml"))
    assert status == ExitStatus.CONFIG
    assert err.startswith("faircoop-node: error: ") and "does not exist" in err
    assert err.count("\n") == 1


# -- help ---------------------------------------------------------------------------------------


def test_every_command_and_option_is_documented() -> None:
    """Walks the whole parser: a description and an example on every command, help on every
    option and argument."""
    assert audit_help(cli.build_parser(_env())) == []


def test_the_audit_finds_what_is_missing() -> None:
    """The walk above can fail: a command without example or description, an option without
    help, each reported."""
    root = argparse.ArgumentParser(prog="x", description="d", epilog="example:\n  x a")
    sub = root.add_subparsers(dest="command")
    bare = sub.add_parser("a", help="")
    bare.add_argument("--quiet", action="store_true")
    bare.add_argument("file")
    assert audit_help(root) == [
        "x a: no summary", "x a: no description", "x a: no example",
        "x a --quiet: no help", "x a file: no help",
    ]


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_each_command_help_has_a_description_and_an_example(command: str) -> None:
    parser = _subcommands()[command]
    status, out, err = _run(command, "--help")
    assert (status, err) == (ExitStatus.OK, "")
    assert out.startswith(f"usage: faircoop-node {command} ")
    first_words = " ".join((parser.description or "").split()[:4])
    assert first_words and first_words in " ".join(out.split())
    example = out.split("\nexample:\n" if "\nexample:\n" in out else "\nexamples:\n")[1]
    assert example.strip().splitlines()[0].strip().startswith(f"faircoop-node {command}")


def test_root_help_lists_the_commands_and_the_exit_code_doc() -> None:
    status, out, _ = _run("--help")
    assert status == ExitStatus.OK
    for command in _subcommands():
        assert f"    {command} " in out
    assert "--version" in out and "--print-completion" in out and "docs/CLI.md" in out


# -- completion ---------------------------------------------------------------------------------


def _complete_in_bash(script: str, words: list[str]) -> list[str]:
    """What bash offers for the last of `words` after sourcing `script` (the real shell)."""
    driver = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); '
        'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); '
        '_shtab_faircoop_node faircoop-node "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; '
        'printf "%s\\n" "${COMPREPLY[@]}"')
    with open(os.devnull, "w") as devnull:
        done = subprocess.run(["bash", "-c", driver, "complete", script, *words],
                              capture_output=True, text=True, timeout=30, stdin=devnull)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_script_completes_commands_options_and_choices(tmp_path: Path) -> None:
    status, script, err = _run("--print-completion", "bash")
    assert (status, err) == (ExitStatus.OK, "")
    assert "complete -o bashdefault -F _shtab_faircoop_node faircoop-node" in script
    path = tmp_path / "faircoop-node.bash"
    path.write_text(script)
    assert _complete_in_bash(str(path), ["faircoop-node", "st"]) == ["status"]
    assert {"--dir", "--validator", "--peer"} <= set(
        _complete_in_bash(str(path), ["faircoop-node", "init", "--"]))
    assert _complete_in_bash(str(path), ["faircoop-node", "genesis", "--network", ""]) == [
        "main", "test"]


def test_zsh_completion_script_is_generated() -> None:
    status, script, _ = _run("--print-completion", "zsh")
    assert status == ExitStatus.OK
    assert script.startswith("#compdef faircoop-node") and "devnet" in script


# -- the node URL -------------------------------------------------------------------------------


@pytest.fixture
def node_base() -> Iterator[str]:
    """A node at every URL under it: its status names the prefix the CLI asked through."""

    def answer(path: str) -> Any:
        prefix, _, rest = path.partition("/api/v1/")
        return node_documents("02" + "11" * 32, via=prefix)("/api/v1/" + rest)

    with serve(answer) as base:
        yield base


@pytest.mark.parametrize(("argv", "environ", "via", "warning"), [
    ([], {"FAIRCOOP_NODE": "/new"}, "/new", None),
    ([], {"FAIRCOOP_NODE_URL": "/old"}, "/old", "$FAIRCOOP_NODE_URL is deprecated and will "
                                                "stop working; set $FAIRCOOP_NODE instead"),
    ([], {"FAIRCOOP_NODE": "/new", "FAIRCOOP_NODE_URL": "/old"}, "/new",
     "$FAIRCOOP_NODE_URL is deprecated and ignored ($FAIRCOOP_NODE is set)"),
    (["--node", "/flag"], {"FAIRCOOP_NODE": "/new", "FAIRCOOP_NODE_URL": "/old"}, "/flag", None),
    (["--api", "/alias"], {}, "/alias", None),  # the old name of --node
])
def test_status_finds_the_node_from_flag_then_faircoop_node_then_the_old_variable(
        node_base: str, argv: list[str], environ: dict[str, str], via: str,
        warning: str | None) -> None:
    def at(value: str) -> str:
        return node_base + value if value.startswith("/") else value

    argv = [at(a) for a in argv]
    status, out, err = _run("status", "--json", *argv,
                            environ={k: at(v) for k, v in environ.items()})
    assert status == ExitStatus.OK, err
    assert json.loads(out)["via"] == via
    if warning is None:
        assert err == ""
    else:
        assert err == f"faircoop-node: warning: {warning}\n"


def test_default_node_url_is_the_node_default_api_port() -> None:
    assert f"http://127.0.0.1:{DEFAULT_API_PORT}" == DEFAULT_NODE_URL


# -- the installed script -----------------------------------------------------------------------


def _script() -> str:
    found = shutil.which("faircoop-node", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("faircoop-node is not installed beside this Python")
    return found


def test_installed_script_version_usage_and_completion() -> None:
    script = _script()
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        0, f"faircoop-node {package_version()}\n", "")
    done = subprocess.run([script, "init"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: faircoop-node init ")
    assert done.stderr.endswith("faircoop-node: error: the following arguments are required: "
                                "--dir\n")
    done = subprocess.run([script, "--print-completion", "bash"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "_shtab_faircoop_node" in done.stdout


def test_installed_script_exits_130_on_sigint() -> None:
    """A real SIGINT while `status` waits for a node that accepted but never answers."""
    script = _script()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        silent.settimeout(60)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.Popen([script, "status", "--node", url, "--timeout", "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            conn, _ = silent.accept()  # it is connected, now waiting for an answer
            with conn:
                conn.recv(1024)  # its request: it is inside the command, past start-up
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130
    assert err == "faircoop-node: interrupted\n" and out == ""
