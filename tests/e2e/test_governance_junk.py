"""Junk governance actions over the wire (issue 14, item 9), on a real devnet.

A flood of junk through `POST /api/v1/actions` (not hex, undecodable, oversize, an oversize
reference, another chain, a non-governor's signature, too few signatures) gets a 4xx with a
message naming what is wrong, every time; a real action submitted twice is pooled once and
included once; the same action replayed after inclusion (`faircoop-wallet gov submit`) is
refused as replayed; over P2P (a raw peer that completed the handshake), an undecodable
ACTIONS frame costs the sender its connection with a REJECT that says why, and frames of
well-formed but unauthorized actions are dropped without pooling; the chain keeps
finalizing through all of it.

The junk is built with the consensus encoders (that is the test's input, as an attacker would
build it); the devnet and the governors are driven only through the CLIs and the API.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from consensus.crypto import PrivateKey
from consensus.governance import (
    Reference,
    SetParam,
    SignedAction,
    encode_block_action,
    make_action,
)
from faircoop_node.byzantine.rawpeer import connect
from faircoop_node.net.envelope import MsgType, decode_envelope, decode_reject, encode_actions
from faircoop_node.net.transport import ChainIdentity
from tests.e2e.drill import Drill, Node, get, height, http, wait_until
from tests.e2e.helpers import free_base_port, wait_for

pytestmark = pytest.mark.slow

REF = Reference("https://coop.example/assembly/2026-12#9", "Assembly of 2026-12-01, item 9")
MAX_ACTION_BYTES = 64 * 1024


def post_action(node: Node, raw_hex: str) -> tuple[int, Any]:
    return http(node.api_url, "actions", {"action": raw_hex})


def junk(chain_id: str) -> list[tuple[str, str, str, str]]:
    """(what, hex, a word the refusal must contain, its rule)."""
    outsider = PrivateKey.generate()
    long_ref = SignedAction(chain_id, 7, SetParam("dust_limit", 2_000), (),
                            Reference("https://x.example/" + "a" * 300, "t"))
    return [
        ("not hex", "zz-not-hex", "hex", "decode"),
        ("undecodable", secrets.token_bytes(40).hex(), "decode", "decode"),
        ("oversize", "00" * (MAX_ACTION_BYTES + 1), "bytes", "oversize"),
        ("oversize reference", encode_block_action(long_ref).hex(), "reference", "decode"),
        ("another chain", encode_block_action(make_action(
            "another-chain", 7, SetParam("dust_limit", 2_000), (outsider,), REF)).hex(),
         "chain", "wrong_chain"),
        ("a non-governor's signature", encode_block_action(make_action(
            chain_id, 7, SetParam("dust_limit", 2_000), (outsider,), REF)).hex(),
         "governor", "not_a_governor"),
        ("no signature", encode_block_action(make_action(
            chain_id, 7, SetParam("dust_limit", 2_000), (), REF)).hex(), "threshold",
         "below_threshold"),
    ]


async def _reject_reason(node: Node, chain: ChainIdentity, frames: list[bytes]) -> str | None:
    """Send ACTIONS `frames` as a fresh raw peer; the REJECT's reason if the node cuts us."""
    async with aiohttp.ClientSession() as session:
        link = await connect(session, node.p2p_url, chain, PrivateKey.generate())
        for payload in frames:
            if not await link.send(MsgType.ACTIONS, payload):
                break
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(link.ws.receive(), deadline - time.monotonic())
            except TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.BINARY:
                return "closed without a REJECT"
            envelope = decode_envelope(msg.data)
            if envelope.msg_type == MsgType.REJECT:
                return decode_reject(envelope.payload)
        await link.ws.close()
        return None


def test_junk_actions_are_refused_and_the_chain_goes_on(tmp_path: Path) -> None:
    drill = Drill(tmp_path / "devnet", free_base_port())
    try:
        nodes = drill.start_devnet()
        validators = [n for n in nodes if n.name.startswith("coop-")]
        first, second = validators[0], validators[1]
        status = get(first.api_url, "status")
        chain = ChainIdentity(status["chain_id"], bytes.fromhex(status["genesis_hash"]))
        start = height(first.api_url)

        # the API: each kind of junk, over and over for 6 s (six heartbeats), is a 4xx that
        # says what is wrong, and blocks keep coming meanwhile
        cases = junk(chain.chain_id)
        flood_ends, sent = time.monotonic() + 6, 0
        while time.monotonic() < flood_ends:
            for what, raw, word, rule in cases:
                code, doc = post_action(second, raw)
                assert 400 <= code < 500, f"{what}: {code} {doc}"
                assert isinstance(doc, dict) and word in doc["error"].lower(), (what, doc)
                assert doc["rule"] == rule, (what, doc)
                sent += 1
        assert sent >= 100 and height(first.api_url) >= start + 3, \
            f"{sent} junk requests, the chain went from {start} to {height(first.api_url)}"

        # a real action, co-signed with the CLI, submitted twice: pooled once
        draft = tmp_path / "param.gov"
        drill.governor(1, "propose", "set-param", "dust_limit=2000", "--ref", REF.uri,
                       "--note", REF.text, "--out", str(draft), node=first)
        for g in (1, 2, 3):
            drill.governor(g, "sign", str(draft), "--yes", node=first)
        raw = drill.governor(1, "show", str(draft), node=first)["action_hex"]
        answers = [post_action(second, raw) for _ in range(2)]
        assert [a[0] for a in answers] == [200, 200] and \
            [a[1]["status"] for a in answers] == ["pooled", "already_pooled"], answers
        wait_for(lambda: get(first.api_url, "params")["params"]["dust_limit"] == 2000, 30,
                 "the parameter in force")
        entries = [e for e in get(first.api_url, "governance/history")["actions"]
                   if (e.get("reference") or {}).get("uri") == REF.uri]
        assert len(entries) == 1, entries

        # replayed after inclusion, through the wallet: refused, and why
        refused = drill.governor(1, "submit", str(draft), node=second, expect=6)
        assert "replayed" in refused["error"]["message"]

        # P2P: an undecodable ACTIONS frame costs the sender its connection, with a reason
        reason = asyncio.run(_reject_reason(second, chain, [encode_actions((b"\x00junk",))]))
        assert reason is not None and "action" in reason, reason
        # frames of unauthorized (well-formed) actions are dropped, never pooled or carried
        outsider = PrivateKey.generate()
        unauthorized = [encode_block_action(make_action(
            chain.chain_id, 100 + i, SetParam("dust_limit", 3_000 + i), (outsider,), REF))
            for i in range(64)]
        asyncio.run(_reject_reason(second, chain, [encode_actions(tuple(unauthorized))] * 20))
        pooled = {n.name: get(n.api_url, "governance")["pooled"] for n in validators}
        assert all(p == [] for p in pooled.values()), pooled
        before = height(first.api_url)
        wait_until(lambda: height(first.api_url) >= before + 3, 30, "three more blocks")
        assert get(first.api_url, "params")["params"]["dust_limit"] == 2000
        assert all(get(n.api_url, "status")["peers"] >= 3 for n in validators), \
            "an honest link was cut"
    finally:
        codes = drill.close()
    assert all(code == 0 for code in codes.values()), f"unclean exits: {codes}"
