"""The plumbing of an outside attacker: a target node, connections under fresh identities.

- `Target`: a node's API and P2P URLs and its chain identity (`discover` reads it from the
  node's API, as any outsider can);
- `Peer`: one authenticated connection whose reader follows the node's tip and records how
  the node ended it;
- `Identities`: connections to one target, a fresh identity each time the node cuts one off
  (on loopback nothing bans an address, and a new key costs an attacker nothing anywhere),
  counting identities used and connections cut;
- `paced`: a send loop at a given rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from consensus.crypto import PrivateKey
from consensus.errors import FaircoopError
from consensus.types import BlockHash, PublicKey
from consensus.votes import decode_vote
from faircoop_node.byzantine.rawpeer import HandshakeFailed, Link, connect
from faircoop_node.net.envelope import MsgType, decode_envelope, decode_reject, decode_status
from faircoop_node.net.transport import ChainIdentity

Report = dict[str, Any]
CONNECT_ERRORS = (HandshakeFailed, FaircoopError, aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Target:
    """One node: its API, its P2P endpoint, and the chain it is on (from its API)."""

    api_url: str
    p2p_url: str
    chain: ChainIdentity

    @property
    def chain_id(self) -> str:
        return self.chain.chain_id


async def get_json(session: aiohttp.ClientSession, url: str, timeout: float = 10.0) -> Any:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        resp.raise_for_status()
        return await resp.json()


async def discover(session: aiohttp.ClientSession, api_url: str, p2p_url: str) -> Target:
    """The target's chain identity, read from `GET /api/v1/status`."""
    doc = await get_json(session, f"{api_url}/api/v1/status")
    return Target(api_url, p2p_url, ChainIdentity(
        str(doc["chain_id"]), BlockHash(bytes.fromhex(doc["genesis_hash"]))))


async def validator_keys(session: aiohttp.ClientSession, api_url: str
                         ) -> tuple[PublicKey, ...]:
    """The voting set's public keys, from `GET /api/v1/validators`: the names to forge."""
    doc = await get_json(session, f"{api_url}/api/v1/validators")
    return tuple(PublicKey(bytes.fromhex(v["pubkey"])) for v in doc["validators"])


# -- one outsider connection --------------------------------------------------------------------


class Peer:
    """One authenticated connection under a fresh identity.

    Unless `read` is False, a reader task drains what the node sends: it follows the node's tip
    (HELLO, then every STATUS, and the heights of the votes it sends: a deciding validator
    sends no STATUS, but a vote for height h says h - 1 is final), counts frames by type,
    passes each to `watch` if given, and records why the node ended the connection (`ended`:
    its REJECT reason, or "closed").
    With `read` False nothing is read, so the node's answers pile up on its side.
    """

    def __init__(self, link: Link, key: PrivateKey, read: bool,
                 watch: Callable[[MsgType, bytes], None] | None) -> None:
        self.link = link
        self.key = key
        self.tip = link.peer.tip_height
        self.received: Counter[str] = Counter()
        self.ended: str | None = None
        self._ours = False
        self._watch = watch
        self._reader = asyncio.create_task(self._read()) if read else None

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, target: Target, *, read: bool = True,
                   tip_height: int = 0, key: PrivateKey | None = None,
                   watch: Callable[[MsgType, bytes], None] | None = None) -> Peer:
        key = key if key is not None else PrivateKey.generate()
        link = await asyncio.wait_for(
            connect(session, target.p2p_url, target.chain, key, tip_height=tip_height), 15)
        return cls(link, key, read, watch)

    @property
    def node_id(self) -> str:
        return bytes(self.key.public_key).hex()

    async def send(self, msg_type: MsgType, payload: bytes) -> bool:
        return await self.link.send(msg_type, payload)

    async def send_raw(self, frame: bytes) -> bool:
        return await self.link.send_raw(frame)

    async def send_message(self, envelope: bytes) -> bool:
        return await self.link.send_message(envelope)

    async def close(self) -> None:
        self._ours = self._ours or self.ended is None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.link.ws.close(), 3)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _read(self) -> None:
        try:
            async for msg in self.link.ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                try:
                    env = decode_envelope(msg.data)
                    if env.msg_type == MsgType.STATUS:
                        self.tip = max(self.tip, decode_status(env.payload).height)
                    elif env.msg_type == MsgType.VOTE:
                        self.tip = max(self.tip, decode_vote(env.payload).height - 1)
                    elif env.msg_type == MsgType.REJECT:
                        self.ended = decode_reject(env.payload)
                except FaircoopError:
                    continue
                self.received[env.msg_type.name] += 1
                if self._watch is not None:
                    self._watch(env.msg_type, env.payload)
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            pass
        finally:
            if self.ended is None:
                self.ended = "closed"


class Identities:
    """Connections to one target, a fresh identity each time the node cuts one off; counts
    identities used and connections cut (with their reasons)."""

    def __init__(self, session: aiohttp.ClientSession, target: Target, **peer_args: Any) -> None:
        self.session = session
        self.target = target
        self.peer_args = peer_args
        self.used = 0
        self.refused = 0
        self.cut_reasons: Counter[str] = Counter()
        self.opened: list[Peer] = []

    async def fresh(self, attempts: int = 20) -> Peer | None:
        for _ in range(attempts):
            try:
                peer = await Peer.open(self.session, self.target, **self.peer_args)
            except CONNECT_ERRORS:
                self.refused += 1
                await asyncio.sleep(0.25)
                continue
            self.used += 1
            self.opened.append(peer)
            return peer
        return None

    async def keep(self, peer: Peer | None) -> Peer | None:
        """`peer` if the node has not cut it, else a fresh one."""
        if peer is not None and not peer.link.ws.closed and peer.ended is None:
            return peer
        if peer is not None:
            self.note(peer)
        return await self.fresh()

    async def send(self, peer: Peer, msg_type: MsgType, payload: bytes) -> Peer | None:
        """Send on `peer`; if the node cut it meanwhile (it judged an earlier frame), once
        more under a fresh identity, as an attacker would. The peer the frame went out on, or
        None if none could be had."""
        if await peer.send(msg_type, payload):
            return peer
        fresh = await self.keep(peer)
        if fresh is not None and await fresh.send(msg_type, payload):
            return fresh
        return None

    def note(self, peer: Peer) -> None:
        if peer.ended is not None and not peer._ours:
            self.cut_reasons[peer.ended[:60]] += 1
            peer._ours = True  # counted once

    async def close(self) -> None:
        await asyncio.sleep(0.2)  # a REJECT in flight still reaches the reader
        for peer in self.opened:
            self.note(peer)
            await peer.close()

    def report(self) -> Report:
        return {"identities": self.used, "handshakes_refused": self.refused,
                "cut": sum(self.cut_reasons.values()),
                "cut_reasons": dict(self.cut_reasons.most_common(5)),
                "node_ids": [p.node_id for p in self.opened]}


async def paced(rate_per_s: float, duration_s: float,
                send_one: Callable[[int], Awaitable[bool]], max_count: int | None = None) -> int:
    """Call `send_one(i)` about `rate_per_s` times a second for `duration_s` (or until
    `max_count`); stops early when it returns False. How many were sent."""
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < duration_s:
        due = min(int(elapsed * rate_per_s) - sent, 2_000)
        if max_count is not None:
            due = min(due, max_count - sent)
            if due <= 0 and sent >= max_count:
                break
        for _ in range(max(0, due)):
            if not await send_one(sent):
                return sent
            sent += 1
        await asyncio.sleep(0.005)
    return sent


def latency_summary(latencies: Sequence[float]) -> Report:
    if not latencies:
        return {"p50_s": None, "p90_s": None, "max_s": None}
    ordered = sorted(latencies)
    return {"p50_s": round(statistics.median(ordered), 3),
            "p90_s": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
            "max_s": round(ordered[-1], 3)}
