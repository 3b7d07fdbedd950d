"""`ChainRules` backed by the real chain state (`consensus.chainstate`, `consensus.chain`).

With these rules the simulated network's voting sets, proposer rotation (quarantine included)
and evidence-driven suspension are exactly what real nodes would compute, so the simulator
tests them end to end: a proposer that stays down leaves the rotation, and an equivocator whose
evidence lands in a block is suspended.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.chain import make_block, proposal_time, validate_block
from consensus.chainstate import ChainState, genesis_state, next_state
from consensus.codec import block_hash
from consensus.errors import DecodeError, ValidationError
from consensus.ledger import MemoryUtxoSet
from consensus.types import Block, BlockHash, Genesis, PublicKey
from faircoop_node.simulation.chain import ChainView

MAX_EVIDENCE_PER_BLOCK = 8


def _view_of(state: ChainState, last_commit: bytes,
             last_validators: tuple[PublicKey, ...]) -> ChainView:
    return ChainView(
        chain_id=state.chain_id, height=state.height, tip=state.last_block_id,
        validators=state.validators, proposers=state.proposer_rotation(), params=state.params,
        last_commit=last_commit, last_validators=last_validators, state=state,
    )


def _state(view: ChainView) -> ChainState:
    assert isinstance(view.state, ChainState)
    return view.state


class ChainStateRules:
    def __init__(self, genesis: Genesis, genesis_id: BlockHash) -> None:
        self.genesis = genesis
        self.genesis_id = genesis_id
        self._empty = MemoryUtxoSet()

    def genesis_view(self) -> ChainView:
        return _view_of(genesis_state(self.genesis, self.genesis_id), b"", ())

    def build_block(
        self, view: ChainView, proposer: PublicKey, time_ms: int, evidence: tuple[bytes, ...]
    ) -> Block:
        state = _state(view)
        t = proposal_time(state, time_ms)
        usable: tuple[bytes, ...] = ()
        for item in evidence[:MAX_EVIDENCE_PER_BLOCK]:
            if self._evidence_usable(state, proposer, t, view, (*usable, item)):
                usable = (*usable, item)
        return make_block(state, proposer, t, (), view.last_commit, usable)

    def _evidence_usable(self, state: ChainState, proposer: PublicKey, t: int, view: ChainView,
                         items: tuple[bytes, ...]) -> bool:
        """Evidence the chain state accepts together (not punished yet, recent, a validator's)."""
        block = make_block(state, proposer, t, (), view.last_commit, items)
        try:
            next_state(state, block, block_hash(block.header))
        except (ValidationError, DecodeError):
            return False
        return True

    def check_block(self, view: ChainView, block: Block) -> bool:
        try:
            validate_block(_state(view), block, block_hash(block.header), self._empty)
        except (ValidationError, DecodeError):
            return False
        return True

    def advance(self, view: ChainView, block: Block, block_id: BlockHash, cert: bytes) -> ChainView:
        state = next_state(_state(view), block, block_id)
        return replace(_view_of(state, cert, view.voting_keys))
