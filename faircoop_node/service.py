"""A node as a process: load config, key and genesis, open the store, serve P2P and the API.

This is where the runtime (`faircoop_node.node`) and the HTTP API (`faircoop_node.api`) meet:
neither imports the other. `NodeApi` is the API's `NodeView` over a `Node`, and turns the
node's commits (`Node.on_commit`) into the API's block feed.

`open_node(config)` builds the pieces (LevelDB store, WebSocket transport, `Node`, `NodeApi`);
`serve(config)` runs them until SIGTERM or SIGINT, then shuts down in order: stop taking
API requests and peer messages, let the item in hand finish (a commit in progress completes
its synced write batch), close the transport, close the store. Nothing acknowledged is lost:
a tx the API accepted is in the mempool only (as in any node, it must be resubmitted if the
node stops before a block includes it); every committed block is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from consensus.chainstate import ChainState, encode_chain_state, genesis_state
from consensus.codec import genesis_hash
from consensus.types import BlockTx, TxId
from faircoop_node.api import create_app
from faircoop_node.api.feed import BlockFeed, NewBlock
from faircoop_node.api.limits import ApiLimits, descriptor_limit, spare_descriptors
from faircoop_node.api.metrics import NODE_COUNTERS, NodeCounters
from faircoop_node.api.site import make_runner, serve_capped
from faircoop_node.api.watch import AddressWatch
from faircoop_node.config import ConfigError, NodeConfig
from faircoop_node.explorer import CommitLog
from faircoop_node.explorer import mount as mount_explorer
from faircoop_node.genesis_file import load_genesis
from faircoop_node.keys import load_node_key
from faircoop_node.logs import LogContext, event_logger, setup_logging
from faircoop_node.mempool import Mempool, PoolEntry
from faircoop_node.net.transport import ChainIdentity
from faircoop_node.net.ws import WsTransport
from faircoop_node.node.driver import Committed
from faircoop_node.node.runner import Node, NodeError, NodeOptions, NodeStatus
from faircoop_node.storage import LevelDBStore
from faircoop_node.storage.leveldb import open_files_for
from faircoop_node.storage.protocol import ChainReader


class NodeApi:
    """The API's `NodeView` over a `Node`: the node's own reads, a `BlockFeed` that each
    block the node commits is published to (block streams and /metrics read it), and an
    `AddressWatch` told of each tx the mempool admits and each committed block (address
    streams)."""

    def __init__(self, node: Node, feed: BlockFeed | None = None) -> None:
        self._node = node
        self.feed = feed or BlockFeed()
        self.watch = AddressWatch()
        node.on_commit(self._publish)
        node.mempool.on_admit(self._pooled)

    def _publish(self, c: Committed) -> None:
        h = c.block.header
        self.feed.publish(NewBlock(h.height, c.block_id, len(c.block.txs), h.time_ms))
        self.watch.committed(c.block, c.block_id)

    def _pooled(self, entry: PoolEntry) -> None:
        try:
            self.watch.pooled(entry.tx, entry.txid)
        except Exception as exc:  # a watcher's bug must not refuse a tx the pool holds
            self._node.log.error("address_watch_failed", txid=entry.txid.hex(),
                                 error=f"{type(exc).__name__}: {exc}")

    @property
    def store(self) -> ChainReader:
        return self._node.store

    @property
    def mempool(self) -> Mempool:
        return self._node.mempool

    def status(self) -> NodeStatus:
        return self._node.status()

    def chain_state(self) -> ChainState:
        return self._node.chain_state()

    async def submit_tx(self, tx: BlockTx) -> TxId:
        return await self._node.submit_tx(tx)

    async def submit_action(self, raw: bytes) -> str:
        return await self._node.submit_action(raw)

    def pooled_actions(self) -> tuple[bytes, ...]:
        return self._node.pooled_actions()

    def held_recoveries(self) -> tuple[bytes, ...]:
        return self._node.held_recoveries()


@dataclass
class NodeProcess:
    """The parts of a running node process, for `serve` and for tests that run one in-process."""

    config: NodeConfig
    node: Node
    store: LevelDBStore
    transport: WsTransport
    api: NodeApi
    api_runner: web.AppRunner | None = None
    api_server: asyncio.Server | None = None
    api_port: int = 0

    async def start(self) -> None:
        await self.node.start()
        limits, spare = api_limits(self.config, self.store)
        app = api_app(self.config, self.node, self.api, limits, self.transport)
        self.api_runner = make_runner(app, limits)
        await self.api_runner.setup()
        try:
            self.api_server = await serve_capped(self.api_runner, self.config.api.host,
                                                 self.config.api.port, limits)
        except OSError as exc:
            raise NodeError(f"cannot serve the API on {self.config.api.host}:"
                            f"{self.config.api.port}: {exc.strerror}") from None
        self.api_port = int(self.api_server.sockets[0].getsockname()[1])
        self.node.log.info("api_listening", url=f"http://{self.config.api.host}:{self.api_port}"
                           "/api/v1/status", max_connections=limits.max_connections,
                           max_streams=limits.max_streams)
        if limits.max_connections > spare:
            self.node.log.warning("open_file_limit_low", nofile=descriptor_limit(),
                                  api_connections=limits.max_connections, spare=max(spare, 0),
                                  hint="raise the open-file limit (ulimit -n), or lower "
                                       "[api] max_connections")

    async def stop(self) -> None:
        if self.api_server is not None:
            self.api_server.close()
            self.api_server = None
        if self.api_runner is not None:
            self.api.feed.close_all()
            self.api.watch.close_all()
            await self.api_runner.cleanup()
            self.api_runner = None
        await self.node.stop()
        self.node.log.info("p2p_traffic", tip=self.node.state.height,
                           traffic=self.transport.traffic.as_json(),
                           regossips=self.node.counters.regossips)
        await asyncio.to_thread(self.store.close)


def api_app(config: NodeConfig, node: Node, api: NodeApi, limits: ApiLimits,
            transport: WsTransport | None = None) -> web.Application:
    """The API over `api`, with the runtime's counters in /metrics, and the web explorer at `/`
    (same port) unless the config says `[explorer] enabled = false`; the node's commits feed
    the explorer's finality latency."""
    app = create_app(api, limits=limits)
    app[NODE_COUNTERS] = lambda: node_counters(node, transport, config.data_dir)
    if config.explorer.enabled:
        commits = CommitLog()
        node.on_commit(lambda c: commits.record(c.block.header.height, c.block.header.time_ms))
        mount_explorer(app, commits)
    return app


def node_counters(node: Node, transport: WsTransport | None, data_dir: Path) -> NodeCounters:
    """What /metrics exports of the runtime's own counters (read on the event loop)."""
    free: int | None = None
    total: int | None = None
    with contextlib.suppress(OSError):  # no data dir yet, or gone: no disk figures
        disk = shutil.disk_usage(data_dir)
        free, total = int(disk.free), int(disk.total)
    return NodeCounters(
        peers_punished=node.counters.punished_total,
        peer_messages_dropped=node.counters.dropped,
        relayed_txs_shed=node.peers.intake.shed,
        signature_cache_hits=node.sig_cache.hits,
        signature_cache_misses=node.sig_cache.misses,
        blocks_by_consensus=node.counters.committed_consensus,
        blocks_by_sync=node.counters.committed_sync,
        sync_requests=node.counters.sync_requests,
        relayed_consensus=node.counters.relayed_consensus,
        regossips=node.counters.regossips,
        proposals_withheld=node.proposals_withheld,
        traffic=transport.traffic.as_json() if transport is not None else {},
        disk_free_bytes=free, disk_total_bytes=total)


def peer_descriptors(config: NodeConfig) -> int:
    """Descriptors the P2P side may hold: every peer slot twice (a peer we dial may also dial
    us, and connections still in the handshake hold one each) and the configured dials."""
    return 2 * config.limits.max_peers + len(config.p2p.peers)


def api_limits(config: NodeConfig, store: LevelDBStore) -> tuple[ApiLimits, int]:
    """The API's caps (the config's, or sized so that the API can't take the descriptors the
    peers and the store need: issue 12, finding 11), and the descriptors the limit leaves for
    API connections."""
    nofile, reserved = descriptor_limit(), peer_descriptors(config) + store.descriptors
    limits = ApiLimits.for_descriptors(nofile, reserved, max_connections=config.api.max_connections,
                                       max_streams=config.api.max_streams)
    return limits, spare_descriptors(nofile, reserved)


# Fault tests run a validator whose wall clock is off by this many ms (issue 20). A thin adapter
# over the node's injectable clock, needing no preloaded library (with libfaketime faking the
# monotonic clock too, Python 3.11's time.sleep hung here).
CLOCK_OFFSET_ENV = "FAIRCOOP_TEST_CLOCK_OFFSET_MS"


def clock_offset_ms(value: str | None) -> int:
    """The injected clock offset (0 when the variable is unset, as in production)."""
    try:
        return int(value or 0)
    except ValueError:
        raise ConfigError(f"{CLOCK_OFFSET_ENV} must be an integer (ms), not {value!r}") from None


def skewed_clock(skew_ms: int) -> Callable[[], int] | None:
    """The wall clock `skew_ms` off; None (the node's own system clock) when it is 0."""
    if not skew_ms:
        return None
    return lambda: int(time.time() * 1000) + skew_ms


def open_node(config: NodeConfig, options: NodeOptions | None = None) -> NodeProcess:
    """Load key and genesis, open (or create) the store, and wire node and transport."""
    skew_ms = clock_offset_ms(os.environ.get(CLOCK_OFFSET_ENV))
    key = load_node_key(config.key_file)
    genesis = load_genesis(config.genesis_file)
    gid = genesis_hash(genesis)
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    inbox = config.data_dir / "inbox"
    inbox.mkdir(exist_ok=True, mode=0o700)
    options = replace(options or NodeOptions(), inbox=inbox)
    store = LevelDBStore(config.data_dir / "chain", genesis,
                         genesis_chain_state=encode_chain_state(genesis_state(genesis, gid)),
                         max_open_files=open_files_for(descriptor_limit()))
    ctx = LogContext.for_node(key.public_key)
    node = Node(genesis, store, key, validator=config.validator, options=options,
                clock_ms=skewed_clock(skew_ms), log_context=ctx)
    if skew_ms:
        node.log.warning("clock_offset_injected", offset_ms=skew_ms,
                         reason=f"{CLOCK_OFFSET_ENV} is set: a fault test's skewed clock")
    transport = WsTransport.from_config(
        config, key, ChainIdentity(genesis.chain_id, gid), node.p2p_tip,
        log=event_logger("faircoop.net", ctx))
    node.attach(transport)
    return NodeProcess(config, node, store, transport, NodeApi(node))


async def serve(config: NodeConfig, ready: asyncio.Event | None = None) -> None:
    """Run a node until SIGTERM/SIGINT (or cancellation), then shut it down cleanly."""
    process = open_node(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await process.start()
        if ready is not None:
            ready.set()
        await stop.wait()
        process.node.log.info("shutdown_requested")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await process.stop()


def tune_gc() -> None:
    """Collect garbage less often: under load a node allocates several objects per tx, and
    CPython's default gen-0 threshold (700 allocations) then runs the collector thousands of
    times a second. Nearly everything the node keeps is acyclic (bytes, tuples, frozen
    dataclasses), so reference counting frees it; the collector is only for rare cycles."""
    if os.environ.get("FAIRCOOP_GC_DEFAULT"):
        return
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def run_node(config: NodeConfig) -> None:
    setup_logging(config.log.level, config.log.format)
    tune_gc()
    asyncio.run(serve(config))
