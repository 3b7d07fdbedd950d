"""Block sync: fetch final blocks in ranges from a peer that is ahead, and check each one.

A node that learns (from a handshake, a STATUS, or a vote or proposal for a later height) that
a peer is ahead asks it for `GetBlocks(tip + 1, count)`. Each block in the answer is trusted
only if its commit certificate verifies against the voting set of its height, which the node's
own chain state gives for the next height (`ChainState.voting_set()`, with a carried recovery
applied first), and then only if `validate_block` accepts it. So a peer can waste our time but
can't make us commit anything the validators did not finalize, with one exception the rules
alone can't close: a block that carries a governors' recovery. Such a block waits for the other
peers' word (`RecoveryCheck`) before it is taken.

`SyncTracker` is the bookkeeping: which peer claims to be how far ahead, which peers failed to
deliver what they claimed, and the one request in flight (with a deadline, so a peer that never
answers is not waited on forever). `read_range` answers a peer's request; `store_range` checks
and stores an answer in one worker-thread hop.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from consensus import crypto
from consensus.certificate import InvalidCertificate, verify_certificate
from consensus.chain import ValidBlock, validate_block
from consensus.chainstate import ChainState, carried_recovery, state_for_block
from consensus.codec import block_hash
from consensus.crypto import Verifier
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


def check_certified(state: ChainState, block: Block, certificate: bytes,
                    verify: Verifier = crypto.verify) -> BlockHash:
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
        verify_certificate(certificate, block_id, voters, state.chain_id, header.height, verify)
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


DISTRUST_BASE_S = 5.0  # a peer that did not deliver what it claimed is ignored this long ...
DISTRUST_MAX_S = 300.0  # ... doubling with each failure, up to this
MAX_TRACKED = 1024  # peers whose failures are remembered (the oldest are forgotten first)
SYNCING_LAG = 3  # a peer this many heights ahead or behind us is syncing, not deciding: no
# txs relayed by a node that syncs, no proposals or txs sent to one (its link is for blocks)


class SyncTracker:
    """Peers' claimed tips, which peers have earned our trust, and the one outstanding GetBlocks.

    A tip (from a HELLO, a STATUS, or a vote) is a claim, nothing more.
    A peer asked for blocks it claimed that does not deliver (no answer in time, an empty answer,
    blocks that don't check) loses its claim and is neither asked nor counted in the network's
    tip for a back-off that doubles with each failure (`DISTRUST_BASE_S` to `DISTRUST_MAX_S`).
    Among the peers ahead, the one with the fewest failures is asked first, then the highest
    claim. So a peer that lies about its tip costs a syncing node one timeout per back-off, not
    its sync, and a validator rejoining with an empty store does not wait on the lie.

    A request that times out also halves the next one (`size`), and each delivered answer
    doubles it back up to `batch`: behind a slow link (256 kbit/s carries ~160 KB in the
    timeout, 250 loaded blocks can be megabytes) the node then asks for what can arrive in
    time, instead of timing out on every peer in turn for good.

    The last request that timed out is kept (`late`): its answer, already on its way over the
    slow link, is taken when it comes (checked like any other) instead of being thrown away
    after holding the link for as long as it took; the peer that sent it is trusted again.
    """

    def __init__(self, batch: int = DEFAULT_BATCH, timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.batch = max(1, min(batch, MAX_GET_BLOCKS))
        self.size = self.batch  # blocks asked for now: halved by a timeout, doubled back
        self.timeout_s = timeout_s
        self._clock = clock
        self.claims: dict[PeerId, int] = {}
        self._failures: OrderedDict[PeerId, tuple[int, float]] = OrderedDict()  # (count, until)
        self.inflight: Request | None = None
        self.late: Request | None = None  # the last request that timed out, still welcome
        self.behind_since: float | None = None  # when we first saw a peer ahead of us

    def saw(self, peer: PeerId, height: int) -> None:
        """`peer` claims to have committed at least `height`."""
        if height > self.claims.get(peer, -1):
            self.claims[peer] = height

    def forget(self, peer: PeerId) -> None:
        """`peer` disconnected: its claim goes; its failures are remembered."""
        self.claims.pop(peer, None)
        if self.inflight is not None and self.inflight.peer == peer:
            self.inflight = None
        if self.late is not None and self.late.peer == peer:
            self.late = None

    def trusted(self, peer: PeerId) -> bool:
        record = self._failures.get(peer)
        return record is None or record[1] <= self._clock()

    def failures(self, peer: PeerId) -> int:
        record = self._failures.get(peer)
        return 0 if record is None else record[0]

    def failed(self, peer: PeerId, ours: int) -> None:
        """`peer` did not deliver what it claimed: drop its claim and distrust it a while."""
        count = self.failures(peer) + 1
        pause = min(DISTRUST_MAX_S, DISTRUST_BASE_S * 2 ** (count - 1))
        self._failures[peer] = (count, self._clock() + pause)
        self._failures.move_to_end(peer)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)
        self.claims[peer] = min(self.claims.get(peer, 0), ours)

    def _ahead(self, connected: Collection[PeerId], ours: int) -> list[tuple[int, int, PeerId]]:
        return sorted((self.failures(p), -h, p) for p, h in self.claims.items()
                      if p in connected and h > ours and self.trusted(p))

    def passed(self, height: int, among: Collection[PeerId], need: int) -> bool:
        """Do `need` peers of `among` (the voting set's validators, f + 1 of them: one is
        honest) that we have no reason to doubt claim to have committed `height`? Then
        anything we would send for that height is news to no one: a validator behind a slow
        link keeps its link for sync. No single peer's claim decides it: an outsider with
        fresh keys claiming a far tip would otherwise silence every proposer."""
        return sum(1 for p, h in self.claims.items()
                   if h >= height and p in among and self.trusted(p)) >= need

    def lagging(self, ours: int) -> frozenset[PeerId]:
        """The peers whose claimed tip is `SYNCING_LAG` or more below `ours`: they sync, and
        a proposal or tx for our next height is outside their window, so it only fills their
        link ahead of the blocks they ask for. A deciding peer's claim follows its votes."""
        return frozenset(p for p, h in self.claims.items() if h + SYNCING_LAG <= ours)

    def network_tip(self, connected: Collection[PeerId], ours: int) -> int:
        """The highest tip claimed by a connected peer we have no reason to doubt, or ours."""
        ahead = self._ahead(connected, ours)
        return max([ours, *(-h for _, h, _ in ahead)])

    def busy(self) -> bool:
        req = self.inflight
        if req is None:
            return False
        if self._clock() >= req.deadline:
            self.inflight, self.late = None, req
            self.failed(req.peer, req.start - 1)
            self.size = max(1, req.count // 2)  # maybe a slow link: ask for less next time
            return False
        return True

    def next_request(self, ours: int, connected: Collection[PeerId]) -> Request | None:
        """The request to send now, if a trusted connected peer is ahead and none is in flight."""
        if self.busy():
            return None
        ahead = self._ahead(connected, ours)
        if not ahead:
            return None
        _, minus_height, peer = ahead[0]
        count = min(self.size, -minus_height - ours)
        self.inflight = Request(peer, ours + 1, count, self._clock() + self.timeout_s)
        return self.inflight

    def expects(self, peer: PeerId, start: int) -> bool:
        """Is a BLOCKS answer from `peer` starting at `start` the one we wait for?"""
        return any(req is not None and req.peer == peer and req.start == start
                   for req in (self.inflight, self.late))

    def answered(self, peer: PeerId, start: int, delivered: int) -> bool:
        """True if this BLOCKS answer (of `delivered` blocks) is the one we wait for; an empty
        one counts as a failure to deliver."""
        late = self.late
        if late is not None and late.peer == peer and late.start == start:
            self.late = None
            if delivered:  # slow, not lying: trusted again (its claim comes back with news)
                self._failures.pop(peer, None)
            return True
        req = self.inflight
        if req is None or req.peer != peer or req.start != start:
            return False
        self.inflight = None
        if delivered:
            self._failures.pop(peer, None)
            self.size = min(self.batch, 2 * self.size)
        else:
            self.failed(peer, start - 1)
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
    bug: Exception | None  # our store refused a checked block: log it, nobody to punish
    recovery: tuple[Block, bytes] | None = None  # stopped at a recovery block: corroborate it


def store_range(store: BaseStore, sig_cache: SignatureCache, state: ChainState,
                items: list[tuple[Block, bytes]], signed_height: int | None,
                recovery_ok: int | None = None, verify: Verifier = crypto.verify
                ) -> SyncOutcome:
    """Check and store fetched blocks in order (one worker-thread hop); stop at a bad one, and
    before a block that carries a recovery, unless it is at `recovery_ok` (see RecoveryCheck).

    Each block is still its own atomic batch, with the tip and chain state in it, but only
    the last one written (and any block at `signed_height`, the height this validator last
    signed at) is synced: LevelDB's log is sequential, so that synced write makes the earlier
    ones durable too, and a crash before it loses at most a suffix of blocks, which are fetched
    again; the store reopens on an older, consistent tip.
    """
    done: list[tuple[Block, BlockHash, bytes, ValidBlock]] = []
    problem: str | None = None
    bug: Exception | None = None
    recovery: tuple[Block, bytes] | None = None
    durable = True  # is the last block written synced?
    for n, (block, certificate) in enumerate(items):
        height = block.header.height
        try:
            block_id = check_certified(state, block, certificate, verify)
            if height != recovery_ok and carried_recovery(block) is not None:
                recovery = (block, certificate)
                break
            valid = validate_block(state, block, block_id, store, sig_cache=sig_cache,
                                   verify=verify)
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
            bug = exc
            break
        durable = synced
        done.append((block, block_id, certificate, valid))
        state = valid.state
    if done and not durable:
        store.flush()  # stopped early: the blocks written so far become durable
    return SyncOutcome(done, problem, bug, recovery)


@dataclass
class RecoveryCheck:
    """A recovery block that sync was offered, held until the other peers have had their say.

    Why: a block that carries a recovery installs a voting set t governors chose, and a node
    syncing old history checks the recovery's wait against that block's own time, so the block
    alone can't show whether the real chain had stalled there. Governor keys, retired ones
    included, could otherwise rewrite history for any node syncing from genesis. The other
    peers can show it: if any holds a block at that height certified by the old voting set,
    the chain never stalled, and that block is the one to take. So the node asks every other
    connected peer for that height and takes the recovery block only if none shows an old-set
    block and none a different recovery (docs/GOVERNANCE.md, "What a syncing node trusts").
    """

    height: int
    block: Block
    certificate: bytes
    offered_by: PeerId
    waiting: set[PeerId]
    deadline: float  # monotonic seconds
    answers: list[tuple[PeerId, Block, bytes]] = field(default_factory=list)

    def expects(self, peer: PeerId, start: int) -> bool:
        return peer in self.waiting and start == self.height

    def take(self, peer: PeerId, answer: tuple[Block, bytes] | None) -> None:
        self.waiting.discard(peer)
        if answer is not None and answer[0].header.height == self.height:
            self.answers.append((peer, *answer))

    def settled(self, now: float) -> bool:
        return not self.waiting or now >= self.deadline

    def decide(self, state: ChainState) -> tuple[str, tuple[Block, bytes] | None, PeerId | None]:
        """("plain", block, its peer): an old-set block wins; ("recovery", the offered block,
        None): nobody contradicts it; ("conflict", None, None): two different recoveries."""
        offered = block_hash(self.block.header)
        for peer, block, certificate in self.answers:
            if carried_recovery(block) is None and _certifies(state, block, certificate):
                return "plain", (block, certificate), peer
        for _, block, certificate in self.answers:
            if block_hash(block.header) != offered and _certifies(state, block, certificate):
                return "conflict", None, None
        return "recovery", (self.block, self.certificate), None


def _certifies(state: ChainState, block: Block, certificate: bytes) -> bool:
    try:
        check_certified(state, block, certificate)
    except SyncError:
        return False
    return True
