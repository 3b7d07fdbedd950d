"""A fetched block range is checked and stored in one worker-thread hop, synced only where it
must be: the last block written, and a block at the height this validator last signed at.

The store records each commit's `sync` flag and every `flush()`; `sync.store_range` runs
directly (the network path is covered by test_node_network's observer sync).
"""

from __future__ import annotations

from typing import Any

import pytest

from consensus import codec
from consensus.certificate import build_certificate
from consensus.chain import make_block, validate_block
from consensus.chainstate import encode_chain_state, genesis_state
from consensus.ledger import SignatureCache, UtxoDiff
from consensus.types import Block, BlockHash, Genesis
from consensus.votes import VoteType, encode_certificate, sign_vote
from faircoop_node.node.sync import store_range
from faircoop_node.storage import MemoryStore
from tests.builders import CHAIN_ID
from tests.node_runtime.harness import VALIDATOR_KEYS, fresh_store, runtime_genesis

BLOCKS = 6


class RecordingStore(MemoryStore):
    """A MemoryStore noting the sync flag of every commit and each flush."""

    def __init__(self, genesis: Genesis, **kw: Any) -> None:
        super().__init__(genesis, **kw)
        self.events: list[str] = []

    def commit_block(self, block: Block, block_hash: BlockHash, diff: UtxoDiff,
                     certificate: bytes, chain_state: bytes, *, sync: bool = True,
                     **kw: Any) -> None:
        super().commit_block(block, block_hash, diff, certificate, chain_state, sync=sync, **kw)
        self.events.append(f"{block.header.height}{'S' if sync else 'u'}")

    def flush(self) -> None:
        super().flush()
        self.events.append("flush")


def certified_chain(genesis: Genesis, n: int) -> list[tuple[Block, bytes]]:
    """`n` empty blocks after genesis, each with a certificate of all four precommits."""
    store = fresh_store(genesis)
    state = genesis_state(genesis)
    out: list[tuple[Block, bytes]] = []
    last_cert = b""
    for h in range(1, n + 1):
        block = make_block(state, state.proposer(h, 0), state.last_block_time_ms + 1, (),
                           last_cert)
        block_id = codec.block_hash(block.header)
        votes = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, h, 0, block_id)
                 for k in VALIDATOR_KEYS]
        cert = encode_certificate(build_certificate(votes, state.voting_set()))
        valid = validate_block(state, block, block_id, store)
        store.commit_block(block, block_id, valid.diff, cert, encode_chain_state(valid.state))
        out.append((block, cert))
        state, last_cert = valid.state, cert
    return out


@pytest.fixture(scope="module")
def chain() -> tuple[Genesis, list[tuple[Block, bytes]]]:
    genesis = runtime_genesis()
    return genesis, certified_chain(genesis, BLOCKS)


def recording_store(genesis: Genesis) -> RecordingStore:
    return RecordingStore(genesis, genesis_chain_state=encode_chain_state(genesis_state(genesis)))


# (case, signed height, index of a block whose certificate is replaced by garbage,
#  expected store events, blocks done, a problem reported)
CASES = [
    ("all_good", None, None, ["1u", "2u", "3u", "4u", "5u", "6S"], 6, False),
    ("voted_at_3", 3, None, ["1u", "2u", "3S", "4u", "5u", "6S"], 6, False),
    ("voted_at_last", 6, None, ["1u", "2u", "3u", "4u", "5u", "6S"], 6, False),
    ("bad_4th", None, 3, ["1u", "2u", "3u", "flush"], 3, True),
    ("bad_4th_after_voted_3", 3, 3, ["1u", "2u", "3S"], 3, True),
    ("bad_first", None, 0, [], 0, True),
]


@pytest.mark.parametrize(("case", "signed", "bad", "events", "done", "problem"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_range_is_synced_once_at_its_end_and_where_we_voted(
        chain: tuple[Genesis, list[tuple[Block, bytes]]], case: str, signed: int | None,
        bad: int | None, events: list[str], done: int, problem: bool) -> None:
    genesis, blocks = chain
    store = recording_store(genesis)
    items = list(blocks)
    if bad is not None:
        items[bad] = (items[bad][0], b"\x01\x02")
    outcome = store_range(store, SignatureCache(), genesis_state(genesis), items, signed)
    assert store.events == events
    assert len(outcome.done) == done
    assert (outcome.problem is not None) == problem
    assert outcome.bug is None
    assert store.tip().height == done
    if done:
        assert outcome.done[-1][1] == codec.block_hash(blocks[done - 1][0].header)
        # the chain state each block produced is what the store holds at the end
        assert outcome.done[-1][3].state.height == done


def test_a_store_refusal_is_a_bug_not_the_peers_fault(
        chain: tuple[Genesis, list[tuple[Block, bytes]]]) -> None:
    genesis, blocks = chain
    store = recording_store(genesis)

    calls = {"n": 0}
    original = store.commit_block

    def failing(*args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        original(*args, **kw)

    store.commit_block = failing  # type: ignore[method-assign]
    outcome = store_range(store, SignatureCache(), genesis_state(genesis), list(blocks), None)
    assert [b.header.height for b, *_ in outcome.done] == [1, 2]
    assert outcome.problem is None and isinstance(outcome.bug, OSError)
    assert str(outcome.bug) == "disk full"
    assert store.events == ["1u", "2u", "flush"]  # what was written becomes durable
