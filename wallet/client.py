"""The node client for the HTTP API under /api/v1: async (aiohttp) with a sync facade.

`NodeClient` is async (aiohttp). Connection failures, timeouts and 5xx/429 answers are retried
with exponential backoff (`base_delay x 2^attempt`, capped); when every attempt fails the
caller gets `NodeUnreachable` naming the URL. A 4xx answer is not retried: it becomes
`NotFound` (404), `TxRejected` (a refused POST tx, with the ledger rule), `ActionRejected` (a
refused POST actions, with the governance rule) or `NodeError`.

`SyncNodeClient` runs the same calls on a private event loop for scripts and the CLI.

Answers are read with a size cap, so a hostile or broken node cannot make the wallet hold an
unbounded body in memory: `MAX_ANSWER_BYTES` (32 MiB) for every answer but a whole block,
`MAX_BLOCK_ANSWER_BYTES` (the largest block the chain's parameters allow, hex-encoded, plus
slack) for `block_raw`, and `MAX_ERROR_BYTES` for an error body. A larger answer (by its
Content-Length, or by what arrives, after decompression) is `AnswerTooLarge`, not retried.

The client returns what the node says; it decides nothing about finality. Receipts
(wallet.receipts) check everything it fetches.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from consensus.params import PARAM_RANGES
from wallet.errors import (
    ActionRejected,
    AnswerTooLarge,
    BadNodeUrl,
    NodeError,
    NodeUnreachable,
    NotFound,
    TxRejected,
)
from wallet.requests import StreamEvent

API_PREFIX = "/api/v1"
DEFAULT_NODE_URL = "http://127.0.0.1:7070"  # the node's default [api] port
DEFAULT_TIMEOUT_S = 10.0
RETRY_STATUSES = frozenset({429, 502, 503, 504, 500})
MAX_PAGE = 10_000  # the most entries the API lists at once (its default is 1,000)
# The largest answer read (bytes, after decompression). 10,000 coins or txs of an address are
# about 2 MB; 1,000 headers of a 1,000-validator set are more, and the light client then asks
# for fewer at a time (`wallet.lightclient.sync_headers`).
MAX_ANSWER_BYTES = 32 << 20
# A whole block: hex doubles the largest max_block_size the parameters allow (32 MB).
MAX_BLOCK_ANSWER_BYTES = 2 * PARAM_RANGES["max_block_size"][1] + (1 << 20)
MAX_ERROR_BYTES = 64 << 10  # an error body: a message and a rule
READ_CHUNK = 64 << 10

T = TypeVar("T")
Json = Any  # decoded JSON; each caller checks the fields it reads


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * (2**attempt)))


def check_node_url(url: str) -> str:
    """The node's base URL without a trailing slash; BadNodeUrl unless it is http(s)://host."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError on a bad port
        ok = (parts.scheme in ("http", "https") and bool(parts.hostname)
              and not parts.query and not parts.fragment)
    except ValueError:
        ok = False
    if not ok:
        raise BadNodeUrl(f"node URL {url!r} is not an http:// or https:// address such as "
                         "http://127.0.0.1:7070")
    return url.strip().rstrip("/")


class NodeClient:
    """Async access to one node. Use as `async with NodeClient(url) as node: ...`."""

    def __init__(
        self,
        base_url: str,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        session: aiohttp.ClientSession | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = check_node_url(base_url)
        self.retry = retry or RetryPolicy()
        self.max_answer_bytes = max_answer_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> NodeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def _request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                       data: str | None = None, json_body: Json = None, want: str = "json",
                       limit: int | None = None) -> Json:
        url = f"{self.base_url}{API_PREFIX}/{path.lstrip('/')}"
        cap = self.max_answer_bytes if limit is None else limit
        last = "no attempt made"
        for attempt in range(self.retry.attempts):
            if attempt:
                await asyncio.sleep(self.retry.delay(attempt - 1))
            try:
                async with self._get_session().request(method, url, params=params,
                                                       data=data, json=json_body) as resp:
                    if resp.status in RETRY_STATUSES:
                        last = f"HTTP {resp.status}{await _said(resp, path)}"
                        continue
                    if resp.status >= 400:
                        await self._raise_for(resp, method, path)
                    body = await read_capped(resp, cap, path)
                    if want == "text":
                        return body.decode("utf-8", "replace").strip()
                    try:
                        return json.loads(body)
                    except (ValueError, RecursionError):  # RecursionError: nested too deep
                        raise NodeError(resp.status, f"{path}: invalid JSON") from None
            except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                    OSError) as exc:
                last = _describe(exc)
        raise NodeUnreachable(self.base_url, last, self.retry.attempts)

    @staticmethod
    async def _raise_for(resp: aiohttp.ClientResponse, method: str, path: str) -> None:
        message, rule = f"{method} {path} failed", ""
        try:
            raw = await read_capped(resp, MAX_ERROR_BYTES, path)
        except AnswerTooLarge:
            raw = b""
        try:
            body = json.loads(raw)
            if isinstance(body, dict):
                message = str(body.get("error") or message)[:500]
                rule = str(body.get("rule") or "")[:100]
        except (ValueError, RecursionError):
            message = raw[:200].decode("utf-8", "replace") or message
        if resp.status == 404:
            raise NotFound(404, message, rule)
        if method == "POST" and path == "tx":
            raise TxRejected(resp.status, message, rule)
        if method == "POST" and path == "actions":
            raise ActionRejected(resp.status, message, rule)
        raise NodeError(resp.status, message, rule)

    # -- the API ------------------------------------------------------------------------------

    async def status(self) -> Json:
        return await self._request("GET", "status")

    async def genesis(self) -> Json:
        return await self._request("GET", "genesis")

    async def params(self) -> Json:
        return await self._request("GET", "params")

    async def tip_height(self) -> int:
        return int(await self._request("GET", "blocks/tip/height", want="text"))

    async def headers(self, start: int, count: int) -> Json:
        return await self._request("GET", "headers",
                                   params={"from": str(start), "count": str(count)})

    async def validator_set(self, validators_hash: str) -> Json:
        return await self._request("GET", f"validator-set/{validators_hash}")

    async def block_raw(self, block_hash: str) -> Json:
        """The whole block (`{"hex"}`): the light client reads a block's governance actions."""
        return await self._request("GET", f"block/{block_hash}/raw",
                                   limit=max(self.max_answer_bytes, MAX_BLOCK_ANSWER_BYTES))

    async def tx(self, txid: str) -> Json:
        return await self._request("GET", f"tx/{txid}")

    async def tx_status(self, txid: str) -> Json:
        return await self._request("GET", f"tx/{txid}/status")

    async def tx_proof(self, txid: str) -> Json:
        return await self._request("GET", f"tx/{txid}/proof")

    async def address(self, address: str) -> Json:
        return await self._request("GET", f"address/{address}")

    async def address_utxo(self, address: str, limit: int = MAX_PAGE) -> Json:
        return await self._request("GET", f"address/{address}/utxo",
                                   params={"limit": str(limit)})

    async def address_txs(self, address: str, limit: int = MAX_PAGE,
                          before: tuple[int, int] | None = None) -> Json:
        """The address's committed txs, newest first (at most `limit`), older than the
        `before` (height, position) when given."""
        params = {"limit": str(limit)}
        if before is not None:
            params.update(before_height=str(before[0]), before_position=str(before[1]))
        return await self._request("GET", f"address/{address}/txs", params=params)

    async def broadcast(self, tx_hex: str) -> str:
        """POST tx; returns the txid the node reports. Raises TxRejected with the rule."""
        body = await self._request("POST", "tx", data=tx_hex)
        if not isinstance(body, dict) or not isinstance(body.get("txid"), str):
            raise NodeError(200, "POST tx: answer without a txid")
        return str(body["txid"])

    async def validators(self) -> Json:
        """The voting set of the next height, with names and participation."""
        return await self._request("GET", "validators")

    async def governance(self) -> Json:
        """Governors, threshold, treasury, pending actions (and `next_nonce` where served)."""
        return await self._request("GET", "governance")

    async def governance_history(self, limit: int) -> Json:
        """The governance actions the chain included, newest first (at most `limit`)."""
        return await self._request("GET", "governance/history", params={"limit": str(limit)})

    async def submit_action(self, action_hex: str) -> Json:
        """POST actions `{"action": hex}`: the node checks, pools and gossips the action.
        Raises ActionRejected with the governance rule."""
        return await self._request("POST", "actions", json_body={"action": action_hex})

    # campaigns and the treasury (docs/FUNDING.md)

    async def campaigns(self, *, status: str | None = None, beneficiary: str | None = None,
                        limit: int = 100, after: str | None = None) -> Json:
        params = {"limit": str(limit)}
        for name, value in (("status", status), ("beneficiary", beneficiary), ("after", after)):
            if value is not None:
                params[name] = value
        return await self._request("GET", "campaigns", params=params)

    async def campaign(self, campaign_id: str) -> Json:
        return await self._request("GET", f"campaign/{campaign_id}")

    async def campaign_pledges(self, campaign_id: str, limit: int = MAX_PAGE) -> Json:
        """The campaign's unspent pledges (what a claim spends)."""
        return await self._request("GET", f"campaign/{campaign_id}/pledges",
                                   params={"limit": str(limit)})

    async def pledges(self, address: str, limit: int = MAX_PAGE) -> Json:
        """The unspent pledges refunded to `address` if their campaigns fail."""
        return await self._request("GET", f"pledges/{address}", params={"limit": str(limit)})

    async def treasury(self, *, days: int = 30, limit: int = 20,
                       after: str | None = None) -> Json:
        params = {"days": str(days), "limit": str(limit)}
        if after is not None:
            params["after"] = after
        return await self._request("GET", "treasury", params=params)
    async def credit(self, address: str) -> Json:
        """A credit account: balance, limit, available, sequence, what the mempool holds."""
        return await self._request("GET", f"credit/{address}")

    async def credit_history(self, address: str, limit: int = MAX_PAGE) -> Json:
        """A credit account's transfers and limit changes, newest first."""
        return await self._request("GET", f"credit/{address}/history",
                                   params={"limit": str(limit)})

    async def credit_totals(self) -> Json:
        return await self._request("GET", "credit")

    async def rates(self, height: int | None = None) -> Json:
        """The assembly's reference prices in force (at `height`, default the next block's),
        as the node says (the wallet converts at the rates its light client followed)."""
        params = None if height is None else {"height": str(height)}
        return await self._request("GET", "rates", params=params)

    async def watch_address(self, address: str) -> AddressStream:
        """Open `GET address/{address}/stream` (Server-Sent Events), once the node says it is
        watching. No retry: NodeError for a 4xx (404: a node without address streams), or a
        503 (no stream slot free), NodeUnreachable if it can't be reached."""
        url = f"{self.base_url}{API_PREFIX}/address/{address}/stream"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=DEFAULT_TIMEOUT_S)
        try:
            resp = await self._get_session().get(url, timeout=timeout)
        except (TimeoutError, aiohttp.ClientConnectionError, OSError) as exc:
            raise NodeUnreachable(self.base_url, _describe(exc), 1) from None
        try:
            if resp.status >= 400:
                path = f"address/{address}/stream"
                if resp.status in RETRY_STATUSES:
                    raise NodeError(resp.status, f"{path}: HTTP {resp.status}"
                                                 f"{await _said(resp, path)}")
                await self._raise_for(resp, "GET", path)
            stream = AddressStream(resp)
            opening = await asyncio.wait_for(stream.read_block(), DEFAULT_TIMEOUT_S)
            if not opening or not opening[0].startswith(": watching"):
                raise NodeError(resp.status, "address stream: the node did not say it watches")
        except BaseException:
            resp.close()
            raise
        return stream


MAX_EVENT_LINE = 4096  # an address event is ~250 bytes
MAX_EVENT_LINES = 8


class AddressStream:
    """An open address stream: `next_event` reads the node's `mempool` and `final` events
    (comments, keep-alives among them, are skipped). Lines and events are bounded, so a
    hostile node can't make the wallet hold an unbounded event."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    async def read_block(self) -> list[str]:
        """The lines up to the next blank line (an event or a comment); [] at the end."""
        lines: list[str] = []
        while True:
            try:
                raw = await self._resp.content.readuntil(b"\n")
            except ValueError:  # a line past aiohttp's own buffer limit
                raise NodeError(200, "address stream: a line is too long") from None
            except aiohttp.ClientPayloadError:
                return []
            except asyncio.IncompleteReadError:
                return []
            if len(raw) > MAX_EVENT_LINE:
                raise NodeError(200, "address stream: a line is too long")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if lines:
                    return lines
                continue
            lines.append(line)
            if len(lines) > MAX_EVENT_LINES:
                raise NodeError(200, "address stream: an event is too long")

    async def next_event(self, timeout: float) -> StreamEvent | None:
        """The next payment event; None once the stream ended; TimeoutError if nothing (not
        even a keep-alive) arrives within `timeout`."""
        while True:
            lines = await asyncio.wait_for(self.read_block(), timeout)
            if not lines:
                return None
            event = _event(lines)
            if event is not None:
                return event

    async def close(self) -> None:
        self._resp.close()


def _event(lines: list[str]) -> StreamEvent | None:
    kind, data = "", ""
    for line in lines:
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "event":
            kind = value.strip()
        elif field == "data":
            data = value.strip()
    if kind not in ("mempool", "final"):
        return None
    try:
        doc = json.loads(data)
        return StreamEvent(kind == "final", str(doc["txid"]), int(doc["amount"]),
                           None if doc.get("height") is None else int(doc["height"]))
    except (ValueError, KeyError, TypeError):
        raise NodeError(200, "address stream: a malformed event") from None


async def read_capped(resp: aiohttp.ClientResponse, limit: int, path: str) -> bytes:
    """The body, or AnswerTooLarge as soon as it is known to exceed `limit` bytes."""
    if resp.content_length is not None and resp.content_length > limit:
        raise AnswerTooLarge(path, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(path, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _said(resp: aiohttp.ClientResponse, path: str) -> str:
    """What a busy or failing node said with its status (`: ERROR (rule RULE)`), if anything:
    a full action pool (503 pool_full) is then told apart from a node that is down."""
    try:
        body = json.loads(await read_capped(resp, MAX_ERROR_BYTES, path))
    except (AnswerTooLarge, ValueError, RecursionError, aiohttp.ClientError):
        return ""
    if not isinstance(body, dict) or not body.get("error"):
        return ""
    rule = f" (rule {str(body['rule'])[:100]})" if body.get("rule") else ""
    return f": {str(body['error'])[:300]}{rule}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text


class SyncNodeClient:
    """The same calls, blocking: each runs on a private event loop owned by this object."""

    def __init__(self, base_url: str, *, retry: RetryPolicy | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._loop = asyncio.new_event_loop()
        self._async = NodeClient(base_url, retry=retry, timeout_s=timeout_s)
        self.base_url = self._async.base_url

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        return self._loop.run_until_complete(call())

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._async.close())
            self._loop.close()

    def __enter__(self) -> SyncNodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self) -> Json:
        return self._run(self._async.status)

    def genesis(self) -> Json:
        return self._run(self._async.genesis)

    def params(self) -> Json:
        return self._run(self._async.params)

    def tip_height(self) -> int:
        return self._run(self._async.tip_height)

    def headers(self, start: int, count: int) -> Json:
        return self._run(lambda: self._async.headers(start, count))

    def validator_set(self, validators_hash: str) -> Json:
        return self._run(lambda: self._async.validator_set(validators_hash))

    def block_raw(self, block_hash: str) -> Json:
        return self._run(lambda: self._async.block_raw(block_hash))

    def tx(self, txid: str) -> Json:
        return self._run(lambda: self._async.tx(txid))

    def tx_status(self, txid: str) -> Json:
        return self._run(lambda: self._async.tx_status(txid))

    def tx_proof(self, txid: str) -> Json:
        return self._run(lambda: self._async.tx_proof(txid))

    def address(self, address: str) -> Json:
        return self._run(lambda: self._async.address(address))

    def address_utxo(self, address: str, limit: int = MAX_PAGE) -> Json:
        return self._run(lambda: self._async.address_utxo(address, limit))

    def address_txs(self, address: str, limit: int = MAX_PAGE,
                    before: tuple[int, int] | None = None) -> Json:
        return self._run(lambda: self._async.address_txs(address, limit, before))

    def broadcast(self, tx_hex: str) -> str:
        return self._run(lambda: self._async.broadcast(tx_hex))

    def validators(self) -> Json:
        return self._run(self._async.validators)

    def governance(self) -> Json:
        return self._run(self._async.governance)

    def governance_history(self, limit: int) -> Json:
        return self._run(lambda: self._async.governance_history(limit))

    def submit_action(self, action_hex: str) -> Json:
        return self._run(lambda: self._async.submit_action(action_hex))

    def campaigns(self, *, status: str | None = None, beneficiary: str | None = None,
                  limit: int = 100, after: str | None = None) -> Json:
        return self._run(lambda: self._async.campaigns(status=status, beneficiary=beneficiary,
                                                       limit=limit, after=after))

    def campaign(self, campaign_id: str) -> Json:
        return self._run(lambda: self._async.campaign(campaign_id))

    def campaign_pledges(self, campaign_id: str, limit: int = MAX_PAGE) -> Json:
        return self._run(lambda: self._async.campaign_pledges(campaign_id, limit))

    def pledges(self, address: str, limit: int = MAX_PAGE) -> Json:
        return self._run(lambda: self._async.pledges(address, limit))

    def treasury(self, *, days: int = 30, limit: int = 20, after: str | None = None) -> Json:
        return self._run(lambda: self._async.treasury(days=days, limit=limit, after=after))

    def credit(self, address: str) -> Json:
        return self._run(lambda: self._async.credit(address))

    def credit_history(self, address: str, limit: int = MAX_PAGE) -> Json:
        return self._run(lambda: self._async.credit_history(address, limit))

    def credit_totals(self) -> Json:
        return self._run(self._async.credit_totals)
