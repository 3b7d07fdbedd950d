"""The one command-line convention of `faircoop-node` and `faircoop-wallet` (docs/CLI.md).

Shape (after httpie): a CLI's `main(argv, env)` builds its parser with `Program.parser(env)`,
adds its commands through `CliParser.add_commands()`, and runs inside `Program.run`, the one
place where exceptions become an `ExitStatus` and one line `PROG: error: MESSAGE` on stderr.
Tests call `main` in-process with their own `Environment` and assert on stdout, stderr and
the status; nothing here calls `sys.exit` or touches `sys.stdout` directly.

The pieces:

- `Environment`: streams, environment variables, the clock and TTY checks; tests replace
  every part, and a CLI subclasses it for what only it needs (the wallet's password prompt).
- `ExitStatus`: the one exit-code table of both CLIs. Numbers never change meaning.
- `Program`: a CLI's name and version; its root parser (`--version`, `--print-completion`),
  its error and warning lines, the node URL (`$FAIRCOOP_NODE`), and `run`.
- `CliParser` / `Commands`: argparse that prints the usage line on a usage error and raises
  instead of exiting; no abbreviated options; every command gets a description and examples.
- `audit_help(parser)`: every command without a description or an example, every option
  without help text, for a test to assert that there are none.
- `add_node_option`, `complete_path`: the node URL option, and file/directory completion.

Left out: prompting for secrets and confirmations, JSON output (the wallet's `--json`, fed
by `Program.run`'s `on_error` hook), and the commands themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TextIO

import shtab

from consensus.errors import FaircoopError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

NODE_URL_ENV = "FAIRCOOP_NODE"
DEPRECATED_NODE_URL_ENV = "FAIRCOOP_NODE_URL"  # read until a later release, with a warning
DEFAULT_NODE_URL = "http://127.0.0.1:7070"  # the node's default [api] address
SHELLS = ("bash", "zsh")  # what --print-completion writes
HELP_WIDTH = 78


class ExitStatus(IntEnum):
    """Both CLIs' exit codes (docs/CLI.md); a number never changes its meaning."""

    OK = 0
    ERROR = 1  # any other error: a node error, a file that can't be written, ...
    USAGE = 2  # bad arguments (the usage line is printed), bad amount, unreadable input file
    INSUFFICIENT_FUNDS = 3  # wallet: the message states the shortfall
    WRONG_PASSWORD = 4  # wallet
    NODE_UNREACHABLE = 5  # wallet: after every retry
    TX_REJECTED = 6  # wallet: the node refused the tx; the message names the ledger rule
    BAD_ADDRESS = 7  # wallet: checksum typo, malformed, or another network's address
    KEYSTORE_TAMPERED = 8  # wallet: checksum or authentication failure, or not a key store
    NOT_FINAL = 9  # wallet: a receipt or header fails verification, or --wait timed out
    ABORTED = 10  # wallet: the user declined the confirmation
    PARTIAL_TX = 11  # wallet: a partial tx changed after signing, inconsistent or incomplete
    CHAIN_MISMATCH = 12  # wallet: the node or a file is for another chain
    CREDIT_LIMIT_EXCEEDED = 13  # wallet: a credit transfer over what its account may send
    CONFIG = 20  # node: a bad config file or value
    KEY = 21  # node: the node key file is missing, malformed or would be overwritten
    GENESIS = 22  # node: a genesis that can't be built, or a bad genesis file
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class UsageError(FaircoopError):
    """Arguments that don't make a valid command (exit USAGE)."""


class ParserExit(Exception):
    """argparse wanted to exit (after --help, --version, --print-completion); `Program.run`
    returns the status instead."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


ErrorTable = Sequence[tuple[type[BaseException], ExitStatus]]
ErrorHook = Callable[[BaseException, ExitStatus, str], None]


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Environment:
    """What a command may touch besides its arguments; tests swap every part."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    now_ms: Callable[[], int] = field(default=_wall_clock_ms)
    # None: ask the stream (isatty); True/False: what a test wants the CLI to believe
    stdin_is_tty: bool | None = None
    stdout_is_tty: bool | None = None
    stderr_is_tty: bool | None = None

    def out(self, text: str) -> None:
        """One line on stdout."""
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        """One line on stderr."""
        self.stderr.write(text + "\n")

    def is_tty(self, stream: Literal["stdin", "stdout", "stderr"]) -> bool:
        forced: bool | None = getattr(self, f"{stream}_is_tty")
        if forced is not None:
            return forced
        isatty = getattr(getattr(self, stream), "isatty", None)
        return bool(isatty()) if callable(isatty) else False

    def progress_enabled(self) -> bool:
        """Progress lines go to stderr, and only when a person watches it."""
        return self.is_tty("stderr")


def package_version(distribution: str = "faircoop") -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def describe_error(exc: BaseException) -> str:
    """The message of an error line: an OSError names its file, as users need."""
    if isinstance(exc, OSError) and not isinstance(exc, FaircoopError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


def status_for(exc: BaseException, table: ErrorTable) -> ExitStatus | None:
    """The status of the first row whose type `exc` is an instance of; None if none is."""
    for kind, status in table:
        if isinstance(exc, kind):
            return status
    return None


# -- argparse that reports to the Environment -------------------------------------------------


def fill(text: str) -> str:
    """Wrap each paragraph of `text` to the help width; indented lines (code) stay as they are."""
    paragraphs = textwrap.dedent(text).strip().split("\n\n")
    return "\n\n".join(p if p.startswith(" ") else textwrap.fill(" ".join(p.split()), HELP_WIDTH)
                       for p in paragraphs)


def examples_epilog(examples: Sequence[str]) -> str:
    if not examples:
        raise ValueError("every command needs at least one example")
    head = "example:" if len(examples) == 1 else "examples:"
    return head + "\n" + "\n".join(f"  {line}" for line in examples)


class CliParser(argparse.ArgumentParser):
    """argparse that writes to the Environment and raises instead of calling sys.exit.

    A usage error prints the usage line on stderr and raises `UsageError` (the error line
    itself comes from `Program.run`). Options are never abbreviated: `--password` must not be
    taken for `--password-file`, and a new option must not change what an old prefix meant.
    """

    def __init__(self, *args: Any, env: Environment, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.env = env
        self.is_command = False  # set by Commands.add: a subcommand's parser

    def parse_known_args(self, args: Iterable[str] | None = None,
                         namespace: Any = None) -> tuple[Any, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.is_command:
            # a subcommand's leftovers can only be errors (nothing parses after it): report
            # them here, with this command's usage line rather than the root's
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if not message:
            return
        if file is None or file is sys.stdout:
            self.env.stdout.write(message)
        elif file is sys.stderr:
            self.env.stderr.write(message)
        else:
            file.write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.env.stderr.write(message)
        raise ParserExit(status)

    def error(self, message: str) -> NoReturn:
        self._print_message(self.format_usage(), self.env.stderr)
        raise UsageError(message)

    def add_commands(self, dest: str = "command") -> Commands:
        """The subcommands of this parser; `args.<dest>` names the one chosen (required)."""
        action = self.add_subparsers(dest=dest, required=True, metavar="COMMAND",
                                     title="commands", parser_class=type(self))
        return Commands(action, self.env)


class Commands:
    """Adds subcommands that each have a one-line summary, a description and examples."""

    def __init__(self, action: argparse._SubParsersAction[CliParser], env: Environment) -> None:
        self._action = action
        self._env = env

    def add(self, name: str, *, summary: str, examples: Sequence[str],
            description: str = "", func: Callable[..., Any] | None = None,
            **kwargs: Any) -> CliParser:
        """A subcommand: `summary` shows in the parent's list, `description` (default: the
        summary) and `examples` in its own --help. `func` is stored as `args.func`; other
        keyword arguments go to the parser (`parents=[...]`, for one)."""
        parser = self._action.add_parser(
            name, help=summary, description=fill(description or summary),
            epilog=examples_epilog(examples), env=self._env, **kwargs)
        parser.is_command = True
        if func is not None:
            parser.set_defaults(func=func)
        return parser


class _PrintCompletion(argparse.Action):
    """--print-completion SHELL: the completion script of the whole CLI, on stdout (shtab)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        script = shtab.complete(parser, shell=str(values))
        if isinstance(parser, CliParser):
            parser.env.stdout.write(script + "\n")
        else:  # not ours: argparse's own printing
            parser._print_message(script + "\n")
        parser.exit(0)


def complete_path(action: argparse.Action, *, directory: bool = False) -> argparse.Action:
    """Let shell completion offer files (or directories) for this option's value."""
    action.complete = shtab.DIRECTORY if directory else shtab.FILE  # type: ignore[attr-defined]
    return action


def add_node_option(parser: argparse._ActionsContainer, *flags: str,
                    **kwargs: Any) -> argparse.Action:
    """The node URL option (`--node URL` unless `flags` name others); resolve its value with
    `Program.node_url`, which falls back on $FAIRCOOP_NODE and the default."""
    kwargs.setdefault("metavar", "URL")
    kwargs.setdefault("help", f"the node's API base URL (default ${NODE_URL_ENV}, else "
                              f"{DEFAULT_NODE_URL})")
    return parser.add_argument(*(flags or ("--node",)), **kwargs)


# -- the program ------------------------------------------------------------------------------


_LEADING_ERRORS: ErrorTable = ((UsageError, ExitStatus.USAGE),)
_TRAILING_ERRORS: ErrorTable = ((FaircoopError, ExitStatus.ERROR), (OSError, ExitStatus.ERROR))


@dataclass(frozen=True, slots=True)
class Program:
    """One CLI: its name (the prefix of its error lines) and what its root --help shows."""

    name: str  # "faircoop-node"
    description: str
    examples: tuple[str, ...]
    version: str = field(default_factory=package_version)

    def parser(self, env: Environment, **kwargs: Any) -> CliParser:
        """The root parser, with --version and --print-completion."""
        parser = CliParser(prog=self.name, description=fill(self.description),
                           epilog=examples_epilog(self.examples), env=env, **kwargs)
        parser.add_argument("--version", action="version", version=f"{self.name} {self.version}",
                            help="print the version and exit")
        parser.add_argument("--print-completion", choices=SHELLS, action=_PrintCompletion,
                            metavar="SHELL",
                            help="print the shell completion script for SHELL (bash or zsh) "
                                 "and exit; see docs/CLI.md")
        return parser

    def error(self, env: Environment, message: str) -> None:
        env.err(f"{self.name}: error: {message}")

    def warning(self, env: Environment, message: str) -> None:
        env.err(f"{self.name}: warning: {message}")

    def node_url(self, env: Environment, given: str | None = None,
                 default: str = DEFAULT_NODE_URL) -> str:
        """The node to talk to: `given` (the --node option), else $FAIRCOOP_NODE, else the
        deprecated $FAIRCOOP_NODE_URL (with a warning on stderr), else `default`."""
        if given:
            return given
        current = env.environ.get(NODE_URL_ENV) or ""
        old = env.environ.get(DEPRECATED_NODE_URL_ENV) or ""
        if old:
            self.warning(env, f"${DEPRECATED_NODE_URL_ENV} is deprecated and "
                              + (f"ignored (${NODE_URL_ENV} is set)" if current
                                 else f"will stop working; set ${NODE_URL_ENV} instead"))
        return current or old or default

    def run(self, env: Environment, body: Callable[[], int], errors: ErrorTable = (), *,
            on_error: ErrorHook | None = None) -> ExitStatus:
        """Run `body`; the one place where exceptions become exit statuses.

        `errors` maps a CLI's own exception types to statuses (first match wins). Before
        them come UsageError -> USAGE; after them any other FaircoopError or OSError ->
        ERROR. A matched error prints `NAME: error: MESSAGE` on stderr, then calls
        `on_error(exc, status, message)` (the wallet's --json writes its object there);
        Ctrl-C prints `NAME: interrupted` and returns INTERRUPTED (130), also through the
        hook. A closed stdout pipe ends quietly with ERROR. Anything else is a bug: it
        propagates with its traceback.
        """
        try:
            return _as_status(body())
        except ParserExit as exc:
            return _as_status(exc.status)
        except BrokenPipeError:  # whoever read our output left (`| head`): nothing to say
            _drop_stdout(env)
            return ExitStatus.ERROR
        except KeyboardInterrupt as exc:
            env.err(f"{self.name}: interrupted")
            if on_error is not None:
                on_error(exc, ExitStatus.INTERRUPTED, "interrupted")
            return ExitStatus.INTERRUPTED
        except Exception as exc:
            status = status_for(exc, (*_LEADING_ERRORS, *errors, *_TRAILING_ERRORS))
            if status is None:
                raise
            message = describe_error(exc)
            self.error(env, message)
            if on_error is not None:
                on_error(exc, status, message)
            return status


def _drop_stdout(env: Environment) -> None:
    """Point the process's stdout at /dev/null, so the interpreter's last flush of what is
    still buffered does not fail again at exit."""
    if env.stdout is sys.stdout:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _as_status(code: int) -> ExitStatus:
    return ExitStatus(code) if code in ExitStatus._value2member_map_ else ExitStatus.ERROR


# -- help audit -------------------------------------------------------------------------------


def walk_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every subcommand parser under it, depth first, each once."""
    seen: set[int] = set()
    stack = [parser]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(reversed(list(action.choices.values())))


def audit_help(parser: argparse.ArgumentParser) -> list[str]:
    """Every gap in the help under `parser`, as `PROG: what is missing` (empty: none)."""
    problems: list[str] = []
    for current in walk_parsers(parser):
        if not (current.description or "").strip():
            problems.append(f"{current.prog}: no description")
        if "example" not in (current.epilog or ""):
            problems.append(f"{current.prog}: no example")
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                problems.extend(f"{current.prog} {choice.dest}: no summary"
                                for choice in action._get_subactions() if not choice.help)
                continue
            if action.help is None or not str(action.help).strip():
                name = "/".join(action.option_strings) or action.dest
                problems.append(f"{current.prog} {name}: no help")
    return problems
