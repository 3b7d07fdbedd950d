"""How failures become HTTP answers: always a 4xx with a JSON body, never a 500 for bad input.

Every error body is `{"error": "<message>"}`, plus `"rule"` when a ledger rule applies (a
`ValidationError`'s rule, or `"decode"` for bytes that are not a canonical encoding), so the
wallet can tell a fee that is too low from a typo in an address.

The middleware maps:
- `ApiError` (raised by handlers: not found, bad parameter, a replayed action, too large) to its
  own status;
- `ValidationError` and `DecodeError` to 400 with the rule;
- `Unavailable` (a limit in `limits.py` is reached: too many streams or heavy reads at once)
  to 503 with `Retry-After`, closing the connection so its descriptor is freed;
- `StorageError` (the node's own store failed: not the client's fault) to 503;
- any other `FaircoopError` (address, params, crypto, merkle) to 400;
- aiohttp's own HTTP errors (unknown route 404, wrong method 405, body too large 413) to the
  same status with a JSON body.
Anything else is a bug and is deliberately not caught here: the hammer test looks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from consensus.errors import DecodeError, FaircoopError, ValidationError
from faircoop_node.api.view import MAX_BODY
from faircoop_node.storage.errors import StorageError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(FaircoopError):
    """A request the API refuses, with the HTTP status that says why."""

    status = 400

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self._rule = rule

    @property
    def rule(self) -> str | None:
        return self._rule


class BadRequest(ApiError):
    """A malformed path parameter, query or body."""

    status = 400


class NotFound(ApiError):
    """Well-formed, but this node knows no such block, tx or set."""

    status = 404


class Conflict(ApiError):
    """Well-formed, but the chain has done it already (a governance nonce used)."""

    status = 409


class TooLarge(ApiError):
    """A body (or what it carries) over its bound."""

    status = 413


class Unavailable(ApiError):
    """The node is serving (or holding) as many of these as it allows: try again later."""

    status = 503

    def __init__(self, message: str, retry_after_s: int, rule: str | None = None) -> None:
        super().__init__(message, rule)
        self._retry_after_s = retry_after_s

    @property
    def retry_after_s(self) -> int:
        return self._retry_after_s


def error_body(message: str, rule: str | None = None) -> dict[str, str]:
    body = {"error": message}
    if rule is not None:
        body["rule"] = rule
    return body


def json_error(status: int, message: str, rule: str | None = None) -> web.Response:
    return web.json_response(error_body(message, rule), status=status)


def describe(exc: FaircoopError) -> tuple[int, str, str | None]:
    """(status, message, rule) for a domain error."""
    if isinstance(exc, ApiError):
        return exc.status, str(exc), exc.rule
    if isinstance(exc, ValidationError):
        return 400, str(exc), exc.rule
    if isinstance(exc, DecodeError):
        return 400, str(exc), "decode"
    if isinstance(exc, StorageError):
        log.error("store failure while answering a request: %s", exc)
        return 503, f"the node's store failed: {exc}", None
    return 400, str(exc) or type(exc).__name__, None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Unavailable as exc:
        response = json_error(exc.status, str(exc), exc.rule)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        response.force_close()
        return response
    except FaircoopError as exc:
        status, message, rule = describe(exc)
        return json_error(status, message, rule)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like pass through untouched
        response = json_error(exc.status, _http_message(request, exc))
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


def _http_message(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no such endpoint: {request.method} {request.path}"
    if exc.status == 405:
        return f"{request.method} is not allowed on {request.path}"
    if exc.status == 413:
        return f"request body too large (limit {request.app[MAX_BODY]} bytes)"
    return exc.reason
