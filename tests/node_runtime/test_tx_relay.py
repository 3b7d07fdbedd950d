"""Relayed txs share TXS frames: one frame per batch and set of peers left out, sent after a
short wait or as soon as a batch is full; the node never sends a tx back to the peer it came
from, and drops what is queued when it stops."""

from __future__ import annotations

import asyncio

from faircoop_node.net.transport import PeerId
from faircoop_node.node.gossip import TX_BATCH, TX_FLUSH_S, TxRelay

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
    await asyncio.sleep(TX_FLUSH_S * 4)
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
    await asyncio.sleep(TX_FLUSH_S * 4)
    assert [txs for txs, _ in sent] == [tuple(raws[:TX_BATCH]), tuple(raws[TX_BATCH:])]


async def test_close_drops_what_is_queued() -> None:
    relay, sent = recorder()
    relay.add([b"a"], frozenset())
    relay.close()
    await asyncio.sleep(TX_FLUSH_S * 4)
    assert sent == []
