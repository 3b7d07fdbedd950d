"""Relayed txs share TXS frames: one frame per batch and set of peers left out, sent after a
short wait or as soon as a batch is full, never back to the peer a tx came from."""

from __future__ import annotations

import asyncio
from typing import Any

from faircoop_node.net.envelope import MsgType, decode_txs
from faircoop_node.net.transport import PeerId
from faircoop_node.node import Node
from faircoop_node.node.runner import TX_BATCH, TX_FLUSH_S
from tests.node_runtime.harness import VALIDATOR_KEYS, fresh_store, runtime_genesis

P = PeerId(b"p" * 33)
Q = PeerId(b"q" * 33)


class Recorder:
    """Just enough of a Transport: what was broadcast, to whom not."""

    def __init__(self) -> None:
        self.sent: list[tuple[MsgType, tuple[bytes, ...], frozenset[PeerId]]] = []

    def set_handlers(self, *_: Any) -> None:
        return None

    def broadcast(self, msg_type: MsgType, payload: bytes,
                  exclude: frozenset[PeerId] = frozenset()) -> int:
        self.sent.append((msg_type, decode_txs(payload), exclude))
        return 1


def node_with_recorder() -> tuple[Node, Recorder]:
    genesis = runtime_genesis()
    node = Node(genesis, fresh_store(genesis), VALIDATOR_KEYS[0], validator=False)
    rec = Recorder()
    node.attach(rec)  # type: ignore[arg-type]
    return node, rec


async def test_txs_wait_briefly_and_share_a_frame_per_excluded_set() -> None:
    node, rec = node_with_recorder()
    node._relay_tx(b"a")
    node._relay_txs([b"b", b"c"], frozenset({P}))
    node._relay_tx(b"d")
    node._relay_txs([b"e"], frozenset({Q}))
    assert rec.sent == []  # nothing leaves before the flush
    await asyncio.sleep(TX_FLUSH_S * 4)
    assert sorted(rec.sent, key=lambda s: s[1]) == [
        (MsgType.TXS, (b"a", b"d"), frozenset()),
        (MsgType.TXS, (b"b", b"c"), frozenset({P})),
        (MsgType.TXS, (b"e",), frozenset({Q})),
    ]


async def test_a_full_batch_leaves_at_once_in_frames_of_at_most_tx_batch() -> None:
    node, rec = node_with_recorder()
    raws = [i.to_bytes(3, "big") for i in range(TX_BATCH + 1)]
    node._relay_txs(raws[:TX_BATCH], frozenset({P}))
    assert [(len(txs), ex) for _, txs, ex in rec.sent] == [(TX_BATCH, frozenset({P}))]
    node._relay_txs(raws[TX_BATCH:], frozenset({P}))
    await asyncio.sleep(TX_FLUSH_S * 4)
    assert [txs for _, txs, _ in rec.sent] == [tuple(raws[:TX_BATCH]), tuple(raws[TX_BATCH:])]
