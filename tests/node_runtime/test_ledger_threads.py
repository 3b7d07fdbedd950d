"""Which of the driver's store calls leave the event loop (`ports.StoreLedger`): small work
stays on it, since a thread hop costs more than the work; big blocks and slow disks go to a
worker thread, so the loop keeps serving peers and the API."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from consensus.crypto import VerifiedMemo
from consensus.ledger import SignatureCache
from faircoop_node.node import ports
from faircoop_node.node.ports import INLINE_SYNC_S, INLINE_TXS, PROBE_S, StoreLedger


class Ran(Exception):
    """Raised by the stand-ins once they noted their thread (the real work is not needed)."""


class DiskStub:
    """A store whose synced write takes `sync_s` of the ledger's clock (`now`, advanced by the
    write itself, so a busy machine's preemption can't make a fast disk look slow) and notes
    the thread it ran on. In a worker thread it takes `gil_wait_s` more: the wait to get the
    GIL back from a busy event loop, which a write timed there can't tell from the disk's."""

    def __init__(self, sync_s: float = 0.0, gil_wait_s: float = 0.0) -> None:
        self.sync_s = sync_s
        self.gil_wait_s = gil_wait_s
        self.now = 0.0
        self.threads: list[int] = []
        self.loop_thread = threading.get_ident()

    def put_last_signed(self, record: bytes) -> None:
        self.threads.append(threading.get_ident())
        self.now += self.sync_s
        if threading.get_ident() != self.loop_thread:
            self.now += self.gil_wait_s

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def disk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger times its writes by the stub's clock (set per test through `ledger`)."""
    monkeypatch.setattr(ports, "time", SimpleNamespace(perf_counter=time.perf_counter,
                                                       monotonic=time.monotonic, time=time.time))


def ledger(store: DiskStub, in_thread: bool = True) -> StoreLedger:
    ports.time.perf_counter = store.perf_counter  # type: ignore[misc]  # see disk_clock
    return StoreLedger(store, SignatureCache(), VerifiedMemo(), in_thread)  # type: ignore[arg-type]


def block_of(txs: int) -> Any:
    return SimpleNamespace(txs=(None,) * txs)


@pytest.fixture
def ran_on(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    threads: list[int] = []

    def note(*args: object, **kwargs: object) -> None:
        threads.append(threading.get_ident())
        raise Ran

    monkeypatch.setattr(ports, "validate_block", note)
    monkeypatch.setattr(ports, "store_block", note)
    return threads


@pytest.mark.parametrize(("txs", "sync_s", "validate_inline", "commit_inline"), [
    (0, 0.0, True, True),  # an empty block, a fast disk: all on the loop
    (INLINE_TXS, 0.0, True, True),
    (INLINE_TXS + 1, 0.0, False, False),  # a big block: both in the thread
    (0, INLINE_SYNC_S * 2, True, False),  # a slow disk: the commit's synced batch leaves
    (INLINE_TXS + 1, INLINE_SYNC_S * 2, False, False),
])
async def test_small_blocks_stay_on_the_loop(ran_on: list[int], txs: int, sync_s: float,
                                             validate_inline: bool, commit_inline: bool) -> None:
    store = DiskStub(sync_s)
    led = ledger(store)
    await led.write_signed(b"record")  # times the disk
    with pytest.raises(Ran):
        await led.validate(None, block_of(txs), None)  # type: ignore[arg-type]
    with pytest.raises(Ran):
        await led.commit(None, block_of(txs), None, b"", None)  # type: ignore[arg-type]
    loop_thread = threading.get_ident()
    assert [t == loop_thread for t in ran_on] == [validate_inline, commit_inline]


@pytest.mark.parametrize("gil_wait_s", [0.0, INLINE_SYNC_S * 3])
async def test_last_signed_writes_follow_the_disks_pace(gil_wait_s: float) -> None:
    """A slow write sends the next PROBE_S of writes to a thread; then one is timed on the loop
    again. What a write timed in the thread took does not count: with the GIL's wait in it,
    a disk that recovered under load would look slow there for ever."""
    store = DiskStub(gil_wait_s=gil_wait_s)
    led = ledger(store)
    loop_thread = store.loop_thread
    await led.write_signed(b"1")  # nothing timed yet: taken as fast
    store.sync_s = INLINE_SYNC_S * 2
    await led.write_signed(b"2")  # on the loop, and found slow
    await led.write_signed(b"3")  # so this one goes to a thread
    store.sync_s = 0.0
    await led.write_signed(b"4")  # the disk is fast again, but the probe is not due
    assert not led._fast_disk()
    store.now += PROBE_S
    await led.write_signed(b"5")  # the probe: on the loop, and found fast
    await led.write_signed(b"6")  # so the loop keeps them
    assert [t == loop_thread for t in store.threads] == [True, True, False, False, True, True]
    assert led.sync_s < INLINE_SYNC_S


async def test_a_disk_still_slow_at_the_probe_keeps_writes_in_the_thread() -> None:
    store = DiskStub(sync_s=INLINE_SYNC_S * 2)
    led = ledger(store)
    for n in range(3):  # the first is timed on the loop; the next two wait in a thread
        await led.write_signed(b"%d" % n)
    store.now += PROBE_S
    for n in range(3):  # the probe, slow again: another PROBE_S in the thread
        await led.write_signed(b"%d" % n)
    on_loop = [t == store.loop_thread for t in store.threads]
    assert on_loop == [True, False, False, True, False, False]


async def test_without_threads_everything_runs_on_the_callers_thread(ran_on: list[int]) -> None:
    store = DiskStub(INLINE_SYNC_S * 2)
    led = ledger(store, in_thread=False)
    await led.write_signed(b"1")
    await led.write_signed(b"2")
    with pytest.raises(Ran):
        await led.validate(None, block_of(INLINE_TXS * 10), None)  # type: ignore[arg-type]
    loop_thread = threading.get_ident()
    assert set(store.threads) | set(ran_on) == {loop_thread}
