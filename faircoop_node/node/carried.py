"""What a validator signed at the height being decided before its engine started over.

A restart mid-height (from the last-signed record) or a recovery (a new voting set for the
same height) gives the validator a new engine that resumes at the round it last signed in and
may not sign there again. To move on, that round needs the votes it already signed: they are
fed back to the new engine and re-sent to peers (the same signed bytes, never a new signature)
until the height moves on. With them comes the block it precommitted, if any (its lock), so it
can still commit that block (see `signing.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.codec import decode_block
from consensus.engine import ProposalReceived, VoteReceived
from consensus.errors import DecodeError
from consensus.votes import Vote, decode_proposal
from faircoop_node.node.signing import Locked


@dataclass
class CarriedVotes:
    votes: tuple[Vote, ...] = ()
    lock: Locked | None = None
    height: int | None = None  # the height they are re-sent for, once sending started

    def __bool__(self) -> bool:
        return bool(self.votes) or self.lock is not None

    def events(self) -> list[ProposalReceived | VoteReceived]:
        """What the new engine is fed: the locked proposal (if it decodes), then the votes."""
        out: list[ProposalReceived | VoteReceived] = []
        locked = self.locked_proposal()
        if locked is not None:
            out.append(locked)
        elif self.lock is not None:
            self.lock = None
        out.extend(VoteReceived(v) for v in self.votes)
        return out

    def locked_proposal(self) -> ProposalReceived | None:
        if self.lock is None:
            return None
        try:
            return ProposalReceived(decode_proposal(self.lock.proposal),
                                    decode_block(self.lock.block))
        except DecodeError:
            return None

    def due(self, engine_height: int, deciding: int, decided: bool) -> bool:
        """Are they still to be re-sent? Only while the engine decides the height they are for
        (`deciding` is the tip + 1); once it moves on they are dropped."""
        if engine_height != deciding or decided or self.height not in (None, engine_height):
            self.votes, self.lock = (), None
            return False
        self.height = engine_height
        return bool(self)
