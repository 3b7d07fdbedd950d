"""Four real nodes on the in-memory transport: blocks with txs finalize, identically everywhere;
a fresh observer syncs; a validator restarted with an empty store rejoins without re-signing."""

from __future__ import annotations

from consensus import codec
from consensus.chain import make_block
from consensus.chainstate import ChainState
from consensus.engine import SignedState, Step
from consensus.errors import ValidationError
from consensus.votes import VoteType, encode_proposal, sign_proposal, sign_vote
from faircoop_node.node.signing import (
    ROUND_MAX,
    Locked,
    SignedRecord,
    decode_signed_state,
    encode_signed_record,
)
from faircoop_node.storage import LevelDBStore
from tests.builders import CHAIN_ID, key
from tests.node_runtime.harness import (
    VALIDATOR_KEYS,
    Cluster,
    payments,
    start_cluster,
    wait_for,
)


def same_chain(cluster: Cluster, upto: int) -> bool:
    """Every running node holds the same block hash at every height 1..upto."""
    nodes = cluster.nodes()
    for h in range(1, upto + 1):
        hashes = {n.store.get_hash_at(h) for n in nodes}
        if len(hashes) != 1 or None in hashes:
            return False
    return True


def min_tip(cluster: Cluster) -> int:
    return min(n.state.height for n in cluster.nodes())


async def test_four_validators_finalize_txs_and_agree_on_every_block() -> None:
    cluster = await start_cluster(4)
    try:
        txs = payments(cluster.genesis, 30)
        a = cluster.nodes()[0]
        published: list[int] = []  # the txs of each block `a` tells its commit listeners about
        a.on_commit(lambda c: published.append(len(c.block.txs)))
        for tx in txs:  # chained: each spends the last one's change, so all go to one node
            await a.submit_tx(tx)
        # a conflicting double spend of the funder's genesis coin is refused with its rule
        try:
            await a.submit_tx(txs[0])
        except ValidationError as exc:
            assert exc.rule == "already_in_mempool"
        else:
            raise AssertionError("a duplicate tx was admitted")

        def all_final() -> bool:
            return all(n.store.get_tx_location(codec.txid(tx)) is not None
                       for n in cluster.nodes() for tx in txs)

        await wait_for(all_final, 15, "every tx final on every node")
        # (the store shows a block a moment before the node's bookkeeping clears the pool)
        await wait_for(lambda: all(len(n.mempool) == 0 for n in cluster.nodes()), 5,
                       "every mempool empty")
        await wait_for(lambda: min_tip(cluster) >= 3, 10, "three blocks")
        assert same_chain(cluster, min_tip(cluster))
        # the certificates are real: block h + 1 carries a quorum certificate of h
        node = cluster.nodes()[2]
        assert node.store.get_certificate(1)
        for n in cluster.nodes():
            assert n.counters.committed_consensus >= 1
            assert isinstance(n.chain_state(), ChainState)
            assert n.status().validator
            assert n.status().peers == 3
        assert sum(published) == len(txs)
    finally:
        await cluster.stop_all()


async def test_fresh_observer_syncs_then_follows() -> None:
    cluster = await start_cluster(4)
    try:
        await wait_for(lambda: min_tip(cluster) >= 4, 15, "four blocks")
        observer = cluster.add(key(77), validator=False)
        await cluster.start(observer)
        assert observer.node is not None
        target = max(n.state.height for n in cluster.nodes())
        await wait_for(lambda: observer.node is not None and observer.node.state.height >= target,
                       10, "the observer to sync")
        assert observer.node.counters.committed_sync >= 1
        assert not observer.node.status().validator
        later = target + 2
        await wait_for(lambda: observer.node is not None and observer.node.state.height >= later,
                       10, "the observer to follow new blocks")
        assert same_chain(cluster, min_tip(cluster))
        assert observer.node.store.get_last_signed() is None  # an observer never signs
    finally:
        await cluster.stop_all()


async def test_validator_with_empty_store_rejoins_and_votes_only_after_the_floor() -> None:
    cluster = await start_cluster(4)
    try:
        await wait_for(lambda: min_tip(cluster) >= 3, 15, "three blocks")
        slot = cluster.slots[3]
        await cluster.restart(slot, store=None)  # the data dir is gone
        node = slot.node
        assert node is not None

        def floored() -> bool:
            raw = node.store.get_last_signed()
            return raw is not None and decode_signed_state(raw).round == ROUND_MAX

        await wait_for(floored, 10, "the rejoin floor to be recorded")
        floor = decode_signed_state(node.store.get_last_signed() or b"")
        assert node.state.height >= floor.height - 1
        # it keeps following, and signs again only above the floor height
        def signed_above_floor() -> bool:  # on disk: persisted before anything is sent
            raw = node.store.get_last_signed()
            return raw is not None and decode_signed_state(raw).height > floor.height

        await wait_for(signed_above_floor, 15, "the rejoined validator to sign again")
        assert node.engine is not None and node.engine.last_signed is not None
        assert node.engine.last_signed.height > floor.height
        await wait_for(lambda: min_tip(cluster) >= floor.height + 2, 15, "more blocks")
        assert same_chain(cluster, min_tip(cluster))
    finally:
        await cluster.stop_all()


async def test_restart_on_leveldb_keeps_the_chain_and_the_last_signed_state(tmp_path) -> None:
    cluster = await start_cluster(4)
    try:
        slot = cluster.slots[0]
        await cluster.stop(slot)
        store = LevelDBStore(tmp_path / "chain", cluster.genesis)
        await cluster.restart(slot, store)
        await wait_for(lambda: min_tip(cluster) >= 3, 15, "three blocks on LevelDB")
        node = slot.node
        assert node is not None
        height = node.state.height
        signed = decode_signed_state(node.store.get_last_signed() or b"")
        await cluster.stop(slot)
        store.close()
        reopened = LevelDBStore(tmp_path / "chain", cluster.genesis)
        assert reopened.tip().height == height
        assert decode_signed_state(reopened.get_last_signed() or b"") >= signed
        await cluster.restart(slot, reopened)
        await wait_for(lambda: slot.node is not None and slot.node.state.height >= height + 2,
                       15, "the restarted node to commit again")
        assert same_chain(cluster, min_tip(cluster))
        await cluster.stop(slot)
        reopened.close()
    finally:
        await cluster.stop_all()


async def test_all_validators_restarting_mid_height_resume_with_their_signed_votes() -> None:
    """Two validators sign at h + 1 but can't finish (the other two are down); then all four
    restart on their stores. Those two can't sign round 0 again, so without their earlier
    votes nobody could reach a quorum there: the votes kept with the last-signed record are
    fed back and re-sent."""
    cluster = await start_cluster(4)
    try:
        await wait_for(lambda: min_tip(cluster) >= 2, 15, "two blocks")
        for slot in cluster.slots[2:]:
            await cluster.stop(slot)
        first = cluster.slots[0].node
        assert first is not None

        def signed_ahead() -> bool:
            return all(s.node is not None and s.node.engine is not None
                       and s.node.engine.last_signed is not None
                       and s.node.engine.last_signed.height == s.node.state.height + 1
                       for s in cluster.slots[:2])

        await wait_for(signed_ahead, 10, "the two live validators to sign at the next height")
        stuck = first.state.height
        for slot in cluster.slots[:2]:
            await cluster.stop(slot)
        for slot in cluster.slots:
            await cluster.restart(slot, slot.store)
        await wait_for(lambda: min_tip(cluster) >= stuck + 2, 20,
                       "blocks after everyone restarted mid-height")
        assert same_chain(cluster, min_tip(cluster))
    finally:
        await cluster.stop_all()


async def test_a_quorum_that_precommitted_a_block_and_restarted_commits_that_block() -> None:
    """Every validator precommitted X at (h, 0) and went down before committing it (so some
    node may have committed X). Restarted, the engines have forgotten their locks; the block
    and votes kept in the last-signed record make them commit X, not a new block."""
    cluster = await start_cluster(4)
    try:
        await wait_for(lambda: min_tip(cluster) >= 2, 15, "two blocks")
        for slot in cluster.slots:
            await cluster.stop(slot)
        tips = {s.node.state.height for s in cluster.slots if s.node is not None}
        assert len(tips) == 1
        node = cluster.slots[0].node
        assert node is not None
        state, h = node.state, node.state.height + 1
        proposer = next(k for k in VALIDATOR_KEYS if k.public_key == state.proposer(h, 0))
        block = make_block(state, proposer.public_key, state.last_block_time_ms + 5,
                           (), node.store.get_certificate(h - 1) or b"")
        x = codec.block_hash(block.header)
        proposal = sign_proposal(proposer, CHAIN_ID, h, 0, -1, x)
        for slot in cluster.slots:
            k = slot.key
            votes = tuple(sign_vote(k, CHAIN_ID, t, h, 0, x)
                          for t in (VoteType.PREVOTE, VoteType.PRECOMMIT))
            record = SignedRecord(SignedState(h, 0, Step.PRECOMMIT), votes,
                                  Locked(encode_proposal(proposal), codec.encode_block(block)))
            assert slot.store is not None
            slot.store.put_last_signed(encode_signed_record(record))
        for slot in cluster.slots:
            await cluster.restart(slot, slot.store)
        await wait_for(lambda: min_tip(cluster) >= h, 15, "the locked height committed")
        assert {n.store.get_hash_at(h) for n in cluster.nodes()} == {x}
        await wait_for(lambda: min_tip(cluster) >= h + 1, 15, "the chain going on")
    finally:
        await cluster.stop_all()


async def test_in_a_full_mesh_each_vote_crosses_each_link_once_from_its_signer() -> None:
    """Peers announce their direct neighbors (STATUS), so nobody relays a validator's votes to
    a peer that got them first-hand: in a full mesh every vote arrives once, from its signer."""
    from collections import Counter

    from consensus.votes import decode_vote
    from faircoop_node.net.envelope import MsgType

    cluster = await start_cluster(4)
    copies: Counter[tuple[bytes, bytes]] = Counter()  # (receiver, vote signature) -> copies
    relayed: list[tuple[bytes, bytes]] = []  # (receiver, vote) where the sender is not the signer
    try:
        for slot in cluster.slots:
            node = slot.node
            assert node is not None
            inner = node._on_message

            async def counting(peer, msg_type, payload, inner=inner, me=slot.key.public_key):
                if msg_type == MsgType.VOTE:
                    vote = decode_vote(payload)
                    copies[(me, vote.signature)] += 1
                    if vote.validator != peer:
                        relayed.append((me, vote.signature))
                await inner(peer, msg_type, payload)

            slot.transport.set_handlers(counting, node._on_peer)
        first = cluster.nodes()[0]
        await wait_for(lambda: first.state.height >= 2, 15, "status exchanged")
        copies.clear()
        relayed.clear()
        start = first.state.height
        await wait_for(lambda: min(n.state.height for n in cluster.nodes()) >= start + 5, 20,
                       "five more blocks")
        assert copies and max(copies.values()) == 1, copies.most_common(3)
        assert relayed == []
    finally:
        await cluster.stop_all()


async def test_a_validator_that_fell_behind_with_its_links_up_catches_up() -> None:
    """A validator that hears nothing for a while (a paused process, a stalled disk) while its
    links stay up, among validators only, long enough to be quarantined: deciding validators
    send no STATUS, so it learns the network's tip from their votes, signed past its window,
    and syncs. Regression (issue
    20): it stayed behind for good, since such votes were dropped before they told it."""
    cluster = await start_cluster(4)
    try:
        await wait_for(lambda: min_tip(cluster) >= 2, 15, "two blocks")
        victim = cluster.slots[1]
        node = victim.node
        assert node is not None
        hear = node._on_message

        async def deaf(peer: object, msg_type: object, payload: bytes) -> None:
            return None

        victim.transport.set_handlers(deaf, node._on_peer)  # type: ignore[arg-type]
        healthy = cluster.slots[0].node
        assert healthy is not None
        # until it leaves the proposer rotation (quarantine): the others then never stall on
        # it, so no stalled node's STATUS tells it either
        await wait_for(lambda: victim.key.public_key not in healthy.state.proposer_rotation(),
                       20, "the deaf validator quarantined")
        out = healthy.state.height
        await wait_for(lambda: healthy.state.height >= out + 4, 15, "four more heights")
        victim.transport.set_handlers(hear, node._on_peer)
        top = max(n.state.height for n in cluster.nodes())
        await wait_for(lambda: node.state.height >= top, 15, "the deaf validator to catch up")
        assert node.counters.committed_sync >= 1
        assert same_chain(cluster, min_tip(cluster))
    finally:
        await cluster.stop_all()
