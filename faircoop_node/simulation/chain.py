"""The application inside the simulator: build, judge and apply blocks.

The engine is value-agnostic; something must build blocks, judge them and say who votes at the
next height. In the node that is the ledger plus `consensus.chainstate`. Here it is `ChainRules`,
a small protocol with two implementations:

- `StaticRules`: a fixed validator set and rotation, the chain state reduced to (height, tip).
- `ChainStateRules` (in `chainstate_rules.py`): drives `consensus.chainstate`, so validator sets,
  quarantine and evidence-driven suspension come from the real chain-state rules.

`make_rules` picks the second when `consensus.chainstate` exists. Blocks are real blocks made by
`consensus.ledger.assemble_block`; the simulator keeps them empty of transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from consensus.certificate import InvalidCertificate, verify_certificate
from consensus.codec import block_hash, params_hash, validators_hash
from consensus.errors import DecodeError, FaircoopError, ValidationError
from consensus.evidence import decode_evidence
from consensus.ledger import assemble_block, check_block_body
from consensus.params import ChainParams
from consensus.types import (
    BLOCK_VERSION,
    Block,
    BlockHash,
    BlockHeader,
    Genesis,
    Hash32,
    PublicKey,
    Validator,
)

ZERO32 = Hash32(bytes(32))


@dataclass(frozen=True, slots=True)
class ChainView:
    """What a node knows after committing `height`: enough to decide `height + 1`."""

    chain_id: str
    height: int  # the last committed height (0 = genesis)
    tip: BlockHash  # its hash
    validators: tuple[Validator, ...]  # the voting set of height + 1, certificate index order
    proposers: tuple[PublicKey, ...]  # the proposer rotation of height + 1
    params: ChainParams
    last_commit: bytes  # this node's certificate of `height` (empty at genesis)
    last_validators: tuple[PublicKey, ...]  # the set that certified `height`
    state: object = None  # the chain-state value, when the rules keep one

    @property
    def voting_keys(self) -> tuple[PublicKey, ...]:
        return tuple(v.pubkey for v in self.validators)


class ChainRules(Protocol):
    """The application, as the simulator needs it."""

    def genesis_view(self) -> ChainView: ...

    def build_block(
        self, view: ChainView, proposer: PublicKey, time_ms: int, evidence: tuple[bytes, ...]
    ) -> Block: ...

    def check_block(self, view: ChainView, block: Block) -> bool: ...

    def advance(self, view: ChainView, block: Block, block_id: BlockHash, cert: bytes) -> ChainView:
        ...


def header_for(view: ChainView, proposer: PublicKey, time_ms: int) -> BlockHeader:
    """A header for height + 1 whose commitments `assemble_block` fills in."""
    vhash = validators_hash(view.validators)
    return BlockHeader(
        version=BLOCK_VERSION,
        chain_id=view.chain_id,
        height=view.height + 1,
        prev_hash=view.tip,
        time_ms=time_ms,
        tx_root=ZERO32,
        validators_hash=vhash,
        next_validators_hash=vhash,
        params_hash=params_hash(view.params),
        last_commit_hash=ZERO32,
        evidence_hash=ZERO32,
        actions_hash=ZERO32,
        proposer=proposer,
    )


def check_common(view: ChainView, block: Block) -> bool:
    """Checks every rule set shares: linkage, proposer, body commitments, the last commit."""
    h = block.header
    if h.chain_id != view.chain_id or h.height != view.height + 1 or h.prev_hash != view.tip:
        return False
    if h.proposer not in view.voting_keys:
        return False
    try:
        check_block_body(block, view.params)
        for item in block.evidence:
            decode_evidence(item)
    except (ValidationError, DecodeError):
        return False
    if view.height == 0:
        return block.last_commit == b""
    # any quorum of the previous height's precommits will do, not only the one we collected
    try:
        verify_certificate(
            block.last_commit, view.tip, view.last_validators, view.chain_id, view.height
        )
    except InvalidCertificate:
        return False
    return True


class StaticRules:
    """One validator set for ever; the chain state is (height, tip, last commit)."""

    def __init__(self, genesis: Genesis, genesis_id: BlockHash) -> None:
        self.genesis = genesis
        self.genesis_id = genesis_id

    def genesis_view(self) -> ChainView:
        vs = self.genesis.validators
        return ChainView(
            chain_id=self.genesis.chain_id, height=0, tip=self.genesis_id, validators=vs,
            proposers=tuple(v.pubkey for v in vs), params=self.genesis.params, last_commit=b"",
            last_validators=(),
        )

    def build_block(
        self, view: ChainView, proposer: PublicKey, time_ms: int, evidence: tuple[bytes, ...]
    ) -> Block:
        return assemble_block(header_for(view, proposer, time_ms), (), view.last_commit, evidence)

    def check_block(self, view: ChainView, block: Block) -> bool:
        h = block.header
        return check_common(view, block) and h.validators_hash == validators_hash(view.validators)

    def advance(self, view: ChainView, block: Block, block_id: BlockHash, cert: bytes) -> ChainView:
        return replace(view, height=view.height + 1, tip=block_id, last_commit=cert,
                       last_validators=view.voting_keys)


class SyncError(FaircoopError):
    """A block offered by a peer that does not extend our chain with a valid certificate."""


def verify_synced_block(
    rules: ChainRules, view: ChainView, block: Block, cert: bytes
) -> BlockHash:
    """The block's id if it is the next block of `view` and `cert` proves it final."""
    block_id = block_hash(block.header)
    if block.header.height != view.height + 1 or block.header.prev_hash != view.tip:
        raise SyncError("block does not extend our tip")
    try:
        verify_certificate(cert, block_id, view.voting_keys, view.chain_id, view.height + 1)
    except InvalidCertificate as exc:
        raise SyncError(f"certificate: {exc}") from None
    if not rules.check_block(view, block):
        raise SyncError("block fails the chain rules")
    return block_id
