"""Junk P2P frames into a real node process's /p2p endpoint: it must keep serving.

A single-validator devnet node runs as a process (it finalizes alone, so "keeps serving" is
visible as a growing height). Hypothesis draws, per example, whether to complete the real
handshake first (with a fresh node key: the node bans each offender's id, and loopback is
exempt from address bans) and 1-3 frames: arbitrary bytes, text frames, envelopes with any type
code and any payload, and real messages (votes, proposals, blocks, txs, status, ...) with
bytes flipped, inserted, deleted or truncated.

After every example the node's API must answer; at the end the process is alive, its height
grew during the run, and its log has no handler bug or traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.codec import genesis_hash
from consensus.crypto import PrivateKey
from faircoop_node.byzantine.rawpeer import HandshakeFailed, connect, ended_within
from faircoop_node.devnet import Devnet, DevnetNode, create_devnet, kill_leftovers
from faircoop_node.genesis_file import load_genesis
from faircoop_node.net.envelope import MsgType, encode_envelope
from faircoop_node.net.transport import ChainIdentity
from tests.e2e.helpers import free_base_port, height, status, wait_for
from tests.fuzz.samples import samples
from tests.fuzz.test_decoders import _mutated, _packb, _tree

pytestmark = pytest.mark.slow

PAYLOAD_KINDS = {
    MsgType.VOTE: "vote", MsgType.PROPOSAL: "proposal_message", MsgType.EVIDENCE: "evidence",
    MsgType.BLOCK: "certified_block", MsgType.BLOCKS: "block_range", MsgType.TXS: "txs",
    MsgType.GET_BLOCKS: "get_blocks", MsgType.STATUS: "status", MsgType.HELLO: "hello",
    MsgType.AUTH: "auth", MsgType.REJECT: "reject",
}


@st.composite
def _frame(draw: st.DrawFn) -> bytes | str:
    how = draw(st.sampled_from(("bytes", "text", "any_type", "mutated", "valid", "tree")))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    if how == "text":
        return draw(st.text(max_size=50))
    if how == "tree":
        return _packb(draw(_tree))
    if how == "any_type":
        code = draw(st.integers(0, 300))
        payload = draw(st.binary(max_size=100))
        return _packb([draw(st.sampled_from((0, 1, 2))), code, payload])
    msg_type = draw(st.sampled_from(sorted(PAYLOAD_KINDS)))
    valid = samples()[PAYLOAD_KINDS[msg_type]]
    payload = draw(_mutated(valid)) if how == "mutated" else draw(st.sampled_from(valid))
    return encode_envelope(msg_type, payload)


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


@pytest.fixture(scope="module")
def lone_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevnetNode, Prober]]:
    layout = create_devnet(Path(tmp_path_factory.mktemp("p2pfuzz")) / "dn", validators=1,
                           base_port=free_base_port())
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


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(handshake=st.booleans(), frames=st.lists(_frame(), min_size=1, max_size=3))
def test_junk_frames_never_stop_the_node(lone_node: tuple[DevnetNode, Prober], handshake: bool,
                                         frames: list[bytes | str]) -> None:
    node, prober = lone_node
    prober.probe(handshake, frames)
    assert status(node) is not None, "the node stopped answering its API"


def test_node_kept_finalizing_through_the_junk(lone_node: tuple[DevnetNode, Prober]) -> None:
    """Runs after the fuzz test (same module fixture): the chain went on, and both outcomes
    (connection cut, connection kept for harmless frames) were seen."""
    node, prober = lone_node
    before = height(node)
    deadline = time.monotonic() + 10
    while height(node) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert height(node) >= before + 2, "the node stopped finalizing"
    assert prober.cut > 0 and prober.kept + prober.cut >= 60
