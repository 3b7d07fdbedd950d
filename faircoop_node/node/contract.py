"""What the consensus driver needs from its host, and the little it hands back.

The node implements these ports over LevelDB, sockets and threads (`ports.py`); the simulator
and the interaction tests over a memory store, a simulated network and a simulated clock. They
are async so the node can hand heavy work to a thread; an implementation whose calls complete
at once can be driven without an event loop (`run_now`).
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from consensus.chain import ValidBlock
from consensus.chainstate import ChainState
from consensus.evidence import DuplicateVoteEvidence
from consensus.params import ChainParams
from consensus.types import Block, BlockHash, BlockTx
from consensus.votes import Proposal, Vote


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock milliseconds: block times, recovery waits."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go back: the production gate and stall detection."""
        ...


class Ledger(Protocol):
    """The store as the driver uses it: judge a block on a state, and commit one."""

    async def validate(self, state: ChainState, block: Block, block_id: BlockHash) -> ValidBlock:
        """Every rule (raises ValidationError or DecodeError)."""
        ...

    async def commit(self, state: ChainState, block: Block, block_id: BlockHash,
                     certificate: bytes, valid: ValidBlock) -> None:
        """Write the block, its certificate and the state after it in one atomic batch."""
        ...

    async def write_signed(self, record: bytes) -> None:
        """Durably store the last-signed record (synced) before a signature leaves."""
        ...


class Outbox(Protocol):
    """The network as the driver uses it: every peer gets what it sends, or only peer `to`
    (a re-send to a peer that just connected)."""

    def proposal(self, proposal: Proposal, block: Block, raw_proposal: bytes,
                 raw_block: bytes, to: bytes | None = None) -> None: ...

    def vote(self, vote: Vote, to: bytes | None = None) -> None: ...

    def evidence(self, evidence: DuplicateVoteEvidence, exclude: bytes | None) -> None:
        """Pass evidence on; `exclude` is the peer it came from (None: found here)."""
        ...


class TxPool(Protocol):
    """The mempool as the driver uses it (`faircoop_node.mempool.Mempool`)."""

    def __len__(self) -> int: ...

    def select(self, max_txs: int, max_bytes: int) -> list[BlockTx]: ...

    def remove_committed(self, txs: Sequence[BlockTx]) -> int: ...

    def revalidate(self, params: ChainParams) -> int:
        """Re-admit every pooled tx against the tip and `params`; how many were dropped."""
        ...


@dataclass(frozen=True, slots=True)
class Committed:
    """A block the driver (or catch-up sync) committed, for whoever watches: the feed, logs."""

    block: Block
    block_id: BlockHash
    certificate: bytes
    round: int
    source: str  # "consensus" or "sync"
    timeline_ms: dict[str, int] | None = None  # see timeline.py; consensus commits only


@dataclass(frozen=True, slots=True)
class DriverOptions:
    gossip_s: float = 1.0  # a driver stuck this long re-sends what it signed
    gossip_backoff_max: int = 8  # ... and each later re-send at one progress point waits
    # twice as long, up to this many times gossip_s (a lost message is found by a peer's
    # reconnect; a slow round must not be made slower by everyone re-sending everything)


T = TypeVar("T")


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose awaits all complete at once (the simulator's ports), here and now."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a port suspended: run_now needs ports that complete at once")


class NoTxs:
    """A `TxPool` that is always empty: for hosts whose chain carries no txs (the simulator,
    the interaction scripts)."""

    def __len__(self) -> int:
        return 0

    def select(self, max_txs: int, max_bytes: int) -> list[BlockTx]:
        return []

    def remove_committed(self, txs: Sequence[BlockTx]) -> int:
        return 0

    def revalidate(self, params: ChainParams) -> int:
        return 0
