"""The explorer's Jinja environment: templates shipped in this package, every value escaped.

`aiohttp_jinja2.setup` installs the environment on the API's app with autoescaping on for
every template (the templates are HTML; a memo, a coop's name or an assembly reference is
text from someone else and is always escaped). The filters say how the explorer shows
values: amounts in coins, times as UTC ISO 8601 (the page's script shows them in the viewer's
locale), keys and hashes shortened with the whole value in a `title`.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

from consensus.types import COIN


def coins(units: int) -> str:
    """150000000 -> '1.50', 123456789 -> '1.23456789' (the base units, never rounded)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    digits = f"{frac:08d}".rstrip("0").ljust(2, "0")
    return f"{sign}{whole:,}.{digits}"


def iso_time(ms: int) -> str:
    """Milliseconds since the epoch as UTC ISO 8601 ('2026-11-01T12:00:00.250Z')."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def short(value: bytes | str, keep: int = 12) -> str:
    text = value.hex() if isinstance(value, bytes) else value
    return text if len(text) <= keep + 2 else f"{text[:keep]}…"


def duration(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1_000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    if ms < 7_200_000:
        return f"{ms / 60_000:.0f} min"
    if ms < 172_800_000:
        return f"{ms / 3_600_000:.1f} h"
    return f"{ms / 86_400_000:.0f} days"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f}%"


def memo_text(memo: bytes) -> str:
    """A memo as text when it is UTF-8 without control characters, else as hex."""
    try:
        text = memo.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + memo.hex()
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text):
        return "0x" + memo.hex()
    return text


def safe_link(uri: str) -> str | None:
    """`uri` if it is an http(s) link a page may point to, else None (shown as text only):
    an assembly reference is whatever its governors typed, `javascript:` included."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    return uri if parts.scheme in ("http", "https") and parts.netloc else None


def unhex(text: str) -> bytes:
    """An API answer's hex id as bytes (what the link macros take)."""
    return bytes.fromhex(text)


FILTERS = {"coins": coins, "iso": iso_time, "short": short, "duration": duration,
           "percent": percent, "memo": memo_text, "safe_link": safe_link, "unhex": unhex}


def setup(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.PackageLoader("faircoop_node.explorer", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env
