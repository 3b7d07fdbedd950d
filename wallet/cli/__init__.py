"""faircoop-wallet: the command-line wallet.

It follows the convention both CLIs share (`faircoop_common.clikit`, docs/CLI.md): `main(argv,
env)` parses, runs one command and returns an `ExitStatus`; errors print `faircoop-wallet:
error: ...`, usage errors the usage line first (exit 2), Ctrl-C exits 130; `--version`,
`--print-completion bash|zsh`; the node URL from --node, $FAIRCOOP_NODE (the old
$FAIRCOOP_NODE_URL still read, with a warning). Every error is mapped to its exit code and JSON
`kind` in one place (`run.ERRORS`). `Environment` (the shared one, plus the password prompt)
carries the streams and environment variables, so tests run the CLI in-process.

The work is the library's (`wallet.session.Wallet` and the modules under it); this package
parses (`args`), prompts (`env.Cli`), runs one command (`commands`) and renders (`render`).
Output: human text by default; with `--json`, exactly one JSON object on stdout, success or
error (schemas in docs/WALLET.md). Progress goes to stderr, and only when stderr is a terminal.
Passwords come from a prompt or `--password-file`, never from argv. Amounts on the command line
are coins as decimal strings; JSON amounts are integer base units.
"""

from faircoop_common.clikit import ExitStatus
from wallet.cli.env import Environment
from wallet.cli.run import main

__all__ = ["Environment", "ExitStatus", "main"]
