"""Peers' messages: judged as they arrive, relayed if they pass, queued for the driver if useful.

The transport hands over `(peer, type, payload)`. Everything a payload needs before it may cost
the node more than a decode runs here, on the event loop, cheapest check first (the rules are
in `admission.py`): a vote or proposal is relayed only after its signature checks, a proposed
block is decoded only after its header does, evidence is pooled only if a block could punish
it, relayed txs are admitted a slice at a time, and a GET_BLOCKS is answered off the consensus
loop. What the driver must act on (votes, proposals, block ranges) comes back as `Work` for the
node's one queue, where each peer's share is bounded (`inflow.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from consensus.chainstate import ChainState
from consensus.codec import decode_block, decode_block_tx, encode_tx, txid
from consensus.engine import ProposalReceived
from consensus.errors import DecodeError, ValidationError
from consensus.evidence import decode_evidence
from consensus.quorum import quorum_size
from consensus.types import BlockTx, TxId
from consensus.votes import decode_proposal, decode_vote
from faircoop_node.mempool import Mempool
from faircoop_node.net.envelope import (
    MsgType,
    decode_actions,
    decode_block_range,
    decode_proposal_message,
    decode_status,
    decode_txs,
    encode_actions,
    encode_txs,
    neighbor_bits,
    neighbors_from_bits,
)
from faircoop_node.net.transport import PeerId, Transport
from faircoop_node.node.admission import (
    Judgement,
    Verdict,
    judge_action,
    judge_proposal,
    judge_vote,
    tx_is_senders_fault,
)
from faircoop_node.node.counters import NodeCounters
from faircoop_node.node.driver import ConsensusDriver
from faircoop_node.node.gossip import TX_BATCH, SeenCache, TxIntake, TxRelay
from faircoop_node.node.serve import BlockServer
from faircoop_node.node.sync import SYNCING_LAG, SyncTracker
from faircoop_node.storage.base import BaseStore

INLINE_DECODE_BYTES = 256 * 1024  # larger proposed blocks are decoded in a worker thread
GONE_KEPT = 256  # disconnected peers whose last STATUS is kept (a reconnect race; see forget)
POOL_OFFER_TXS = 5_000  # txs a newly connected peer is offered from our pool, at most ...
POOL_OFFER_BYTES = 4 * 1024 * 1024  # ... and bytes (its intake takes 10,000 / 32 MiB)
TX_PROPOSERS = 4  # the connected validators next in proposer order that a new tx is sent to
POOL_RESEND_S = 10.0  # a tx still pooled after this long is sent to the next proposers again


@dataclass(slots=True)
class Work:
    """An item of the node's one queue: a peer's message the driver (or catch-up) must act on
    (then `peer` and `size`, its share of the queue, are set), a timeout, a tick, ..."""

    kind: str  # "vote", "proposal", "blocks", "timeout", "peer", "tick", "start", "stop"
    payload: Any = None
    peer: PeerId | None = None
    size: int = 0


class PeerMessages:
    """Judges, relays and routes what peers send. `punish` and `expects_blocks` come from the
    node (the transport's ban, and whether catch-up asked for a range)."""

    def __init__(self, driver: ConsensusDriver, store: BaseStore, mempool: Mempool,
                 transport: Callable[[], Transport | None], punish: Callable[[PeerId, str], None],
                 saw_tip: Callable[[PeerId, int], None],
                 expects_blocks: Callable[[PeerId, int], bool], server: BlockServer,
                 seen: SeenCache, counters: NodeCounters, sync: SyncTracker | None = None,
                 pooled: Callable[[], None] = lambda: None) -> None:
        self.driver = driver
        self._pooled = pooled  # told when txs enter the pool (the production gate's clock)
        self._sync = sync  # who is far ahead or behind: see `_syncing`, `lagging`
        self._store = store
        self._mempool = mempool
        self._transport = transport
        self._punish = punish
        self._saw_tip = saw_tip
        self._expects_blocks = expects_blocks
        self._server = server
        self.seen = seen
        self.relay = TxRelay(self._send_txs)
        self.intake = TxIntake(self._admit_relayed)
        self._voting_peers: tuple[ChainState, frozenset[PeerId]] | None = None
        # each peer's last announced direct neighbors: (its tip, bitfield over tip + 1's set),
        # and the same decoded, as keys (a set changes rarely: the keys stay good across heights)
        self._neighbors: dict[PeerId, tuple[int, bytes]] = {}
        self._decoded: dict[PeerId, frozenset[bytes]] = {}
        self._holders: dict[bytes, frozenset[PeerId]] = {}  # signer -> peers that neighbor it
        self._gone: dict[PeerId, None] = {}  # disconnected peers whose news we keep, oldest first
        self._counters = counters
        self._stale: set[TxId] = set()  # the pool's txids at the last `resend_stale`
        self.stopping = False

    async def admit(self, peer: PeerId, msg_type: MsgType, payload: bytes) -> Work | None:
        """What must happen with a peer's message, if anything; DecodeError for junk."""
        size = len(payload)
        if msg_type == MsgType.TXS:
            self.intake.add(peer, decode_txs(payload))  # admitted a slice at a time
        elif msg_type == MsgType.STATUS:
            status = decode_status(payload)
            self._saw_tip(peer, status.height)
            self._neighbors[peer] = (status.height, status.neighbors)
            self._decoded.pop(peer, None)
            self._holders.clear()
            self._gone.pop(peer, None)
        elif msg_type == MsgType.GET_BLOCKS:
            self._server.request(peer, payload)
        elif msg_type == MsgType.VOTE:
            return self._vote(peer, payload)
        elif msg_type == MsgType.PROPOSAL:
            return await self._proposal(peer, payload)
        elif msg_type == MsgType.EVIDENCE:
            self._judged(peer, self.driver.pool_evidence(decode_evidence(payload), peer))
        elif msg_type == MsgType.ACTIONS:
            self._actions(peer, decode_actions(payload))
        elif msg_type == MsgType.BLOCKS:
            answer = decode_block_range(payload)
            if self._expects_blocks(peer, answer.start):
                return Work("blocks", answer, peer, size)
            self._counters.dropped += 1  # unasked, or too late: ignored rather than judged
        else:  # BLOCK: nothing sends it
            self._punish(peer, f"unexpected {msg_type.name} message")
        return None

    def _judged(self, peer: PeerId, judgement: Judgement) -> bool:
        if judgement.verdict == Verdict.PUNISH:
            self._punish(peer, judgement.reason)
        elif judgement.verdict == Verdict.DROP:
            self._counters.dropped += 1
        return judgement.verdict == Verdict.ACCEPT

    def _vote(self, peer: PeerId, payload: bytes) -> Work | None:
        vote = decode_vote(payload)
        judgement = judge_vote(self.driver.frontier(), vote, self.driver.sigs.verify)
        if judgement.verdict == Verdict.DROP and vote.height > self.driver.state.height + 2:
            # signed past our window: the peer holds the blocks below it, and we fell behind
            # with our links up (deciding validators send no STATUS, so without this a node
            # that missed a few heights never learned it had to sync). An unchecked claim, as
            # a STATUS is: a peer that does not deliver it is distrusted (sync.py).
            self._saw_tip(peer, vote.height - 1)
        if not self._judged(peer, judgement):
            return None
        self._saw_tip(peer, vote.height - 1)  # a validator signed at that height
        transport = self._transport()
        if self.seen.add(vote.signature) and judgement.relay and transport is not None:
            self._counters.relayed_consensus += transport.broadcast(
                MsgType.VOTE, payload, self._have_it(vote.validator, peer))
        return Work("vote", vote, peer, len(payload))

    async def _proposal(self, peer: PeerId, payload: bytes) -> Work | None:
        msg = decode_proposal_message(payload)
        proposal = decode_proposal(msg.proposal)
        held = self.driver.held_proposal(proposal)
        if held is not None:  # a copy (re-sent on a stall): no work, no relay
            return Work("proposal", held, peer, len(payload))
        judgement = judge_proposal(self.driver.frontier(), proposal, msg.block,
                                   self.driver.slot_taken, self.driver.sigs.verify)
        if not self._judged(peer, judgement):
            return None
        # the header checked out against the signed id: only now is the body worth decoding
        block = decode_block(msg.block) if len(msg.block) <= INLINE_DECODE_BYTES else \
            await asyncio.to_thread(decode_block, msg.block)
        received = ProposalReceived(proposal, block)
        if not self.driver.take_proposal(received, msg.proposal, msg.block):
            return None  # another copy won the race while this one was decoded
        self.seen.add(proposal.signature)
        self._saw_tip(peer, proposal.height - 1)
        transport = self._transport()
        if transport is not None:
            self._counters.relayed_consensus += transport.broadcast(
                MsgType.PROPOSAL, payload, self._have_it(proposal.proposer, peer) | self.lagging())
        return Work("proposal", received, peer, len(payload))

    def _have_it(self, signer: bytes, sender: PeerId) -> frozenset[PeerId]:
        """The peers a message signed by `signer` is not relayed to, because they have it:
        the peer it came from, the signer, and every peer that announced the signer among
        its direct neighbors (the signer sent it to them first-hand). In a full mesh that is
        every peer: each vote crosses each link once, from its signer."""
        holders = self._holders.get(signer)
        if holders is None:
            found, complete = set(), True
            for peer in self._neighbors:
                keys = self._neighbor_keys(peer)
                if keys is None:
                    complete = False
                elif signer in keys:
                    found.add(peer)
            holders = frozenset(found)
            if complete:  # else asked again on the next message (see _neighbor_keys)
                self._holders[signer] = holders
        return holders | {sender, PeerId(signer)}

    def _neighbor_keys(self, peer: PeerId) -> frozenset[bytes] | None:
        """The validators `peer` last said it reaches directly, decoded against the voting set
        of the height its bits refer to; None while that set is unknown to us (a peer ahead
        of us): it is then taken to reach no one (we relay to it), and asked again on the
        next message. (Keeping an empty decode left it empty until the peer's next STATUS,
        which a deciding validator may never send: every vote was relayed to it.)"""
        keys = self._decoded.get(peer)
        if keys is None:
            height, bits = self._neighbors[peer]
            voters = self.driver.state.validators_at(height + 1)
            if voters is None:
                return None
            keys = self._decoded[peer] = neighbors_from_bits(voters, bits)
        return keys

    def forget(self, peer: PeerId) -> None:
        """`peer` disconnected. What it last said of its neighbors is kept (the newest
        `GONE_KEPT` such peers): when two connections to one peer race, our side may see the
        peer leave and come back while the peer saw nothing and won't say it again, and
        forgetting would make us relay to it every vote its neighbors sent it first-hand.
        A peer that really reconnects sends a fresh STATUS at once."""
        if peer not in self._neighbors:
            return
        self._gone[peer] = None
        while len(self._gone) > GONE_KEPT:
            oldest = next(iter(self._gone))
            del self._gone[oldest]
            self._neighbors.pop(oldest, None)
            self._decoded.pop(oldest, None)
            self._holders.clear()

    def neighbors(self) -> bytes:
        """Our own `Status.neighbors`: which validators of the next height we reach directly."""
        transport = self._transport()
        connected = {p.node_id for p in transport.peers()} if transport is not None else set()
        return neighbor_bits(self.driver.state.voting_set(), connected)

    # -- governance actions ---------------------------------------------------------------------

    def _actions(self, peer: PeerId, raws: tuple[bytes, ...]) -> None:
        fresh = []
        for raw in raws:
            judgement, action = judge_action(self.driver.state, raw, self.driver.held_actions())
            if not self._judged(peer, judgement):
                if judgement.verdict == Verdict.PUNISH:
                    return  # the rest of the frame is not worth a look
                continue
            assert action is not None
            if self.driver.pool_action(raw, action):
                fresh.append(raw)
        if fresh:
            self.gossip_actions(tuple(fresh), frozenset({peer}))

    def submit_action(self, raw: bytes) -> str:
        """An action from the API: checked as a peer's would be, pooled and gossiped to every
        peer. "pooled", or "already_pooled"; ValidationError (with the rule) says why not."""
        judgement, action = judge_action(self.driver.state, raw, self.driver.held_actions())
        if judgement.reason == "action already pooled":
            return "already_pooled"
        if judgement.verdict != Verdict.ACCEPT or action is None:
            raise ValidationError(judgement.rule or "refused", judgement.reason)
        if not self.driver.pool_action(raw, action):
            raise ValidationError("pool_full", "the node holds as many actions as it keeps")
        self.gossip_actions((raw,), frozenset())
        return "pooled"

    def gossip_actions(self, raws: tuple[bytes, ...], exclude: frozenset[PeerId]) -> None:
        transport = self._transport()
        if transport is not None and not self.stopping:
            transport.broadcast(MsgType.ACTIONS, encode_actions(raws), exclude)

    # -- transactions -------------------------------------------------------------------------

    def submit(self, tx: BlockTx) -> TxId:
        """A tx from the API: admitted (ValidationError says why not) and relayed."""
        entry = self._mempool.add(tx, self._store, self.driver.state.params)
        self._pooled()
        self.seen.add(entry.txid)
        self.relay.add((encode_tx(tx),), frozenset())
        return entry.txid

    def _admit_relayed(self, peer: PeerId, raws: Sequence[bytes]) -> bool:
        """Admit a slice of a peer's relayed txs (in the order sent: a parent before its
        child) and relay the new ones on (see `_relay_exclude`); False if the peer sent junk."""
        fresh: list[bytes] = []
        for raw in raws:
            try:
                tx = decode_block_tx(raw)
            except DecodeError as exc:
                self._punish(peer, f"bad tx: {exc}")
                return False
            if txid(tx) in self._mempool:
                continue  # another peer's copy came first (the usual case in a mesh)
            try:
                entry = self._mempool.add(tx, self._store, self.driver.state.params)
            except ValidationError as exc:
                if tx_is_senders_fault(exc):  # an honest node relays only txs it admitted
                    self._punish(peer, f"relayed an invalid tx: {exc.rule}")
                    return False
                continue  # stale, conflicting or already pooled: gossip races, not malice
            self.seen.add(entry.txid)
            fresh.append(raw)
        if fresh:
            self._pooled()
        if fresh and not self._syncing():  # syncing: peers ahead of us have these txs
            self.relay.add(fresh, self._relay_exclude(peer))
        return True

    def _relay_exclude(self, peer: PeerId) -> frozenset[PeerId]:
        """Who a tx relayed by `peer` is not passed on to: `peer`, and when `peer` is a
        validator, every validator. The validator that admitted a tx first sends it to the
        next proposers (`not_proposing_soon`), so passing it on between validators only makes
        copies; non-validator peers still get it. A validator the first one did not send it
        to gets the tx in a block instead (proposals carry whole txs)."""
        voting = self._voting()
        return voting if peer in voting else frozenset({peer})

    def _voting(self) -> frozenset[PeerId]:
        """The peer ids of the voting set, cached per chain state."""
        state = self.driver.state
        voting = self._voting_peers
        if voting is None or voting[0] is not state:
            voting = (state, frozenset(PeerId(pk) for pk in state.voting_set()))
            self._voting_peers = voting
        return voting[1]

    def offer_pool(self, peer: PeerId) -> int:
        """Send a peer that just connected the txs our pool holds, oldest first (at most
        POOL_OFFER_TXS or POOL_OFFER_BYTES); how many. Txs are relayed once, when admitted, so
        one we took while no proposer could hear it (every validator down, or we had no peer)
        would otherwise wait in our pool for ever. Only validators are offered it (they are
        the ones who put txs in blocks): a pool's worth of bytes to anyone who connects would
        make every handshake an outsider's cheap amplifier. Even while we sync: a tx taken
        while we were cut off reaches a proposer only this way."""
        transport = self._transport()
        if transport is None or self.stopping or peer not in self._voting():
            return 0
        raws = [encode_tx(tx) for tx in self._mempool.select(POOL_OFFER_TXS, POOL_OFFER_BYTES)]
        for frame in _txs_frames(raws):
            transport.send(peer, MsgType.TXS, frame)
        return len(raws)

    def resend_stale(self) -> int:
        """Send the txs pooled since the last call again, to the next proposers; how many.

        A new tx goes to the next proposers only (`not_proposing_soon`); if they all went
        away before their turn (or left it out), it would wait for our own turn to propose,
        and for ever on a node that never proposes (an observer serving the API). The node
        calls this every `POOL_RESEND_S`, so such a tx reaches the proposers of then; a tx
        is sent again only after it waited that long (at most POOL_OFFER_TXS or
        POOL_OFFER_BYTES a call)."""
        transport = self._transport()
        if transport is None or self.stopping or len(self._voting()) <= TX_PROPOSERS + 1:
            self._stale = set()  # every validator was sent every tx
            return 0
        entries = self._mempool.entries()
        before, self._stale = self._stale, {e.txid for e in entries}
        raws: list[bytes] = []
        size = 0
        for entry in entries:  # admission order: a parent before its child
            if entry.txid in before and len(raws) < POOL_OFFER_TXS and \
                    size + entry.size <= POOL_OFFER_BYTES:
                raws.append(encode_tx(entry.tx))
                size += entry.size
        if not raws:
            return 0
        others = {p.node_id for p in transport.peers()} - self._voting()  # they have them
        exclude = frozenset(others) | self.lagging() | self.not_proposing_soon(transport)
        for frame in _txs_frames(raws):
            transport.broadcast(MsgType.TXS, frame, exclude)
        return len(raws)

    def _send_txs(self, raws: tuple[bytes, ...], exclude: frozenset[PeerId]) -> None:
        transport = self._transport()
        if transport is not None and not self.stopping:
            transport.broadcast(MsgType.TXS, encode_txs(raws),
                                exclude | self.lagging() | self.not_proposing_soon(transport))

    def not_proposing_soon(self, transport: Transport) -> frozenset[PeerId]:
        """The validators a new tx is not sent to: all but the first `TX_PROPOSERS` connected
        ones in proposer order from the next height on (one of them puts it in a block).

        Sending each tx to every validator cost each of n validators n - 1 frames in, a
        decode and an admission per tx; at 16 and 50 validators on one machine that was the
        largest share of the machine's CPU. Only a proposer needs a tx before its block: the
        rest check it once, in the block (their pools don't hold it; their signature cache
        misses). Disconnected validators are skipped, so a dead proposer's turn (its rounds
        pass to the next in order) finds the tx at the next; a tx none of them took waits in
        our pool for our own turn, and is offered to validators that connect. Non-validator
        peers still get every tx (explorers show pools)."""
        voting = self._voting()
        if len(voting) <= TX_PROPOSERS + 1:
            return frozenset()
        state = self.driver.state
        rotation = state.proposer_rotation()
        connected = {p.node_id for p in transport.peers()}
        chosen: set[PeerId] = set()
        for k in range(1, len(rotation) + 1):
            peer = PeerId(rotation[(state.height + k) % len(rotation)])
            if peer in connected and peer not in chosen:
                chosen.add(peer)
                if len(chosen) == TX_PROPOSERS:
                    break
        return voting - chosen

    def _syncing(self) -> bool:
        """Validators are `SYNCING_LAG` heights ahead of us: we sync, and our link (a slow one,
        it may be) is for blocks; the peers ahead have the txs other peers relayed to us."""
        return self.passed(self.driver.state.height + SYNCING_LAG)

    def passed(self, height: int) -> bool:
        """Have f + 1 validators of the voting set (so one honest at least) told us they
        committed `height`? Their claims come from their votes and STATUS on links their
        keys authenticated; an outsider's claims never count."""
        sync = self._sync
        if sync is None:
            return False
        voting = self._voting()
        return sync.passed(height, voting, len(voting) - quorum_size(len(voting)) + 1)

    def lagging(self) -> frozenset[PeerId]:
        """Validators syncing far behind us: they get txs in the blocks they fetch (issue 20).
        Validators only: a deciding validator's claim follows its votes, while a non-voting
        peer's follows its STATUS, every `status_s`, heights behind under load."""
        sync = self._sync
        if sync is None:
            return frozenset()
        return sync.lagging(self.driver.state.height) & self._voting()

    async def close(self) -> None:
        self.stopping = True
        self.relay.close()
        await self.intake.close()


def _txs_frames(raws: Sequence[bytes]) -> Iterator[bytes]:
    """TXS payloads of at most `TX_BATCH` encoded txs each, in order."""
    for i in range(0, len(raws), TX_BATCH):
        yield encode_txs(tuple(raws[i:i + TX_BATCH]))
