"""A node process at a low open-file limit keeps its P2P port, its API and its chain going while
a client opens far more block streams than it has descriptors (issue 12, finding 11).

The node runs with RLIMIT_NOFILE = 256, so its API may hold 20 connections, 10 of them streams
(`ApiLimits.for_descriptors`: 50 peers and a 64-file store reserved). The client opens 300
streams at once and keeps them. Before the caps, the streams took every descriptor: the P2P
port and the API stopped accepting (EMFILE). Checked while the streams are held: a peer
completes a P2P handshake, GET /status answers, and the chain keeps finalizing; and after:
the node stops cleanly and logged no traceback.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp
import pytest

from consensus.codec import genesis_hash
from consensus.crypto import PrivateKey
from faircoop_node.byzantine.rawpeer import connect
from faircoop_node.devnet import Devnet, DevnetNode, create_devnet, kill_leftovers
from faircoop_node.genesis_file import load_genesis
from faircoop_node.net.transport import ChainIdentity
from tests.e2e.helpers import free_base_port, height, wait_for

pytestmark = pytest.mark.slow

NOFILE = 256
MAX_STREAMS = 10  # what ApiLimits.for_descriptors gives at 256 (see the module docstring)
ATTEMPTS = 300

_RUN_LIMITED = (
    "import resource, runpy, sys;"
    "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1];"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({NOFILE}, hard));"
    "sys.argv = ['faircoop_node', 'run', '--config', sys.argv[1]];"
    "runpy.run_module('faircoop_node', run_name='__main__')"
)


class LimitedDevnet(Devnet):
    """Node processes started with a soft open-file limit of NOFILE."""

    def node_command(self, node: DevnetNode) -> list[str]:
        return [self.python, "-c", _RUN_LIMITED, str(node.config_path)]


async def _open_stream(port: int) -> tuple[int, asyncio.StreamWriter | None]:
    """(status, the connection if it is a stream); 0 if the connection failed."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        writer.write(b"GET /api/v1/blocks/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        line = await asyncio.wait_for(reader.readline(), 10)
    except (OSError, TimeoutError):
        return 0, None
    status = int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0
    if status == 200:
        return status, writer
    writer.close()
    return status, None


async def _p2p_handshake(node: DevnetNode, chain: ChainIdentity) -> None:
    async with aiohttp.ClientSession() as session:
        link = await asyncio.wait_for(
            connect(session, node.p2p_url, chain, PrivateKey.generate()), 10)
        await link.ws.close()


async def _status(node: DevnetNode) -> int:
    async with aiohttp.ClientSession() as session:
        for _ in range(20):  # refused connections linger up to a second
            try:
                async with session.get(f"{node.api_url}/api/v1/status",
                                       timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    if resp.status == 200:
                        return 200
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.25)
    return 0


async def _flood_and_check(node: DevnetNode, chain: ChainIdentity) -> None:
    port = int(node.api_url.rsplit(":", 1)[1])
    results = await asyncio.gather(*(_open_stream(port) for _ in range(ATTEMPTS)))
    streams = [w for _, w in results if w is not None]
    statuses = [s for s, _ in results]
    try:
        start = await asyncio.to_thread(height, node)
        await _p2p_handshake(node, chain)  # the P2P port still accepts and answers
        assert await _status(node) == 200, "the API does not answer"
        await asyncio.to_thread(wait_for, lambda: height(node) >= start + 2, 30,
                                "blocks while the streams are held")
        assert 1 <= len(streams) <= MAX_STREAMS, f"{len(streams)} streams open"
        assert statuses.count(503) >= ATTEMPTS - MAX_STREAMS - 20, statuses
    finally:
        for writer in streams:
            writer.close()


def test_streams_at_the_cap_leave_p2p_and_api_answering(tmp_path: Path) -> None:
    layout = create_devnet(tmp_path / "dn", validators=1, base_port=free_base_port())
    node = layout.nodes[0]
    genesis = load_genesis(layout.genesis_path)
    chain = ChainIdentity(genesis.chain_id, genesis_hash(genesis))
    net = LimitedDevnet(layout)
    try:
        net.start(node)
        wait_for(lambda: height(node) >= 1, 60, "the first block")
        asyncio.run(_flood_and_check(node, chain))
        assert net.procs[node.name].poll() is None, "the node process died"
    finally:
        codes = net.stop_all()
        kill_leftovers(layout)
    assert codes == {node.name: 0}, codes
    log = node.log_path.read_text()
    assert "Traceback" not in log and '"event":"node_bug"' not in log


def test_the_limited_command_runs_a_node() -> None:
    """The wrapper itself: the child sees the lowered limit (else the test above proves
    nothing)."""
    code = _RUN_LIMITED.split("sys.argv =")[0] + (
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    out = subprocess.run(["python3", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(NOFILE)
