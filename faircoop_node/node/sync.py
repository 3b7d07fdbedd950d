"""Block sync: fetch final blocks in ranges from a peer that is ahead, and check each one.

A node that learns (from a handshake, a STATUS, or a vote or proposal for a later height) that
a peer is ahead asks it for `GetBlocks(tip + 1, count)`. Each block in the answer is trusted
only if its commit certificate verifies against the voting set of its height, which the node's
own chain state gives for the next height (`ChainState.voting_set()`, with a carried recovery
applied first), and then only if `validate_block` accepts it. So a peer can waste our time but
can't make us commit anything the validators did not finalize.

`SyncTracker` is the bookkeeping: which peer is how far ahead, and the one request in flight
(with a deadline, so a peer that never answers is not waited on forever). `read_range` answers
a peer's request; `store_range` checks and stores an answer in one worker-thread hop.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.certificate import InvalidCertificate, verify_certificate
from consensus.chain import ValidBlock, validate_block
from consensus.chainstate import ChainState, state_for_block
from consensus.codec import block_hash
from consensus.errors import DecodeError, FaircoopError, ValidationError
from consensus.ledger import SignatureCache
from consensus.types import Block, BlockHash
from faircoop_node.net.envelope import MAX_GET_BLOCKS, BlockRange, CertifiedBlock, GetBlocks
from faircoop_node.net.transport import PeerId
from faircoop_node.node.commit import store_block
from faircoop_node.storage.base import BaseStore

DEFAULT_BATCH = 250  # blocks per request: empty blocks are ~1 KB with their certificate
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a BLOCKS answer stops growing past this


class SyncError(FaircoopError):
    """A block a peer offered that does not extend our chain with a valid certificate."""


def check_certified(state: ChainState, block: Block, certificate: bytes) -> BlockHash:
    """The block's id if it is the next block after `state` and `certificate` proves it final.

    Only the header linkage and the certificate are checked here; the caller runs
    `validate_block` for everything else.
    """
    header = block.header
    block_id = block_hash(header)
    if header.height != state.height + 1 or header.prev_hash != state.last_block_id:
        raise SyncError(f"block {header.height} does not extend our tip {state.height}")
    try:
        voters = state_for_block(state, block).voting_set()
        verify_certificate(certificate, block_id, voters, state.chain_id, header.height)
    except InvalidCertificate as exc:
        raise SyncError(f"block {header.height}: {exc}") from None
    except FaircoopError as exc:
        raise SyncError(f"block {header.height}: {exc}") from None
    return block_id


@dataclass(frozen=True, slots=True)
class Request:
    peer: PeerId
    start: int
    count: int
    deadline: float  # monotonic seconds


class SyncTracker:
    """Peers' known tips and the one outstanding GetBlocks."""

    def __init__(self, batch: int = DEFAULT_BATCH, timeout_s: float = 5.0) -> None:
        self.batch = max(1, min(batch, MAX_GET_BLOCKS))
        self.timeout_s = timeout_s
        self.tips: dict[PeerId, int] = {}
        self.inflight: Request | None = None
        self.behind_since: float | None = None  # when we first saw a peer ahead of us

    def saw(self, peer: PeerId, height: int) -> None:
        """`peer` has committed at least `height`."""
        if height > self.tips.get(peer, -1):
            self.tips[peer] = height

    def forget(self, peer: PeerId) -> None:
        self.tips.pop(peer, None)
        if self.inflight is not None and self.inflight.peer == peer:
            self.inflight = None

    def best(self, connected: set[PeerId]) -> tuple[PeerId, int] | None:
        live = [(h, p) for p, h in self.tips.items() if p in connected]
        if not live:
            return None
        h, p = max(live)
        return p, h

    def network_tip(self, connected: set[PeerId], ours: int) -> int:
        found = self.best(connected)
        return max(ours, found[1]) if found else ours

    def busy(self, now: float) -> bool:
        if self.inflight is None:
            return False
        if now >= self.inflight.deadline:
            self.inflight = None
            return False
        return True

    def next_request(self, ours: int, connected: set[PeerId], now: float) -> Request | None:
        """The request to send now, if a connected peer is ahead and none is in flight."""
        if self.busy(now):
            return None
        found = self.best(connected)
        if found is None or found[1] <= ours:
            return None
        peer, height = found
        count = min(self.batch, height - ours)
        self.inflight = Request(peer, ours + 1, count, now + self.timeout_s)
        return self.inflight

    def answered(self, peer: PeerId, start: int) -> bool:
        """True if this BLOCKS answer is the one we wait for (then nothing is in flight)."""
        req = self.inflight
        if req is None or req.peer != peer or req.start != start:
            return False
        self.inflight = None
        return True


def get_blocks_for(req: Request) -> GetBlocks:
    return GetBlocks(req.start, req.count)


def read_range(store: BaseStore, start: int, last: int) -> BlockRange:
    """Stored blocks `start..last` with their certificates, up to `MAX_RESPONSE_BYTES`."""
    out: list[CertifiedBlock] = []
    size = 0
    for height in range(start, last + 1):
        block_id = store.get_hash_at(height)
        if block_id is None:
            break
        raw = store.get_block_bytes(block_id)
        cert = store.get_certificate(height)
        if raw is None or cert is None:
            break
        size += len(raw) + len(cert) + 16
        if out and size > MAX_RESPONSE_BYTES:
            break
        out.append(CertifiedBlock(raw, cert))
    return BlockRange(start, tuple(out))


@dataclass
class SyncOutcome:
    """What `store_range` stored (in order), and why it stopped early, if it did."""

    done: list[tuple[Block, BlockHash, bytes, ValidBlock]]
    problem: str | None  # the peer sent a block that does not check: punish it
    bug: str | None  # our store refused a checked block: log it, nobody to punish


def store_range(store: BaseStore, sig_cache: SignatureCache, state: ChainState,
                items: list[tuple[Block, bytes]], signed_height: int | None) -> SyncOutcome:
    """Check and store fetched blocks in order (one worker-thread hop); stop at a bad one.

    Each block is still its own atomic batch, with the tip and chain state in it, but only
    the last one written (and any block at `signed_height`, the height this validator last
    signed at) is synced: LevelDB's log is sequential, so that synced write makes the earlier
    ones durable too, and a crash before it loses at most a suffix of blocks, which are fetched
    again; the store reopens on an older, consistent tip.
    """
    done: list[tuple[Block, BlockHash, bytes, ValidBlock]] = []
    problem: str | None = None
    bug: str | None = None
    durable = True  # is the last block written synced?
    for n, (block, certificate) in enumerate(items):
        height = block.header.height
        try:
            block_id = check_certified(state, block, certificate)
            valid = validate_block(state, block, block_id, store, sig_cache=sig_cache)
        except SyncError as exc:
            problem = str(exc)
            break
        except (ValidationError, DecodeError) as exc:
            problem = f"certified block {height} is invalid: {exc}"
            break
        synced = n == len(items) - 1 or height == signed_height
        try:
            store_block(store, state, block, block_id, certificate, valid, sync=synced)
        except Exception as exc:  # our store refused: not the peer's fault
            bug = f"{type(exc).__name__}: {exc}"
            break
        durable = synced
        done.append((block, block_id, certificate, valid))
        state = valid.state
    if done and not durable:
        store.flush()  # stopped early: the blocks written so far become durable
    return SyncOutcome(done, problem, bug)
