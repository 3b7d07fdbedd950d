"""Structured logs: one JSON object per line, bound to node, height and round."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from faircoop_node.logs import LogContext, event_logger, setup_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield buf
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_carry_node_height_round_and_fields(stream: io.StringIO) -> None:
    setup_logging("DEBUG", "json", stream)
    ctx = LogContext.for_node(bytes.fromhex("02" + "ab" * 32))
    log = event_logger("faircoop.test", ctx)
    log.info("peer_connected", peer=b"\x01\x02", address="127.0.0.1:7071", outbound=True)
    ctx.at(12, 3)
    log.warning("round_timeout", step="prevote", height="shadowed")
    first, second = _lines(stream)
    assert list(first)[:7] == ["ts", "level", "event", "node", "height", "round", "logger"]
    assert first["event"] == "peer_connected" and first["level"] == "info"
    assert first["node"] == "02" + "ab" * 7  # the first 16 hex digits of the node id
    assert (first["height"], first["round"]) == (None, None)
    assert first["peer"] == "0102" and first["outbound"] is True
    assert str(first["ts"]).endswith("Z")
    assert (second["height"], second["round"], second["step"]) == (12, 3, "prevote")
    assert second["field_height"] == "shadowed"  # a field can't overwrite the bound height


def test_levels_filter_and_foreign_records_keep_the_shape(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    event_logger("faircoop.test").debug("hidden")
    logging.getLogger("aiohttp.server").error("Error handling request %s", "x")
    (line,) = _lines(stream)
    assert line["event"] == "Error handling request x" and line["node"] is None
    assert line["level"] == "error" and line["logger"] == "aiohttp.server"


def test_odd_values_never_break_a_line(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    event_logger("faircoop.test").info("odd", obj=object(), nested={"k": (b"\xff", 1.5)},
                                       text="quote\" and\nnewline")
    (line,) = _lines(stream)
    assert line["nested"] == {"k": ["ff", 1.5]} and line["text"] == "quote\" and\nnewline"
    assert stream.getvalue().count("\n") == 1


def test_text_format_for_terminals(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", stream)
    ctx = LogContext("node1", 5, 0)
    event_logger("faircoop.test", ctx).info("committed", txs=3)
    text = stream.getvalue()
    assert " info    node1 h=5 r=0 committed txs=3" in text


def test_setup_twice_does_not_double_lines(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    setup_logging("INFO", "json", stream)
    event_logger("faircoop.test").info("once")
    assert len(_lines(stream)) == 1
