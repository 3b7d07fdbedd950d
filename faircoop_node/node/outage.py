"""When the store refuses a write (a full disk, an I/O error, a failed fsync): stop signing, say
why, keep serving reads, and come back without the operator.

A validator records what it signs (a synced write) before it sends it, so a refused write means
that signature never leaves. But the engine has moved on in memory, a block it decided may or
may not be on disk, and the store's handle takes no more writes (`StoreWriteFailed`: LevelDB
may have left part of a record in its log). So during an outage the node feeds its consensus
nothing (it signs, commits and syncs nothing), while the API and peers' block requests are
still answered from what is on disk. Every `retry_s` it tries to reopen the store on what is
really there and to make one synced write; once both work, the consensus driver starts over
from the store, as a restarted process would (its tip; its last-signed record, so what was
never recorded was never sent and is not signed differently now), and catch-up sync fetches
what the chain made meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from consensus.errors import DecodeError
from faircoop_node.logs import EventLogger
from faircoop_node.node.catchup import CatchUp
from faircoop_node.node.commit import stored_tip
from faircoop_node.node.driver import ConsensusDriver
from faircoop_node.node.signing import decode_signed_record
from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.errors import StorageError, StoreWriteFailed

LOG_EVERY_S = 60.0  # a failure that goes on is logged again at most this often


@dataclass
class StoreOutage:
    """Whether the store is out, since when, and when to try it again (monotonic seconds)."""

    retry_s: float = 2.0
    since: float | None = None
    reason: str = ""
    next_try: float = 0.0
    attempts: int = 0
    logged: float = 0.0
    outages: int = 0  # how many began since the node started

    @property
    def active(self) -> bool:
        return self.since is not None

    def begin(self, reason: str, now: float) -> bool:
        """The store refused a write; True if this starts an outage (log it), False if one
        was already under way."""
        if self.since is not None:
            return False
        self.since, self.reason, self.next_try = now, reason, now + self.retry_s
        self.attempts, self.logged = 0, now
        self.outages += 1
        return True

    def due(self, now: float) -> bool:
        """Time for another attempt to reopen the store."""
        return self.since is not None and now >= self.next_try

    def failed_again(self, reason: str, now: float) -> bool:
        """An attempt failed; True if it is time to log that the outage goes on."""
        self.attempts += 1
        self.reason = reason
        self.next_try = now + self.retry_s
        if now - self.logged >= LOG_EVERY_S:
            self.logged = now
            return True
        return False

    def end(self, now: float) -> float:
        """The store takes writes again; how long it was out."""
        since = self.since if self.since is not None else now
        self.since = None
        return now - since


class OutageDuty:
    """The node's side of an outage: say why it began, retry the store, and start the driver
    over from it once it takes writes again."""

    def __init__(self, store: BaseStore, driver: ConsensusDriver, catchup: CatchUp,
                 log: EventLogger, retry_s: float) -> None:
        self.store = store
        self.driver = driver
        self.catchup = catchup
        self.log = log
        self.outage = StoreOutage(retry_s)

    @property
    def active(self) -> bool:
        return self.outage.active

    def failed(self, exc: StoreWriteFailed, now: float) -> None:
        if self.outage.begin(str(exc), now):
            self.log.error("store_write_failed", error=str(exc),
                           action="signing and committing stopped; reads still served; the "
                                  f"store is retried every {self.outage.retry_s:g}s",
                           tip=self.store.tip().height)

    async def tick(self, now: float) -> None:
        """Try the store again when it is time; start over from it if it takes writes."""
        if not self.outage.due(now):
            return
        try:
            await asyncio.to_thread(self._reopen)
            state, certificate = stored_tip(self.store)
            raw = self.store.get_last_signed()
            record = decode_signed_record(raw) if raw is not None else None
        except (StorageError, DecodeError) as exc:
            if self.outage.failed_again(str(exc), now):
                self.log.error("store_still_failing", error=str(exc),
                               out_s=round(now - (self.outage.since or now), 1),
                               attempts=self.outage.attempts)
            return
        driver = self.driver
        driver.reset(state, certificate)
        dropped = driver.pool.revalidate(state.params)
        out_s = self.outage.end(now)
        self.log.warning("store_recovered", out_s=round(out_s, 1), tip=state.height,
                         attempts=self.outage.attempts + 1, mempool_dropped=dropped)
        if driver.wants_to_validate and record is None:
            self.catchup.joining_since = now  # what we signed is unknown: rejoin (signing.py)
        else:
            await driver.start(record)
        self.catchup.maybe_sync(now)

    def _reopen(self) -> None:
        """Reopen on what is on disk, and prove a synced write goes through."""
        self.store.reopen()
        self.store.flush()
