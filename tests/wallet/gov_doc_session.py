"""The worked session of docs/GOVERNANCE.md as commands a test runs: every `$ faircoop-wallet`
line of the section's console blocks (a trailing backslash continues a line). If the doc
changes, the test runs what it says now; if the CLI changes under it, the test fails."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

GOVERNANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "GOVERNANCE.md"
SECTION = "## A worked session"
PROGRAM = "faircoop-wallet"


def session_commands() -> list[list[str]]:
    """The argv (after `faircoop-wallet`) of each command of the worked session, in order."""
    text = GOVERNANCE_DOC.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end >= 0 else len(text)]
    commands: list[list[str]] = []
    for block in re.findall(r"```console\n(.*?)```", section, re.S):
        pending = ""
        for line in block.splitlines():
            if pending or line.startswith("$ "):
                pending += line.removeprefix("$ ").rstrip()
                if pending.endswith("\\"):
                    pending = pending[:-1] + " "
                    continue
                argv = shlex.split(pending)
                pending = ""
                assert argv[0] == PROGRAM, f"the session runs only {PROGRAM}: {argv}"
                commands.append(argv[1:])
    assert commands, f"docs/GOVERNANCE.md has no commands under {SECTION!r}"
    return commands
