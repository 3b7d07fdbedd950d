"""The node's implementations of the consensus driver's ports: LevelDB, sockets, the clock.

Each is a thin adapter. Heavy calls (block validation, the commit's write batch, the synced
last-signed write) run in a worker thread while the driver's task waits, so they never stall
the event loop that serves peers and the API, and never run two at once. Light ones run on
the loop: a thread hop costs about 0.1 ms of CPU on an idle machine and over 1 ms on a
saturated one (the GIL passes twice and the loop is woken through its self-pipe), more than
validating a block of a few txs or a synced write to a fast disk (see `StoreLedger`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from consensus.chain import ValidBlock, validate_block
from consensus.chainstate import ChainState
from consensus.crypto import VerifiedMemo
from consensus.evidence import DuplicateVoteEvidence, encode_evidence
from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, BlockTx
from consensus.votes import Proposal, Vote, encode_vote
from faircoop_node.mempool import Mempool
from faircoop_node.net.envelope import MsgType, ProposalMessage, encode_proposal_message
from faircoop_node.net.transport import PeerId, Transport
from faircoop_node.node.commit import store_block
from faircoop_node.node.gossip import SeenCache
from faircoop_node.storage.base import BaseStore

INLINE_TXS = 1_000  # a block with at most this many txs is validated (and committed) on the loop
INLINE_SYNC_S = 0.002  # ... and synced writes too, while the last one took less than this
PROBE_S = 5.0  # how long synced writes stay in the thread before one is timed on the loop again


class StoreLedger:
    """`Ledger` over the node's store; `in_thread=False` keeps everything on the caller's
    thread (tests that want one thread).

    With `in_thread`, what is small stays on the loop: validating a block of at most
    `INLINE_TXS` txs, and synced writes (the last-signed record, a small block's commit)
    while the last last-signed write timed on the loop took under `INLINE_SYNC_S`. Each of a
    validator's heights has two last-signed writes, a validation and a commit; at 16 and 50
    validators on one machine their thread hops were 15% and 12% of the idle CPU, and under
    load a hop also makes the work wait for the GIL. `INLINE_TXS` bounds the loop's pause: a
    block of 1,000 txs takes about 0.1 s to validate and commit here.

    A slow disk sends synced writes to the thread. A write timed *there* does not bring them
    back: its time includes the wait to get the GIL back from a busy loop (measured: a 0.16 ms
    write read 5.5 ms, the interpreter's switch interval), so under load a fast disk looked
    slow for ever. Instead, `PROBE_S` after a slow write, one write is timed on the loop again:
    the disk's own pace decides."""

    def __init__(self, store: BaseStore, sig_cache: SignatureCache, sigs: VerifiedMemo,
                 in_thread: bool = True) -> None:
        self._store = store
        self._sig_cache = sig_cache
        self._sigs = sigs
        self._in_thread = in_thread
        self.sync_s = 0.0  # how long the last synced write timed on the loop took
        self._probe_at = 0.0  # when writes sent to the thread try the loop again

    async def _run(self, fn: Callable[..., object], *args: object, inline: bool = False,
                   **kwargs: object) -> object:
        if self._in_thread and not inline:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    def _put_last_signed(self, record: bytes) -> None:
        """The synced write of a few hundred bytes, on the loop: timed into `sync_s` (the
        disk's pace); a slow one sends the next `PROBE_S` of synced writes to the thread."""
        start = time.perf_counter()
        try:
            self._store.put_last_signed(record)
        finally:
            end = time.perf_counter()
            self.sync_s = end - start
            if self.sync_s >= INLINE_SYNC_S:
                self._probe_at = end + PROBE_S

    def _fast_disk(self) -> bool:
        return self.sync_s < INLINE_SYNC_S

    async def validate(self, state: ChainState, block: Block, block_id: BlockHash) -> ValidBlock:
        valid = await self._run(validate_block, state, block, block_id, self._store,
                                sig_cache=self._sig_cache, verify=self._sigs.verify,
                                inline=len(block.txs) <= INLINE_TXS)
        assert isinstance(valid, ValidBlock)
        return valid

    async def commit(self, state: ChainState, block: Block, block_id: BlockHash,
                     certificate: bytes, valid: ValidBlock) -> None:
        await self._run(store_block, self._store, state, block, block_id, certificate, valid,
                        inline=len(block.txs) <= INLINE_TXS and self._fast_disk())

    async def write_signed(self, record: bytes) -> None:
        on_loop = self._fast_disk() or time.perf_counter() >= self._probe_at
        await self._run(self._put_last_signed if on_loop else self._store.put_last_signed,
                        record, inline=on_loop)


class TransportOutbox:
    """`Outbox` over the transport; what we send is marked seen, so its echo is not relayed.
    `last_sent_mono` is when we last broadcast something we signed: it told every peer our
    height, so a STATUS is not due before `NodeOptions.status_s` has passed since then.

    Behind a slow link (issue 20), proposals, hundreds of KB each under load, are kept off
    links where they are news to no one: ours is not sent at all once f + 1 validators say
    they committed its height (`passed`: we are behind, and it would go ahead of our sync
    requests), and
    not to validators that are syncing (`lagging`, `PeerMessages.lagging`). Not sending is
    what a lost message does: the engine's state, and so safety, are untouched. `withheld`
    counts the proposals not sent at all."""

    def __init__(self, transport: Callable[[], Transport | None], seen: SeenCache,
                 monotonic: Callable[[], float],
                 passed: Callable[[int], bool] = lambda height: False,
                 lagging: Callable[[], frozenset[PeerId]] = frozenset) -> None:
        self._transport = transport
        self._seen = seen
        self._monotonic = monotonic
        self._passed = passed
        self._lagging = lagging
        self.last_sent_mono = 0.0
        self.withheld = 0

    def proposal(self, proposal: Proposal, block: Block, raw_proposal: bytes,
                 raw_block: bytes, to: bytes | None = None) -> None:
        if self._passed(proposal.height):
            self.withheld += 1
            return
        skip = self._lagging()
        self._send(MsgType.PROPOSAL, proposal.signature,
                   encode_proposal_message(ProposalMessage(raw_proposal, raw_block)), to, skip)

    def vote(self, vote: Vote, to: bytes | None = None) -> None:
        self._send(MsgType.VOTE, vote.signature, encode_vote(vote), to)

    def _send(self, msg_type: MsgType, signature: bytes, payload: bytes,
              to: bytes | None, skip: frozenset[PeerId] = frozenset()) -> None:
        t = self._transport()
        if t is None:
            return
        self._seen.add(signature)
        if to is None:
            t.broadcast(msg_type, payload, skip)
            self.last_sent_mono = self._monotonic()
        else:
            t.send(PeerId(to), msg_type, payload)

    def evidence(self, evidence: DuplicateVoteEvidence, exclude: bytes | None) -> None:
        t = self._transport()
        if t is not None:
            skip = frozenset() if exclude is None else frozenset({PeerId(exclude)})
            t.broadcast(MsgType.EVIDENCE, encode_evidence(evidence), skip)


class SystemClock:
    """The wall clock (or an injected one, for tests that move time) and `time.monotonic`."""

    def __init__(self, now_ms: Callable[[], int] | None = None) -> None:
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))

    def now_ms(self) -> int:
        return self._now_ms()

    def monotonic(self) -> float:
        return time.monotonic()


class StorePool:
    """`TxPool` over the node's mempool, re-admitting against the store."""

    def __init__(self, mempool: Mempool, store: BaseStore) -> None:
        self.mempool = mempool
        self._store = store

    def __len__(self) -> int:
        return len(self.mempool)

    def select(self, max_txs: int, max_bytes: int) -> list[BlockTx]:
        return self.mempool.select(max_txs, max_bytes)

    def remove_committed(self, txs: Sequence[BlockTx]) -> int:
        return self.mempool.remove_committed(txs)

    def revalidate(self, params: ChainParams) -> int:
        return self.mempool.readmit_all(self._store, params)
