"""store_block writes the validator sets a block's state names and the state before did not.

The sets of the state before are in the store already (the genesis, or the block before), so
steady blocks write none; a block whose state names a new set writes it, retrievable by hash.
"""

from __future__ import annotations

from dataclasses import replace

from consensus import codec
from consensus.chain import ValidBlock, make_block, validate_block
from consensus.chainstate import genesis_state
from consensus.types import Validator
from faircoop_node.node.commit import store_block
from tests.builders import key
from tests.node_runtime.harness import fresh_store, runtime_genesis


def _next(state, store):  # an empty block on `state` and what checking it gives
    block = make_block(state, state.proposer(state.height + 1, 0), state.last_block_time_ms + 1,
                       (), b"")
    block_id = codec.block_hash(block.header)
    return block, block_id, validate_block(state, block, block_id, store)


def _recording_store(genesis):  # type: ignore[no-untyped-def]
    store = fresh_store(genesis)
    writes: list[dict[bytes, bytes]] = []
    commit = store.commit_block

    def recording(*args, validator_sets=None, **kw):  # type: ignore[no-untyped-def]
        writes.append(dict(validator_sets or {}))
        return commit(*args, validator_sets=validator_sets, **kw)

    store.commit_block = recording  # type: ignore[method-assign]
    return store, writes


def test_a_steady_block_writes_no_sets() -> None:
    genesis = runtime_genesis()
    store, writes = _recording_store(genesis)
    state = genesis_state(genesis)
    assert store.get_validator_set(codec.validators_hash(state.current.validators)) is not None
    block, block_id, valid = _next(state, store)
    store_block(store, state, block, block_id, b"cert", valid)
    assert writes == [{}] and store.tip().height == 1


def test_a_block_naming_a_new_set_writes_it_retrievable_by_hash() -> None:
    genesis = runtime_genesis()
    store, writes = _recording_store(genesis)
    state = genesis_state(genesis)
    block, block_id, valid = _next(state, store)
    # its state names a new upcoming set, as a governance action would
    newcomer = Validator("newcoop", key(901).public_key)
    grown = tuple(sorted((*state.upcoming.validators, newcomer), key=lambda v: v.pubkey))
    after = replace(valid.state, upcoming=replace(valid.state.upcoming, validators=grown))
    store_block(store, state, block, block_id, b"cert", ValidBlock(valid.diff, after))
    new_hash = codec.validators_hash(grown)
    assert list(writes[-1]) == [bytes(new_hash)]
    assert store.get_validator_set(new_hash) == codec.pack(codec.validators_obj(grown))
