"""Submitting a governance action or recovery: `POST /api/v1/actions`.

Body: `{"action": "<hex of consensus.governance.encode_block_action>"}`. The node checks it as
it checks one a peer relays (`NodeView.submit_action`: decode, chain, nonce or tip binding,
the governors' signatures and threshold, whether the next block could carry it), pools it and
gossips it, so any proposer may carry it (a recovery reaches every validator). The answer is
`{"status": "pooled" | "already_pooled", "id": "<sha256 of the action's bytes, hex>"}`:
resubmitting is harmless, and nothing is pooled twice.

Refusals, each `{"error", "rule"}`:
- 400 `decode`: the body is not that JSON object, the hex is not hex, or the bytes are not an
  action; 400 with the rule the action breaks (`wrong_chain`, `not_a_governor`,
  `below_threshold`, `bad_governor_signature`, `nonce_too_far`, `recovery_not_at_tip`,
  `does_not_apply`, ...: PROTOCOL.md);
- 409 `replayed_action`: its nonce is used: the chain has included it (or another action with
  that nonce), so retrying can't help, and a client that resubmits after a timeout knows;
- 413 `oversize`: the body over `MAX_BODY` bytes, or the action over `MAX_ACTION_BYTES`;
- 503 `pool_full`, with `Retry-After`: the node holds as many actions as it keeps; the pool
  empties as blocks carry them.

The body is read in chunks up to its own bound (a few times smaller than the tx endpoints'),
whatever `Content-Length` says.
"""

from __future__ import annotations

from aiohttp import web

from consensus.crypto import sha256
from consensus.errors import ValidationError
from faircoop_node.api.errors import ApiError, BadRequest, Conflict, TooLarge, Unavailable
from faircoop_node.api.offload import CHUNK, LIMITS
from faircoop_node.api.parse import parse_hex, parse_json
from faircoop_node.api.view import VIEW

MAX_ACTION_BYTES = 64 * 1024  # as the node's admission (node/admission.py; a test pins them)
MAX_BODY = 2 * MAX_ACTION_BYTES + 1024  # the hex, in a JSON object, with some whitespace

routes = web.RouteTableDef()


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The request body, or TooLarge once it is known to exceed `limit` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise TooLarge(f"body of {declared} bytes; at most {limit}", rule="oversize")
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"body over {limit} bytes", rule="oversize")
    return bytes(body)


def action_bytes(body: bytes) -> bytes:
    """The action's bytes from `{"action": hex}`; BadRequest (decode) or TooLarge."""
    obj = parse_json(body, "body")
    if not isinstance(obj, dict) or not isinstance(obj.get("action"), str):
        raise BadRequest('body must be {"action": "<hex of the encoded action>"}', rule="decode")
    text = obj["action"].strip()
    if len(text) > 2 * MAX_ACTION_BYTES:
        raise TooLarge(f"action of {len(text) // 2} bytes; at most {MAX_ACTION_BYTES}",
                       rule="oversize")
    raw = parse_hex(text, "action hex", rule="decode")
    if not raw:
        raise BadRequest("empty action", rule="decode")
    return raw


def refusal(exc: ValidationError, retry_after_s: int) -> ApiError:
    """How a refusal by the node is answered (see the module's notes), its message naming the
    rule once (the node's reason may name it already)."""
    rule, detail = exc.rule, exc.detail
    message = detail if detail.startswith(f"{rule}: ") else str(exc)
    if rule == "replayed_action":
        return Conflict(message, rule=rule)
    if rule == "pool_full":
        return Unavailable(message, retry_after_s, rule=rule)
    return BadRequest(message, rule=rule)


@routes.post("/api/v1/actions")
async def post_action(request: web.Request) -> web.Response:
    raw = action_bytes(await read_bounded(request, MAX_BODY))
    try:
        status = await request.app[VIEW].submit_action(raw)
    except ValidationError as exc:
        raise refusal(exc, request.app[LIMITS].retry_after_s) from None
    return web.json_response({"status": status, "id": sha256(raw).hex()})
