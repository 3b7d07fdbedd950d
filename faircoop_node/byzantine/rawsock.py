"""Raw TCP sockets for the attacks that a WebSocket or HTTP client library would not make.

- `upgrade`: open a TCP connection and send a WebSocket upgrade request for `/p2p`, then stop:
  a connection that holds a slot on the node without ever sending a HELLO.
- `frame_header`: the header of one client WebSocket frame of any length, with an all-zero
  mask (so the payload goes on the wire as is: no masked copy of a 16 MiB frame is needed).
- `sse_request`: open `GET /api/v1/blocks/stream` and read only the status line and headers.

Each returns the open `asyncio.StreamWriter` (or None) and what the node answered, so an
attack can hold many of them at once.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

from faircoop_node.config import P2P_PATH

STREAM_PATH = "/api/v1/blocks/stream"


@dataclass(frozen=True, slots=True)
class Answer:
    """The node's HTTP answer to a raw request: status (0 if none), and Retry-After if sent."""

    status: int
    retry_after: str | None = None
    error: str = ""


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def _read_head(reader: asyncio.StreamReader, timeout: float) -> Answer:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ConnectionError) as exc:
        return Answer(0, None, type(exc).__name__)
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return Answer(0, None, "bad status line")
    retry = next((ln.split(":", 1)[1].strip() for ln in lines[1:]
                  if ln.lower().startswith("retry-after:")), None)
    return Answer(status, retry)


async def _request(url: str, request: bytes, timeout: float
                   ) -> tuple[asyncio.StreamWriter | None, Answer]:
    host, port = host_port(url)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return None, Answer(0, None, type(exc).__name__)
    try:
        writer.write(request)
        await writer.drain()
    except (OSError, ConnectionError) as exc:
        writer.close()
        return None, Answer(0, None, type(exc).__name__)
    answer = await _read_head(reader, timeout)
    if answer.status in (101, 200):
        return writer, answer
    writer.close()
    return None, answer


async def upgrade(p2p_url: str, timeout: float = 10.0
                  ) -> tuple[asyncio.StreamWriter | None, Answer]:
    """A WebSocket upgrade to the node's P2P endpoint, and nothing after it."""
    host, port = host_port(p2p_url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {P2P_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    return await _request(p2p_url, request, timeout)


async def sse_request(api_url: str, timeout: float = 10.0
                      ) -> tuple[asyncio.StreamWriter | None, Answer]:
    """Open a block stream; the writer stays open (we read nothing more) while the caller
    holds it."""
    host, port = host_port(api_url)
    request = (f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    return await _request(api_url, request, timeout)


def frame_header(length: int, opcode: int = 0x2) -> bytes:
    """A final client frame's header for a `length`-byte payload, with a zero mask."""
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 1 << 16:
        size = bytes([0x80 | 126]) + struct.pack(">H", length)
    else:
        size = bytes([0x80 | 127]) + struct.pack(">Q", length)
    return bytes([0x80 | opcode]) + size + bytes(4)


def close_all(writers: list[asyncio.StreamWriter]) -> None:
    for w in writers:
        if not w.is_closing():
            w.close()
