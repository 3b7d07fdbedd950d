"""The governance inbox: a directory where operators drop signed governance actions.

Each `*.action` file holds one line, the hex of `consensus.governance.encode_block_action(...)`:
a `SignedAction` (add/remove/rekey a validator, set a parameter, ...) or a `RecoveryAction`.
`Inbox.scan()` returns the files that are new or changed since the last scan, decoded, and
`InboxDuty` does what they say: pool an action for proposers (the file is renamed `.included`
once a block carries it), or install a recovery at our tip. A file that can't be read or
decoded is reported once per change, so a typo never stops the node.

Left out: gossiping actions to peers (each validator reads its own inbox; a file dropped in one
validator's inbox is carried when that validator proposes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from consensus.errors import DecodeError
from consensus.governance import BlockAction, RecoveryAction, decode_block_action
from faircoop_node.logs import EventLogger

if TYPE_CHECKING:
    from faircoop_node.node.driver import ConsensusDriver

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


class InboxDuty:
    """The node's use of its inbox: actions into the driver's pool, recoveries to its holding.

    A `SignedAction` joins the pool proposers carry from (`select_carried` keeps it only while
    it applies). A `RecoveryAction` goes to the driver, which installs it on our tip with our
    clock once its wait is over; it is held in memory only, so the file stays and a restart
    offers it again. Actions pooled from files are gossiped like those submitted to the API.
    """

    def __init__(self, inbox: Inbox, driver: ConsensusDriver, chain_id: str,
                 log: EventLogger, gossip: Callable[[bytes], None]) -> None:
        self.inbox = inbox
        self._driver = driver
        self._chain_id = chain_id
        self._log = log
        self._gossip = gossip
        self._files: dict[bytes, Path] = {}  # pooled governance actions -> their file

    async def scan(self) -> None:
        items, problems = await asyncio.to_thread(self.inbox.scan)
        for problem in problems:
            self._log.warning("inbox_unreadable", file=problem.path.name, error=problem.error)
        for item in items:
            action = item.action
            if action.chain_id != self._chain_id:
                self._log.warning("inbox_wrong_chain", file=item.path.name)
            elif isinstance(action, RecoveryAction):
                if self._driver.offer_recovery(item.raw, action):
                    self._log.info("recovery_held", file=item.path.name, height=action.height)
                    self._gossip(item.raw)
            elif item.raw not in self._files and self._driver.add_action(item.raw):
                self._files[item.raw] = item.path
                self._log.info("action_pooled", file=item.path.name, nonce=action.nonce)
                self._gossip(item.raw)

    def included(self, raw: bytes) -> None:
        """A block carried this action: its file is renamed `.included`."""
        path = self._files.pop(raw, None)
        if path is not None:
            mark_included(path)
            self._log.info("action_included", file=path.name)
