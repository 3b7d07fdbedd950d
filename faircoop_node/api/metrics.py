"""`/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand.

The format is a few lines per metric (`# HELP`, `# TYPE`, then `name{labels} value`), so a
dependency would buy nothing. Served at the root, where Prometheus looks by default, and at
`/api/v1/metrics`.

Per-validator series carry the coop's name and key as labels; the values come from the chain's
participation ledger, so every node reports the same numbers for the same height.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from consensus.chainstate import Participation
from consensus.types import PublicKey
from faircoop_node.api.view import VIEW, NodeView

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

routes = web.RouteTableDef()

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: str  # "gauge" or "counter"
    help: str
    samples: tuple[tuple[Labels, float], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def render(metrics: Iterable[Metric]) -> str:
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {m.help}")
        lines.append(f"# TYPE {m.name} {m.kind}")
        for labels, value in m.samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            suffix = f"{{{label_text}}}" if labels else ""
            lines.append(f"{m.name}{suffix} {_number(value)}")
    return "\n".join(lines) + "\n"


def _one(name: str, kind: str, help_text: str, value: float) -> Metric:
    return Metric(name, kind, help_text, (((), value),))


def collect(view: NodeView) -> list[Metric]:
    """Every series the node exports, read from the view at one moment."""
    status = view.status()
    feed = view.feed
    state = view.chain_state()
    quarantined = state.quarantined()

    def per_validator(value: Callable[[Participation, PublicKey], float]
                      ) -> tuple[tuple[Labels, float], ...]:
        return tuple(
            ((("validator", v.name), ("pubkey", v.pubkey.hex())),
             value(state.participation_of(v.pubkey), v.pubkey))
            for v in state.validators
        )

    return [
        _one("faircoop_height", "gauge", "Height of the last committed block.",
             view.store.tip().height),
        _one("faircoop_round", "gauge", "Consensus round at the current height.", status.round),
        _one("faircoop_peers", "gauge", "Connected P2P peers.", status.peers),
        _one("faircoop_mempool_txs", "gauge", "Transactions in the mempool.", len(view.mempool)),
        _one("faircoop_mempool_bytes", "gauge", "Encoded bytes of the mempool's transactions.",
             view.mempool.size_bytes),
        _one("faircoop_committed_tx_rate", "gauge",
             "Committed transactions per second over the recent window.", feed.tx_rate()),
        _one("faircoop_blocks_committed_total", "counter",
             "Blocks committed since this process started.", feed.blocks_total),
        _one("faircoop_txs_committed_total", "counter",
             "Transactions committed since this process started.", feed.txs_total),
        _one("faircoop_stream_subscribers", "gauge", "Open blocks/stream connections.",
             feed.subscriber_count),
        _one("faircoop_validators", "gauge", "Validators in the voting set.",
             len(state.validators)),
        Metric("faircoop_validator_missed_proposals", "gauge",
               "Proposals each validator missed (participation ledger).",
               per_validator(lambda p, _: p.missed)),
        Metric("faircoop_validator_missed_in_row", "gauge",
               "Current streak of missed proposals per validator.",
               per_validator(lambda p, _: p.missed_in_a_row)),
        Metric("faircoop_validator_blocks_proposed", "gauge",
               "Blocks each validator proposed (participation ledger).",
               per_validator(lambda p, _: p.proposed)),
        Metric("faircoop_validator_quarantined", "gauge",
               "1 while a validator is out of the proposer rotation for missed proposals.",
               per_validator(lambda _, pk: float(pk in quarantined))),
    ]


@routes.get("/metrics")
@routes.get("/api/v1/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = render(collect(request.app[VIEW]))
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
