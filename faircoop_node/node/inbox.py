"""The governance inbox: a directory where operators drop signed governance actions.

Each `*.action` file holds one line, the hex of `consensus.governance.encode_block_action(...)`:
a `SignedAction` (add/remove/rekey a validator, set a parameter, ...) or a `RecoveryAction`.
`Inbox.scan()` returns the files that are new or changed since the last scan, decoded; the node
decides what to do with them (pool an action for proposers, install a recovery). A file that
can't be read or decoded is reported once per change, so a typo never stops the node.

Left out: gossiping actions to peers (each validator reads its own inbox; a file dropped in one
validator's inbox is carried when that validator proposes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from consensus.errors import DecodeError
from consensus.governance import BlockAction, decode_block_action

SUFFIX = ".action"
INCLUDED_SUFFIX = ".included"


@dataclass(frozen=True, slots=True)
class InboxItem:
    path: Path
    raw: bytes  # the encoded action, as a block carries it
    action: BlockAction


@dataclass(frozen=True, slots=True)
class InboxProblem:
    path: Path
    error: str


class Inbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seen: dict[Path, float] = {}  # file -> modification time when read

    def scan(self) -> tuple[list[InboxItem], list[InboxProblem]]:
        """The files new or changed since the last scan: decoded items, and problems."""
        items: list[InboxItem] = []
        problems: list[InboxProblem] = []
        try:
            files = sorted(p for p in self.directory.glob(f"*{SUFFIX}") if p.is_file())
        except OSError as exc:
            return items, [InboxProblem(self.directory, str(exc))]
        for path in files:
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue  # removed meanwhile
            if self._seen.get(path) == mtime:
                continue
            self._seen[path] = mtime
            try:
                raw = bytes.fromhex(path.read_text(encoding="ascii").strip())
                items.append(InboxItem(path, raw, decode_block_action(raw)))
            except (OSError, ValueError, DecodeError) as exc:
                problems.append(InboxProblem(path, str(exc)))
        return items, problems


def mark_included(path: Path) -> bool:
    """Rename a carried action's file to `NAME.action.included`; False if that failed."""
    try:
        path.rename(path.with_name(path.name + INCLUDED_SUFFIX))
    except OSError:
        return False
    return True
