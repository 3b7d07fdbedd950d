"""A Byzantine validator: a real process speaking the real P2P protocol, to attack a devnet.

    python scripts/byzantine_node.py --key coop-4/node.key --genesis genesis.json \\
        --peer ws://127.0.0.1:7170/p2p --peer ... --api http://127.0.0.1:7070 \\
        --duration 30 --report byz.json

It holds a validator key that is in the genesis, does the real handshake (HELLO, AUTH signed
with that key) with every honest peer, listens to their gossip, and misbehaves:

- `equivocate`: for each (height, round) it hears of, it signs two prevotes naming different
  blocks and sends both (from `--equivocate-after` seconds on, so the other attacks run while
  it is still a validator);
- `invalid_proposal`: when the rotation (read from `--api`) makes it the proposer, and once per
  height otherwise, it signs a proposal for a block that decodes but breaks the chain rules
  (a random parent hash);
- `foreign_key`: votes and proposals for the current height signed by a key that is not a
  validator's;
- `replay`: honest votes and proposals of earlier heights, and its own old votes, sent again;
- `vote_flood`: a burst of distinct, validly signed prevotes of its own over many rounds,
  within the peers' rate budget; and, from a throwaway identity, frames far above it;
- `malformed`: from throwaway identities (each is banned: loopback is exempt from address
  bans, so the next one gets in), junk before and after the handshake: random bytes, text
  frames, wrong envelope versions, unknown types, undecodable payloads, a second HELLO;
- `oversize`: from a throwaway identity, one frame above the peers' max_frame_bytes.

It writes a JSON report of what it sent (`{"sent": {behaviour: count}, "connected": ...}`) so a
test can check every attack actually struck. Loopback only; not part of the node.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from consensus.codec import block_hash, decode_block, encode_block, genesis_hash, pack
from consensus.crypto import PrivateKey
from consensus.errors import FaircoopError
from consensus.types import Block, BlockHash, PublicKey
from consensus.votes import (
    VoteType,
    decode_proposal,
    decode_vote,
    encode_proposal,
    encode_vote,
    sign_proposal,
    sign_vote,
)
from faircoop_node.byzantine.rawpeer import HandshakeFailed, Link, connect
from faircoop_node.config import Limits
from faircoop_node.genesis_file import load_genesis
from faircoop_node.keys import load_node_key
from faircoop_node.net.envelope import (
    ENVELOPE_VERSION,
    MsgType,
    ProposalMessage,
    decode_envelope,
    decode_proposal_message,
    encode_envelope,
    encode_proposal_message,
)
from faircoop_node.net.transport import ChainIdentity

BEHAVIOURS = ("equivocate", "invalid_proposal", "foreign_key", "replay", "vote_flood",
              "malformed", "oversize")
FLOOD_OVER_BUDGET = 30_000  # frames from a throwaway identity: above the default burst (20,000)
FLOOD_WITHIN_BUDGET = 1_500  # signed prevotes of our own, spread over many rounds


@dataclass
class Seen:
    """What the honest gossip told us: the newest (height, round), blocks and old messages."""

    height: int = 0
    round: int = 0
    last_block: Block | None = None
    proposal_ids: dict[tuple[int, int], BlockHash] | None = None
    old: list[tuple[int, MsgType, bytes]] | None = None  # (height, type, payload) for replay

    def __post_init__(self) -> None:
        self.proposal_ids = {}
        self.old = []

    def advance(self, height: int, round_: int) -> None:
        if height > self.height:
            self.height, self.round = height, round_
        elif height == self.height:
            self.round = max(self.round, round_)


class Byzantine:
    def __init__(self, args: argparse.Namespace) -> None:
        self.key: PrivateKey = load_node_key(args.key)
        self.pub = PublicKey(self.key.public_key)
        genesis = load_genesis(args.genesis)
        self.chain = ChainIdentity(genesis.chain_id, genesis_hash(genesis))
        self.peers: list[str] = args.peer
        self.api: str | None = args.api
        self.duration: float = args.duration
        self.equivocate_after: float = args.equivocate_after
        self.behaviours = set(args.behaviours.split(",")) if args.behaviours else set(BEHAVIOURS)
        self.max_frame = Limits().max_frame_bytes
        self.rng = random.Random(args.seed)
        self.seen = Seen()
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # throwaway connections the peer cut or banned
        self.links: list[Link] = []
        self.session: aiohttp.ClientSession | None = None
        self.started = time.monotonic()
        self.done_heights: set[tuple[str, int, int]] = set()
        self.rotation: list[bytes] = []

    # -- connections ------------------------------------------------------------------------

    async def connect(self, url: str, key: PrivateKey) -> Link:
        assert self.session is not None
        return await connect(self.session, url, self.chain, key)

    async def throwaway(self, url: str) -> Link | None:
        """A connection under a fresh identity, for attacks that get their sender banned."""
        try:
            return await self.connect(url, PrivateKey.generate())
        except (HandshakeFailed, FaircoopError, aiohttp.ClientError, OSError, TimeoutError):
            self.refused["throwaway_connect"] += 1
            return None

    # -- listening --------------------------------------------------------------------------

    async def listen(self, link: Link) -> None:
        async for msg in link.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            try:
                env = decode_envelope(msg.data)
                await self.on_message(env.msg_type, env.payload)
            except FaircoopError:
                continue

    async def on_message(self, msg_type: MsgType, payload: bytes) -> None:
        seen = self.seen
        assert seen.old is not None and seen.proposal_ids is not None
        if msg_type == MsgType.VOTE:
            vote = decode_vote(payload)
            seen.advance(vote.height, vote.round)
            seen.old.append((vote.height, msg_type, payload))
            await self.react(vote.height, vote.round)
        elif msg_type == MsgType.PROPOSAL:
            pm = decode_proposal_message(payload)
            proposal = decode_proposal(pm.proposal)
            seen.last_block = decode_block(pm.block)
            seen.proposal_ids[(proposal.height, proposal.round)] = proposal.block_id
            seen.advance(proposal.height, proposal.round)
            seen.old.append((proposal.height, msg_type, payload))
            await self.react(proposal.height, proposal.round)
        if len(seen.old) > 5_000:
            del seen.old[:1_000]

    # -- attacks driven by what we hear -----------------------------------------------------

    async def broadcast(self, what: str, msg_type: MsgType, payload: bytes) -> None:
        for link in self.links:
            if await link.send(msg_type, payload):
                self.sent[what] += 1

    async def react(self, height: int, round_: int) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.duration:
            return
        if "equivocate" in self.behaviours and elapsed >= self.equivocate_after and \
                self._first("eq", height, round_):
            await self.equivocate(height, round_)
        # as the rotation's proposer: once per round; otherwise (a wrong proposer): once a height
        if "invalid_proposal" in self.behaviours:
            if self.is_proposer(height, round_) and self._first("prop", height, round_):
                self.sent["invalid_proposal_in_turn"] += 1
                await self.invalid_proposal(height, round_)
            elif self._first("prop", height, -1):
                await self.invalid_proposal(height, round_)
        if "foreign_key" in self.behaviours and self._first("foreign", height, 0):
            await self.foreign_key(height, round_)

    def _first(self, kind: str, height: int, round_: int) -> bool:
        k = (kind, height, round_)
        if k in self.done_heights:
            return False
        self.done_heights.add(k)
        return True

    def is_proposer(self, height: int, round_: int) -> bool:
        return bool(self.rotation) and \
            self.rotation[(height + round_) % len(self.rotation)] == bytes(self.pub)

    async def equivocate(self, height: int, round_: int) -> None:
        assert self.seen.proposal_ids is not None
        honest = self.seen.proposal_ids.get((height, round_), BlockHash(secrets.token_bytes(32)))
        other = BlockHash(secrets.token_bytes(32))
        for block_id in (honest, other):
            vote = sign_vote(self.key, self.chain.chain_id, VoteType.PREVOTE, height, round_,
                             block_id)
            await self.broadcast("equivocate", MsgType.VOTE, encode_vote(vote))

    async def invalid_proposal(self, height: int, round_: int) -> None:
        base = self.seen.last_block
        if base is None:
            return
        header = replace(base.header, height=height, prev_hash=BlockHash(secrets.token_bytes(32)),
                         proposer=self.pub)
        block = replace(base, header=header)
        block_id = block_hash(header)
        proposal = sign_proposal(self.key, self.chain.chain_id, height, round_, -1, block_id)
        payload = encode_proposal_message(ProposalMessage(encode_proposal(proposal),
                                                          encode_block(block)))
        await self.broadcast("invalid_proposal", MsgType.PROPOSAL, payload)

    async def foreign_key(self, height: int, round_: int) -> None:
        stranger = PrivateKey.generate()
        block_id = BlockHash(secrets.token_bytes(32))
        for vt in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            vote = sign_vote(stranger, self.chain.chain_id, vt, height, round_, block_id)
            await self.broadcast("foreign_key", MsgType.VOTE, encode_vote(vote))
        base = self.seen.last_block
        if base is not None:
            block = replace(base, header=replace(base.header, height=height,
                                                 proposer=PublicKey(stranger.public_key)))
            proposal = sign_proposal(stranger, self.chain.chain_id, height, round_, -1,
                                     block_hash(block.header))
            await self.broadcast("foreign_key", MsgType.PROPOSAL, encode_proposal_message(
                ProposalMessage(encode_proposal(proposal), encode_block(block))))

    # -- attacks on a schedule --------------------------------------------------------------

    async def replay(self) -> None:
        assert self.seen.old is not None
        old = [m for m in self.seen.old if m[0] < self.seen.height - 1]
        for _, msg_type, payload in self.rng.sample(old, min(len(old), 200)):
            await self.broadcast("replay", msg_type, payload)

    async def vote_flood(self) -> None:
        height = self.seen.height
        if height and self.links:
            for i in range(FLOOD_WITHIN_BUDGET):
                vote = sign_vote(self.key, self.chain.chain_id, VoteType.PREVOTE, height,
                                 self.seen.round + 1 + i % 900, BlockHash(secrets.token_bytes(32)))
                await self.broadcast("vote_flood", MsgType.VOTE, encode_vote(vote))
        link = await self.throwaway(self.rng.choice(self.peers))
        if link is None:
            return
        vote = sign_vote(self.key, self.chain.chain_id, VoteType.PREVOTE, max(height, 1), 0,
                         BlockHash(bytes(32)))
        frame = encode_envelope(MsgType.VOTE, encode_vote(vote))
        for _ in range(FLOOD_OVER_BUDGET):
            if not await link.send_raw(frame):
                self.refused["vote_flood_cut"] += 1
                break
            self.sent["vote_flood_over_budget"] += 1
        await link.ws.close()

    def junk_frames(self) -> list[tuple[str, Any]]:
        """(name, frame): a bytes frame, or a str (sent as a text frame)."""
        vote_payload = pack((1, "x"))
        return [
            ("random_bytes", secrets.token_bytes(self.rng.randint(1, 300))),
            ("text_frame", "hello"),
            ("empty", b""),
            ("wrong_version", pack((ENVELOPE_VERSION + 1, int(MsgType.VOTE), b""))),
            ("unknown_type", pack((ENVELOPE_VERSION, 99, b""))),
            ("bad_vote_payload", encode_envelope(MsgType.VOTE, vote_payload)),
            ("bad_proposal_payload", encode_envelope(MsgType.PROPOSAL, b"\xc1\xc1")),
            ("bad_txs_payload", encode_envelope(MsgType.TXS, pack((1, ())))),
            ("bad_blocks_payload", encode_envelope(MsgType.BLOCKS, pack((1, 0, ())))),
            ("second_hello", encode_envelope(MsgType.HELLO, b"")),
            ("truncated", encode_envelope(MsgType.STATUS, b"\x01" * 10)[:-3]),
            ("non_canonical", b"\xdc\x00\x03\x01\x0c\xc4\x00"),  # array16 where fixarray fits
        ]

    async def malformed(self) -> None:
        for name, frame in self.junk_frames():
            url = self.rng.choice(self.peers)
            link = await self.throwaway(url)
            if link is None:
                continue
            if isinstance(frame, str):
                await link.ws.send_str(frame)
            else:
                await link.ws.send_bytes(frame)
            self.sent[f"malformed:{name}"] += 1
            self.sent["malformed"] += 1
            if await link.cut_within(3.0):
                self.refused["malformed_cut"] += 1
                self.refused[f"malformed_cut:{name}"] += 1
            await link.ws.close()
        # junk before any handshake: the node must not choke on it either
        assert self.session is not None
        for name, frame in self.junk_frames()[:4]:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                ws = await self.session.ws_connect(self.rng.choice(self.peers))
                if isinstance(frame, str):
                    await ws.send_str(frame)
                else:
                    await ws.send_bytes(frame)
                self.sent["malformed_pre_handshake"] += 1
                self.sent[f"malformed_pre_handshake:{name}"] += 1
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.receive(), 2)
                await ws.close()

    async def oversize(self) -> None:
        link = await self.throwaway(self.rng.choice(self.peers))
        if link is None:
            return
        frame = encode_envelope(MsgType.TXS, bytes(self.max_frame + 1))
        self.sent["oversize"] += 1  # the peer may cut us while the frame is still going out
        if not await link.send_raw(frame):
            self.refused["oversize_cut"] += 1
        with contextlib.suppress(Exception):
            await asyncio.wait_for(link.ws.receive(), 3)
        await link.ws.close()

    # -- the run ----------------------------------------------------------------------------

    def read_rotation(self) -> None:
        if self.api is None:
            return
        with contextlib.suppress(OSError, ValueError, KeyError):
            with urllib.request.urlopen(f"{self.api}/api/v1/validators", timeout=2) as resp:
                doc = json.loads(resp.read())
            self.rotation = [bytes.fromhex(v["pubkey"]) for v in doc["validators"]
                             if v["in_rotation"]]

    async def run(self) -> dict[str, Any]:
        self.session = aiohttp.ClientSession()
        listeners = []
        try:
            for url in self.peers:
                try:
                    link = await self.connect(url, self.key)
                except (HandshakeFailed, FaircoopError, aiohttp.ClientError, OSError,
                        TimeoutError) as exc:
                    print(f"cannot connect to {url}: {exc}", file=sys.stderr)
                    continue
                self.links.append(link)
                listeners.append(asyncio.create_task(self.listen(link)))
            scheduled = [b for b in ("replay", "vote_flood", "malformed", "oversize")
                         if b in self.behaviours]
            next_at = {b: 2.0 + i for i, b in enumerate(scheduled)}
            while time.monotonic() - self.started < self.duration:
                await asyncio.to_thread(self.read_rotation)
                elapsed = time.monotonic() - self.started
                for b in scheduled:
                    if elapsed >= next_at[b]:
                        next_at[b] = elapsed + 6.0
                        await getattr(self, b)()
                await asyncio.sleep(0.5)
        finally:
            for task in listeners:
                task.cancel()
            for link in self.links:
                with contextlib.suppress(Exception):
                    await link.ws.close()
            await self.session.close()
        return {"pubkey": self.pub.hex(), "connected": len(self.links),
                "sent": dict(self.sent), "refused": dict(self.refused)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--key", required=True, type=Path, help="the validator's node.key")
    p.add_argument("--genesis", required=True, type=Path)
    p.add_argument("--peer", action="append", required=True, help="ws://host:port/p2p")
    p.add_argument("--api", help="an honest node's API, to learn the proposer rotation")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--equivocate-after", type=float, default=10.0)
    p.add_argument("--behaviours", default="", help=f"comma list of {', '.join(BEHAVIOURS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, help="write the JSON report here")
    args = p.parse_args(argv)
    report = asyncio.run(Byzantine(args).run())
    text = json.dumps(report, sort_keys=True)
    if args.report is not None:
        args.report.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
