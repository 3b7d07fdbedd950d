"""Answering peers' GET_BLOCKS: off the consensus loop, one request per peer at a time.

Why: a GET_BLOCKS of ten bytes asks for up to 1,000 blocks (8 MiB). Answered on the node's one
consensus loop, a burst of them queued behind each other for seconds while votes waited, and
every answer was queued to the peer whether or not it read them. Here a request is refused
(dropped, and counted) while the same peer's previous answer is still being read, or while
more than an answer's worth (`sync.MAX_RESPONSE_BYTES`) waits to be written to it; reads run
one at a time in a worker thread, and an answer is never larger than that. So one peer can
make this node hold at most one answer for it in hand and two in its send queue, whatever it
sends; an honest syncing node never has two requests out to one peer, so it never notices.

Refusing while *anything* was queued to the peer (as before issue 20) refused nearly every
request of a peer behind a slow link: votes and txs are always queued to it under load, so
it could never sync, and fell further behind the longer the load lasted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from faircoop_node.net.envelope import BlockRange, MsgType, decode_get_blocks, encode_block_range
from faircoop_node.net.transport import PeerId, Transport
from faircoop_node.node.sync import MAX_RESPONSE_BYTES, read_range
from faircoop_node.storage.base import BaseStore


class BlockServer:
    """Serves ranges of final blocks to peers. `request` raises DecodeError on a bad payload."""

    def __init__(self, store: BaseStore, transport: Callable[[], Transport | None],
                 tip: Callable[[], int]) -> None:
        self._store = store
        self._transport = transport
        self._tip = tip
        self._serving: set[PeerId] = set()  # at most one answer per peer in hand
        self._reads = asyncio.Semaphore(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.served = 0
        self.refused = 0

    def request(self, peer: PeerId, payload: bytes) -> None:
        req = decode_get_blocks(payload)
        transport = self._transport()
        if transport is None:
            return
        if peer in self._serving or transport.backlog(peer) > MAX_RESPONSE_BYTES:
            self.refused += 1  # its last answer is not gone yet: an honest peer waits for it
            return
        self._serving.add(peer)
        task = asyncio.get_running_loop().create_task(self._answer(peer, req.start, req.count))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, peer: PeerId, start: int, count: int) -> None:
        try:
            tip = self._tip()
            if start > tip:
                answer = BlockRange(start, ())
            else:
                async with self._reads:
                    answer = await asyncio.to_thread(read_range, self._store, start,
                                                     min(tip, start + count - 1))
            transport = self._transport()
            if transport is not None:
                transport.send(peer, MsgType.BLOCKS, encode_block_range(answer))
                self.served += 1
        finally:
            self._serving.discard(peer)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
