"""The crash test's writer: commit valid blocks to a LevelDBStore until killed.

Usage (from the repository root): python -m tests.storage.crash_writer PATH SEED [MAX_HEIGHT].
Prints "ready <height>" once the store is open,
then commits blocks built by `storage_chain.next_block` (deterministic from the seed and the
chain so far), and now and then a last-signed record, until SIGKILL or MAX_HEIGHT.
"""

from __future__ import annotations

import sys

from consensus.types import COIN
from faircoop_node.storage import LevelDBStore
from tests.storage.storage_chain import commit, make_genesis, next_block, wallet

WALLETS = [wallet(i, "crash") for i in range(5)]


def crash_genesis():  # shared with the parent test
    return make_genesis(WALLETS, [40 * COIN] * 10)


def main() -> None:
    path, seed = sys.argv[1], sys.argv[2]
    max_height = int(sys.argv[3]) if len(sys.argv) > 3 else 10**9
    store = LevelDBStore(path, crash_genesis())
    print(f"ready {store.tip().height}", flush=True)
    while store.tip().height < max_height:
        block = next_block(store, WALLETS, seed, max_txs=12)
        commit(store, block)
        if block.header.height % 3 == 0:
            store.put_last_signed(b"signed %d" % block.header.height)
    store.close()


if __name__ == "__main__":
    main()
