#!/usr/bin/env python3
"""Load generator: drive a running devnet through its public API; report what got final, how fast.

    .venv/bin/python scripts/loadgen.py --node http://127.0.0.1:7070 \
        --wallet .devnet/demo.wallet --password-file .devnet/demo.password --duration 60 \
        [--senders 1000] [--rate 2000] [--warmup 5] [--connections 8] [--backlog 2]

What it does, in order:
1. Funds `--senders` fresh single-key senders from the wallet (the devnet's demo wallet) with
   fan-out txs of up to 1,000 outputs each, and waits until they are final.
2. Pre-signs, per sender, a chain of 1-input 2-output payments (a small payment to a sink
   address, the change back to the sender; tx k+1 spends tx k's change, unconfirmed), enough
   for `--rate` x (warmup + duration) txs. Signing happens before any tx is sent, so during
   the measured window the generator only writes HTTP requests.
3. Sends them with `POST /api/v1/tx` at `--rate` tx/s, over `--connections` keep-alive
   HTTP/1.1 connections per node (a minimal hand-written client: aiohttp's client costs ~5x
   more CPU per request, and this process shares the machine with the nodes). Pacing is a
   token bucket (`SendSlots`) whose unused slots are banked, up to `--backlog` seconds' worth,
   and spent as soon as a connection is free: when every connection waits on a slow POST
   (all nodes commit the same block at once), the slots of that pause are made up afterwards
   instead of lapsing, so the generator submits at the offered rate whenever the nodes accept
   it. Slots that do lapse (the nodes stayed behind for longer than the backlog) are counted
   (`send_slots_lapsed`). Each sender is pinned to one node and has at most one request in
   flight, so a child never overtakes its parent. Senders are spread over every node of the
   devnet (from the devnet manifest next to the wallet) or over the `--node` URLs given.
4. Follows `GET /api/v1/blocks/stream` (SSE) on the first node; for each block it reads
   `block/{hash}/txids`. A tx's finality latency is from just before its POST to the moment
   the block holding it is announced.

Figures (the window is `--duration` seconds after `--warmup` seconds of load):
- committed_tx_per_s: txs committed per second from the window's first block to its last
  (`committed_rate`: the txs of every block after the first, over the time between their
  headers), so no block is cut by an edge of the window;
- committed_in_window_tx_per_s: txs in blocks announced during the window (every tx of the
  chain, counted from the blocks' tx_count), divided by the window; it carries up to one
  block's txs of edge error at each end (about 5 tx/s at 1,500 tx/s in a 60 s window);
- finality p50/p95/p99 over the txs submitted during the window (txs not final within the
  drain time after the window are counted in `unfinalized` and left out of the percentiles);
- per node process (pid files in the devnet directory): CPU % of one core during the window
  (utime + stime from /proc/PID/stat) and peak RSS (VmHWM from /proc/PID/status);
- the generator's own CPU %, and the whole machine's busy % (from /proc/stat) in the window.

The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import secrets
import statistics
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

if __name__ == "__main__":  # run as a script; tests import it as `scripts.loadgen`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus import codec  # noqa: E402
from consensus.crypto import PrivateKey  # noqa: E402
from consensus.ledger import tx_sighash  # noqa: E402
from consensus.params import ChainParams  # noqa: E402
from consensus.types import (  # noqa: E402
    COIN,
    TX_VERSION,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Witness,
)

FANOUT_OUTPUTS = 1_000  # outputs per funding tx (a tx is at most max_tx_size bytes)
SENDER_FUNDS = 10 * COIN
AMOUNT_MARGIN = 9  # bytes: the most an amount's encoding can grow, so a fixed fee always covers


# -- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------------


class HttpError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        reader, writer = await self._open()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n")
        writer.write(head.encode() + body)
        try:
            status_line = await reader.readuntil(b"\r\n")
            headers = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise HttpError(f"connection lost: {exc}") from None
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        for line in headers.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body_in = await reader.readexactly(length) if length else b""
        return status, body_in

    async def get_json(self, path: str) -> object:
        status, body = await self.request("GET", path)
        if status != 200:
            raise HttpError(f"GET {path}: HTTP {status} {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


# -- process accounting ---------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process, in seconds (None if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14, 15 of stat(5)


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over every CPU, from /proc/stat."""
    vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def node_pids(devnet_dir: Path | None) -> dict[str, int]:
    """The running nodes' pids, from the devnet's pid files (DIR/<name>/node.pid)."""
    if devnet_dir is None:
        return {}
    pids = {}
    for path in sorted(devnet_dir.glob("*/node.pid")):
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if proc_cpu_s(pid) is not None:
            pids[path.parent.name] = pid
    return pids


# -- the workload ---------------------------------------------------------------------------------


@dataclass
class Sender:
    index: int
    conn_slot: int  # which node it is pinned to
    txs: deque[tuple[str, bytes]]  # (txid hex, body: the tx hex, ascii)
    broken: bool = False


class SeenBlock(NamedTuple):
    seen: float  # monotonic time the stream announced it
    height: int
    tx_count: int
    time_ms: int  # the header's time: when the proposer built it (its wall clock)


@dataclass
class Stats:
    submitted: dict[str, float] = field(default_factory=dict)  # txid -> monotonic submit time
    final_at: dict[str, float] = field(default_factory=dict)
    final_height: dict[str, int] = field(default_factory=dict)
    node_of: dict[str, int] = field(default_factory=dict)  # txid -> index of the node posted to
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    blocks: list[SeenBlock] = field(default_factory=list)
    post_latency: list[float] = field(default_factory=list)


def presign_chain(key: PrivateKey, start: OutPoint, amount: int, count: int, chain_id: str,
                  sink: Lock, pay: int, fee: int) -> list[tuple[str, bytes]]:
    """`count` chained payments from `start`: each pays `pay` to `sink`, change (output 1) on."""
    policy = SpendPolicy.single(key.public_key)
    own = codec.policy_lock(policy)
    out: list[tuple[str, bytes]] = []
    prev, value = start, amount
    for _ in range(count):
        change = value - pay - fee
        if change < pay:
            break
        unsigned = Tx(TX_VERSION, chain_id, (TxIn(prev),), (TxOut(pay, sink), TxOut(change, own)),
                      b"", ())
        sig = key.sign(tx_sighash(unsigned))
        tx = Tx(TX_VERSION, chain_id, unsigned.inputs, unsigned.outputs, b"",
                (Witness(policy, ((0, sig),)),))
        tid = codec.txid(tx)
        out.append((tid.hex(), codec.encode_tx(tx).hex().encode("ascii")))
        prev, value = OutPoint(TxId(tid), 1), change
    return out


def payment_fee(chain_id: str, sink: Lock, pay: int, fee_rate: int) -> int:
    """A fixed fee that covers any tx `presign_chain` makes (size measured with a dummy sig)."""
    k = PrivateKey(bytes(31) + b"\x01")
    policy = SpendPolicy.single(k.public_key)
    tx = Tx(TX_VERSION, chain_id, (TxIn(OutPoint(TxId(bytes(32)), 1)),),
            (TxOut(pay, sink), TxOut(SENDER_FUNDS, codec.policy_lock(policy))), b"",
            (Witness(policy, ((0, bytes(64)),)),))
    return (codec.tx_size(tx) + AMOUNT_MARGIN) * max(1, fee_rate)


# -- pacing ---------------------------------------------------------------------------------------


class SendSlots:
    """A token bucket of send slots: `rate` per second, unused slots banked up to `backlog_s`.

    Why a bank, not a fixed tick: a POST is slow in bursts (every node commits the same block
    at once), and while every connection waits the slots of that pause would lapse, so the
    generator, not the nodes, would fall short of the offered rate. Banked slots are spent as
    soon as connections free up. The bank is bounded so a long stall (nodes really behind) is
    not answered by an unbounded burst; slots beyond it lapse and are counted.
    Pure bookkeeping (the caller passes the clock), so it is tested without sleeping.
    """

    def __init__(self, rate: float, backlog_s: float, now: float) -> None:
        self.rate = rate
        self.cap = max(1, int(rate * backlog_s))
        self.last = now
        self.fraction = 0.0  # slots accrued but not yet whole
        self.banked = 0  # whole slots issued and not yet taken
        self.issued = 0
        self.taken = 0
        self.lapsed = 0
        self.peak = 0

    def refill(self, now: float) -> int:
        """Accrue slots up to `now`; return how many new slots were banked (the rest lapsed)."""
        self.fraction += max(0.0, now - self.last) * self.rate
        self.last = max(self.last, now)
        whole = int(self.fraction)
        self.fraction -= whole
        room = self.cap - self.banked
        banked = min(whole, room)
        self.lapsed += whole - banked
        self.banked += banked
        self.issued += banked
        self.peak = max(self.peak, self.banked)
        return banked

    def take(self) -> None:
        """One banked slot is used (the caller holds a slot it was given)."""
        self.banked -= 1
        self.taken += 1


Poster = Callable[[list[bytes]], Awaitable[list[tuple[int, bytes]]]]  # (status, answer) per tx


async def send_paced(queues: Sequence[asyncio.Queue[Sender]], posters: Sequence[Sequence[Poster]],
                     slots: SendSlots, stats: Stats, sending: asyncio.Event,
                     tick: float = 0.005, batch: int = 1) -> None:
    """Send the senders' txs, paced by `slots`, until `sending` is cleared (or cancelled).

    `queues[n]` holds node n's ready senders; `posters[n]` one POST function per connection to
    it, each driven by its own worker. A worker takes a ready sender, waits for a slot, and
    (with `batch` > 1) adds more ready senders while slots are banked, up to `batch`; it posts
    each sender's next tx and puts the senders back only after the answer: a sender has at most
    one tx in flight, so on its node a child never arrives before its parent.
    """
    gate = asyncio.Semaphore(0)  # one release per banked slot; wakes exactly one worker

    async def pacer() -> None:
        while sending.is_set():
            await asyncio.sleep(tick)
            for _ in range(slots.refill(time.monotonic())):
                gate.release()

    async def worker(q: asyncio.Queue[Sender], post: Poster) -> None:
        while sending.is_set():
            group = [await q.get()]
            await gate.acquire()
            slots.take()
            while len(group) < batch and not q.empty() and not gate.locked():
                group.append(q.get_nowait())
                await gate.acquire()  # does not wait: a slot is banked
                slots.take()
            if not sending.is_set():
                break
            sent = [s.txs.popleft() for s in group]
            t0 = time.monotonic()
            for s, (tid, _) in zip(group, sent, strict=True):
                stats.submitted[tid] = t0
                stats.node_of[tid] = s.conn_slot
            try:
                answers = await post([body for _, body in sent])
            except (HttpError, OSError) as exc:
                answers = [(0, str(exc).encode())] * len(sent)
            stats.post_latency.append(time.monotonic() - t0)
            for s, (tid, _), (code, answer) in zip(group, sent, answers, strict=True):
                if code != 200:
                    reason = _reason(code, answer)
                    stats.rejected[reason] = stats.rejected.get(reason, 0) + 1
                    del stats.submitted[tid]
                    s.broken = True  # its later txs spend this one: the chain stops here
                elif s.txs:
                    q.put_nowait(s)

    tasks = [asyncio.create_task(pacer())]
    tasks += [asyncio.create_task(worker(q, post))
              for q, node_posters in zip(queues, posters, strict=True) for post in node_posters]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# -- the run --------------------------------------------------------------------------------------


class LoadGen:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.urls: list[str] = list(args.node)
        self.devnet_dir: Path | None = (Path(args.devnet_dir) if args.devnet_dir
                                        else Path(args.wallet).resolve().parent)
        if not (self.devnet_dir / "devnet.json").exists():
            self.devnet_dir = None if not args.devnet_dir else self.devnet_dir
        self.stats = Stats()
        self.log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.quiet else \
            (lambda *a: print(*a, flush=True))

    def submit_urls(self) -> list[str]:
        """Every validator's API from the devnet manifest (if any and not --only-given)."""
        if self.devnet_dir is None or self.args.only_given:
            return self.urls
        doc = json.loads((self.devnet_dir / "devnet.json").read_text())
        urls = [f"http://127.0.0.1:{n['api_port']}" for n in doc["nodes"] if n["validator"]]
        return urls or self.urls

    async def fund(self, conn: Conn, keys: Sequence[PrivateKey], chain_id: str,
                   params: ChainParams) -> tuple[list[tuple[str, bytes]], list[OutPoint]]:
        """Fan-out txs paying SENDER_FUNDS to each key; (their (txid, body)), sender outpoints."""
        from wallet.builder import Coin, Payment, build_transaction, sign_transaction
        from wallet.client import NodeClient
        from wallet.keys import RECEIVE
        from wallet.ops import fetch_coins
        from wallet.walletfile import load_wallet, unlock

        data = load_wallet(self.args.wallet)
        password = Path(self.args.password_file).read_text().strip()
        hd = unlock(self.args.wallet, data, password)
        signing = {bytes(pub): hd.private_key(c, i) for c, i, pub in data.known_keys()}
        async with NodeClient(self.urls[0]) as client:
            coins = await fetch_coins(client, data)
        # Spend the largest coins first; change goes back to the wallet's first address.
        coins.sort(key=lambda c: -c.amount)
        change_policy = SpendPolicy.single(hd.pubkey(RECEIVE, 0))
        txs: list[tuple[str, bytes]] = []
        outpoints: list[OutPoint] = []
        locks = [codec.policy_lock(SpendPolicy.single(k.public_key)) for k in keys]
        for start in range(0, len(locks), FANOUT_OUTPUTS):
            part = locks[start:start + FANOUT_OUTPUTS]
            unsigned = build_transaction(
                coins[:50], [Payment(lk, SENDER_FUNDS) for lk in part],
                fee_rate=max(1, params.min_fee_rate), params=params, chain_id=chain_id,
                change_policy=change_policy)
            tx = sign_transaction(unsigned, signing)
            tid = codec.txid(tx)
            txs.append((tid.hex(), codec.encode_tx(tx).hex().encode("ascii")))
            outpoints += [OutPoint(tid, n) for n in range(len(part))]
            spent = {i.prevout for i in tx.inputs}
            coins = [c for c in coins if c.outpoint not in spent]
            if unsigned.change_index is not None:
                coins.insert(0, Coin(OutPoint(tid, unsigned.change_index),
                                     tx.outputs[unsigned.change_index].amount, change_policy))
        return txs, outpoints

    async def post(self, conn: Conn, body: bytes) -> tuple[int, bytes]:
        return await conn.request("POST", "/api/v1/tx", body)

    async def post_many(self, conn: Conn, bodies: list[bytes]) -> list[tuple[int, bytes]]:
        """One tx per `POST /api/v1/tx`, or with --batch > 1 all of them in `POST /api/v1/txs`
        (each answer entry then stands for its tx: 200 with the txid, or 400 with the error)."""
        if self.args.batch <= 1:
            return [await self.post(conn, body) for body in bodies]
        code, answer = await conn.request(
            "POST", "/api/v1/txs", b'["' + b'","'.join(bodies) + b'"]')
        if code != 200:
            return [(code, answer)] * len(bodies)
        entries = json.loads(answer)
        return [(200, b"") if "txid" in e else (400, json.dumps(e).encode()) for e in entries]

    async def follow(self, url: str, stop: asyncio.Event) -> None:
        """Read the SSE block stream; map each block's txids to the time it was announced."""
        host, port = host_port(url)
        side = Conn(host, port)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET /api/v1/blocks/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        buf = b""  # chunk-size lines of the chunked response land between events: ignored
        try:
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    break
                # The response is chunked: skip chunk-size lines, keep the event lines.
                buf += line
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    now = time.monotonic()
                    data = None
                    for ln in event.split(b"\n"):
                        ln = ln.strip(b"\r")
                        if ln.startswith(b"data: "):
                            data = json.loads(ln[6:])
                    if data is None:
                        continue
                    self.stats.blocks.append(SeenBlock(now, int(data["height"]),
                                                       int(data["tx_count"]),
                                                       int(data["time_ms"])))
                    if data["tx_count"]:
                        txids = await side.get_json(f"/api/v1/block/{data['hash']}/txids")
                        final_at, final_height = self.stats.final_at, self.stats.final_height
                        for t in txids if isinstance(txids, list) else ():
                            final_at.setdefault(t, now)
                            final_height.setdefault(t, int(data["height"]))
        finally:
            writer.close()
            side.close()

    async def run(self) -> dict[str, object]:
        args = self.args
        first = Conn(*host_port(self.urls[0]))
        status = await first.get_json("/api/v1/status")
        assert isinstance(status, dict)
        chain_id = str(status["chain_id"])
        params_doc = await first.get_json("/api/v1/params")
        params = _params_from(params_doc)
        urls = self.submit_urls()
        self.log(f"chain {chain_id} at height {status['height']}; submitting to {len(urls)} "
                 f"node(s); {args.senders} senders at {args.rate} tx/s")

        run_seed = secrets.token_bytes(16)
        keys = [PrivateKey(_sha(run_seed + i.to_bytes(4, "big"))) for i in range(args.senders)]
        sink_key = PrivateKey(_sha(run_seed + b"sink"))
        sink = codec.policy_lock(SpendPolicy.single(sink_key.public_key))
        pay = max(params.dust_limit, 1)
        fee = payment_fee(chain_id, sink, pay, params.min_fee_rate)
        per_sender = int(args.rate * (args.warmup + args.duration) * 1.15 / args.senders) + 2
        if (pay + fee) * per_sender >= SENDER_FUNDS:
            raise SystemExit("too many txs per sender for its funds: add --senders")

        t = time.perf_counter()
        fund_txs, outpoints = await self.fund(first, keys, chain_id, params)
        cpu0 = time.process_time()
        for _tid, body in fund_txs:
            code, answer = await self.post(first, body)
            if code != 200:
                raise SystemExit(f"funding tx refused: HTTP {code} {answer[:300]!r}")
        # Pre-sign every payment while the funding txs become final.
        senders: list[Sender] = []
        for i, (k, op) in enumerate(zip(keys, outpoints, strict=True)):
            chain = presign_chain(k, op, SENDER_FUNDS, per_sender, chain_id, sink, pay, fee)
            senders.append(Sender(i, i % len(urls), deque(chain)))
        total = sum(len(s.txs) for s in senders)
        presign_s = time.process_time() - cpu0
        self.log(f"funded {len(keys)} senders with {len(fund_txs)} fan-out tx(s); pre-signed "
                 f"{total} txs ({presign_s / max(total, 1) * 1e6:.0f} us CPU each)")
        await self.wait_final(first, [tid for tid, _ in fund_txs], timeout=60.0)
        self.log(f"funding final after {time.perf_counter() - t:.1f}s")

        stop_follow = asyncio.Event()
        follower = asyncio.create_task(self.follow(self.urls[0], stop_follow))
        await asyncio.sleep(0.2)

        # Per node: a queue of ready senders, served by --connections workers.
        queues: list[asyncio.Queue[Sender]] = [asyncio.Queue() for _ in urls]
        for s in senders:
            queues[s.conn_slot].put_nowait(s)
        conns = [[Conn(*host_port(url)) for _ in range(args.connections)] for url in urls]
        posters = [[functools.partial(self.post_many, c) for c in node] for node in conns]
        sending = asyncio.Event()
        sending.set()
        stats = self.stats

        pids = node_pids(self.devnet_dir)
        slots = SendSlots(args.rate, args.backlog, time.monotonic())
        sender_task = asyncio.create_task(send_paced(queues, posters, slots, stats, sending,
                                                     batch=args.batch))
        await asyncio.sleep(args.warmup)
        w0 = time.monotonic()
        cpu_nodes0 = {name: proc_cpu_s(pid) for name, pid in pids.items()}
        cpu_self0 = time.process_time()
        busy0 = machine_busy()
        lapsed0, slots.peak = slots.lapsed, slots.banked  # the window's own lapses and peak
        rss_peak: dict[str, int] = {}
        while time.monotonic() - w0 < args.duration:
            await asyncio.sleep(min(1.0, args.duration - (time.monotonic() - w0)))
            for name, pid in pids.items():
                rss = proc_status_kb(pid, "VmRSS") or 0
                rss_peak[name] = max(rss_peak.get(name, 0), rss)
            done = sum(b.tx_count for b in stats.blocks if b.seen >= w0)
            self.log(f"  t={time.monotonic() - w0:5.1f}s  submitted {len(stats.submitted)}  "
                     f"committed in window {done}  rejected {sum(stats.rejected.values())}")
        w1 = time.monotonic()
        window = w1 - w0
        cpu_nodes1 = {name: proc_cpu_s(pid) for name, pid in pids.items()}
        cpu_self = time.process_time() - cpu_self0
        busy1 = machine_busy()
        lapsed, peak_backlog = slots.lapsed - lapsed0, slots.peak
        sending.clear()
        sender_task.cancel()
        await asyncio.gather(sender_task, return_exceptions=True)
        for node in conns:
            for c in node:
                c.close()

        # Drain: give txs submitted in the window time to become final.
        in_window = [t for t, s in stats.submitted.items() if w0 <= s < w1]
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline and any(t not in stats.final_at for t in in_window):
            await asyncio.sleep(0.2)
        stop_follow.set()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        first.close()

        lat = sorted(stats.final_at[t] - stats.submitted[t] for t in in_window
                     if t in stats.final_at)
        if args.trace:
            write_trace(Path(args.trace), stats, in_window, w0)
        blocks = [b for b in stats.blocks if w0 <= b.seen < w1]
        committed = sum(b.tx_count for b in blocks)
        rate = committed_rate(stats.blocks, w0, w1)
        nodes = {}
        for name, pid in pids.items():
            c0, c1 = cpu_nodes0.get(name), cpu_nodes1.get(name)
            nodes[name] = {
                "pid": pid,
                "cpu_pct": None if c0 is None or c1 is None else round(100 * (c1 - c0) / window, 1),
                "rss_peak_mb": round(max(rss_peak.get(name, 0),
                                         proc_status_kb(pid, "VmHWM") or 0) / 1024, 1),
            }
        busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
        result: dict[str, object] = {
            "validators": sum(1 for n in nodes if n.startswith("coop-")) or len(urls),
            "duration_s": round(window, 2),
            "warmup_s": args.warmup,
            "senders": args.senders,
            "offered_rate_tx_per_s": args.rate,
            "submitted_in_window": len(in_window),
            "submitted_tx_per_s": round(len(in_window) / window, 1),
            "committed_tx_per_s": None if rate is None else round(rate, 1),
            "committed_in_window_tx_per_s": round(committed / window, 1),
            "blocks_in_window": len(blocks),
            "avg_txs_per_block": round(committed / len(blocks), 1) if blocks else 0,
            "finality_p50_s": _pct(lat, 50),
            "finality_p95_s": _pct(lat, 95),
            "finality_p99_s": _pct(lat, 99),
            "finality_max_s": round(lat[-1], 3) if lat else None,
            "finalized_in_window_txs": len(lat),
            "unfinalized": len(in_window) - len(lat),
            "rejected": stats.rejected,
            "post_p50_ms": round(1000 * statistics.median(stats.post_latency), 2)
            if stats.post_latency else None,
            "post_p99_ms": _pct([1000 * v for v in sorted(stats.post_latency)], 99),
            "connections_per_node": args.connections,
            "batch": args.batch,
            "backlog_s": args.backlog,
            "send_slots_lapsed": lapsed,
            "send_backlog_peak": peak_backlog,
            "nodes": nodes,
            "nodes_cpu_pct_total": round(sum(n["cpu_pct"] or 0 for n in nodes.values()), 1),
            "loadgen_cpu_pct": round(100 * cpu_self / window, 1),
            "loadgen_rss_peak_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "machine_busy_pct": round(100 * busy, 1),
            "machine_cpus": os.cpu_count(),
            "presign_us_per_tx": round(presign_s / max(total, 1) * 1e6, 1),
        }
        return result

    async def wait_final(self, conn: Conn, txids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(txids)
        while pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"funding txs not final after {timeout}s: {pending}")
            status, body = await conn.request("GET", f"/api/v1/tx/{pending[0]}/status")
            if status == 200 and json.loads(body).get("final"):
                pending.pop(0)
                continue
            await asyncio.sleep(0.1)


def _sha(data: bytes) -> bytes:
    from consensus.crypto import sha256
    return sha256(data)


def _params_from(doc: object) -> ChainParams:
    """ChainParams from GET params (the fields ChainParams knows; others ignored)."""
    import dataclasses
    src = doc.get("params", doc) if isinstance(doc, dict) else {}
    names = {f.name for f in dataclasses.fields(ChainParams)}
    return ChainParams(**{k: v for k, v in src.items() if k in names})


def _reason(code: int, answer: bytes) -> str:
    try:
        doc = json.loads(answer)
        return f"{code}:{doc.get('rule') or doc.get('error', '')[:60]}"
    except ValueError:
        return f"{code}:{answer[:60].decode('ascii', 'replace')}"


def write_trace(path: Path, stats: Stats, in_window: list[str], w0: float) -> None:
    """Times are seconds from the window's start; an unfinalized tx has no final or height."""
    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - w0, 4)
    path.write_text(json.dumps({
        "txs": [[stats.node_of.get(t), rel(stats.submitted[t]), rel(stats.final_at.get(t)),
                 stats.final_height.get(t)] for t in in_window],
        "blocks": [[rel(b.seen), b.height, b.tx_count, b.time_ms] for b in stats.blocks],
    }))


def committed_rate(blocks: Sequence[SeenBlock], w0: float, w1: float) -> float | None:
    """Txs committed per second, from block to block among those announced in [w0, w1).

    A block holds the txs that reached its proposer's pool between the build of the block
    before it and its own, and its header's time is that build. So the txs of the window's
    blocks after the first, over the header time from the first to the last, is the commit
    rate with no edge error. Counting every block announced in the window over the window's
    length counts a block just inside the start (its txs came before the window) and misses
    the txs waiting at the end: up to a block's worth either way, 5 tx/s at 1,500 tx/s in 60 s.
    Announcement times would carry the same error: they jitter by a height's finality. None
    when the window holds fewer than two blocks.
    """
    inside = [b for b in blocks if w0 <= b.seen < w1]
    span_ms = inside[-1].time_ms - inside[0].time_ms if len(inside) > 1 else 0
    if span_ms <= 0:
        return None
    return 1000 * sum(b.tx_count for b in inside[1:]) / span_ms


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return round(values[k], 3)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--node", action="append", required=True,
                    help="node API URL (repeat for several; the first is followed for blocks)")
    ap.add_argument("--wallet", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--duration", type=float, required=True, help="measured window, seconds")
    ap.add_argument("--warmup", type=float, default=5.0, help="load before the window, seconds")
    ap.add_argument("--drain", type=float, default=15.0,
                    help="seconds to wait after the window for its txs to become final")
    ap.add_argument("--senders", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=2000.0, help="offered load, tx/s")
    ap.add_argument("--connections", type=int, default=8, help="HTTP connections per node")
    ap.add_argument("--backlog", type=float, default=2.0,
                    help="seconds of unused send slots banked and made up when POSTs are slow")
    ap.add_argument("--batch", type=int, default=1,
                    help="txs per request: 1 posts each to /api/v1/tx; more send up to this "
                         "many ready txs (of different senders) in one POST /api/v1/txs")
    ap.add_argument("--devnet-dir", help="devnet directory (default: the wallet's directory)")
    ap.add_argument("--only-given", action="store_true",
                    help="submit only to the --node URLs, not every devnet validator")
    ap.add_argument("--quiet", action="store_true", help="progress to stderr")
    ap.add_argument("--trace", metavar="FILE",
                    help="write the window's txs (node posted to, submitted, final, height) "
                         "and blocks (seen, height, tx count, header time_ms) to FILE as "
                         "JSON, to find where a latency tail comes from")
    args = ap.parse_args(argv)
    if args.senders < 1 or args.rate <= 0 or args.duration <= 0 or args.connections < 1 \
            or args.backlog < 0 or not 1 <= args.batch <= 1000:
        ap.error("--senders, --rate, --duration and --connections must be positive, "
                 "--backlog not negative, --batch 1 to 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(LoadGen(args).run())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
