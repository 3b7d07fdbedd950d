"""A devnet of real node processes whose P2P links all run through a `ProxyHub`, plus the load
client and the invariant checks every fault test ends with.

Reuses the e2e helpers (`tests/e2e/helpers.py`) and `faircoop_node.devnet` unchanged: the only
difference from a plain devnet is the `--set p2p.peers=...` each node is started with, which
points every configured peer at the proxy link for that (dialer, peer) pair.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from consensus import codec
from consensus.types import Tx
from faircoop_node.config import P2P_PATH
from faircoop_node.devnet import Devnet, DevnetLayout, DevnetNode, create_devnet, kill_leftovers
from tests.builders import key, make_tx, single
from tests.e2e.helpers import (
    demo_key_and_policy,
    fan_out,
    final_on,
    free_base_port,
    get,
    height,
    post_tx,
    wait_for,
)
from tests.faults.proxy import ProxyHub

# After a fault ends, every live node must finalize two new heights within this many seconds
# (devnet params: propose timeout 1 s, vote timeout 0.5 s, +0.25 s a round; a restarted process
# needs ~2-4 s to start on 2 shared cores before it can sync). Stated in docs/RELIABILITY.md.
RECOVERY_BOUND_S = 25.0


class ProxiedDevnet(Devnet):
    """A `Devnet` whose nodes dial their peers through the proxy hub's links."""

    def __init__(self, layout: DevnetLayout, hub: ProxyHub) -> None:
        super().__init__(layout)
        self.hub = hub
        self.peer_urls: dict[str, list[str]] = {}
        self.wrappers: dict[str, list[str]] = {}  # a command to start a node under (faketime)
        validators = [n for n in layout.nodes if n.validator]
        for node in layout.nodes:
            urls = []
            for peer in validators:
                if peer.name == node.name:
                    continue
                port = hub.add_link((node.name, peer.name), peer.p2p_port)
                urls.append(f"ws://127.0.0.1:{port}{P2P_PATH}")
            self.peer_urls[node.name] = urls

    def node_command(self, node: DevnetNode) -> list[str]:
        return [*self.wrappers.get(node.name, []), *super().node_command(node), "--set",
                "p2p.peers=" + ",".join(self.peer_urls[node.name])]


@dataclass
class Cluster:
    layout: DevnetLayout
    net: ProxiedDevnet
    hub: ProxyHub

    @property
    def nodes(self) -> list[DevnetNode]:
        return list(self.layout.nodes)

    @property
    def validators(self) -> list[DevnetNode]:
        return [n for n in self.layout.nodes if n.validator]

    def node(self, name: str) -> DevnetNode:
        return next(n for n in self.layout.nodes if n.name == name)

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.net.procs.items()}


def start_cluster(directory: Path, validators: int = 4,
                  prepare: Callable[[DevnetLayout], None] | None = None,
                  seed: int = 0) -> Cluster:
    """Create a proxied devnet under `directory`, `prepare` it (mount a disk, say), start every
    node and wait for height 1 everywhere."""
    layout = create_devnet(directory, validators=validators, base_port=free_base_port())
    if prepare is not None:
        prepare(layout)
    hub = ProxyHub(seed)
    net = ProxiedDevnet(layout, hub)
    try:
        net.start_all()
        wait_for(lambda: all(height(n) >= 1 for n in layout.nodes), 60,
                 "every node of the proxied devnet at height 1")
    except BaseException:
        stop_cluster(Cluster(layout, net, hub))
        raise
    return Cluster(layout, net, hub)


def stop_cluster(cluster: Cluster) -> dict[str, int]:
    for name, proc in cluster.net.procs.items():  # a paused node can't act on SIGTERM
        if proc.poll() is None:
            cluster.net.signal(name, 18)  # SIGCONT
    try:
        return cluster.net.stop_all()
    finally:
        cluster.hub.close()
        kill_leftovers(cluster.layout)


# -- load ---------------------------------------------------------------------------------------


def try_post(node: DevnetNode, tx: Tx, timeout: float = 2.0) -> str | None:
    """The txid if `node` accepted the tx (HTTP 200), None if it refused or did not answer."""
    req = urllib.request.Request(f"{node.api_url}/api/v1/tx",
                                 data=codec.encode_tx(tx).hex().encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return str(json.loads(resp.read())["txid"])
    except (OSError, ValueError, urllib.error.HTTPError):
        return None


@dataclass
class LoadClient:
    """Submits independent payments to random nodes at `rate_per_s` from a background thread.

    Like a wallet, it remembers which node accepted each tx, so a tx accepted only by a node
    that was later SIGKILLed (mempools are not kept across a crash, docs/OPERATIONS.md) can be
    resubmitted once after the fault; every other accepted tx must become final by itself.
    """

    nodes: Sequence[DevnetNode]
    txs: list[Tx]
    rng: random.Random
    rate_per_s: float = 10.0
    twins: dict[str, Tx] = field(default_factory=dict)  # txid -> a conflicting double spend
    accepted: dict[str, str] = field(default_factory=dict)  # txid -> node name
    by_txid: dict[str, Tx] = field(default_factory=dict)
    rivals: dict[str, str] = field(default_factory=dict)  # txid <-> its twin's txid, both ways
    refused: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="load")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while self.txs and not self._stop.is_set():
            tx = self.txs.pop()
            node, other = self.rng.sample(list(self.nodes), 2)
            txid = try_post(node, tx)
            twin = self.twins.pop(codec.txid(tx).hex(), None)
            if twin is not None:  # the double spend goes to another node at once
                twin_id = try_post(other, twin)
                if twin_id is not None:
                    self._accept(twin_id, twin, other)
                    self.rivals[twin_id] = codec.txid(tx).hex()
                    self.rivals[codec.txid(tx).hex()] = twin_id
            if txid is None:
                self.refused += 1
                if twin is None or codec.txid(tx).hex() not in self.rivals:
                    self.txs.insert(0, tx)  # try it again later, maybe on another node
            else:
                self._accept(txid, tx, node)
            self._stop.wait(1.0 / self.rate_per_s)

    def _accept(self, txid: str, tx: Tx, node: DevnetNode) -> None:
        self.accepted[txid] = node.name
        self.by_txid[txid] = tx

    def resubmit(self, names: set[str], to: DevnetNode, grace_s: float = 8.0) -> int:
        """Resubmit to `to` every tx only nodes in `names` (SIGKILLed) accepted that is still
        not final, nor beaten by its double spend, `grace_s` after the fault: the txs the crash
        really lost. How many."""
        def lost() -> list[str]:
            return [t for t, name in self.accepted.items() if name in names
                    and not final_on(to, t) and not (t in self.rivals and
                                                     final_on(to, self.rivals[t]))]

        deadline = time.monotonic() + grace_s
        while lost() and time.monotonic() < deadline:
            time.sleep(0.5)
        missing = lost()
        for txid in missing:
            try_post(to, self.by_txid[txid])
        return len(missing)


TWIN_EVERY = 5  # one payment in this many also gets a conflicting double spend


def funded_load(cluster: Cluster, count: int, seed: int) -> LoadClient:
    """Split the demo allocation into `count` coins (final before returning) and a load client
    holding `count` payments of them, each spending its own coin; every TWIN_EVERY-th also has
    a twin spending the same coin to another payee, sent to another node at the same moment."""
    split, payments = fan_out(cluster.layout, count)
    first = cluster.validators[0]
    split_id = post_tx(first, split)
    wait_for(lambda: all(final_on(n, split_id) for n in cluster.nodes), 30, "the fan-out final")
    demo, policy = demo_key_and_policy(cluster.layout)
    twins = {}
    for i, tx in enumerate(payments):
        if i % TWIN_EVERY == 0:
            twin = make_tx([(tx.inputs[0].prevout, policy, [demo])],
                           [(codec.policy_lock(single(key(90_000 + i))), tx.outputs[0].amount)],
                           chain_id=tx.chain_id, memo=b"double spend")
            twins[codec.txid(tx).hex()] = twin
    return LoadClient(cluster.nodes, list(payments), random.Random(seed), twins=twins)


# -- invariants ---------------------------------------------------------------------------------


def chain_hashes(node: DevnetNode) -> list[str]:
    """Every final block hash of `node`, heights 1..tip, from the `headers` endpoint."""
    out: list[str] = []
    while True:
        page = get(node, f"headers?from={len(out) + 1}&count=1000", timeout=10)
        if not page:
            return out
        for i, item in enumerate(page):
            assert item["height"] == len(out) + 1 + i, "headers out of order"
        out.extend(str(item["hash"]) for item in page)
        if len(page) < 1000:
            return out


def assert_no_fork(nodes: Sequence[DevnetNode]) -> int:
    """No two nodes hold different blocks at any height; the number of heights compared."""
    chains = {n.name: chain_hashes(n) for n in nodes}
    longest = max(chains.values(), key=len)
    for name, chain in chains.items():
        for h, (mine, ref) in enumerate(zip(chain, longest, strict=False), start=1):
            assert mine == ref, f"{name} finalized {mine} at height {h}, another node {ref}"
    return min(len(c) for c in chains.values())


def time_to_progress(nodes: Sequence[DevnetNode], blocks: int, bound_s: float,
                     what: str) -> float:
    """Seconds until every node is `blocks` heights past the highest height seen now."""
    start = time.monotonic()
    target = max(height(n) for n in nodes) + blocks
    wait_for(lambda: all(height(n) >= target for n in nodes), bound_s, what)
    return time.monotonic() - start


def assert_settled(nodes: Sequence[DevnetNode], load: LoadClient, txids: Sequence[str],
                   timeout: float) -> int:
    """Every accepted tx is final on every node, unless its double spend won: then exactly one
    of the pair is final, the same one on every node, and the other on none. The number of
    double spends settled."""
    pending = list(txids)
    deadline = time.monotonic() + timeout

    def settled(t: str) -> bool:
        if all(final_on(n, t) for n in nodes):
            return True
        rival = load.rivals.get(t)
        return rival is not None and all(final_on(n, rival) for n in nodes)

    while pending and time.monotonic() < deadline:
        pending = [t for t in pending if not settled(t)]
        if pending:
            time.sleep(0.5)
    assert not pending, (f"{len(pending)} accepted txs not final on every node after "
                         f"{timeout}s, e.g. {pending[:3]}")
    pairs = {tuple(sorted((t, load.rivals[t]))) for t in txids if t in load.rivals}
    for a, b in pairs:
        final_a = [final_on(n, a) for n in nodes]
        final_b = [final_on(n, b) for n in nodes]
        winner, loser = (final_a, final_b) if all(final_a) else (final_b, final_a)
        assert all(winner) and not any(loser), \
            f"double spend {a[:12]}/{b[:12]}: final on nodes a={final_a} b={final_b}"
    return len(pairs)


BAD_EVENTS = ('"event":"node_bug"', '"event":"message_handler_failed"', "Traceback",
              '"event":"conflicting_final_block"', '"event":"certified_block_invalid"')


def assert_clean_logs(nodes: Sequence[DevnetNode]) -> None:
    """No node logged a bug, a traceback, or a sign of two different final blocks."""
    for node in nodes:
        text = node.log_path.read_text(errors="replace")
        for bad in BAD_EVENTS:
            assert bad not in text, f"{node.name} logged {bad}"


# -- node logs and restarts -------------------------------------------------------------------


def log_offset(node: DevnetNode) -> int:
    """Where the node's log ends now (read events after it with `events`)."""
    try:
        return node.log_path.stat().st_size
    except OSError:
        return 0


def events(node: DevnetNode, name: str, since: int = 0) -> list[dict[str, object]]:
    """The node's logged events called `name`, after byte `since` of its log."""
    with open(node.log_path, "rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    tag = f'"event":"{name}"'
    out = []
    for line in lines:
        if tag in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def wait_logged(node: DevnetNode, name: str, since: int, timeout: float) -> dict[str, object]:
    """The first `name` event the node logs after byte `since`, waiting up to `timeout`."""
    found: list[dict[str, object]] = []

    def seen() -> bool:
        found[:] = events(node, name, since)
        return bool(found)

    wait_for(seen, timeout, f"{node.name} to log {name}")
    return found[0]


def restart(cluster: Cluster, node: DevnetNode, grace_s: float = 15.0) -> None:
    """Stop one node as an operator does (SIGTERM, which it must obey at once) and start it."""
    proc = cluster.net.procs[node.name]
    proc.send_signal(15)
    code = proc.wait(timeout=grace_s)
    assert code == 0, f"{node.name} exited {code} on SIGTERM"
    cluster.net.start(node)
