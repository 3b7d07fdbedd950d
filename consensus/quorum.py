"""Vote tallies and the 2/3 thresholds of one-coop-one-vote BFT.

Glossary:
- *n*: the size of the height's validator set. Every validator has one vote (no stake weights).
- *quorum*: `2n//3 + 1` votes, more than two thirds of n. Two quorums always share more than
  n/3 validators, so with fewer than n/3 faulty they share an honest one: the safety argument.
- *skip threshold*: `n//3 + 1` votes, more than one third of n. Any such set holds at least one
  honest validator when fewer than n/3 are faulty, so seeing it in a higher round is proof an
  honest validator got there, and it is safe to follow (Algorithm 1, line 55).
- *nil*: a vote for no block (an empty block id).

`VoteTally` counts one kind of vote (say, the prevotes of round 3) incrementally; see its
docstring for how a validator that votes twice (equivocates) is counted.
`tests/engine/test_quorum.py` checks the tally against a deliberately naive recount, in the manner
of etcd raft's `quorum/quick_test.go`.
"""

from __future__ import annotations

from consensus.types import BlockHash

NIL_ID = BlockHash(b"")
MAX_VOTES_PER_SIGNER = 4  # distinct block ids one validator's votes may count for, per step


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

    A validator's first vote counts towards "any" (`total`); each distinct block id it votes
    for counts towards that block. So an equivocator counts once per block it signed, which is
    what it could achieve anyway by sending each vote to a different honest validator: the
    quorum-intersection argument holds either way. Counting both lets an honest validator see a
    polka whose other half reached it after the equivocator's conflicting vote (CometBFT keeps
    conflicting votes per block for the same reason). `MAX_VOTES_PER_SIGNER` bounds the memory a
    Byzantine signer can make us spend.

    Mutable on purpose: the engine adds votes one at a time and asks after each one. It keeps
    counts so every question is O(1); the tests check it against a naive recount.
    """

    __slots__ = ("_n", "_first", "_by_block", "_per_signer")

    def __init__(self, n: int) -> None:
        self._n = n
        self._first: dict[int, BlockHash] = {}
        self._by_block: dict[BlockHash, set[int]] = {}
        self._per_signer: dict[int, int] = {}

    @property
    def n(self) -> int:
        return self._n

    def add(self, index: int, block_id: BlockHash) -> bool:
        """Count `index`'s vote for `block_id`; False (and no change) if already counted, out of
        range, or the signer has used up its `MAX_VOTES_PER_SIGNER`."""
        if not 0 <= index < self._n:
            return False
        voters = self._by_block.get(block_id)
        if voters is not None and index in voters:
            return False
        if self._per_signer.get(index, 0) >= MAX_VOTES_PER_SIGNER:
            return False
        self._per_signer[index] = self._per_signer.get(index, 0) + 1
        if voters is None:
            voters = self._by_block[block_id] = set()
        voters.add(index)
        self._first.setdefault(index, block_id)
        return True

    def vote_of(self, index: int) -> BlockHash | None:
        """The first block id `index` voted for."""
        return self._first.get(index)

    def voters(self) -> tuple[int, ...]:
        """Validator indexes that voted, ascending."""
        return tuple(sorted(self._first))

    def voters_for(self, block_id: BlockHash) -> tuple[int, ...]:
        return tuple(sorted(self._by_block.get(block_id, ())))

    @property
    def total(self) -> int:
        """Distinct validators that voted, whatever for."""
        return len(self._first)

    def count(self, block_id: BlockHash) -> int:
        voters = self._by_block.get(block_id)
        return len(voters) if voters is not None else 0

    def has_quorum_any(self) -> bool:
        """2f+1 validators voted (Algorithm 1, lines 34 and 47)."""
        return self.total >= quorum_size(self._n)

    def has_quorum_for(self, block_id: BlockHash) -> bool:
        return self.count(block_id) >= quorum_size(self._n)

    def has_quorum_nil(self) -> bool:
        return self.has_quorum_for(NIL_ID)

    def quorum_block(self) -> BlockHash | None:
        """A non-nil block id with a quorum, if any: the first to get there.

        Two can only both have one if more than n/3 validators equivocated.
        """
        need = quorum_size(self._n)
        for block_id, voters in self._by_block.items():
            if block_id and len(voters) >= need:
                return block_id
        return None
