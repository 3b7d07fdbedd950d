"""Vote tallies and the 2/3 thresholds of one-coop-one-vote BFT.

Glossary:
- *n*: the size of the height's validator set. Every validator has one vote (no stake weights).
- *quorum*: `2n//3 + 1` votes, more than two thirds of n. Two quorums always share more than
  n/3 validators, so with fewer than n/3 faulty they share an honest one: the safety argument.
- *skip threshold*: `n//3 + 1` votes, more than one third of n. Any such set holds at least one
  honest validator when fewer than n/3 are faulty, so seeing it in a higher round is proof an
  honest validator got there, and it is safe to follow (Algorithm 1, line 55).
- *nil*: a vote for no block (an empty block id).

`VoteTally` counts one kind of vote (say, the prevotes of round 3) incrementally. The first vote
of each validator counts; a second vote by the same validator is refused here, and the engine
decides whether it is a harmless duplicate or equivocation evidence.
`tests/engine/test_quorum.py` checks the tally against a deliberately naive recount, in the manner
of etcd raft's `quorum/quick_test.go`.
"""

from __future__ import annotations

from consensus.types import BlockHash

NIL_ID = BlockHash(b"")


def quorum_size(n: int) -> int:
    """Votes needed for a decision: more than 2/3 of n (n=1 -> 1, n=3 -> 3, n=4 -> 3, n=7 -> 5)."""
    return 2 * n // 3 + 1


def skip_threshold(n: int) -> int:
    """Votes in a higher round that prove an honest validator is there: more than 1/3 of n."""
    return n // 3 + 1


def max_faulty(n: int) -> int:
    """The most faulty validators n tolerates: the largest f with n >= 3f + 1."""
    return (n - 1) // 3 if n > 0 else 0


class VoteTally:
    """The votes of one (height, round, vote type), keyed by validator index.

    Mutable on purpose: the engine adds votes one at a time and asks after each one. It keeps a
    per-block count so every question is O(1) (the naive recount in the tests is O(n)).
    """

    __slots__ = ("_n", "_by_validator", "_counts")

    def __init__(self, n: int) -> None:
        self._n = n
        self._by_validator: dict[int, BlockHash] = {}
        self._counts: dict[BlockHash, int] = {}

    @property
    def n(self) -> int:
        return self._n

    def add(self, index: int, block_id: BlockHash) -> bool:
        """Count `index`'s vote; False (and no change) if it already voted or is out of range."""
        if not 0 <= index < self._n or index in self._by_validator:
            return False
        self._by_validator[index] = block_id
        self._counts[block_id] = self._counts.get(block_id, 0) + 1
        return True

    def vote_of(self, index: int) -> BlockHash | None:
        return self._by_validator.get(index)

    def voters(self) -> tuple[int, ...]:
        """Validator indexes that voted, ascending."""
        return tuple(sorted(self._by_validator))

    @property
    def total(self) -> int:
        return len(self._by_validator)

    def count(self, block_id: BlockHash) -> int:
        return self._counts.get(block_id, 0)

    def has_quorum_any(self) -> bool:
        """2f+1 votes of any kind (Algorithm 1, lines 34 and 47)."""
        return self.total >= quorum_size(self._n)

    def has_quorum_for(self, block_id: BlockHash) -> bool:
        return self.count(block_id) >= quorum_size(self._n)

    def has_quorum_nil(self) -> bool:
        return self.has_quorum_for(NIL_ID)

    def quorum_block(self) -> BlockHash | None:
        """The non-nil block id with a quorum, if any (at most one can have one)."""
        need = quorum_size(self._n)
        for block_id, c in self._counts.items():
            if block_id and c >= need:
                return block_id
        return None
