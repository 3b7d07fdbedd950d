"""`/metrics`: well-formed Prometheus text exposition, with the values the node holds."""

from __future__ import annotations

import re

import pytest

from faircoop_node.api.metrics import Metric, render
from tests.api.api_chain import serve, standard_chain

# name, optional {labels}, value: the sample line grammar of the text format.
SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})?'
    r' (?P<value>-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)$'
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> tuple[dict[str, str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """(kind of each metric, value of each sample); asserts every line is well formed."""
    kinds: dict[str, str] = {}
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter") and name not in kinds
            kinds[name] = kind
        else:
            m = SAMPLE.match(line)
            assert m, f"malformed sample line {line!r}"
            assert m["name"] in kinds, f"{m['name']} has no TYPE line before it"
            labels = tuple(LABEL.findall(m["labels"] or ""))
            samples[(m["name"], labels)] = float(m["value"])
    return kinds, samples


@pytest.mark.parametrize("path", ["/metrics", "/api/v1/metrics"])
async def test_metrics_report_the_nodes_numbers(path: str) -> None:
    scene = standard_chain()
    async with serve(scene.node) as client:
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        kinds, samples = parse(await resp.text())
    assert samples[("faircoop_height", ())] == 3
    assert samples[("faircoop_round", ())] == 2
    assert samples[("faircoop_peers", ())] == 3
    assert samples[("faircoop_mempool_txs", ())] == 1
    assert samples[("faircoop_blocks_committed_total", ())] == 3
    assert samples[("faircoop_txs_committed_total", ())] == 3
    assert kinds["faircoop_txs_committed_total"] == "counter"
    assert samples[("faircoop_committed_tx_rate", ())] > 0
    state = scene.node.state
    missed = {labels: v for (name, labels), v in samples.items()
              if name == "faircoop_validator_missed_proposals"}
    assert len(missed) == 4
    for v in state.validators:
        labels = (("validator", v.name), ("pubkey", v.pubkey.hex()))
        assert missed[labels] == state.participation_of(v.pubkey).missed
    assert sum(missed.values()) == 1


def test_render_escapes_label_values_and_writes_integers_plainly() -> None:
    text = render([
        Metric("m", "gauge", "help text", (((("coop", 'a "quoted"\\name\n'),), 2.0),)),
        Metric("r", "gauge", "a rate", (((), 0.25),)),
    ])
    _, samples = parse(text)
    assert samples[("m", (("coop", 'a \\"quoted\\"\\\\name\\n'),))] == 2
    assert 'm{coop="a \\"quoted\\"\\\\name\\n"} 2\n' in text
    assert "r 0.25\n" in text
