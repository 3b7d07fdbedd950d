"""Parsing of path parameters and queries: every helper raises `BadRequest`, never a bare error.

Hex is accepted in either case and always answered in lower case. Heights are plain decimal
digits (no sign, no spaces, no '0x'), at most 20 of them. JSON bodies go through `parse_json`,
which also refuses JSON nested deeper than Python's parser follows (it raises RecursionError,
not ValueError: `[[[[...` of 50 KB was a 500).
"""

from __future__ import annotations

import json
import string

from faircoop_node.api.errors import BadRequest

_HEX = frozenset(string.hexdigits)
MAX_HEIGHT_DIGITS = 20
MAX_HEIGHT = 2**64 - 1
MAX_POSITION = 2**32 - 1


def parse_hex(text: str, what: str, size: int | None = None, rule: str | None = None) -> bytes:
    """Bytes from hex text; `size` (in bytes) when the length is fixed."""
    if size is not None and len(text) != 2 * size:
        raise BadRequest(f"{what} must be {2 * size} hex characters, got {len(text)}", rule)
    if len(text) % 2:
        raise BadRequest(f"{what} has an odd number of hex characters", rule)
    if not _HEX.issuperset(text):
        raise BadRequest(f"{what} is not hex", rule)
    return bytes.fromhex(text)


def parse_hash(text: str, what: str) -> bytes:
    return parse_hex(text, what, size=32)


def parse_uint(text: str | None, what: str, *, default: int | None = None,
               lo: int = 0, hi: int = MAX_HEIGHT) -> int:
    """A decimal integer in [lo, hi]; `default` when the query parameter is absent."""
    if text is None or text == "":
        if default is None:
            raise BadRequest(f"{what} is required")
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_HEIGHT_DIGITS:
        raise BadRequest(f"{what} must be a non-negative integer, got {text[:40]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise BadRequest(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def parse_json(body: bytes | str, what: str) -> object:
    """The JSON value of a request body; BadRequest (rule `decode`) for anything else."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep
        raise BadRequest(f"{what} is not valid JSON", rule="decode") from None


def parse_after(text: str | None) -> tuple[int, int] | None:
    """A page cursor `HEIGHT.POSITION` (the `next` of an earlier page), or None."""
    if text is None:
        return None
    height, dot, position = text.partition(".")
    if not dot:
        raise BadRequest(f"after must be the `next` of a page (HEIGHT.POSITION), got "
                         f"{text[:40]!r}")
    return (parse_uint(height, "after's height"),
            parse_uint(position, "after's position", hi=MAX_POSITION))
