"""The proposals a node holds for the heights it is deciding, one per round.

Why one per round: a proposer gets one proposal per (height, round); a second, different one is
neither held nor relayed, so an equivocating proposer can't make the network carry two blocks a
round, and what a node holds is bounded by the rounds in reach (older rounds are forgotten,
`ROUNDS_KEPT` behind ours). A copy of a held proposal (re-sent on a stall) is handed back at no
cost. And the encoded proposal of each block is kept, because a precommit for a block records it
in the last-signed record (`signing.Locked`): a restarted validator must hold the block it
locked on.
"""

from __future__ import annotations

from consensus.engine import ProposalReceived
from consensus.types import BlockHash
from consensus.votes import Proposal

ROUNDS_KEPT = 2  # proposals of rounds further behind ours are forgotten


class ProposalBook:
    def __init__(self) -> None:
        self._taken: dict[tuple[int, int], ProposalReceived] = {}  # (height, round) -> held
        self._encoded: dict[BlockHash, tuple[int, bytes, bytes]] = {}  # id -> (h, proposal, block)

    def held(self, proposal: Proposal) -> ProposalReceived | None:
        """The proposal we hold for its round, if it is this very one."""
        held = self._taken.get((proposal.height, proposal.round))
        return held if held is not None and held.proposal == proposal else None

    def taken(self, height: int, round_: int) -> bool:
        return (height, round_) in self._taken

    def take(self, received: ProposalReceived, raw: bytes, block: bytes, tip: int,
             round_: int) -> bool:
        """Hold a proposal (checked by admission); False if its round is taken. `tip` and
        `round_` are where we are: older rounds of the next height are forgotten."""
        p = received.proposal
        key = (p.height, p.round)
        if key in self._taken:
            return False
        self._taken = {k: v for k, v in self._taken.items()
                       if k[0] > tip + 1 or k[1] >= round_ - ROUNDS_KEPT}
        self._taken[key] = received
        self.remember(p, raw, block)
        return True

    def own(self, received: ProposalReceived) -> None:
        """Our own proposal holds its round."""
        p = received.proposal
        self._taken.setdefault((p.height, p.round), received)

    def remember(self, proposal: Proposal, raw: bytes, block: bytes) -> None:
        self._encoded[proposal.block_id] = (proposal.height, raw, block)

    def encoded(self, block_id: BlockHash) -> tuple[bytes, bytes] | None:
        """The encoded proposal and block of `block_id`, if we hold them."""
        found = self._encoded.get(block_id)
        return None if found is None else (found[1], found[2])

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._encoded

    def committed(self, height: int) -> None:
        """Forget everything at or below a committed height."""
        self._taken = {k: v for k, v in self._taken.items() if k[0] > height}
        self._encoded = {k: v for k, v in self._encoded.items() if v[0] > height}

    def clear_rounds(self) -> None:
        """The voting set changed (a recovery): the new set proposes afresh."""
        self._taken.clear()
