"""Structured logs: one JSON object per line, through the standard `logging` module.

Every line has `ts` (UTC, ISO 8601, milliseconds), `level`, `event` (a stable snake_case
name such as `peer_connected`), `node` (a short node id), `height` and `round`, then the
event's own fields. Bytes are written as hex. Lines from other libraries (aiohttp) get the
same shape, with their message as the event.

A node's loggers share one `LogContext`; the node moves it forward (`ctx.at(height, round)`)
as consensus advances, and every later line carries the new position. Several nodes in one
process (simulations, tests) each keep their own context.

Usage::

    ctx = LogContext(node=node_id)
    log = event_logger("faircoop.net", ctx)
    log.info("peer_connected", peer=peer_id, address="127.0.0.1:7071")
    log.error("node_bug", kind="vote", exc_info=exc)  # or log.exception(...) in an except

A logged exception keeps its traceback: JSON lines get `error` ("Type: message") and
`traceback` (the usual "Traceback (most recent call last): ..." text, chained causes
included); text lines are followed by the usual multi-line block.

Secrets never go through here: callers pass public keys and hashes, never private keys.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass
from typing import IO, Any

FIELD_ATTR = "faircoop"
NODE_ID_CHARS = 16  # the hex prefix of the node id shown in logs
_RESERVED = ("ts", "level", "event", "node", "height", "round", "logger", "traceback")
ExcInfo = BaseException | bool | None


@dataclass(slots=True)
class LogContext:
    """Where a node is: who it is, and the height and round consensus is working on.

    Mutable on purpose: it is the one piece of shared state the loggers read.
    """

    node: str = ""
    height: int | None = None
    round: int | None = None

    @classmethod
    def for_node(cls, node_id: bytes) -> LogContext:
        return cls(node=node_id.hex()[:NODE_ID_CHARS])

    def at(self, height: int | None, round_: int | None = None) -> None:
        self.height = height
        self.round = round_


class EventLogger:
    """A logger bound to a `LogContext`: `log.info("event_name", key=value, ...)`."""

    __slots__ = ("_ctx", "_logger")

    def __init__(self, logger: logging.Logger, ctx: LogContext) -> None:
        self._logger = logger
        self._ctx = ctx

    @property
    def context(self) -> LogContext:
        return self._ctx

    def log(self, level: int, event: str, /, *, exc_info: ExcInfo = None,
            **fields: Any) -> None:
        """`exc_info`: an exception (or True: the one being handled) whose traceback the
        line carries."""
        if not self._logger.isEnabledFor(level):
            return
        payload = {"node": self._ctx.node, "height": self._ctx.height,
                   "round": self._ctx.round, "fields": fields}
        self._logger.log(level, event, extra={FIELD_ATTR: payload}, exc_info=exc_info,
                         stacklevel=3)

    def debug(self, event: str, /, *, exc_info: ExcInfo = None, **fields: Any) -> None:
        self.log(logging.DEBUG, event, exc_info=exc_info, **fields)

    def info(self, event: str, /, *, exc_info: ExcInfo = None, **fields: Any) -> None:
        self.log(logging.INFO, event, exc_info=exc_info, **fields)

    def warning(self, event: str, /, *, exc_info: ExcInfo = None, **fields: Any) -> None:
        self.log(logging.WARNING, event, exc_info=exc_info, **fields)

    def error(self, event: str, /, *, exc_info: ExcInfo = None, **fields: Any) -> None:
        self.log(logging.ERROR, event, exc_info=exc_info, **fields)

    def exception(self, event: str, /, **fields: Any) -> None:
        """An error line with the traceback of the exception being handled (call it in an
        `except` block)."""
        self.log(logging.ERROR, event, exc_info=True, **fields)

    def child(self, suffix: str) -> EventLogger:
        return EventLogger(self._logger.getChild(suffix), self._ctx)


def event_logger(name: str, ctx: LogContext | None = None) -> EventLogger:
    return EventLogger(logging.getLogger(name), ctx if ctx is not None else LogContext())


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ordered fields of one line: the fixed ones first, then the event's own."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    bound = getattr(record, FIELD_ATTR, None)
    out: dict[str, Any] = {
        "ts": f"{ts}.{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "event": record.getMessage() if bound is None else str(record.msg),
        "node": bound["node"] if bound else None,
        "height": bound["height"] if bound else None,
        "round": bound["round"] if bound else None,
        "logger": record.name,
    }
    if bound:
        for key, value in bound["fields"].items():
            out[key if key not in _RESERVED else f"field_{key}"] = _jsonable(value)
    if record.exc_info and record.exc_info[0] is not None:
        out.setdefault("error", f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
        out["traceback"] = _traceback_text(record)
    return out


def _traceback_text(record: logging.LogRecord) -> str:
    """The record's traceback as `traceback.print_exception` writes it (no final newline);
    cached on the record, as logging.Formatter does."""
    if not record.exc_text and record.exc_info:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    return record.exc_text or ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never raises on odd field values."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), separators=(",", ":"), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`ts level node h=H r=R event key=value ...` for a human at a terminal, then the
    traceback, if any, as its usual multi-line block."""

    def format(self, record: logging.LogRecord) -> str:
        f = record_fields(record)
        head = f"{f['ts']} {f['level']:<7} {f['node'] or '-'} h={f['height']} r={f['round']} "
        rest = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in f.items()
                        if k not in _RESERVED)
        line = f"{head}{f['event']}" + (" " + rest if rest else "")
        return line + ("\n" + f["traceback"] if "traceback" in f else "")


def setup_logging(level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None) -> None:
    """Send every log line of the process to `stream` (stderr by default), in one format.

    Replaces the root logger's handlers, so calling it twice does not double the lines.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
