"""A stand-in node API for `faircoop-node status` tests: fixed JSON documents by path.

`serve(answer)` runs a loopback HTTP server whose GET PATH returns `answer(PATH)`: a JSON
document (200), or None (404). It yields the server's base URL.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Answer = Callable[[str], Any]


@contextmanager
def serve(answer: Answer) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            doc = answer(self.path)
            body = json.dumps({"error": "not found"} if doc is None else doc).encode()
            self.send_response(404 if doc is None else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def node_documents(node_id: str, *, records: list[dict[str, Any]] | None = None,
                   pending: list[dict[str, Any]] | None = None, **status: Any) -> Answer:
    """The answers of a node whose key is `node_id` (status, validators, governance; the
    history and everything else 404)."""
    docs: dict[str, Any] = {
        "/api/v1/status": {"chain_id": "c", "network": "test", "height": 9, "round": 0,
                           "tip_hash": "ab" * 32, "peers": 3, "mempool_size": 0,
                           "node_id": node_id, "validator": False, **status},
        "/api/v1/validators": {"height": 10, "count": len(records or []), "quorum": 1,
                               "validators": records or []},
        "/api/v1/governance": {"governors": [], "threshold": 1, "pending": pending or []},
    }
    return docs.get
