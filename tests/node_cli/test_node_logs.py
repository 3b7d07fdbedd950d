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


def _fail_deep() -> None:
    try:
        _decode_vote()
    except KeyError as exc:
        raise RuntimeError("vote handler failed") from exc


def _decode_vote() -> None:
    raise KeyError("round")


def test_json_lines_carry_the_traceback_of_a_logged_exception(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    log = event_logger("faircoop.test", LogContext("node1", 7, 1))
    try:
        _fail_deep()
    except RuntimeError as exc:
        log.error("node_bug", kind="vote", exc_info=exc)
    try:
        _fail_deep()
    except RuntimeError:
        log.exception("node_bug", kind="in_except")
    first, second = _lines(stream)
    assert (first["event"], first["kind"], first["height"]) == ("node_bug", "vote", 7)
    assert first["error"] == "RuntimeError: vote handler failed"
    trace = str(first["traceback"])
    assert trace.startswith("Traceback (most recent call last):")
    for frame in ("_fail_deep", "_decode_vote", "test_node_logs.py"):  # every frame, chained
        assert frame in trace
    assert "The above exception was the direct cause" in trace
    assert trace.endswith("RuntimeError: vote handler failed")
    assert second["kind"] == "in_except" and "_decode_vote" in str(second["traceback"])
    assert stream.getvalue().count("\n") == 2  # still one line each


def test_text_lines_are_followed_by_the_usual_traceback_block(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", stream)
    try:
        _fail_deep()
    except RuntimeError as exc:
        event_logger("faircoop.test", LogContext("node1", 7, 1)).error(
            "node_bug", kind="vote", exc_info=exc)
    head, *block = stream.getvalue().rstrip("\n").split("\n")
    assert head.endswith('node_bug kind="vote" error="RuntimeError: vote handler failed"')
    assert block[0] == "Traceback (most recent call last):"
    assert any(line.strip().startswith('File "') and "_decode_vote" in line for line in block)
    assert block[-1] == "RuntimeError: vote handler failed"


def test_lines_without_an_exception_have_no_traceback_and_a_field_cannot_fake_one(
        stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    event_logger("faircoop.test").error("plain", traceback="forged")
    (line,) = _lines(stream)
    assert "traceback" not in line and line["field_traceback"] == "forged"


def test_foreign_records_with_exc_info_keep_their_traceback(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    try:
        _decode_vote()
    except KeyError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    (line,) = _lines(stream)
    assert line["error"] == "KeyError: 'round'" and "_decode_vote" in str(line["traceback"])
