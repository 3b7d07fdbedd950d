"""A validator behind a slow link spends its link on sync, and its peers spare it (issue 20).

Behind 256 kbit/s under 150 tx/s, a validator fell behind and never caught up: each time its
turn came it proposed a ~435 KB block for a height the others had long passed (10 MB in 3
minutes), it relayed the txs peers sent it, and its peers kept sending it every tx and
proposal, all of it queued ahead of the few bytes of its sync requests and their answers.
Now a node withholds its proposal for a height f + 1 validators say they committed, relays no peer's
txs while `SYNCING_LAG` heights behind, and sends no proposal or tx to a validator that far
behind it. Each case below failed before (the proposal was sent, the txs relayed, the lagging
validator was sent everything).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus import codec
from faircoop_node.net.envelope import MsgType
from faircoop_node.net.transport import PeerId
from faircoop_node.node.gossip import SeenCache
from faircoop_node.node.ports import TransportOutbox
from faircoop_node.node.sync import SYNCING_LAG, SyncTracker
from faircoop_node.service import node_counters
from tests.builders import key
from tests.node_runtime.harness import payments, start_cluster, wait_for

P, Q, R = (PeerId(bytes([n]) * 33) for n in (1, 2, 3))
OURS = 100


VOTERS = frozenset({P, Q, R, PeerId(bytes([4]) * 33)})  # 4 validators: f + 1 = 2
OUTSIDER = PeerId(bytes([9]) * 33)


@pytest.mark.parametrize(("claims", "failed", "height", "passed"), [
    ({}, (), OURS + 1, False),  # no one ahead
    ({P: OURS, Q: OURS}, (), OURS + 1, False),  # level with us: our proposal is news
    ({P: OURS + 1, Q: OURS + 1}, (), OURS + 1, True),  # f + 1 committed our height
    ({P: OURS + 5, Q: OURS + 3, R: OURS}, (), OURS + 3, True),
    ({P: OURS + 5, Q: OURS + 2}, (), OURS + 3, False),  # only one claims that far
    ({P: OURS + 9}, (), OURS + 1, False),  # one validator alone: it may be the liar
    ({OUTSIDER: 10**9, P: OURS + 1}, (), OURS + 1, False),  # an outsider's claim never counts
    ({P: OURS + 5, Q: OURS + 5}, (P,), OURS + 1, False),  # P did not deliver: not believed
])
def test_passed_believes_f_plus_one_trusted_validators(
        claims: dict[PeerId, int], failed: tuple[PeerId], height: int, passed: bool) -> None:
    tracker = SyncTracker()
    for peer, tip in claims.items():
        tracker.saw(peer, tip)
    for peer in failed:
        tracker.failed(peer, OURS + 10)  # distrusted; its claim kept as it stood
    assert tracker.passed(height, VOTERS, 2) is passed


def test_lagging_is_the_peers_syncing_lag_or_more_behind() -> None:
    tracker = SyncTracker()
    for peer, tip in ((P, OURS - SYNCING_LAG), (Q, OURS - SYNCING_LAG + 1), (R, OURS + 4)):
        tracker.saw(peer, tip)
    assert tracker.lagging(OURS) == frozenset({P})


class FakeTransport:
    def __init__(self) -> None:
        self.broadcasts: list[tuple[MsgType, frozenset[PeerId]]] = []

    def broadcast(self, msg_type: MsgType, payload: bytes,
                  exclude: frozenset[PeerId] = frozenset()) -> int:
        self.broadcasts.append((msg_type, exclude))
        return 1


def proposal_at(height: int) -> tuple[object, ...]:
    from consensus.votes import sign_proposal
    return (sign_proposal(key(1), "chain", height, 0, -1, b"\x07" * 32), None, b"p", b"b")


@pytest.mark.parametrize(("claim", "sent"), [(OURS, True), (OURS + 1, False), (OURS + 9, False)])
def test_a_proposal_for_a_height_validators_committed_is_not_sent(claim: int, sent: bool) -> None:
    transport, tracker = FakeTransport(), SyncTracker()
    tracker.saw(P, claim)
    tracker.saw(Q, claim)
    outbox = TransportOutbox(lambda: transport, SeenCache(), lambda: 0.0,  # type: ignore
                             lambda h: tracker.passed(h, VOTERS, 2), lambda: frozenset({Q}))
    outbox.proposal(*proposal_at(OURS + 1))  # type: ignore[arg-type]
    assert transport.broadcasts == ([(MsgType.PROPOSAL, frozenset({Q}))] if sent else [])
    assert outbox.withheld == (0 if sent else 1)


async def test_a_syncing_node_relays_no_peer_txs_and_spares_lagging_validators(
        tmp_path: Path) -> None:
    cluster = await start_cluster(3)
    try:
        nodes = cluster.nodes()
        await wait_for(lambda: all(n.state.height >= SYNCING_LAG for n in nodes), 10,
                       f"height {SYNCING_LAG}")
    finally:
        await cluster.stop_all()
    node = nodes[1]
    ours = node.state.height
    relayed: list[bytes] = []
    node.peers.relay.add = lambda raws, exclude: relayed.extend(raws)  # type: ignore
    sender, validator = PeerId(nodes[0].pubkey), PeerId(nodes[2].pubkey)
    observer = PeerId(key(77).public_key)
    first, second = (codec.encode_tx(tx) for tx in payments(cluster.genesis, 2))

    node.sync.saw(sender, ours + 1)  # a block behind, as any node often is: still relays
    assert node.peers._admit_relayed(sender, [first])
    assert relayed == [first]
    node.sync.saw(sender, ours + SYNCING_LAG)  # syncing: admits, relays nothing
    assert node.peers._admit_relayed(sender, [second])
    assert relayed == [first] and codec.txid(codec.decode_block_tx(second)) in node.mempool

    node.sync.claims.update({validator: ours - SYNCING_LAG, observer: 0})
    assert node.peers.lagging() == frozenset({validator})  # a non-voter's claim lags its STATUS
    node.sync.saw(validator, ours - 1)
    assert node.peers.lagging() == frozenset()

    # our proposal for a height the validators passed is withheld, and /metrics counts it
    assert node_counters(node, None, tmp_path).proposals_withheld == 0
    node._outbox.proposal(*proposal_at(ours + 1))  # type: ignore[arg-type]
    assert node_counters(node, None, tmp_path).proposals_withheld == 1


def test_the_answer_to_a_request_that_timed_out_is_still_taken() -> None:
    """Behind 256 kbit/s an answer of loaded blocks can take longer than the timeout; it was
    thrown away on arrival after holding the link all that time (and the same blocks asked of
    the next peer, queued behind it)."""
    now = [0.0]
    tracker = SyncTracker(batch=64, timeout_s=5, clock=lambda: now[0])
    tracker.saw(P, 500)
    tracker.saw(Q, 500)
    first = tracker.next_request(OURS, {P, Q})
    assert first is not None and first.peer == P
    now[0] += 5.0
    second = tracker.next_request(OURS, {P, Q})  # P timed out: Q is asked for fewer
    assert second is not None and (second.peer, second.count) == (Q, 32)
    assert not tracker.trusted(P) and tracker.expects(P, first.start)
    assert tracker.answered(P, first.start, first.count)  # late, but welcome
    assert tracker.trusted(P) and not tracker.expects(P, first.start)
    assert not tracker.answered(P, first.start, first.count)  # once only
    assert tracker.answered(Q, second.start, second.count) and tracker.inflight is None
    tracker.forget(Q)
    tracker.saw(P, 500)  # its claim comes back with its next vote or STATUS
    assert tracker.next_request(OURS, {P}) is not None
    now[0] += 5.0
    assert not tracker.busy() and tracker.late is not None
    tracker.forget(P)
    assert tracker.late is None  # a disconnected peer's late answer will not come
