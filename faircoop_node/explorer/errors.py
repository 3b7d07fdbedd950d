"""Failures on the explorer's pages become HTML pages with the same status the API would give
(`api.errors.describe`): a bad height, hash or address is a 400 page saying what is wrong, an
unknown one a 404 page, a busy node a 503 page with `Retry-After`. Paths under `/api/` and
`/metrics` are left to the API's JSON errors.

Every explorer response also gets the security headers (`routes.SECURITY_HEADERS`).
"""

from __future__ import annotations

from aiohttp import web

from consensus.errors import FaircoopError
from faircoop_node.api.errors import Handler, Unavailable, describe
from faircoop_node.explorer.routes import SECURITY_HEADERS, error_page

MESSAGES = {404: "no such page", 405: "this page only answers GET"}


def is_page(path: str) -> bool:
    """Whether `path` is the explorer's (everything but the API and /metrics)."""
    return not (path == "/api" or path.startswith("/api/") or path == "/metrics")


@web.middleware
async def explorer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_page(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except Unavailable as exc:
        response = error_page(request, exc.status, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        response.force_close()
    except FaircoopError as exc:
        status, message, _ = describe(exc)
        response = error_page(request, status, message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_page(request, exc.status, MESSAGES.get(exc.status, exc.reason))
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response
