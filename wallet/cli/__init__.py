"""faircoop-wallet: the command-line wallet.

Shape (after httpie): `main(argv, env)` parses, runs one command, and returns an `ExitStatus`.
Every error is mapped to its exit code in one place (`run._exit_status_for`). `Environment`
carries stdin/stdout/stderr, the environment variables, the password prompt and the TTY check,
so tests run the CLI in-process and assert on stdout and the exit code.

The work is the library's (`wallet.session.Wallet` and the modules under it); this package
parses (`args`), prompts (`env.Cli`), runs one command (`commands`) and renders (`render`).
Output: human text by default; with `--json`, exactly one JSON object on stdout, success or
error (schemas in docs/WALLET.md). Progress goes to stderr, and only when stderr is a terminal.
Passwords come from a prompt or `--password-file`, never from argv. Amounts on the command line
are coins as decimal strings; JSON amounts are integer base units.
"""

from wallet.cli.env import Environment
from wallet.cli.run import ExitStatus, main

__all__ = ["Environment", "ExitStatus", "main"]
