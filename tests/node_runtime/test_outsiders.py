"""Outsiders (peers with no validator key) against real nodes over the in-memory network.

Each test is one finding of the hardening review (issue 12): what an outside peer could make
a node do before, and the property that holds now. The multi-process versions, with real
sockets and memory measured, are in tests/attacks/.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

import pytest

from consensus import codec
from consensus.certificate import build_certificate
from consensus.chain import make_block, validate_block
from consensus.chainstate import ChainState, genesis_state, install_recovery
from consensus.crypto import PrivateKey
from consensus.evidence import DuplicateVoteEvidence, encode_evidence
from consensus.governance import make_recovery
from consensus.ledger import MemoryUtxoSet
from consensus.types import Block, BlockHash, OutPoint, TxId, Validator
from consensus.votes import (
    NIL,
    Vote,
    VoteType,
    encode_certificate,
    encode_proposal,
    encode_vote,
    sign_proposal,
    sign_vote,
)
from faircoop_node.net.envelope import (
    BlockRange,
    CertifiedBlock,
    GetBlocks,
    MsgType,
    ProposalMessage,
    Status,
    decode_get_blocks,
    encode_block_range,
    encode_get_blocks,
    encode_proposal_message,
    encode_status,
    encode_txs,
)
from faircoop_node.net.memory import MemoryTransport
from faircoop_node.net.transport import ChainIdentity, PeerId, Tip
from faircoop_node.node import peers
from tests.builders import CHAIN_ID, key, make_tx, single
from tests.node_runtime.harness import (
    FUNDER,
    FUNDER_POLICY,
    VALIDATOR_KEYS,
    Cluster,
    Slot,
    payments,
    start_cluster,
    wait_for,
)


async def _outsider(cluster: Cluster, *, seed: int = 556, tip: int = 0,
                    to: tuple[int, ...] = (0,)) -> MemoryTransport:
    """A peer with a fresh key (no validator's), linked to the nodes at the slots `to`."""
    chain = ChainIdentity(CHAIN_ID, codec.genesis_hash(cluster.genesis))
    gid = codec.genesis_hash(cluster.genesis)
    t = cluster.network.transport(key(seed).public_key, chain, lambda: Tip(tip, gid))
    await t.start()
    for i in to:
        await cluster.network.connect(t.node_id, cluster.slots[i].key.public_key)
    return t


async def _start_behind(cluster: Cluster, k: PrivateKey, first: MemoryTransport) -> Slot:
    """A fresh observer linked to `first` before the honest validators."""
    slot = cluster.add(k, validator=False)
    await cluster.start(slot, connect=False)
    await cluster.network.connect(first.node_id, k.public_key)
    for other in cluster.slots[:4]:
        if other.node is not None and other.node.running:
            await cluster.network.connect(k.public_key, other.key.public_key)
    return slot


def _punished(cluster: Cluster, peer: bytes) -> bool:
    return any(p.peer == peer for p in cluster.network.punishments)


def _honest_never_punished(cluster: Cluster) -> bool:
    honest = {s.key.public_key for s in cluster.slots}
    return not any(p.peer in honest for p in cluster.network.punishments)


def _forged_vote(validator: PrivateKey, height: int, round_: int) -> Vote:
    real = sign_vote(validator, CHAIN_ID, VoteType.PREVOTE, height, round_, NIL)
    return replace(real, signature=os.urandom(64))


async def test_forged_votes_are_not_relayed_and_cost_their_sender() -> None:
    cluster = await start_cluster(4)
    try:
        node, others = cluster.nodes()[0], cluster.nodes()[1:]
        await wait_for(lambda: node.state.height >= 2, 15, "two blocks")
        far = [_forged_vote(VALIDATOR_KEYS[1], node.state.height + 1, 10**9 + i)
               for i in range(50)]
        outsider = await _outsider(cluster)
        for vote in far:  # far-ahead rounds: dropped before any signature check
            outsider.broadcast(MsgType.VOTE, encode_vote(vote))
        now = _forged_vote(VALIDATOR_KEYS[1], node.state.height + 1, 0)
        outsider.broadcast(MsgType.VOTE, encode_vote(now))
        await wait_for(lambda: _punished(cluster, outsider.node_id), 5, "the forger punished")
        await cluster.network.settle()
        forged = {v.signature for v in (*far, now)}
        for n in cluster.nodes():
            assert not forged & {s for s in forged if s in n.seen}  # nobody took or relayed one
        assert node.counters.dropped >= len(far)
        height = node.state.height
        await wait_for(lambda: min(n.state.height for n in others) >= height + 2, 10,
                       "the chain going on")
        assert _honest_never_punished(cluster)
    finally:
        await cluster.stop_all()


async def test_forged_proposals_are_not_kept_decoded_or_relayed(monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    decoded: list[int] = []
    real_decode = peers.decode_block

    def counting(data: bytes) -> Block:
        decoded.append(len(data))
        return real_decode(data)

    monkeypatch.setattr(peers, "decode_block", counting)
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 2, 15, "two blocks")
        s = node.state
        proposer = next(k for k in VALIDATOR_KEYS if k.public_key == s.proposer(s.height + 1, 0))
        # a big block of junk txs under a proposal whose signature is not the proposer's
        junk = tuple(make_tx([(OutPoint(TxId(bytes(32)), i), FUNDER_POLICY, [FUNDER])],
                             [(codec.policy_lock(single(key(i))), 1)], chain_id=CHAIN_ID)
                     for i in range(300))
        block = make_block(s, proposer.public_key, s.last_block_time_ms + 1, junk, node.last_cert)
        raw = codec.encode_block(block)
        proposal = replace(sign_proposal(proposer, CHAIN_ID, s.height + 1, 0, -1,
                                         codec.block_hash(block.header)),
                           signature=os.urandom(64))
        decoded.clear()
        outsider = await _outsider(cluster)
        outsider.broadcast(MsgType.PROPOSAL, encode_proposal_message(
            ProposalMessage(encode_proposal(proposal), raw)))
        await wait_for(lambda: _punished(cluster, outsider.node_id), 5, "the forger punished")
        assert len(raw) not in decoded  # its body was never decoded
        assert codec.block_hash(block.header) not in node.driver.proposals
        await cluster.network.settle()
        for n in cluster.nodes():
            assert proposal.signature not in n.seen
        assert _honest_never_punished(cluster)
    finally:
        await cluster.stop_all()


async def test_junk_evidence_leaves_room_for_a_real_equivocation() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 2, 15, "two blocks")
        outsider = await _outsider(cluster)
        for i in range(200):  # well signed, but by strangers or far ahead: nothing to punish
            stranger = key(2000 + i)
            height = node.state.height + 1 if i % 2 else 10**15
            a = sign_vote(stranger, CHAIN_ID, VoteType.PREVOTE, height, 0, NIL)
            b = sign_vote(stranger, CHAIN_ID, VoteType.PREVOTE, height, 0, BlockHash(b"\1" * 32))
            outsider.broadcast(MsgType.EVIDENCE, encode_evidence(DuplicateVoteEvidence(a, b)))
        await cluster.network.settle()
        assert len(node.evidence) == 0
        offender = VALIDATOR_KEYS[3]
        h = node.state.height + 1
        a = sign_vote(offender, CHAIN_ID, VoteType.PREVOTE, h, 0, NIL)
        b = sign_vote(offender, CHAIN_ID, VoteType.PREVOTE, h, 0, BlockHash(b"\2" * 32))
        outsider.broadcast(MsgType.EVIDENCE, encode_evidence(DuplicateVoteEvidence(a, b)))
        await wait_for(lambda: all(offender.public_key not in n.state.voting_set()
                                   for n in cluster.nodes()), 15, "the offender suspended")
        assert not _punished(cluster, outsider.node_id)
        # evidence whose signature fails proves nothing, and costs its sender
        c = replace(sign_vote(VALIDATOR_KEYS[1], CHAIN_ID, VoteType.PREVOTE,
                              node.state.height + 1, 0, NIL), signature=os.urandom(64))
        d = sign_vote(VALIDATOR_KEYS[1], CHAIN_ID, VoteType.PREVOTE, node.state.height + 1, 0,
                      BlockHash(b"\3" * 32))
        outsider.broadcast(MsgType.EVIDENCE, encode_evidence(DuplicateVoteEvidence(c, d)))
        await wait_for(lambda: _punished(cluster, outsider.node_id), 5, "the forger punished")
        assert _honest_never_punished(cluster)
    finally:
        await cluster.stop_all()


async def test_a_peer_lying_about_its_tip_does_not_stop_a_node_from_syncing() -> None:
    cluster = await start_cluster(4)
    try:
        await wait_for(lambda: cluster.nodes()[0].state.height >= 6, 20, "six blocks")
        liar = await _outsider(cluster, tip=10**9, to=())
        observer = await _start_behind(cluster, key(600), liar)
        liar.broadcast(MsgType.STATUS, encode_status(Status(10**9, BlockHash(bytes(32)), 0)))
        assert observer.node is not None
        target = cluster.nodes()[0].state.height
        # one timeout (2 s here) on the liar at most, then the honest peers serve
        await wait_for(lambda: observer.node is not None and observer.node.state.height >=
                       target, 8, "the observer caught up")
        assert not observer.node.sync.trusted(liar.node_id)
        # a validator restarted with an empty store joins despite the lie
        slot = cluster.slots[3]
        await cluster.restart(slot, None)
        await cluster.network.connect(liar.node_id, slot.key.public_key)
        liar.broadcast(MsgType.STATUS, encode_status(Status(10**9, BlockHash(bytes(32)), 0)))
        await wait_for(lambda: slot.node is not None and slot.node.engine is not None, 10,
                       "the restarted validator to rejoin")
        assert _honest_never_punished(cluster)
    finally:
        await cluster.stop_all()


async def test_get_blocks_are_answered_one_at_a_time_per_peer() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 4, 15, "four blocks")
        answers: list[int] = []

        async def count(peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
            if msg_type == MsgType.BLOCKS:
                answers.append(len(payload))

        outsider = await _outsider(cluster)
        outsider.set_handlers(count)
        for _ in range(300):
            outsider.broadcast(MsgType.GET_BLOCKS, encode_get_blocks(GetBlocks(1, 1000)))
        await cluster.network.settle()
        await wait_for(lambda: node._server.served + node._server.refused >= 300, 5,
                       "every request seen")
        # an answer counts as served once handed to the transport: it reaches the peer after
        # (a fresh-clone run with three test workers asserted in between: served 1, 0 arrived)
        await wait_for(lambda: len(answers) == node._server.served, 5, "every answer arriving")
        assert node._server.refused >= 250 and len(answers) == node._server.served
        height = node.state.height
        await wait_for(lambda: node.state.height >= height + 2, 10, "the chain going on")
    finally:
        await cluster.stop_all()


async def test_relayed_txs_that_fail_on_their_own_cost_the_sender() -> None:
    cluster = await start_cluster(4)
    try:
        node = cluster.nodes()[0]
        await wait_for(lambda: node.state.height >= 1, 15, "a block")
        good, child = payments(cluster.genesis, 2)
        bad = payments(cluster.genesis, 1, fee=6_000)[0]
        honest = await _outsider(cluster, seed=557)
        await node.submit_tx(good)
        honest.broadcast(MsgType.TXS, encode_txs((codec.encode_tx(bad),)))  # a double spend
        await cluster.network.settle()
        assert not _punished(cluster, honest.node_id)  # a race, not malice
        forged = replace(child, witnesses=(replace(child.witnesses[0], signatures=(
            (0, os.urandom(64)),)),))  # spends good's change, which is there to spend
        liar = await _outsider(cluster, seed=558)
        liar.broadcast(MsgType.TXS, encode_txs((codec.encode_tx(forged),)))
        await wait_for(lambda: _punished(cluster, liar.node_id), 5, "the forger punished")
    finally:
        await cluster.stop_all()


# -- a forged recovery (finding 7) ----------------------------------------------------------------


def _replay(cluster: Cluster, upto: int) -> list[tuple[Block, bytes, ChainState]]:
    """The real chain's blocks 1..upto with their certificates and the state before each."""
    node = cluster.nodes()[0]
    state = genesis_state(cluster.genesis)
    utxo = MemoryUtxoSet()
    out = []
    for h in range(1, upto + 1):
        block = node.store.get_block_at(h)
        cert = node.store.get_certificate(h)
        assert block is not None and cert is not None
        out.append((block, cert, state))
        valid = validate_block(state, block, codec.block_hash(block.header), utxo)
        utxo.apply(valid.diff)
        state = valid.state
    return out


def _forge_from(cluster: Cluster, at: int, count: int) -> list[tuple[Block, bytes]]:
    """Blocks at+1 .. at+count of a history that never happened: a governor's recovery
    against block `at` (long since followed by real blocks) names attacker keys."""
    real = _replay(cluster, at)
    state = real[-1][2]
    last = real[-1]
    valid = validate_block(state, last[0], codec.block_hash(last[0].header), MemoryUtxoSet())
    state, last_cert = valid.state, last[1]
    attackers = (key(701),)
    governor = VALIDATOR_KEYS[0]  # a governor (every validator is one, threshold 1)
    recovery = make_recovery(CHAIN_ID, state.height, state.last_block_id,
                             tuple(Validator("coop-x", k.public_key) for k in attackers),
                             (governor,))
    when = state.last_block_time_ms + state.params.recovery_after_ms + 1
    installed = install_recovery(state, recovery, when)
    forged: list[tuple[Block, bytes]] = []
    for i in range(count):
        base = installed if i == 0 else state
        block = make_block(base, attackers[0].public_key, when + i, (), last_cert)
        block_id = codec.block_hash(block.header)
        votes = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, block.header.height, 0, block_id)
                 for k in attackers]
        cert = encode_certificate(build_certificate(votes, base.voting_set()))
        state = validate_block(state, block, block_id, MemoryUtxoSet()).state
        forged.append((block, cert))
        last_cert = cert
    return forged


def _serving(chain: dict[int, tuple[bytes, bytes]], t: Callable[[], MemoryTransport]):
    async def serve(peer: PeerId, msg_type: MsgType, payload: bytes) -> None:
        if msg_type != MsgType.GET_BLOCKS:
            return
        req = decode_get_blocks(payload)
        items = tuple(CertifiedBlock(*chain[h]) for h in range(req.start, req.start + req.count)
                      if h in chain)
        t().send(peer, MsgType.BLOCKS, encode_block_range(BlockRange(req.start, items)))
    return serve


async def test_a_forged_recovery_does_not_rewrite_history_for_a_syncing_node() -> None:
    cluster = await start_cluster(4)
    try:
        honest = cluster.nodes()[0]
        await wait_for(lambda: honest.state.height >= 8, 20, "eight blocks")
        real = {h: (codec.encode_block(b), c) for h, (b, c, _) in
                enumerate(_replay(cluster, 2), start=1)}
        forged = _forge_from(cluster, 2, 4)  # heights 3..6
        served = real | {b.header.height: (codec.encode_block(b), c) for b, c in forged}
        forger = await _outsider(cluster, seed=559, tip=10**6, to=())  # so it is asked first
        forger.set_handlers(_serving(served, lambda: forger))
        observer = await _start_behind(cluster, key(601), forger)
        assert observer.node is not None
        target = honest.state.height
        await wait_for(lambda: observer.node is not None and observer.node.state.height >=
                       target, 15, "the observer on the real chain")
        for h in range(1, target + 1):
            assert observer.node.store.get_hash_at(h) == honest.store.get_hash_at(h)
        assert not observer.node.sync.trusted(forger.node_id)
        assert _honest_never_punished(cluster)
    finally:
        await cluster.stop_all()
