"""A new tx goes to the validators that propose next, not to every validator: with n of them,
sending it to all cost each validator n - 1 frames in, a decode and an admission per tx."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from consensus import codec
from faircoop_node.net.transport import PeerId
from faircoop_node.node import runner
from faircoop_node.node.peers import TX_PROPOSERS
from tests.builders import key
from tests.node_runtime.harness import Cluster, payments, runtime_genesis, wait_for

KEYS = tuple(sorted((key(i) for i in range(1, 9)), key=lambda k: k.public_key))  # 8 validators


async def eight_validators() -> Cluster:
    cluster = Cluster(runtime_genesis(KEYS))
    for k in KEYS:
        cluster.add(k, validator=True)
    for slot in cluster.slots:
        await cluster.start(slot)
    return cluster


def next_in_line(cluster: Cluster, index: int, skip: set[bytes]) -> set[PeerId]:
    """The first TX_PROPOSERS validators after node `index`'s tip in proposer order, but
    itself and `skip`."""
    node = cluster.slots[index].node
    assert node is not None
    state = node.state
    rotation = state.proposer_rotation()
    found: list[PeerId] = []
    for k in range(1, len(rotation) + 1):
        pk = rotation[(state.height + k) % len(rotation)]
        if pk != node.pubkey and pk not in skip and PeerId(pk) not in found:
            found.append(PeerId(pk))
    return set(found[:TX_PROPOSERS])


async def test_a_tx_is_sent_to_the_next_connected_proposers() -> None:
    cluster = await eight_validators()
    try:
        nodes = cluster.nodes()
        await wait_for(lambda: all(n.state.height >= 1 for n in nodes), 15, "height 1")
        sender = nodes[0]
        transport = cluster.slots[0].transport
        voting = frozenset(PeerId(k.public_key) for k in KEYS)
        # stand still while we look: the chain's tip decides who is next
        left_out = sender.peers.not_proposing_soon(transport)
        expected = next_in_line(cluster, 0, set())
        if sender.peers.not_proposing_soon(transport) == left_out:  # no block in between
            assert voting - left_out == expected
            assert len(expected) == TX_PROPOSERS
        # the first in line goes away: the next connected one takes its place
        first = next(iter(expected))
        gone = next(s for s in cluster.slots if PeerId(s.key.public_key) == first)
        await cluster.stop(gone)
        await wait_for(lambda: first not in {p.node_id for p in transport.peers()}, 5,
                       "the disconnect")
        chosen = voting - sender.peers.not_proposing_soon(transport)
        assert first not in chosen and len(chosen) == TX_PROPOSERS
        assert PeerId(sender.pubkey) not in chosen
        # and a tx sent this way is final on every running validator
        tx = payments(cluster.genesis, 1)[0]
        await sender.submit_tx(tx)
        running = cluster.nodes()
        await wait_for(lambda: all(n.store.get_tx_location(codec.txid(tx)) is not None
                                   for n in running), 15, "the tx final everywhere")
        pooled_by = [n for n in running if codec.txid(tx) in n.seen]
        assert sender in pooled_by and 2 <= len(pooled_by) <= 1 + TX_PROPOSERS, \
            f"{len(pooled_by)} of {len(running)} validators took the tx in before its block"
    finally:
        await cluster.stop_all()


async def test_a_tx_no_proposer_took_is_sent_again_to_the_proposers_of_then(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An observer's tx whose first proposers all dropped it is not stuck: the observer
    never proposes, and `resend_stale` (every POOL_RESEND_S) sends what waited that long."""
    monkeypatch.setattr(runner, "POOL_RESEND_S", 3600.0)  # this test calls it, no tick
    cluster = Cluster(runtime_genesis(KEYS))
    for k in KEYS:
        cluster.add(k, validator=True)
    observer = cluster.add(key(700), validator=False)
    for slot in cluster.slots:
        await cluster.start(slot)
    try:
        validators = [s.node for s in cluster.slots[:-1] if s.node is not None]
        watcher = observer.node
        assert watcher is not None
        await wait_for(lambda: all(n.state.height >= 1 for n in validators), 15, "height 1")
        dropped: list[bytes] = []
        takes = {}
        for node in validators:  # every validator drops TXS frames: nobody takes the tx
            takes[node] = node.peers.intake.add

            def drop(peer: PeerId, raws: Sequence[bytes]) -> None:
                dropped.extend(raws)

            node.peers.intake.add = drop  # type: ignore[method-assign]
        tx = payments(cluster.genesis, 1)[0]
        tid = codec.txid(tx)
        await watcher.submit_tx(tx)
        await wait_for(lambda: codec.encode_tx(tx) in dropped, 5, "the first send")
        assert len(dropped) == TX_PROPOSERS
        start = validators[0].state.height
        await wait_for(lambda: validators[0].state.height >= start + 3, 15, "three blocks")
        assert validators[0].store.get_tx_location(tid) is None, "no proposer had it"
        for node, take in takes.items():
            node.peers.intake.add = take  # type: ignore[method-assign]
        assert watcher.peers.resend_stale() == 0  # marks it: pooled before the next call
        assert watcher.peers.resend_stale() == 1  # ... so sent again, to the next proposers
        await wait_for(lambda: all(n.store.get_tx_location(tid) is not None
                                   for n in validators), 15, "the tx final")
    finally:
        await cluster.stop_all()
