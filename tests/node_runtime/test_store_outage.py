"""A validator whose store refuses writes (an injected failing disk), among three healthy ones.

Two failures, each for a while under load, then healed:
- `full`: every write is refused and nothing lands (ENOSPC before the log record);
- `fsync`: the write lands but the call fails (the record made it to disk, the fsync did not
  say so): after the reopen the store may hold a block the node thought it failed to commit.

What must hold (issue 20, item 3):
- the victim never sends a vote or proposal that its disk does not record: every message it
  sends is at or below the last-signed record on disk at that moment;
- it says why (`store_write_failed`), keeps serving reads, and the others keep finalizing;
- once the disk works again it resumes by itself (`store_recovered`), catches up and votes in
  later certificates;
- no double sign: no two different votes of it for one (height, round, type), no evidence;
- a restart on the same store works, and a fresh observer syncing from it alone (every block
  and certificate checked) ends with the same chain and the same UTXO set: a full replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

import pytest

from consensus.chainstate import encode_chain_state, genesis_state
from consensus.engine import SignedState, Step
from consensus.types import Genesis
from consensus.votes import Vote, VoteType, decode_certificate, decode_proposal, decode_vote
from faircoop_node.net.envelope import MsgType, decode_proposal_message
from faircoop_node.node.signing import decode_signed_state
from faircoop_node.storage import StoreWriteFailed
from faircoop_node.storage.base import BaseStore
from faircoop_node.storage.memory import MemoryKV
from faircoop_node.storage.schema import META_LAST_SIGNED
from tests.builders import key
from tests.node_runtime.harness import Cluster, Slot, payments, start_cluster, wait_for

VOTE_STEP = {VoteType.PREVOTE: Step.PREVOTE, VoteType.PRECOMMIT: Step.PRECOMMIT}


class FailingDisk:
    """A `KeyValue` over memory whose writes fail on command, as a disk does: `mode` "full"
    refuses them (nothing lands), "fsync" lands them and then reports failure. After a failure
    the handle takes nothing more until `reopen`, which fails while `mode` is set."""

    def __init__(self) -> None:
        self.inner = MemoryKV()
        self.mode: str | None = None
        self.poisoned = False
        self.refused = 0

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def items(self, prefix: bytes, *, start: bytes | None = None, stop: bytes | None = None,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return self.inner.items(prefix, start=start, stop=stop, reverse=reverse)

    def write(self, writes: Mapping[bytes, bytes | None], *, sync: bool) -> None:
        if self.poisoned:
            raise StoreWriteFailed("an earlier write failed: reopen first")
        if self.mode == "full":
            self.poisoned = True
            self.refused += 1
            raise StoreWriteFailed("IO error: No space left on device")
        self.inner.write(writes, sync=sync)
        if self.mode == "fsync" and sync:
            self.poisoned = True
            self.refused += 1
            raise StoreWriteFailed("IO error: fsync failed")

    def is_empty(self) -> bool:
        return self.inner.is_empty()

    def close(self) -> None:
        pass  # the test reopens the same memory on a restart

    def reopen(self) -> None:
        if self.mode is not None:
            raise StoreWriteFailed(f"still failing ({self.mode})")
        self.poisoned = False

    def recorded(self) -> SignedState | None:
        raw = self.inner.get(META_LAST_SIGNED)
        return None if raw is None else decode_signed_state(raw)


def failing_store(genesis: Genesis, disk: FailingDisk) -> BaseStore:
    return BaseStore(disk, genesis, create=True, where="failing disk",
                     genesis_chain_state=encode_chain_state(genesis_state(genesis)))


class SentLog:
    """Every vote and proposal a node signed that its transport sends (not those it relays),
    each checked against its disk's record at that moment."""

    def __init__(self, slot: Slot, disk: FailingDisk) -> None:
        self.votes: list[Vote] = []
        self.proposals = 0
        self.unrecorded: list[str] = []
        transport = slot.transport
        me = slot.key.public_key
        send, broadcast = transport.send, transport.broadcast

        def sent(msg_type: MsgType, payload: bytes) -> None:
            if msg_type == MsgType.VOTE:
                vote = decode_vote(payload)
                if vote.validator != me:
                    return
                self.votes.append(vote)
                self._check(disk, SignedState(vote.height, vote.round, VOTE_STEP[vote.vote_type]),
                            f"vote {vote.vote_type.name} h{vote.height} r{vote.round}")
            elif msg_type == MsgType.PROPOSAL:
                p = decode_proposal(decode_proposal_message(payload).proposal)
                if p.proposer != me:
                    return
                self.proposals += 1
                self._check(disk, SignedState(p.height, p.round, Step.PROPOSE),
                            f"proposal h{p.height} r{p.round}")

        def logged_send(peer: bytes, msg_type: MsgType, payload: bytes) -> bool:
            sent(msg_type, payload)
            return send(peer, msg_type, payload)  # type: ignore[arg-type]

        def logged_broadcast(msg_type: MsgType, payload: bytes, *args: object) -> int:
            sent(msg_type, payload)
            return broadcast(msg_type, payload, *args)  # type: ignore[arg-type]

        transport.send = logged_send  # type: ignore[method-assign]
        transport.broadcast = logged_broadcast  # type: ignore[method-assign]

    def _check(self, disk: FailingDisk, state: SignedState, what: str) -> None:
        on_disk = disk.recorded()
        if on_disk is None or state > on_disk:
            self.unrecorded.append(f"{what} sent, disk records {on_disk}")

    def double_signed(self) -> list[tuple[Vote, Vote]]:
        first: dict[tuple[int, int, VoteType], Vote] = {}
        out = []
        for vote in self.votes:
            slot = (vote.height, vote.round, vote.vote_type)
            seen = first.setdefault(slot, vote)
            if seen.block_id != vote.block_id:
                out.append((seen, vote))
        return out


def in_certificates(cluster: Cluster, pubkey: bytes, since: int) -> int:
    """How many certificates above height `since` (on a healthy node) carry `pubkey`'s vote."""
    node = cluster.nodes()[0]
    voters = node.state.voting_set()
    index = next(i for i, v in enumerate(voters) if v == pubkey)
    count = 0
    for h in range(since + 1, node.state.height + 1):
        raw = node.store.get_certificate(h)
        if raw and any(i == index for i, _ in decode_certificate(raw).signatures):
            count += 1
    return count


@pytest.mark.parametrize("mode", ["full", "fsync"])
async def test_a_failing_disk_stops_signing_then_resumes_without_a_double_sign(
        mode: str) -> None:
    cluster = await start_cluster(4)
    disk = FailingDisk()
    victim = cluster.slots[1]
    try:
        await wait_for(lambda: min(n.state.height for n in cluster.nodes()) >= 2, 15, "2 blocks")
        await cluster.restart(victim, failing_store(cluster.genesis, disk))
        node = victim.node
        assert node is not None
        sent = SentLog(victim, disk)
        txs = payments(cluster.genesis, 60)
        healthy = cluster.slots[0].node
        assert healthy is not None

        async def load(batch: list) -> None:  # type: ignore[type-arg]
            for tx in batch:
                await healthy.submit_tx(tx)
                await asyncio.sleep(0.02)

        await wait_for(lambda: node.state.height >= healthy.state.height - 1, 10, "in step")
        await load(txs[:20])
        disk.mode = mode
        await wait_for(lambda: node.outage.active, 10, "the outage to begin")
        assert disk.refused >= 1
        out_at = healthy.state.height
        duties = node._duties
        ticks = 0

        async def counted() -> None:
            nonlocal ticks
            ticks += 1
            await duties()

        node._duties = counted  # type: ignore[method-assign]
        node.driver.gated, node.driver.last_block_mono = True, 0.0  # as if out at the gate
        await load(txs[20:40])
        await asyncio.sleep(1.5)
        node._duties = duties  # type: ignore[method-assign]
        # its gate is open but no height can start: ticks keep their period, not a 1 ms loop
        # (an outage that begins at the gate: a failed write of a synced block, say)
        assert ticks <= 2.5 / node.options.tick_s, ticks
        # the others go on; the victim serves reads and signs nothing
        assert healthy.state.height >= out_at + 2
        assert node.store.get_block_at(node.store.tip().height) is not None or \
            node.store.tip().height == 0
        assert node.outage.active
        disk.mode = None
        await wait_for(lambda: not node.outage.active, 10, "the store to recover")
        await load(txs[40:])
        back_at = healthy.state.height
        await wait_for(lambda: node.state.height >= back_at + 4, 20, "the victim to catch up")
        await wait_for(lambda: in_certificates(cluster, victim.key.public_key, back_at) >= 2, 20,
                       "the victim's votes in new certificates")
        assert not sent.unrecorded, sent.unrecorded[:5]
        assert not sent.double_signed()
        assert sent.votes, "the victim sent nothing at all"
        for other in cluster.nodes():
            assert not other.evidence.items(), "someone found evidence"
        # a restart on the same store, then a full replay by a fresh observer synced from it
        await cluster.restart(victim, failing_store(cluster.genesis, disk))
        restarted = victim.node
        assert restarted is not None
        target = healthy.state.height
        await wait_for(lambda: restarted.state.height >= target, 15, "the restarted victim")
        for slot in cluster.slots:
            if slot is not victim and slot.node is not None:
                await cluster.stop(slot)
        observer = cluster.add(key(78), validator=False)
        await cluster.start(observer)
        assert observer.node is not None
        tip = restarted.state.height
        await wait_for(lambda: observer.node is not None and observer.node.state.height >= tip,
                       15, "the observer to replay the victim's chain")
        for h in range(1, tip + 1):
            assert observer.node.store.get_hash_at(h) == restarted.store.get_hash_at(h)
        assert list(observer.node.store.iter_utxos()) == list(restarted.store.iter_utxos())
    finally:
        await cluster.stop_all()
