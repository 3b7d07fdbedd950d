"""Relayed txs share TXS frames: one frame per batch and set of peers left out, sent after a
short wait or as soon as a batch is full; the node never sends a tx back to the peer it came
from, and drops what is queued when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from faircoop_node.net.transport import PeerId
from faircoop_node.node.gossip import TX_BATCH, TxRelay
from tests.node_runtime.harness import wait_for

P = PeerId(b"p" * 33)
Q = PeerId(b"q" * 33)


def recorder() -> tuple[TxRelay, list[tuple[tuple[bytes, ...], frozenset[PeerId]]]]:
    sent: list[tuple[tuple[bytes, ...], frozenset[PeerId]]] = []
    return TxRelay(lambda txs, exclude: sent.append((txs, exclude))), sent


async def test_txs_wait_briefly_and_share_a_frame_per_excluded_set() -> None:
    relay, sent = recorder()
    relay.add([b"a"], frozenset())
    relay.add([b"b", b"c"], frozenset({P}))
    relay.add([b"d"], frozenset())
    relay.add([b"e"], frozenset({Q}))
    assert sent == []  # nothing leaves before the flush
    await wait_for(lambda: sent != [], 1, "the flush")
    assert sorted(sent) == [
        ((b"a", b"d"), frozenset()),
        ((b"b", b"c"), frozenset({P})),
        ((b"e",), frozenset({Q})),
    ]


async def test_a_full_batch_leaves_at_once_in_frames_of_at_most_tx_batch() -> None:
    relay, sent = recorder()
    raws = [i.to_bytes(3, "big") for i in range(TX_BATCH + 1)]
    relay.add(raws[:TX_BATCH], frozenset({P}))
    assert [(len(txs), ex) for txs, ex in sent] == [(TX_BATCH, frozenset({P}))]
    relay.add(raws[TX_BATCH:], frozenset({P}))
    await wait_for(lambda: len(sent) == 2, 1, "the rest's flush")
    assert [txs for txs, _ in sent] == [tuple(raws[:TX_BATCH]), tuple(raws[TX_BATCH:])]


async def test_close_drops_what_is_queued() -> None:
    relay, sent = recorder()
    relay.add([b"a"], frozenset())
    relay.close()
    relay.add([b"b"], frozenset())  # queued after the close: the next flush shows what is left
    await wait_for(lambda: sent != [], 1, "the next flush")
    assert sent == [((b"b",), frozenset())]  # a was dropped, not sent late


async def test_validators_do_not_pass_each_others_txs_on_to_validators() -> None:
    """In a mesh the first validator already sent each tx to every validator; passing copies
    on between validators would make n^2 of them. Non-validator peers still get every tx."""
    from consensus import codec
    from faircoop_node.net.envelope import MsgType, decode_txs, encode_txs
    from faircoop_node.net.transport import ChainIdentity, Tip
    from tests.builders import key
    from tests.node_runtime.harness import payments, start_cluster

    cluster = await start_cluster(3)
    try:
        nodes = cluster.nodes()
        gid = codec.genesis_hash(cluster.genesis)
        chain = ChainIdentity(cluster.genesis.chain_id, gid)
        heard: dict[int, list[tuple[PeerId, bytes]]] = {}
        taps = []
        for n, attach in ((0, 1), (1, 2)):  # tap 0 hangs off validator 1, tap 1 off validator 2
            tap = cluster.network.transport(key(600 + n).public_key, chain, lambda: Tip(0, gid))
            got = heard.setdefault(n, [])

            async def on_message(peer: PeerId, msg_type: MsgType, payload: bytes,
                                 got: list[tuple[PeerId, bytes]] = got) -> None:
                if msg_type == MsgType.TXS:
                    got.extend((peer, raw) for raw in decode_txs(payload))

            tap.set_handlers(on_message)
            await tap.start()
            await cluster.network.connect(tap.node_id, nodes[attach].pubkey)
            taps.append(tap)
        validators = frozenset(PeerId(n.pubkey) for n in nodes)
        assert nodes[1].peers._relay_exclude(PeerId(nodes[0].pubkey)) == validators
        assert nodes[1].peers._relay_exclude(taps[0].node_id) == frozenset({taps[0].node_id})

        copies: list[tuple[PeerId, bytes]] = []  # what validator 2 is sent
        intake = nodes[2].peers.intake
        queue = intake.add

        def counting(peer: PeerId, raws: Sequence[bytes]) -> None:
            copies.extend((peer, raw) for raw in raws)
            queue(peer, raws)

        intake.add = counting  # type: ignore[method-assign]
        relayed: list[tuple[tuple[bytes, ...], frozenset[PeerId]]] = []  # validator 1's frames
        relay = nodes[1].peers.relay
        send = relay._send

        def recording(raws: tuple[bytes, ...], exclude: frozenset[PeerId]) -> None:
            relayed.append((raws, exclude))
            send(raws, exclude)

        relay._send = recording
        first, second = payments(cluster.genesis, 2)
        # a node offers its pool to a peer that connects (offer_pool): let the start settle
        await wait_for(lambda: all(n.state.height >= 1 for n in nodes), 10, "height 1")
        await nodes[0].submit_tx(first)  # validator 0 -> validators 1, 2 -> their taps
        raw_first = codec.encode_tx(first)
        await wait_for(lambda: all(raw_first in [r for _, r in heard[n]] for n in (0, 1)), 5,
                       "the tx at both taps")
        # tap 0 heard it from validator 1, whose one frame of it left out every validator;
        # tap 1 heard it from validator 2, so validator 2 took it in (from validator 0 alone)
        assert [exclude for raws, exclude in relayed if raw_first in raws] == [validators]
        assert [p for p, r in copies if r == raw_first] == [nodes[0].pubkey]
        # a tx from a non-validator peer is passed on to the validators
        taps[0].broadcast(MsgType.TXS, encode_txs((codec.encode_tx(second),)))
        await wait_for(lambda: all(codec.txid(second) in n.seen for n in nodes), 5,
                       "the tap's tx at every validator")
    finally:
        for tap in taps:
            await tap.stop()
        await cluster.stop_all()


async def test_intake_admits_in_slices_letting_other_work_run_between_them() -> None:
    from faircoop_node.node.gossip import TxIntake

    log: list[object] = []

    def admit(peer: PeerId, raws: Sequence[bytes]) -> bool:
        if not log:  # a vote arrives while the first slice is admitted
            asyncio.get_running_loop().call_soon(log.append, "vote")
        log.append((peer, tuple(raws)))
        return True

    intake = TxIntake(admit, slice_size=2, backlog=100)
    intake.add(P, [b"a", b"b", b"c", b"d", b"e"])
    intake.add(Q, [b"f"])
    assert len(intake) == 6 and log == []  # nothing is admitted on receipt
    await wait_for(lambda: len(log) == 5, 1, "every slice admitted")
    assert log == [(P, (b"a", b"b")), "vote", (P, (b"c", b"d")), (P, (b"e",)), (Q, (b"f",))]
    assert len(intake) == 0 and intake.shed == 0


async def test_intake_sheds_frames_past_its_backlog_and_stops_a_frame_on_junk() -> None:
    from faircoop_node.node.gossip import TxIntake

    admitted: list[bytes] = []

    def admit(peer: PeerId, raws: Sequence[bytes]) -> bool:
        admitted.extend(raws)
        return b"junk" not in raws

    intake = TxIntake(admit, slice_size=1, backlog=4)
    intake.add(P, [b"a", b"junk", b"b"])  # stops after junk: b is never admitted
    intake.add(Q, [b"c", b"d"])  # 5 > 4 queued: dropped whole
    intake.add(Q, [b"e"])
    assert intake.shed == 2 and len(intake) == 4
    await wait_for(lambda: b"e" in admitted, 1, "the last frame admitted")
    assert admitted == [b"a", b"junk", b"e"]
    intake.add(P, [b"f"])
    await intake.close()  # stopping: what is queued is dropped
    assert len(intake) == 0
    intake.add(Q, [b"g"])  # queued after the close: admitted on its own
    await wait_for(lambda: b"g" in admitted, 1, "the frame queued after the close")
    assert admitted == [b"a", b"junk", b"e", b"g"]  # f was dropped, never admitted
