"""A live node process for the fuzz tests, and a prober that opens raw P2P connections to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from consensus.codec import genesis_hash
from consensus.crypto import PrivateKey
from faircoop_node.byzantine.rawpeer import HandshakeFailed, connect, ended_within
from faircoop_node.devnet import Devnet, DevnetNode, create_devnet, kill_leftovers
from faircoop_node.genesis_file import load_genesis
from faircoop_node.net.transport import ChainIdentity
from tests.e2e.helpers import free_base_port, height, wait_for


class Prober:
    """A private event loop and client session that open raw connections to one node."""

    def __init__(self, node: DevnetNode, chain: ChainIdentity) -> None:
        self.node = node
        self.chain = chain
        self.runner = asyncio.Runner()
        self.session: aiohttp.ClientSession = self.runner.run(self._session())
        self.cut = 0
        self.kept = 0

    @staticmethod
    async def _session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def probe(self, handshake: bool, frames: list[bytes | str]) -> None:
        self.runner.run(asyncio.wait_for(self._probe(handshake, frames), 20))

    async def _probe(self, handshake: bool, frames: list[bytes | str]) -> None:
        if handshake:
            try:
                link = await connect(self.session, self.node.p2p_url, self.chain,
                                     PrivateKey.generate())
            except HandshakeFailed as exc:
                raise AssertionError(f"a fresh identity was refused: {exc}") from None
            ws: Any = link.ws
        else:
            ws = await self.session.ws_connect(self.node.p2p_url, max_msg_size=0)
        try:
            for frame in frames:
                if ws.closed:
                    break
                if isinstance(frame, str):
                    await ws.send_str(frame)
                else:
                    await ws.send_bytes(frame)
            closed = await ended_within(ws, 0.4)
            self.cut += closed
            self.kept += not closed
        except (ConnectionError, aiohttp.ClientError):
            self.cut += 1
        finally:
            await ws.close()

    def close(self) -> None:
        self.runner.run(self.session.close())
        self.runner.close()



@contextmanager
def lone_node(directory: Path) -> Iterator[tuple[DevnetNode, Prober]]:
    """A single-validator devnet node process (it finalizes alone) and a prober for it.

    On exit the process must still be running, stop cleanly (exit 0), and have logged no
    handler bug or traceback.
    """
    layout = create_devnet(directory, validators=1, base_port=free_base_port())
    node = layout.nodes[0]
    net = Devnet(layout)
    genesis = load_genesis(layout.genesis_path)
    prober = Prober(node, ChainIdentity(genesis.chain_id, genesis_hash(genesis)))
    try:
        net.start(node)
        wait_for(lambda: height(node) >= 1, 60, "the lone validator's first block")
        yield node, prober
        assert net.procs[node.name].poll() is None, "the node process died"
    finally:
        prober.close()
        codes = net.stop_all()
        kill_leftovers(layout)
    assert codes == {node.name: 0}, codes
    log = node.log_path.read_text()
    for bug in ('"event":"node_bug"', '"event":"message_handler_failed"', "Traceback"):
        assert bug not in log, f"the node logged {bug}"
