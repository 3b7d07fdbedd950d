"""Header-chain validation: does a block extend the chain state, and what state follows it.

`validate_header` checks a header against the state it claims to extend; `validate_block` adds
the body (ledger rules, coins and credit), the previous block's commit certificate
(`last_commit`), evidence and governance, and returns the UTXO diff, the credit diff and the
next chain state, so the node commits exactly what it checked. `make_block` builds a block a
state will accept (for proposers, the simulator and tests), and `proposal_time` picks its
timestamp from a clock.

Time rule. A header's time is strictly after its parent's and at most `max_clock_drift_ms`
after it, so a proposer can't push the chain's clock far ahead. After a stall the proposer uses
parent + drift, and block times catch up with wall time over the next blocks. A block that
carries a recovery is the exception: its time must be at least parent + `recovery_after_ms`,
the same wait the recovery rule demands. A node should also refuse a proposal whose time is
ahead of its own clock by more than the drift; that needs a clock, so it is `check_not_future`,
called by the node, not by these pure rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import crypto
from consensus.certificate import verify_certificate
from consensus.chainstate import ChainState, next_state, state_for_actions, state_for_block
from consensus.codec import block_hash, hash_items, params_hash, validators_hash
from consensus.credit import EMPTY_CREDIT_DIFF, ChainView, CreditDiff, apply_credit
from consensus.crypto import Verifier
from consensus.errors import ValidationError, WrongChain
from consensus.governance import credit_limit_changes
from consensus.ledger import SignatureCache, UtxoDiff, apply_block, assemble_block
from consensus.types import (
    BLOCK_VERSION,
    Block,
    BlockHash,
    BlockHeader,
    BlockTx,
    Hash32,
    PublicKey,
)

__all__ = [
    "ValidBlock", "check_not_future", "make_block", "next_state", "proposal_time",
    "validate_block", "validate_header",
]


class HeaderError(ValidationError):
    """A header that does not extend the chain state (see `rule`)."""


@dataclass(frozen=True, slots=True)
class ValidBlock:
    """What checking a block produced: apply `diff` to the UTXO set and `credit` to the credit
    accounts, and store `state`."""

    diff: UtxoDiff
    state: ChainState
    credit: CreditDiff = EMPTY_CREDIT_DIFF


def _time_bounds(state: ChainState) -> tuple[int, int | None]:
    """The (least, greatest) time a header at height + 1 may carry; None = no upper bound."""
    parent = state.last_block_time_ms
    if state.recovery:
        return parent + state.params.recovery_after_ms, None
    return parent + 1, parent + state.params.max_clock_drift_ms


def validate_header(state: ChainState, header: BlockHeader,
                    block_id: BlockHash | None = None) -> None:
    """The header extends `state`: chain, height, parent, time and the commitments it makes.

    `state` is taken as given: for a block that carries a recovery, pass
    `state_for_block(state, block)` (as `validate_block` does). The engine checks that the
    proposer is the round's; here it must only be a member of the voting set.
    """
    if header.version != BLOCK_VERSION:
        raise HeaderError("header_version", f"version {header.version}")
    if header.chain_id != state.chain_id:
        raise WrongChain("wrong_chain", f"header is for {header.chain_id!r}")
    if header.height != state.height + 1:
        raise HeaderError("wrong_height", f"height {header.height}, expected {state.height + 1}")
    if header.prev_hash != state.last_block_id:
        raise HeaderError("wrong_parent", "prev_hash is not the last block's hash")
    least, greatest = _time_bounds(state)
    if header.time_ms < least or (greatest is not None and header.time_ms > greatest):
        raise HeaderError("time_out_of_bounds",
                          f"time {header.time_ms} outside [{least}, {greatest}]")
    if header.validators_hash != validators_hash(state.current.validators):
        raise HeaderError("validators_hash_mismatch", "not this height's voting set")
    if header.next_validators_hash != validators_hash(state.upcoming.validators):
        raise HeaderError("next_validators_hash_mismatch", "not the next height's voting set")
    if header.params_hash != params_hash(state.params):
        raise HeaderError("params_hash_mismatch", "not the parameters in force")
    if header.proposer not in state.voting_set():
        raise HeaderError("proposer_not_validator", "the proposer is not in the voting set")
    if block_id is not None and block_hash(header) != block_id:
        raise HeaderError("block_id_mismatch", "block id is not the header's hash")


def _check_last_commit(state: ChainState, block: Block, verify: Verifier) -> None:
    if state.height == 0:
        if block.last_commit:
            raise ValidationError("unexpected_last_commit", "block 1 carries no certificate")
        return
    voters = state.validators_at(state.height)
    if voters is None:  # unreachable for states built by next_state
        raise ValidationError("unknown_voting_set", f"no voting set kept for {state.height}")
    verify_certificate(block.last_commit, state.last_block_id, voters, state.chain_id,
                       state.height, verify)


def _check_carried_commitments(block: Block) -> None:
    """The header commits to the carried actions and evidence, before anything decodes them.

    `apply_block` checks these again with the tx root; the tx root is the costly part, so it is
    not computed twice.
    """
    h = block.header
    if h.actions_hash != hash_items(block.actions):
        raise ValidationError("actions_hash_mismatch", "header does not commit to the actions")
    if h.evidence_hash != hash_items(block.evidence):
        raise ValidationError("evidence_hash_mismatch", "header does not commit to the evidence")


def validate_block(
    state: ChainState,
    block: Block,
    block_id: BlockHash,
    utxo_view: ChainView,
    *,
    sig_cache: SignatureCache | None = None,
    verify: Verifier = crypto.verify,
) -> ValidBlock:
    """Every rule for a block at state.height + 1; the UTXO diff and the next state if valid.

    Order: recovery (if carried), header, the previous block's certificate, body and txs
    (ledger), then evidence and governance while building the next state. Raises the first
    ValidationError (or DecodeError for undecodable carried bytes).
    """
    _check_carried_commitments(block)
    base = state_for_block(state, block)
    validate_header(base, block.header, block_id)
    _check_last_commit(base, block, verify)
    diff = apply_block(block, block_id, utxo_view, base.params,
                       treasury_lock=base.treasury_lock, sig_cache=sig_cache)
    credit = apply_credit(block, utxo_view, base.params,
                          credit_limit_changes(state.pending_actions), sig_cache=sig_cache)
    return ValidBlock(diff, next_state(state, block, block_id), credit)


def proposal_time(state: ChainState, now_ms: int) -> int:
    """The time a proposer at height + 1 should stamp: its clock, clamped into the bounds."""
    least, greatest = _time_bounds(state)
    t = max(now_ms, least)
    return t if greatest is None else min(t, greatest)


def check_not_future(header: BlockHeader, max_drift_ms: int, now_ms: int) -> None:
    """For nodes: refuse a header stamped further ahead of the local clock than the drift."""
    if header.time_ms > now_ms + max_drift_ms:
        raise HeaderError("time_in_future",
                          f"time {header.time_ms} is ahead of the local clock {now_ms}")


def make_block(
    state: ChainState,
    proposer: PublicKey,
    time_ms: int,
    txs: tuple[BlockTx, ...] = (),
    last_commit: bytes = b"",
    evidence: tuple[bytes, ...] = (),
    actions: tuple[bytes, ...] = (),
) -> Block:
    """A block at state.height + 1 whose header commitments match `state` and its body.

    An installed recovery is put first among the actions if the caller did not; a recovery the
    caller puts first is checked and its voting set used.
    """
    if state.recovery and (not actions or actions[0] != state.recovery):
        actions = (state.recovery, *actions)
    state = state_for_actions(state, actions, time_ms)
    zero = Hash32(bytes(32))
    fields = BlockHeader(
        version=BLOCK_VERSION, chain_id=state.chain_id, height=state.height + 1,
        prev_hash=state.last_block_id, time_ms=time_ms, tx_root=zero,
        validators_hash=validators_hash(state.current.validators),
        next_validators_hash=validators_hash(state.upcoming.validators),
        params_hash=params_hash(state.params), last_commit_hash=zero, evidence_hash=zero,
        actions_hash=zero, proposer=proposer,
    )
    return assemble_block(fields, txs, last_commit, evidence, actions)
