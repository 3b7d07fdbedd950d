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

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faircoop_node.devnet import DevnetNode
from faircoop_node.net.envelope import MsgType, encode_envelope
from tests.e2e.helpers import height, status, wait_for
from tests.fuzz.live import Prober
from tests.fuzz.samples import samples
from tests.fuzz.strategies import mutated, packb, trees

pytestmark = pytest.mark.slow

PAYLOAD_KINDS = {
    MsgType.VOTE: "vote", MsgType.PROPOSAL: "proposal_message", MsgType.EVIDENCE: "evidence",
    MsgType.BLOCKS: "block_range", MsgType.TXS: "txs",
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
        return packb(draw(trees))
    if how == "any_type":
        code = draw(st.integers(0, 300))
        payload = draw(st.binary(max_size=100))
        return packb([draw(st.sampled_from((0, 1, 2))), code, payload])
    msg_type = draw(st.sampled_from(sorted(PAYLOAD_KINDS)))
    valid = samples()[PAYLOAD_KINDS[msg_type]]
    payload = draw(mutated(valid)) if how == "mutated" else draw(st.sampled_from(valid))
    return encode_envelope(msg_type, payload)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(handshake=st.booleans(), frames=st.lists(_frame(), min_size=1, max_size=3))
def test_junk_frames_never_stop_the_node(live_node: tuple[DevnetNode, Prober], handshake: bool,
                                         frames: list[bytes | str]) -> None:
    node, prober = live_node
    before, probes = height(node), prober.cut + prober.kept
    prober.probe(handshake, frames)
    assert prober.cut + prober.kept == probes + 1, "the probe saw neither a cut nor a kept link"
    after = status(node)
    assert after is not None, "the node stopped answering its API"
    chain = prober.chain  # the same node on the same chain, and its chain did not go back
    assert (after["chain_id"], after["genesis_hash"]) == (chain.chain_id, chain.genesis_hash.hex())
    assert after["height"] >= before, after


def test_node_kept_finalizing_through_the_junk(live_node: tuple[DevnetNode, Prober]) -> None:
    """Runs after the fuzz test (same module fixture): the chain went on, and both outcomes
    (connection cut, connection kept for harmless frames) were seen."""
    node, prober = live_node
    before = height(node)
    wait_for(lambda: height(node) >= before + 2, 10, "two more blocks (else it stopped finalizing)")
    assert prober.cut > 0 and prober.kept + prober.cut >= 60
