"""Gossip bookkeeping: what this node already relayed, and the evidence it holds for proposers.

The network is a mesh of the configured peers, not necessarily complete, so a node forwards
each new vote, proposal, tx batch and piece of evidence once to every peer but the sender.
`SeenCache` remembers what was forwarded (by signature or hash) so a message makes one trip
around the mesh, not an endless one. `EvidencePool` keeps checked duplicate-vote evidence
until a block carries it.
"""

from __future__ import annotations

from collections import OrderedDict

from consensus.errors import FaircoopError
from consensus.evidence import (
    DuplicateVoteEvidence,
    EvidenceKey,
    check_duplicate_vote,
    encode_evidence,
)


class SeenCache:
    """A bounded set of recently seen message ids; the oldest are forgotten first."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add(self, key: bytes) -> bool:
        """Remember `key`; True if it is new (so the message should be handled and relayed)."""
        if key in self._items:
            return False
        self._items[key] = None
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return True


class EvidencePool:
    """Checked evidence not yet in a block, in arrival order (proposers take it in that order)."""

    def __init__(self, chain_id: str, capacity: int = 1_000) -> None:
        self._chain_id = chain_id
        self._capacity = capacity
        self._items: dict[EvidenceKey, bytes] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, evidence: DuplicateVoteEvidence) -> bool:
        """Keep valid, new evidence; False if it is known, invalid, or the pool is full."""
        key = evidence.key()
        if key in self._items or len(self._items) >= self._capacity:
            return False
        try:
            check_duplicate_vote(evidence, self._chain_id)
        except FaircoopError:
            return False
        self._items[key] = encode_evidence(evidence)
        return True

    def items(self) -> tuple[bytes, ...]:
        return tuple(self._items.values())

    def remove_included(self, keys: set[EvidenceKey]) -> None:
        for key in keys:
            self._items.pop(key, None)

    def prune(self, oldest_height: int) -> None:
        """Forget evidence about votes older than any block may still accept."""
        self._items = {k: v for k, v in self._items.items() if k[1] >= oldest_height}
