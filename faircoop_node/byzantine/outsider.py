"""An outside attacker: a peer that holds no validator key, only fresh node keys of its own.

One coroutine per network or API attack of issue 12, each parameterised (rates, sizes, counts,
durations) and each returning a small report (a dict) of what it sent and what the node did to
it: how many of its connections the node ended (`cut`, with the reasons) and how many
identities it used. A peer the node cuts off is replaced by a fresh identity: on loopback
nothing bans an address, and a new key costs an attacker nothing anywhere.

Attacks, by issue 12 finding number:

- `forged_votes` (1): VOTEs naming a real validator with random signatures, most for rounds
  >= 10^9, just under the rate budget, over several connections;
- `forged_proposals` (3): PROPOSALs naming a validator, a random signature, a ~15 MB block,
  a new block id each;
- `get_blocks_flood` (4): many GET_BLOCKS for 1,000 blocks, the answers never read;
- `evidence_junk` (5): well-signed double votes of fresh keys, mostly for heights ~10^15;
  `equivocation` (5): the real thing, by a validator key the caller holds;
- `lying_tip` (6): HELLO and STATUS claiming a huge tip, far-ahead VOTEs, no answer to
  GET_BLOCKS;
- `junk_proposals` (8): ~12 MB PROPOSALs of 200,000 tiny txs that decode but mean nothing;
- `half_open` (9): WebSocket upgrades that never send a HELLO; `pre_handshake_frames` (9): a
  near-16 MiB frame before the handshake, its last bytes held back;
- `api_hammer` (10): `GET /api/v1/tx/{txid}` over and over, for an expensive tx;
- `sse_streams` (11): many `blocks/stream` connections, held open;
- `junk_txs`: relayed txs that spend a real treasury coin with random signatures;
  `bad_evidence`: EVIDENCE whose signatures fail (both "dropped unpunished" in the issue).

`campaign.py` runs any set of them at once, each repeated until a deadline (the soak), and
`scripts/outsider_node.py` runs them from the command line. Loopback devnets only. The
connections themselves are `outpeer.py`'s.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

import aiohttp

from consensus.address import encode_address
from consensus.codec import decode_genesis, decode_tx, policy_lock
from consensus.crypto import PrivateKey
from consensus.evidence import encode_evidence
from consensus.types import BlockHash, Lock, OutPoint, PublicKey, SpendPolicy, TxId
from consensus.votes import encode_vote
from faircoop_node.byzantine import forge, rawsock
from faircoop_node.byzantine.outpeer import (
    Identities,
    Peer,
    Report,
    Target,
    get_json,
    latency_summary,
    paced,
)
from faircoop_node.config import Limits
from faircoop_node.net.envelope import (
    GetBlocks,
    MsgType,
    Status,
    encode_envelope,
    encode_get_blocks,
    encode_status,
    encode_txs,
)

FAR_ROUND = 10**9  # rounds the engine drops unread: nothing but the relay looks at them
FAR_HEIGHT = 10**15
MAX_FRAME = Limits().max_frame_bytes
BlockMaker = Callable[[int, PublicKey], bytes]  # (height, proposer) -> a block's bytes


# -- (1) forged votes ---------------------------------------------------------------------------


async def forged_votes(session: aiohttp.ClientSession, target: Target,
                       validators: Sequence[PublicKey], *, connections: int = 2,
                       rate_per_s: float = 4_500.0, duration_s: float = 10.0,
                       far_round: int = FAR_ROUND, near_every: int = 50) -> Report:
    """VOTEs that name real validators and carry random signatures, from `connections`
    identities at `rate_per_s` each (under the 5,000/s budget): heights tip + 1 and tip + 2
    (the ones a node relays), rounds from `far_round` on (dropped by the engine unread), and
    every `near_every`-th for round 0 of tip + 1 (checked by the engine, and refused)."""
    ids = Identities(session, target)
    sent = Counter[str]()

    async def run(slot: int) -> None:
        peer = await ids.fresh()
        if peer is None:
            return

        async def one(i: int) -> bool:
            nonlocal peer
            peer = await ids.keep(peer)
            if peer is None:
                return False
            validator = validators[(i + slot) % len(validators)]
            if near_every and i % near_every == 0:
                payload = forge.forged_vote(target.chain_id, validator, peer.tip + 1, 0)
                sent["near_round"] += 1
            else:
                payload = forge.forged_vote(target.chain_id, validator, peer.tip + 1 + i % 2,
                                            far_round + i * connections + slot)
                sent["far_round"] += 1
            peer = await ids.send(peer, MsgType.VOTE, payload)
            return True  # cut: the next one comes from a fresh identity (keep), if any

        await paced(rate_per_s, duration_s, one)

    await asyncio.gather(*(run(s) for s in range(connections)))
    await ids.close()
    return {"sent": sent["near_round"] + sent["far_round"], **sent, **ids.report()}


# -- (3) forged proposals, (8) junk proposals ---------------------------------------------------


async def _proposals(session: aiohttp.ClientSession, target: Target,
                     validators: Sequence[PublicKey], count: int, pause_s: float,
                     connections: int, ahead: Sequence[int],
                     prepare: Callable[[int], BlockMaker]) -> Report:
    """`count` PROPOSALs over `connections` identities at once, for heights tip + `ahead[i]`
    in turn (a node keeps those for tip + 1 and tip + 2). `prepare(i)` does the costly part
    of block i first; the height is read from the node's tip only then, right before the
    send: a height read before seconds of building is stale by the time the node judges it,
    and the node drops a stale proposal quietly, unchecked."""
    ids = Identities(session, target)
    sent = sent_bytes = 0

    async def run(slot: int) -> None:
        nonlocal sent, sent_bytes
        peer: Peer | None = None
        for i in range(slot, count, connections):
            make_block = prepare(i)
            await asyncio.sleep(0.05)  # the reader takes the votes that came in meanwhile
            peer = await ids.keep(peer)
            if peer is None:
                return
            proposer = validators[i % len(validators)]
            height = peer.tip + ahead[i % len(ahead)]
            payload = forge.forged_proposal(target.chain_id, proposer, height, 0,
                                            make_block(height, proposer))
            frame = encode_envelope(MsgType.PROPOSAL, payload)
            del payload
            if len(frame) > MAX_FRAME:
                raise ValueError(f"a {len(frame)}-byte frame is over max_frame_bytes "
                                 f"({MAX_FRAME})")
            if await peer.send_message(frame):  # in parts, as the node's transport sends it
                sent += 1
                sent_bytes += len(frame)
            del frame
            await asyncio.sleep(pause_s)

    await asyncio.gather(*(run(slot) for slot in range(connections)))
    await ids.close()
    return {"sent": sent, "bytes": sent_bytes, **ids.report()}


async def forged_proposals(session: aiohttp.ClientSession, target: Target,
                           validators: Sequence[PublicKey], *, count: int = 40,
                           block_bytes: int = 15_000_000, pause_s: float = 0.0,
                           connections: int = 2, ahead: Sequence[int] = (2, 2, 1)) -> Report:
    """PROPOSALs for tip + 2 and tip + 1 naming a real validator as proposer, with a random
    signature and a block of `block_bytes` (one blob: it decodes at once), each under a new
    block id: a node that keeps or forwards them before the signature check pays in memory
    (those for tip + 2 stay until two more blocks are final)."""
    blob = bytes(max(0, block_bytes - 600))

    def make(height: int, proposer: PublicKey) -> bytes:
        return forge.padded_block(target.chain_id, height, proposer, block_bytes, blob)

    return await _proposals(session, target, validators, count, pause_s, connections, ahead,
                            lambda _: make)


async def junk_proposals(session: aiohttp.ClientSession, target: Target,
                         validators: Sequence[PublicKey], *, count: int = 20,
                         txs: int = forge.MAX_JUNK_TXS, pause_s: float = 0.2,
                         connections: int = 1, ahead: Sequence[int] = (2, 3)) -> Report:
    """PROPOSALs naming a real validator, with a random signature and a block of `txs` distinct
    tiny txs (~12 MB at 200,000): they decode, one Python object each, and mean nothing.

    A node checks the signature of a proposal for the height after next (for the next one,
    the real proposer's usually holds the round already), so they go to tip + 2, and to
    tip + 3 for when the node has moved on while a 12 MB frame travels. In a fresh-clone run
    on a busy machine all five (then for tip + 1 and tip + 2, their heights read before the
    txs were built) came too late to be judged."""
    salt = random.randrange(1 << 30)

    def prepare(i: int) -> BlockMaker:
        return forge.junk_body(target.chain_id, txs, salt + i).block

    return await _proposals(session, target, validators, count, pause_s, connections, ahead,
                            prepare)


# -- (4) GET_BLOCKS flood -----------------------------------------------------------------------


async def get_blocks_flood(session: aiohttp.ClientSession, target: Target, *,
                           requests: int = 400, start: int = 1, count: int = 1_000,
                           hold_s: float = 10.0) -> Report:
    """`requests` GET_BLOCKS of `count` blocks from `start` on one connection that reads
    nothing, held open `hold_s` seconds: every answer (up to 8 MiB) waits on the node's side."""
    ids = Identities(session, target, read=False)
    peer = await ids.fresh()
    sent = 0
    if peer is not None:
        payload = encode_get_blocks(GetBlocks(start, count))
        for _ in range(requests):
            if not await peer.send(MsgType.GET_BLOCKS, payload):
                break
            sent += 1
        await asyncio.sleep(hold_s)
    await ids.close()
    return {"sent": sent, **ids.report()}


# -- (5) evidence junk, and a real equivocation -------------------------------------------------


async def evidence_junk(session: aiohttp.ClientSession, target: Target, *, count: int = 1_200,
                        far_height: int = FAR_HEIGHT, near_share: float = 0.1,
                        rate_per_s: float = 2_000.0) -> Report:
    """`count` EVIDENCE frames, each a well-signed double vote by a fresh key (never a
    validator): most for heights from `far_height` on (never pruned), `near_share` of them for
    heights just above the tip."""
    ids = Identities(session, target)
    peer = await ids.fresh()
    sent = Counter[str]()

    async def one(i: int) -> bool:
        nonlocal peer
        peer = await ids.keep(peer)
        if peer is None:
            return False
        near = random.random() < near_share
        height = peer.tip + 1 + i % 50 if near else far_height + i
        sent["near" if near else "far"] += 1
        payload = forge.junk_evidence(PrivateKey.generate(), target.chain_id, height)
        peer = await ids.send(peer, MsgType.EVIDENCE, payload)
        return True  # cut: the next one comes from a fresh identity (keep), if any

    n = await paced(rate_per_s, 3600.0, one, max_count=count)
    await ids.close()
    return {"sent": n, **sent, **ids.report()}


async def equivocation(session: aiohttp.ClientSession, target: Target, key: PrivateKey, *,
                       heights: int = 3, wait_s: float = 10.0) -> Report:
    """A real equivocation by the validator whose `key` the caller holds: at `heights`
    successive tips, two prevotes for round 0 of tip + 1 naming different blocks, both sent
    as VOTEs and as the EVIDENCE they make."""
    ids = Identities(session, target)
    peer = await ids.fresh()
    done: list[int] = []
    deadline = time.monotonic() + wait_s * heights
    while peer is not None and len(done) < heights and time.monotonic() < deadline:
        height = peer.tip + 1
        if height not in done:
            ev = forge.double_vote(key, target.chain_id, height)
            for vote in (ev.vote_a, ev.vote_b):
                await peer.send(MsgType.VOTE, encode_vote(vote))
            await peer.send(MsgType.EVIDENCE, encode_evidence(ev))
            done.append(height)
        await asyncio.sleep(0.2)
        peer = await ids.keep(peer)
    await ids.close()
    return {"heights": done, "offender": bytes(key.public_key).hex(), **ids.report()}


# -- (6) a lying tip ----------------------------------------------------------------------------


async def lying_tip(session: aiohttp.ClientSession, target: Target,
                    validators: Sequence[PublicKey], *, claimed: int = 10**9,
                    duration_s: float = 30.0, every_s: float = 0.5,
                    connect_for_s: float = 30.0,
                    until: Callable[[], bool] | None = None) -> Report:
    """Claim a tip of `claimed` in HELLO, in a STATUS every `every_s`, and in far-ahead VOTEs
    (decodable, signature random); never answer GET_BLOCKS. Reconnects under a fresh identity
    if cut off. Keeps trying to connect for `connect_for_s` (the node may be starting). Ends
    after `duration_s`, or as soon as `until()` is true."""
    ids = Identities(session, target, tip_height=claimed)
    deadline = time.monotonic() + duration_s
    peer: Peer | None = None
    connect_deadline = time.monotonic() + connect_for_s
    while peer is None and time.monotonic() < connect_deadline:
        peer = await ids.fresh(attempts=1)
        if peer is None:
            await asyncio.sleep(0.02)
    first_connected = time.monotonic()
    statuses = votes = 0
    while peer is not None and time.monotonic() < deadline and not (until and until()):
        status = encode_status(Status(claimed, BlockHash(forge.random_bytes(32)), 0))
        if await peer.send(MsgType.STATUS, status):
            statuses += 1
        vote = forge.forged_vote(target.chain_id, validators[votes % len(validators)],
                                 claimed + 1, 0)
        if await peer.send(MsgType.VOTE, vote):
            votes += 1
        await asyncio.sleep(every_s)
        peer = await ids.keep(peer)
    asked = sum(p.received["GET_BLOCKS"] for p in ids.opened)
    await ids.close()
    return {"claimed": claimed, "statuses": statuses, "votes": votes,
            "get_blocks_ignored": asked,
            "connected_s": round(time.monotonic() - first_connected, 1) if ids.used else 0,
            **ids.report()}


# -- (9) connections that never finish the handshake --------------------------------------------


async def half_open(target: Target, *, sockets: int = 300, hold_s: float = 10.0,
                    timeout: float = 10.0, opened: asyncio.Event | None = None) -> Report:
    """`sockets` WebSocket upgrades to the P2P port that never send a HELLO, held `hold_s`
    (`opened` is set once all are answered). How many the node let in (101), refused (with
    their status) or left unanswered."""
    answers = await asyncio.gather(*(rawsock.upgrade(target.p2p_url, timeout)
                                     for _ in range(sockets)))
    writers = [w for w, _ in answers if w is not None]
    statuses = Counter(a.status if a.status else a.error for _, a in answers)
    if opened is not None:
        opened.set()
    await asyncio.sleep(hold_s)
    rawsock.close_all(writers)
    return {"sockets": sockets, "upgraded": len(writers),
            "answers": {str(k): v for k, v in statuses.items()}}


async def pre_handshake_frames(target: Target, *, sockets: int = 60,
                               frame_bytes: int = MAX_FRAME - 64, withhold: int = 1,
                               hold_s: float = 8.0, timeout: float = 10.0) -> Report:
    """On `sockets` fresh WebSocket connections, before any HELLO, one binary frame of
    `frame_bytes` (under the 16 MiB frame limit) with its last `withhold` bytes held back, so
    the node buffers the rest; all held `hold_s` seconds."""
    payload = bytes(frame_bytes - withhold)
    header = rawsock.frame_header(frame_bytes)
    sent = 0
    refused = Counter[str]()
    writers: list[asyncio.StreamWriter] = []

    async def one() -> None:
        nonlocal sent
        writer, answer = await rawsock.upgrade(target.p2p_url, timeout)
        if writer is None:
            refused[str(answer.status or answer.error)] += 1
            return
        writers.append(writer)
        try:
            writer.write(header)
            writer.write(payload)
            await asyncio.wait_for(writer.drain(), timeout)
            sent += 1
        except (OSError, ConnectionError, TimeoutError) as exc:
            refused[type(exc).__name__] += 1

    for start in range(0, sockets, 10):  # ten at a time: each write is a 16 MiB buffer
        await asyncio.gather(*(one() for _ in range(min(10, sockets - start))))
    await asyncio.sleep(hold_s)
    rawsock.close_all(writers)
    return {"sockets": sockets, "frames_sent": sent, "frame_bytes": frame_bytes,
            "bytes_sent": sent * (frame_bytes - withhold), "refused": dict(refused)}


# -- (10) an expensive API call, (11) block streams ---------------------------------------------


async def api_hammer(session: aiohttp.ClientSession, api_url: str, path: str, *,
                     concurrency: int = 4, duration_s: float = 10.0,
                     timeout: float = 30.0) -> Report:
    """`GET {api_url}{path}` from `concurrency` clients back to back for `duration_s`;
    the latencies seen (seconds)."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + duration_s

    async def client() -> None:
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                async with session.get(f"{api_url}{path}",
                                       timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                    await resp.read()
                    statuses[str(resp.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
            latencies.append(time.monotonic() - t0)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return {"path": path, "requests": len(latencies), "statuses": dict(statuses),
            **latency_summary(latencies)}


async def sse_streams(api_url: str, *, streams: int = 1_100, hold_s: float = 10.0,
                      timeout: float = 5.0, batch: int = 100,
                      opened: asyncio.Event | None = None) -> Report:
    """Open `streams` `blocks/stream` connections (`batch` at a time) and hold the ones the
    node lets in for `hold_s` (`opened` is set once all are answered). How many were let in
    (200), refused with 503 (and of those, how many said Retry-After), or failed."""
    writers: list[asyncio.StreamWriter] = []
    answers: Counter[str] = Counter()
    retry_after = 0
    for start in range(0, streams, batch):
        got = await asyncio.gather(*(rawsock.sse_request(api_url, timeout)
                                     for _ in range(min(batch, streams - start))))
        for writer, answer in got:
            answers[str(answer.status or answer.error)] += 1
            retry_after += answer.status == 503 and answer.retry_after is not None
            if writer is not None:
                writers.append(writer)
    if opened is not None:
        opened.set()
    await asyncio.sleep(hold_s)
    rawsock.close_all(writers)
    return {"streams": streams, "held": len(writers), "answers": dict(answers),
            "refused_503_with_retry_after": retry_after}


# -- relayed junk: txs with bad signatures, evidence with bad signatures ------------------------


async def treasury_coin(session: aiohttp.ClientSession, api_url: str
                        ) -> tuple[OutPoint, int, SpendPolicy, dict[str, int]] | None:
    """A live treasury coin (a block's fee output) and the policy that spends it, all public:
    the treasury is the governors' multisig, or else its policy was revealed by the first
    spend from it. Also the params the junk tx must meet. None if the policy is unknown or the
    treasury holds nothing."""
    genesis = decode_genesis(bytes.fromhex(
        (await get_json(session, f"{api_url}/api/v1/genesis"))["hex"]))
    params = (await get_json(session, f"{api_url}/api/v1/params"))["params"]
    address = encode_address(genesis.treasury_lock, genesis.network)
    policy = (forge.treasury_policy(genesis.governors, genesis.governor_threshold,
                                    genesis.treasury_lock)
              or await revealed_policy(session, api_url, address, genesis.treasury_lock))
    if policy is None:
        return None
    coins = await get_json(session, f"{api_url}/api/v1/address/{address}/utxo?limit=1000")
    if not coins:
        return None
    best = max(coins, key=lambda c: int(c["amount"]))
    return (OutPoint(TxId(bytes.fromhex(best["txid"])), int(best["index"])), int(best["amount"]),
            policy, {"min_fee_rate": int(params["min_fee_rate"]),
                     "dust_limit": int(params["dust_limit"])})


async def revealed_policy(session: aiohttp.ClientSession, api_url: str, address: str,
                          lock: Lock) -> SpendPolicy | None:
    """The policy behind `lock`, from the witness of a tx in the address's history that spent
    one of its coins (a spend shows the policy to everyone)."""
    for entry in await get_json(session, f"{api_url}/api/v1/address/{address}/txs?limit=100"):
        try:
            doc = await get_json(session, f"{api_url}/api/v1/tx/{entry['txid']}")
        except aiohttp.ClientResponseError:
            continue  # a block's fee output: its id is the block's hash, not a tx's
        for witness in decode_tx(bytes.fromhex(doc["hex"])).witnesses:
            if policy_lock(witness.policy) == lock:
                return witness.policy
    return None


async def junk_txs(session: aiohttp.ClientSession, target: Target, *, frames: int = 20,
                   per_frame: int = 500, pause_s: float = 0.05) -> Report:
    """TXS frames of well-formed txs that spend a real treasury coin under its real policy
    with random signatures: each costs the node a signature check before it is refused."""
    coin = await treasury_coin(session, target.api_url)
    if coin is None:
        return {"sent": 0, "error": "no treasury coin to spend"}
    prevout, amount, policy, params = coin
    verdict = await api_verdict(session, target.api_url, forge.bad_signature_tx(
        target.chain_id, prevout, amount, policy, fee_rate=params["min_fee_rate"],
        dust_limit=params["dust_limit"], nonce=0))
    ids = Identities(session, target)
    peer: Peer | None = None
    sent = 0
    nonce = random.randrange(1 << 40)
    for _ in range(frames):
        peer = await ids.keep(peer)
        if peer is None:
            break
        raws = []
        for _ in range(per_frame):
            nonce += 1
            raw = forge.bad_signature_tx(target.chain_id, prevout, amount, policy,
                                         fee_rate=params["min_fee_rate"],
                                         dust_limit=params["dust_limit"], nonce=nonce)
            if raw is None:
                return {"sent": sent, "error": f"the treasury coin ({amount}) is too small"}
            raws.append(raw)
        if await peer.send(MsgType.TXS, encode_txs(tuple(raws))):
            sent += len(raws)
        await asyncio.sleep(pause_s)
    await ids.close()
    return {"sent": sent, "coin": f"{prevout.txid.hex()}:{prevout.index}", "amount": amount,
            "api_verdict": verdict, **ids.report()}


async def api_verdict(session: aiohttp.ClientSession, api_url: str, raw: bytes | None) -> str:
    """The rule the node's API gives for one junk tx (`bad_signature` shows the node ran the
    signature check, so relayed copies cost it one each)."""
    if raw is None:
        return "none"
    async with session.post(f"{api_url}/api/v1/tx", data=raw.hex()) as resp:
        doc = await resp.json()
    return str(doc.get("rule") or doc.get("txid") and "accepted")


async def bad_evidence(session: aiohttp.ClientSession, target: Target,
                       validators: Sequence[PublicKey], *, count: int = 200,
                       rate_per_s: float = 500.0) -> Report:
    """EVIDENCE frames naming real validators for tip + 1, whose signatures fail."""
    ids = Identities(session, target)
    peer = await ids.fresh()

    async def one(i: int) -> bool:
        nonlocal peer
        peer = await ids.keep(peer)
        if peer is None:
            return False
        payload = forge.bad_evidence(target.chain_id, validators[i % len(validators)],
                                     peer.tip + 1, i)
        peer = await ids.send(peer, MsgType.EVIDENCE, payload)
        return True  # cut: the next one comes from a fresh identity (keep), if any

    n = await paced(rate_per_s, 3600.0, one, max_count=count)
    await ids.close()
    return {"sent": n, **ids.report()}
