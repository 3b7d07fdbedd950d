"""A fake node: the agreed /api/v1 HTTP API over a `FakeChain`, served in-process on 127.0.0.1.

It runs in a background thread with its own event loop, so both async client tests and the CLI
(which runs `asyncio.run` itself) can talk to it. `fail_next` makes the next n requests answer
503, to test retries.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from aiohttp import web

from consensus import codec
from consensus.address import decode_address, encode_address
from consensus.errors import AddressError, DecodeError, ValidationError
from consensus.governance import RecoveryAction, decode_block_action
from consensus.types import TxOut
from faircoop_node.api.governance import describe_action
from tests.wallet.wallet_fakechain import FakeChain


def _err(status: int, message: str, rule: str = "") -> web.Response:
    body = {"error": message}
    if rule:
        body["rule"] = rule
    return web.json_response(body, status=status)


class FakeNode:
    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self.fail_next = 0
        self.requests: list[str] = []
        self.bad_validator_set = False  # serve a set that does not hash to what was asked
        self.reject_rule = ""  # refuse every POST tx with this ledger rule
        self.uncertified_tip = False  # serve the tip header without its certificate yet
        self.unknown_fee = False  # answer "fee": null, as the node does for an untraceable input
        self.raw_blocks_served = 0
        self.understate = 0  # a lying node: every output amount it reports is this much lower
        self.reports_next_nonce = True  # False: GET governance as before issue 14 (no next_nonce)
        self.takes_actions = True  # False: no POST actions (a node from before issue 14)
        self.actions_posted: list[object] = []  # the JSON bodies POST actions received
        self.action_pool_full = False  # answer POST actions 503 pool_full, as a full node does

    def app(self) -> web.Application:
        @web.middleware
        async def failing(request: web.Request, handler):  # type: ignore[no-untyped-def]
            self.requests.append(f"{request.method} {request.path_qs}")
            if self.fail_next > 0:
                self.fail_next -= 1
                return _err(503, "busy")
            return await handler(request)

        app = web.Application(middlewares=[failing])
        r = app.router
        p = "/api/v1"
        r.add_get(f"{p}/status", self.status)
        r.add_get(f"{p}/genesis", self.genesis)
        r.add_get(f"{p}/params", self.params)
        r.add_get(f"{p}/blocks/tip/height", self.tip_height)
        r.add_get(f"{p}/headers", self.headers)
        r.add_get(f"{p}/validator-set/{{h}}", self.validator_set)
        r.add_get(f"{p}/block/{{hash}}/raw", self.block_raw)
        r.add_get(f"{p}/tx/{{txid}}", self.tx)
        r.add_get(f"{p}/tx/{{txid}}/status", self.tx_status)
        r.add_get(f"{p}/tx/{{txid}}/proof", self.tx_proof)
        r.add_get(f"{p}/address/{{addr}}", self.address)
        r.add_get(f"{p}/address/{{addr}}/utxo", self.address_utxo)
        r.add_get(f"{p}/address/{{addr}}/txs", self.address_txs)
        r.add_post(f"{p}/tx", self.post_tx)
        r.add_get(f"{p}/validators", self.validators)
        r.add_get(f"{p}/governance", self.governance)
        r.add_get(f"{p}/governance/history", self.governance_history)
        r.add_get(f"{p}/rates", self.rates)
        if self.takes_actions:
            r.add_post(f"{p}/actions", self.post_action)
        return app

    async def status(self, _: web.Request) -> web.Response:
        c = self.chain
        return web.json_response({
            "chain_id": c.genesis.chain_id, "network": c.network,
            "genesis_hash": c.genesis_id.hex(), "height": c.height, "tip_hash": c.tip_id.hex(),
            "round": 0, "peers": 3, "mempool_size": len(c.mempool), "node_id": "fake",
            "validator": False})

    async def genesis(self, _: web.Request) -> web.Response:
        c = self.chain
        return web.json_response({"hash": c.genesis_id.hex(),
                                  "hex": codec.encode_genesis(c.genesis).hex()})

    async def params(self, _: web.Request) -> web.Response:
        p = self.chain.state.params
        return web.json_response({n: getattr(p, n) for n in codec.PARAM_NAMES})

    async def tip_height(self, _: web.Request) -> web.Response:
        return web.Response(text=str(self.chain.height))

    async def headers(self, request: web.Request) -> web.Response:
        start = int(request.query["from"])
        count = min(int(request.query["count"]), 1000)
        with self.chain.lock:
            recs = self.chain.blocks[max(0, start - 1): max(0, start - 1) + count]
            tip = self.chain.height
            return web.json_response([
                {"height": r.header.height, "hash": r.block_id.hex(),
                 "header_hex": codec.encode_header(r.header).hex(),
                 "certificate_hex": None if self.uncertified_tip and r.header.height == tip
                 else r.certificate.hex()} for r in recs])

    async def validator_set(self, request: web.Request) -> web.Response:
        h = bytes.fromhex(request.match_info["h"])
        vs = self.chain.sets.get(h)
        if vs is None:
            return _err(404, "unknown validator set")
        if self.bad_validator_set:
            vs = vs[:-1]
        return web.json_response({
            "hash": h.hex(), "hex": codec.pack(codec.validators_obj(vs)).hex(),
            "validators": [{"name": v.name, "pubkey": v.pubkey.hex()} for v in vs]})

    async def block_raw(self, request: web.Request) -> web.Response:
        with self.chain.lock:
            for rec in self.chain.blocks:
                if rec.block_id.hex() == request.match_info["hash"]:
                    self.raw_blocks_served += 1
                    return web.json_response({"hex": codec.encode_block(rec.block).hex()})
        return _err(404, "unknown block")

    def _find(self, request: web.Request):  # type: ignore[no-untyped-def]
        try:
            tid = bytes.fromhex(request.match_info["txid"])
        except ValueError:
            return None
        return self.chain.find_tx(tid)

    async def tx(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if found is None:
            return _err(404, "unknown tx")
        tx, height, pos = found
        c = self.chain
        tid = codec.txid(tx)
        if self.understate:  # the same txid, a tx with smaller outputs
            tx = replace(tx, outputs=tuple(TxOut(max(1, o.amount - self.understate), o.lock)
                                           for o in tx.outputs))
        return web.json_response({
            "txid": tid.hex(), "hex": codec.encode_tx(tx).hex(),
            "inputs": [{"txid": i.prevout.txid.hex(), "index": i.prevout.index}
                       for i in tx.inputs],
            "outputs": [{"amount": o.amount, "address": c.address(o.lock), "lock": o.lock.hex()}
                        for o in tx.outputs],
            "memo_hex": tx.memo.hex(), "fee": None if self.unknown_fee else self._fee(tx),
            "size": codec.tx_size(tx),
            "status": {"final": height is not None, "height": height}})

    def _fee(self, tx) -> int:  # type: ignore[no-untyped-def]
        total_in = 0
        for i in tx.inputs:
            src = self.chain.find_tx(i.prevout.txid)
            if src is not None:
                total_in += src[0].outputs[i.prevout.index].amount
            elif i.prevout.txid == self.chain.genesis_id:
                total_in += self.chain.genesis.allocations[i.prevout.index].amount
        return total_in - sum(o.amount for o in tx.outputs)

    async def tx_status(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if found is None:
            return _err(404, "unknown tx")
        _, height, pos = found
        rec = self.chain.blocks[height - 1] if height else None
        return web.json_response({
            "final": height is not None, "in_mempool": height is None, "height": height,
            "block_hash": rec.block_id.hex() if rec else None, "position": pos,
            "certificate_hex": rec.certificate.hex() if rec else None})

    async def tx_proof(self, request: web.Request) -> web.Response:
        try:
            proof = self.chain.proof(bytes.fromhex(request.match_info["txid"]))
        except ValueError:
            proof = None
        if proof is None:
            return _err(404, "tx not in a block")
        return web.json_response(proof)

    def _lock(self, request: web.Request) -> bytes | web.Response:
        try:
            return decode_address(request.match_info["addr"], self.chain.network)
        except AddressError as exc:
            return _err(400, str(exc))

    async def address(self, request: web.Request) -> web.Response:
        lock = self._lock(request)
        if isinstance(lock, web.Response):
            return lock
        utxos = self.chain.utxos_of(lock)
        return web.json_response({
            "address": request.match_info["addr"], "lock": lock.hex(),
            "balance": sum(o.amount for _, o in utxos), "utxo_count": len(utxos),
            "tx_count": len(self.chain.txs_of(lock)) + sum(
                1 for o in self.chain.genesis.allocations if o.lock == lock),
            "mempool_balance_delta": 0})

    async def address_utxo(self, request: web.Request) -> web.Response:
        lock = self._lock(request)
        if isinstance(lock, web.Response):
            return lock
        out = []
        for op, o in self.chain.utxos_of(lock):
            loc = self.chain.tx_index.get(op.txid)
            out.append({"txid": op.txid.hex(), "index": op.index,
                        "amount": max(1, o.amount - self.understate),
                        "height": loc[0] if loc else 0})
        return web.json_response(out)

    async def address_txs(self, request: web.Request) -> web.Response:
        lock = self._lock(request)
        if isinstance(lock, web.Response):
            return lock
        return web.json_response([{"txid": t.hex(), "height": h, "position": p}
                                  for t, h, p in self.chain.txs_of(lock)])

    async def post_tx(self, request: web.Request) -> web.Response:
        text = (await request.text()).strip()
        if self.reject_rule:
            return _err(400, f"{self.reject_rule}: refused by policy", self.reject_rule)
        try:
            tx = codec.decode_tx(bytes.fromhex(text))
        except (ValueError, DecodeError) as exc:
            return _err(400, f"malformed tx: {exc}", "malformed_tx")
        try:
            tid = self.chain.submit(tx)
        except ValidationError as exc:
            return _err(400, str(exc), exc.rule)
        return web.json_response({"txid": tid.hex()})


    async def validators(self, _: web.Request) -> web.Response:
        st = self.chain.state
        return web.json_response({
            "height": st.height + 1, "count": len(st.validators), "quorum": st.quorum(),
            "validators_hash": codec.validators_hash(st.validators).hex(),
            "validators": [{"index": i, "name": v.name, "pubkey": v.pubkey.hex()}
                           for i, v in enumerate(st.validators)]})

    async def governance(self, _: web.Request) -> web.Response:
        st = self.chain.state
        doc = {
            "governors": [g.hex() for g in st.governors], "threshold": st.governor_threshold,
            "treasury_lock": st.treasury_lock.hex(),
            "treasury_address": encode_address(st.treasury_lock, st.network),
            "pending": [{"kind": describe_action(decode_block_action(raw), st.network)[0],
                         "included_height": st.height, "effective_height": st.height + 2,
                         "hex": raw.hex()} for raw in st.pending_actions],
        }
        if self.reports_next_nonce:
            doc["next_nonce"] = self.chain.next_free_nonce()
        return web.json_response(doc)

    async def rates(self, _: web.Request) -> web.Response:
        """As the node: the rates in force at the next height, and every currency kept."""
        book, height = self.chain.state.rates, self.chain.height + 1
        return web.json_response({
            "height": height, "tip": self.chain.height, "scale": 10**8, "unknown": [],
            "currencies": [c.currency for c in book.currencies],
            "rates": [{"currency": c, "units_per_coin": ch.units_per_coin, "since": ch.since,
                       "nonce": ch.nonce} for c, ch in book.in_force(height)]})

    async def governance_history(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "100"))
        entries = []
        with self.chain.lock:
            for rec in reversed(self.chain.blocks):
                for raw in rec.block.actions:
                    action = decode_block_action(raw)
                    kind, summary = describe_action(action, self.chain.network)
                    ref = action.reference
                    entries.append({
                        "height": rec.header.height, "effective_height": rec.header.height + 2,
                        "kind": kind, "summary": summary,
                        "nonce": None if isinstance(action, RecoveryAction) else action.nonce,
                        "signers": [k.hex() for k, _ in action.signatures],
                        "reference": None if ref is None else {"uri": ref.uri, "text": ref.text},
                        "hex": raw.hex()})
        return web.json_response({"actions": entries[:limit]})

    async def post_action(self, request: web.Request) -> web.Response:
        """The node's contract: `{"action": hex}`; 200 `{"status": "pooled" |
        "already_pooled", "id"}`, or `{"error", "rule"}`: 400 (the rule), 409
        replayed_action, 503 pool_full."""
        try:
            body = await request.json()
        except ValueError:
            return _err(400, "the body is not JSON", "decode")
        self.actions_posted.append(body)
        hexed = body.get("action") if isinstance(body, dict) else None
        if not isinstance(hexed, str):
            return _err(400, "expected {\"action\": hex}", "decode")
        if self.action_pool_full:
            return _err(503, "the node holds as many actions as it keeps", "pool_full")
        try:
            raw = bytes.fromhex(hexed)
            known = raw in self.chain.next_actions
            action_id = self.chain.submit_action(raw)
        except (ValueError, DecodeError) as exc:
            return _err(400, f"malformed action: {exc}", "decode")
        except ValidationError as exc:
            return _err(409 if exc.rule == "replayed_action" else 400, str(exc), exc.rule)
        return web.json_response({"status": "already_pooled" if known else "pooled",
                                  "id": action_id})


@contextmanager
def serve_app(make_app: Callable[[], web.Application]
              ) -> Iterator[tuple[str, asyncio.AbstractEventLoop]]:
    """Serve the app `make_app` builds on 127.0.0.1 (a free port), on an event loop in a thread
    of its own; yields its base URL and that loop (run code there to touch what it serves)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        holder["runner"] = runner
        holder["url"] = f"http://127.0.0.1:{port}"
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the server did not start"
    try:
        yield str(holder["url"]), loop
    finally:
        runner = holder["runner"]
        fut = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)  # type: ignore[attr-defined]
        fut.result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def serve(node: FakeNode) -> Iterator[str]:
    """Run the fake node on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    with serve_app(node.app) as (url, _):
        yield url
