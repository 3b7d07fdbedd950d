"""A full replay of a stopped node's chain store, and the double-sign checks, for fault tests.

`replay_store` reads every block and certificate of a node's LevelDB store and stores them into
a fresh memory store with the node's own sync code (`sync.store_range`: each certificate
against its height's voting set, every chain and ledger rule). The replayed UTXO set and chain
state must equal the store's, key for key: nothing half-written, nothing missing, nothing that
a node checking from genesis would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from consensus import codec
from consensus.chainstate import encode_chain_state, genesis_state
from consensus.evidence import decode_evidence
from consensus.ledger import SignatureCache
from faircoop_node.devnet import DevnetNode
from faircoop_node.genesis_file import load_genesis
from faircoop_node.node.sync import store_range
from faircoop_node.storage import LevelDBStore, MemoryStore

BATCH = 200


def replay_store(node: DevnetNode) -> int:
    """Replay the (stopped) node's store from genesis; the height replayed. AssertionError
    names the first height that does not check, or what differs."""
    genesis = load_genesis(node.directory / "genesis.json")
    gid = codec.genesis_hash(genesis)
    source = LevelDBStore(node.directory / "data" / "chain", genesis, create=False)
    try:
        first = genesis_state(genesis, gid)
        target = MemoryStore(genesis, genesis_chain_state=encode_chain_state(first))
        state, cache = first, SignatureCache()
        tip = source.tip().height
        for start in range(1, tip + 1, BATCH):
            items = []
            for h in range(start, min(tip, start + BATCH - 1) + 1):
                block, cert = source.get_block_at(h), source.get_certificate(h)
                assert block is not None and cert, f"{node.name}: block {h} missing below the tip"
                items.append((block, cert))
            outcome = store_range(target, cache, state, items, None)
            assert outcome.problem is None and outcome.bug is None, \
                f"{node.name}: replay stopped: {outcome.problem or outcome.bug}"
            assert len(outcome.done) == len(items)
            state = outcome.done[-1][3].state
        assert target.tip() == source.tip(), f"{node.name}: replayed tip differs"
        assert target.get_chain_state() == source.get_chain_state(), \
            f"{node.name}: replayed chain state differs"
        assert list(target.iter_utxos()) == list(source.iter_utxos()), \
            f"{node.name}: replayed UTXO set differs"
        return tip
    finally:
        source.close()


def evidence_on_chain(node: DevnetNode) -> list[str]:
    """The offenders (pubkey prefixes) of every piece of evidence in the stopped node's chain."""
    genesis = load_genesis(node.directory / "genesis.json")
    store = LevelDBStore(node.directory / "data" / "chain", genesis, create=False)
    try:
        out = []
        for h in range(1, store.tip().height + 1):
            block = store.get_block_at(h)
            assert block is not None
            out.extend(decode_evidence(raw).vote_a.validator.hex()[:16]
                       for raw in block.evidence)
        return out
    finally:
        store.close()


def equivocations_logged(nodes: Sequence[DevnetNode]) -> list[str]:
    """Nodes whose log shows they caught someone signing twice."""
    return [n.name for n in nodes
            if '"event":"equivocation"' in Path(n.log_path).read_text(errors="replace")]
