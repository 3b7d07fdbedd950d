"""The credit crash test's writer: a node's commit path (validate_block, then store_block's one
batch) over a LevelDBStore, every block carrying credit transfers, until killed.

Usage (from the repository root): python -m tests.storage.credit_crash_writer PATH SEED.
Prints "ready <height>" once the store is open. Height 1 grants the members their lines; from
height 3 each block carries transfers whose payees and amounts follow from the seed and the
height, and whose sequence numbers from the store, so a writer restarted on the store a killed
one left carries on the same chain.
"""

from __future__ import annotations

import random
import sys

from consensus import codec
from consensus.certificate import build_certificate
from consensus.chain import make_block, validate_block
from consensus.chainstate import ChainState, encode_chain_state, genesis_state
from consensus.credit import CreditAccount, new_transfer, sign_credit_transfer
from consensus.types import Block, CreditTransfer, Genesis
from consensus.votes import VoteType, encode_certificate, sign_vote
from faircoop_node.node.commit import store_block, stored_tip
from faircoop_node.storage import BaseStore, LevelDBStore
from tests.api.api_chain import VALIDATOR_KEYS, make_chain_genesis
from tests.builders import CHAIN_ID, key, single
from tests.credit.credit_chain import limit_action

MEMBERS = [key(900 + i) for i in range(6)]
POLICIES = [single(k) for k in MEMBERS]
LOCKS = [codec.policy_lock(p) for p in POLICIES]
UNIT = 10**8


def crash_genesis() -> Genesis:
    return make_chain_genesis()


def open_store(path: str, create: bool = True) -> LevelDBStore:
    genesis = crash_genesis()
    return LevelDBStore(path, genesis, create=create, genesis_chain_state=encode_chain_state(
        genesis_state(genesis, codec.genesis_hash(genesis))))


def transfers(store: BaseStore, height: int, seed: str) -> tuple[CreditTransfer, ...]:
    """Up to 12 transfers for `height`, each member's numbered on from its account."""
    if height < 3:
        return ()
    rng = random.Random(f"{seed}/{height}")
    sequence = {lk: (store.get_credit_account(lk) or CreditAccount()).sequence for lk in LOCKS}
    out = []
    for _ in range(rng.randint(1, 12)):
        i = rng.randrange(len(MEMBERS))
        payee = rng.choice([j for j in range(len(MEMBERS)) if j != i])
        t = new_transfer(CHAIN_ID, LOCKS[i], sequence[LOCKS[i]],
                         [(LOCKS[payee], rng.randint(1, 2 * UNIT))], b"%d" % height)
        sequence[LOCKS[i]] += 1
        out.append(sign_credit_transfer(t, POLICIES[i], [MEMBERS[i]]))
    return tuple(out)


def next_block(store: BaseStore, state: ChainState, last_cert: bytes, seed: str) -> Block:
    height = state.height + 1
    actions = tuple(limit_action(i, lk, 10_000 * UNIT) for i, lk in enumerate(LOCKS)) \
        if height == 1 else ()
    return make_block(state, state.proposer(height, 0), state.last_block_time_ms + 1000,
                      transfers(store, height, seed), last_cert, (), actions)


def commit_next(store: BaseStore, seed: str) -> None:
    """Build, check, certify and store the next block, as a node's commit does."""
    state, last_cert = stored_tip(store)
    block = next_block(store, state, last_cert, seed)
    block_id = codec.block_hash(block.header)
    valid = validate_block(state, block, block_id, store)
    votes = [sign_vote(k, CHAIN_ID, VoteType.PRECOMMIT, block.header.height, 0, block_id)
             for k in VALIDATOR_KEYS]
    cert = encode_certificate(build_certificate(votes, state.voting_set()))
    store_block(store, state, block, block_id, cert, valid)


def main() -> None:
    path, seed = sys.argv[1], sys.argv[2]
    store = open_store(path)
    print(f"ready {store.tip().height}", flush=True)
    while True:
        commit_next(store, seed)


if __name__ == "__main__":
    main()
