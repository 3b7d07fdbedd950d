"""A devnet of real node processes for the outsider-attack tests, and what they measure.

- `AttackNet`: a devnet whose nodes run with the common 1,024-descriptor limit (`ulimit -n`),
  with helpers to restart, wipe (empty data dir) and find nodes by name;
- `RssSampler`: each node's VmRSS, sampled from /proc in a thread, peak per node;
- `LogMark` / `bans_since`: the `peer_banned` lines a node logged after a point;
- `max_block_gap_s`: the longest time between two consecutive final blocks (header times);
- `attack_target` / `run`: the outsider's `Target` for a node, and an asyncio runner.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from consensus.codec import decode_header, genesis_hash
from faircoop_node.byzantine.outpeer import Target
from faircoop_node.config import P2P_PATH
from faircoop_node.devnet import Devnet, DevnetLayout, DevnetNode, create_devnet, kill_leftovers
from faircoop_node.genesis_file import load_genesis
from faircoop_node.keys import load_node_key
from faircoop_node.net.transport import ChainIdentity
from tests.e2e.helpers import free_base_port, get, height, wait_for
from tests.faults.proxy import ProxyHub

NOFILE = 1024  # the common default descriptor limit (finding 11 was measured at it)
T = TypeVar("T")
P = TypeVar("P", bound="Periodic")


class LimitedDevnet(Devnet):
    """A `Devnet` whose node processes start under `ulimit -n NOFILE` (soft and hard), and
    whose observer dials the validators through proxy links a test can cut (`ProxyHub`): the
    way to make it fall behind while an attacker stays connected to it."""

    def __init__(self, layout: DevnetLayout, hub: ProxyHub) -> None:
        super().__init__(layout)
        self.hub = hub
        self.observer_peers = [
            f"ws://127.0.0.1:{hub.add_link(('observer', n.name), n.p2p_port)}{P2P_PATH}"
            for n in layout.nodes if n.validator]

    def node_command(self, node: DevnetNode) -> list[str]:
        command = [*super().node_command(node)]
        if not node.validator:
            command += ["--set", "p2p.peers=" + ",".join(self.observer_peers)]
        return ["sh", "-c", f'ulimit -n {NOFILE} && exec "$@"', "sh", *command]

    def observer_links(self) -> list[tuple[str, str]]:
        return [("observer", n.name) for n in self.layout.nodes if n.validator]


@dataclass
class AttackNet:
    layout: DevnetLayout
    net: LimitedDevnet
    node_ids: dict[str, str] = field(default_factory=dict)  # name -> node id (hex)

    @property
    def nodes(self) -> list[DevnetNode]:
        return list(self.layout.nodes)

    @property
    def validators(self) -> list[DevnetNode]:
        return [n for n in self.layout.nodes if n.validator]

    def node(self, name: str) -> DevnetNode:
        return next(n for n in self.layout.nodes if n.name == name)

    def pid(self, name: str) -> int:
        return self.net.procs[name].pid

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.net.procs.values())

    def target(self, name: str) -> Target:
        node = self.node(name)
        genesis = load_genesis(self.layout.genesis_path)
        return Target(node.api_url, node.p2p_url,
                      ChainIdentity(genesis.chain_id, genesis_hash(genesis)))

    def restart(self, names: Sequence[str] | None = None, wait_s: float = 60.0) -> None:
        """Stop and start nodes (all by default) on their data dirs; wait until each answers
        and the chain moves again. Bans and memory are gone after it."""
        chosen = [self.node(n) for n in names] if names else self.nodes
        for node in chosen:
            proc = self.net.procs.get(node.name)
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for node in chosen:
            proc = self.net.procs.get(node.name)
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except Exception:  # noqa: BLE001 - stuck: kill it
                    proc.kill()
                    proc.wait(timeout=10)
        for node in chosen:
            self.net.start(node)
        wait_for(lambda: all(height(n) >= 0 for n in chosen), wait_s, "restarted nodes up")
        progress(self.nodes, 2, wait_s, "the chain moving after a restart")

    def wipe(self, name: str) -> None:
        """Stop a node and empty its data dir (its key stays): it must sync from genesis."""
        proc = self.net.procs[name]
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
        shutil.rmtree(self.node(name).directory / "data", ignore_errors=True)

    def stop(self) -> dict[str, int]:
        try:
            return self.net.stop_all()
        finally:
            self.net.hub.close()
            kill_leftovers(self.layout)


@contextmanager
def attack_net(directory: Path, validators: int) -> Iterator[AttackNet]:
    """A running devnet of `validators` validators and an observer, every node at height 1;
    stopped (and checked to exit cleanly) afterwards."""
    layout = create_devnet(directory, validators=validators, base_port=free_base_port())
    hub = ProxyHub()
    net = AttackNet(layout, LimitedDevnet(layout, hub), {
        n.name: bytes(load_node_key(n.directory / "node.key").public_key).hex()
        for n in layout.nodes})
    try:
        net.net.start_all()
        wait_for(lambda: all(height(n) >= 1 for n in layout.nodes), 60,
                 "every node at height 1")
        yield net
    finally:
        net.stop()


def progress(nodes: Sequence[DevnetNode], blocks: int, bound_s: float, what: str) -> float:
    """Seconds until every node is `blocks` heights past the highest height now."""
    start = time.monotonic()
    target = max(height(n) for n in nodes) + blocks
    wait_for(lambda: all(height(n) >= target for n in nodes), bound_s, what)
    return time.monotonic() - start


# -- measurements -------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Periodic:
    """Calls `tick` every `every_s` in a thread while used as a context manager."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=type(self).__name__)

    def __enter__(self: P) -> P:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError


class RssSampler(Periodic):
    """Each node's VmRSS every `every_s`; `peak` per node name (MB)."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.1) -> None:
        super().__init__(every_s)
        self.pids = pids
        self.peak: dict[str, float] = {name: rss_mb(pid) for name, pid in pids.items()}
        self.start_mb = dict(self.peak)

    def tick(self) -> None:
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], rss_mb(pid))

    def figures(self) -> dict[str, dict[str, float]]:
        return {n: {"start_mb": round(self.start_mb[n]), "peak_mb": round(self.peak[n])}
                for n in self.pids}


@dataclass(frozen=True, slots=True)
class LogMark:
    """Where each node's log ended at some moment; read only what came after."""

    offsets: dict[str, int]

    @classmethod
    def now(cls, nodes: Sequence[DevnetNode]) -> LogMark:
        return cls({n.name: n.log_path.stat().st_size if n.log_path.exists() else 0
                    for n in nodes})

    def events(self, node: DevnetNode, event: str) -> list[dict[str, Any]]:
        with node.log_path.open("rb") as fh:
            fh.seek(self.offsets.get(node.name, 0))
            text = fh.read().decode(errors="replace")
        out = []
        needle = f'"event":"{event}"'
        for line in text.splitlines():
            if needle in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out


def bans_since(mark: LogMark, nodes: Sequence[DevnetNode]) -> list[tuple[str, str, str]]:
    """(banning node, banned peer id or "", reason) for each `peer_banned` after `mark`."""
    return [(n.name, str(e.get("peer") or ""), str(e.get("reason", "")))
            for n in nodes for e in mark.events(n, "peer_banned")]


def honest_bans(mark: LogMark, net: AttackNet) -> list[tuple[str, str, str]]:
    """Bans of one honest node by another since `mark`."""
    honest = {pid: name for name, pid in net.node_ids.items()}
    return [(who, honest[peer], why) for who, peer, why in bans_since(mark, net.nodes)
            if peer in honest]


def banned_ids(mark: LogMark, nodes: Sequence[DevnetNode]) -> set[str]:
    return {peer for _, peer, _ in bans_since(mark, nodes) if peer}


def block_times_ms(node: DevnetNode, since: int, timeout: float = 60.0) -> list[int]:
    """Header times of the final blocks from height `since` on."""
    times: list[int] = []
    while True:
        page = get(node, f"headers?from={max(1, since) + len(times)}&count=1000",
                   timeout=timeout)
        times += [decode_header(bytes.fromhex(h["header_hex"])).time_ms for h in page]
        if len(page) < 1000:
            return times


def max_block_gap_s(node: DevnetNode, since: int, until_ms: int | None = None) -> float:
    """The longest time between two consecutive final blocks from height `since` on, the
    last one counted up to `until_ms` (now by default) if no block came after it: a chain
    that stopped shows a long gap even if nothing was committed since."""
    end = until_ms if until_ms is not None else int(time.time() * 1000)
    times = block_times_ms(node, since)
    if times:
        times.append(max(times[-1], end))
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0) / 1000


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def within(predicate: Callable[[], bool], bound_s: float, every_s: float = 0.25
           ) -> float | None:
    """Seconds until `predicate` held, or None if it did not within `bound_s`."""
    start = time.monotonic()
    while time.monotonic() - start < bound_s:
        if predicate():
            return round(time.monotonic() - start, 1)
        time.sleep(every_s)
    return None


class ApiProbe(Periodic):
    """`GET /api/v1/status` on a node every `every_s`: the latencies (a request that fails
    or times out counts as `timeout_s`)."""

    def __init__(self, node: DevnetNode, every_s: float = 0.2, timeout_s: float = 5.0) -> None:
        super().__init__(every_s)
        self.node = node
        self.timeout_s = timeout_s
        self.latencies: list[float] = []
        self.failures = 0

    def tick(self) -> None:
        t0 = time.monotonic()
        try:
            get(self.node, "status", timeout=self.timeout_s)
            self.latencies.append(time.monotonic() - t0)
        except (OSError, ValueError):
            self.failures += 1
            self.latencies.append(self.timeout_s)

    @property
    def worst_s(self) -> float:
        return max(self.latencies, default=0.0)
