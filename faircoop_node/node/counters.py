"""What a node did since it started: counters for tests, logs and metrics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

PUNISHED_KEPT = 256  # reasons of the latest punishments kept


@dataclass
class NodeCounters:
    committed_consensus: int = 0
    committed_sync: int = 0
    sync_requests: int = 0
    punished_total: int = 0
    dropped: int = 0  # peers' messages quietly ignored (early, late, seen, out of window)
    regossips: int = 0  # times a stalled height re-sent what we signed there
    relayed_consensus: int = 0  # copies of peers' votes and proposals we passed on
    punished: deque[str] = field(default_factory=lambda: deque(maxlen=PUNISHED_KEPT))
