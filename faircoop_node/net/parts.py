"""Large messages on the wire as PART frames, so no WebSocket frame exceeds WIRE_FRAME_BYTES.

Why: the WebSocket library buffers a whole frame before anyone can look at it, up to a limit
fixed when the connection opens. With that limit at the size of a block range (16 MiB), every
socket still in its handshake could make a node hold 16 MiB. So every frame is capped at
`WIRE_FRAME_BYTES` (64 KiB, a hundred times what a handshake needs) from the first byte, and a
larger message travels as consecutive PART frames that the receiving transport reassembles:
only after the handshake, at most `limits.max_frame_bytes` per message, and within one byte
budget shared by every connection (`limits.reassembly_bytes`). When the budget is full the
connection whose unfinished message is oldest is dropped (a slow sender, or one that never
finishes), not the newcomer.

The split is canonical, so a message has one wire form: pieces of exactly `PART_PIECE` bytes
but the last, each PART naming the whole message's size, and only messages larger than one
frame are split. Anything else is a protocol breach and costs the sender a ban.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.errors import DecodeError
from faircoop_node.net.envelope import (
    PART_PIECE,
    WIRE_FRAME_BYTES,
    MsgType,
    Part,
    encode_envelope,
    encode_part,
)


def wire_frames(message: bytes) -> tuple[bytes, ...]:
    """The frames that carry one encoded envelope: itself, or its PART frames."""
    if len(message) <= WIRE_FRAME_BYTES:
        return (message,)
    total = len(message)
    return tuple(encode_envelope(MsgType.PART, encode_part(Part(total, message[i:i + PART_PIECE])))
                 for i in range(0, total, PART_PIECE))


class Reassembly:
    """One connection's message in parts, if one is under way."""

    __slots__ = ("_buffer", "_budget", "_max_message", "_total", "started")

    def __init__(self, max_message: int, budget: PartBudget) -> None:
        self._max_message = max_message
        self._budget = budget
        self._buffer = bytearray()
        self._total = 0
        self.started = 0.0  # clock time of the first part of the message under way

    @property
    def held(self) -> int:
        return len(self._buffer)

    def feed(self, part: Part, now: float) -> bytes | None:
        """Add a part; the whole message once complete. DecodeError for a breach of the rules
        above; `BudgetFull` if the shared budget dropped this connection."""
        if part.total > self._max_message:
            raise DecodeError(f"part: a {part.total}-byte message is over the "
                              f"{self._max_message}-byte limit")
        if not self._buffer:
            self._total, self.started = part.total, now
        elif part.total != self._total:
            raise DecodeError(f"part: names a {part.total}-byte message inside a "
                              f"{self._total}-byte one")
        expected = min(PART_PIECE, self._total - len(self._buffer))
        if len(part.piece) != expected:
            raise DecodeError(f"part: a piece of {len(part.piece)} bytes where {expected} belong")
        self._budget.add(self, len(part.piece))
        self._buffer += part.piece
        if len(self._buffer) < self._total:
            return None
        whole = bytes(self._buffer)
        self.clear()
        return whole

    def clear(self) -> None:
        """Forget the message under way (done, or the connection ends)."""
        self._budget.release(self, len(self._buffer))
        self._buffer = bytearray()
        self._total = 0


class BudgetFull(Exception):
    """The shared budget had no room and this connection's message was the oldest."""


class PartBudget:
    """Bytes of unfinished messages across all connections, at most `limit`.

    `drop(owner)` is called for each connection evicted to make room (oldest message first);
    if the connection adding the bytes is itself the oldest, `add` raises BudgetFull instead.
    """

    def __init__(self, limit: int, drop: Callable[[Reassembly], None]) -> None:
        self.limit = limit
        self.used = 0
        self._drop = drop
        self._owners: set[Reassembly] = set()

    def add(self, owner: Reassembly, size: int) -> None:
        while self.used + size > self.limit:
            oldest = min(self._owners, key=lambda r: r.started, default=None)
            if oldest is None or oldest is owner:
                owner.clear()
                raise BudgetFull("the reassembly budget is full and this message is the oldest")
            oldest.clear()
            self._drop(oldest)
        self.used += size
        self._owners.add(owner)

    def release(self, owner: Reassembly, size: int) -> None:
        self.used -= size
        self._owners.discard(owner)
