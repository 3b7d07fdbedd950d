"""`/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand.

The format is a few lines per metric (`# HELP`, `# TYPE`, then `name{labels} value`), so a
dependency would buy nothing. Served at the root, where Prometheus looks by default, and at
`/api/v1/metrics`.

Per-validator series carry the coop's name and key as labels; the values come from the chain's
participation ledger, so every node reports the same numbers for the same height.
`faircoop_node_info` names this node's key and role, so an alert rule can pick this node's own
validator out of the per-validator series (docs/OPERATIONS.md §8, deploy/prometheus/).

The process that runs a node (`faircoop_node.service`) also installs `NODE_COUNTERS`, a
function returning the counters the runtime keeps (punished peers, dropped messages, shed txs,
signature-cache hits, P2P traffic, free disk); an API served over a test view has none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class NodeCounters:
    """What the node runtime counts since the process started, as /metrics exports it."""

    peers_punished: int = 0  # peers punished for a message no honest peer sends
    peer_messages_dropped: int = 0  # peers' messages ignored (late, early, seen, unasked)
    relayed_txs_shed: int = 0  # relayed txs dropped because the admission backlog was full
    signature_cache_hits: int = 0
    signature_cache_misses: int = 0
    blocks_by_consensus: int = 0
    blocks_by_sync: int = 0
    sync_requests: int = 0
    relayed_consensus: int = 0  # copies of peers' votes and proposals passed on to peers
    regossips: int = 0  # times a stalled height re-sent what this node signed there
    proposals_withheld: int = 0  # ours not sent: f + 1 validators had committed the height
    # P2P traffic by message type: {"frames_in"|"frames_out"|"bytes_in"|"bytes_out": {type: n}}
    traffic: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    disk_free_bytes: int | None = None  # on the data directory's file system
    disk_total_bytes: int | None = None


CountersSource = Callable[[], NodeCounters]
NODE_COUNTERS: web.AppKey[CountersSource] = web.AppKey("faircoop.node_counters")

_COUNTERS = (
    ("faircoop_peers_punished_total", "peers_punished",
     "Peers punished (banned) for a message no honest peer sends."),
    ("faircoop_peer_messages_dropped_total", "peer_messages_dropped",
     "Peers' messages ignored: late, early, already seen or not asked for."),
    ("faircoop_relayed_txs_shed_total", "relayed_txs_shed",
     "Relayed txs dropped because the admission backlog was full (they arrive in blocks)."),
    ("faircoop_signature_cache_hits_total", "signature_cache_hits",
     "Tx signature checks answered by the signature cache."),
    ("faircoop_signature_cache_misses_total", "signature_cache_misses",
     "Tx signature checks the signature cache could not answer."),
    ("faircoop_blocks_committed_by_consensus_total", "blocks_by_consensus",
     "Blocks this node committed by voting (or watching the votes) at the tip."),
    ("faircoop_blocks_committed_by_sync_total", "blocks_by_sync",
     "Blocks this node committed from peers' certified ranges (catching up)."),
    ("faircoop_sync_requests_total", "sync_requests", "Block ranges asked of peers."),
    ("faircoop_consensus_relayed_total", "relayed_consensus",
     "Copies of other validators' votes and proposals passed on to peers that lacked them "
     "(about 0 in a full mesh)."),
    ("faircoop_regossips_total", "regossips",
     "Times a stalled height re-sent what this node signed there."),
    ("faircoop_proposals_withheld_total", "proposals_withheld",
     "Proposals of ours not sent: f + 1 validators had committed their height (we lag)."),
)
_TRAFFIC = (("faircoop_p2p_frames_total", "frames", "P2P frames, by direction and message type."),
            ("faircoop_p2p_bytes_total", "bytes", "P2P bytes, by direction and message type."))


def node_metrics(counters: NodeCounters) -> list[Metric]:
    """The runtime's counters as series."""
    out = [_one(name, "counter", help_text, getattr(counters, attr))
           for name, attr, help_text in _COUNTERS]
    for name, unit, help_text in _TRAFFIC:
        samples = tuple(
            ((("direction", direction), ("type", kind)), float(n))
            for direction in ("in", "out")
            for kind, n in sorted(counters.traffic.get(f"{unit}_{direction}", {}).items()))
        out.append(Metric(name, "counter", help_text, samples))
    if counters.disk_free_bytes is not None and counters.disk_total_bytes is not None:
        out.append(_one("faircoop_data_dir_free_bytes", "gauge",
                        "Free bytes on the data directory's file system.",
                        counters.disk_free_bytes))
        out.append(_one("faircoop_data_dir_size_bytes", "gauge",
                        "Size of the data directory's file system.", counters.disk_total_bytes))
    return out


def collect(view: NodeView, now_ms: int | None = None) -> list[Metric]:
    """Every series the node exports, read from the view at one moment."""
    status = view.status()
    feed = view.feed
    state = view.chain_state()
    quarantined = state.quarantined()
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms

    def per_validator(value: Callable[[Participation, PublicKey], float]
                      ) -> tuple[tuple[Labels, float], ...]:
        return tuple(
            ((("validator", v.name), ("pubkey", v.pubkey.hex())),
             value(state.participation_of(v.pubkey), v.pubkey))
            for v in state.validators
        )

    return [
        Metric("faircoop_node_info", "gauge",
               "This node: its key (a validator's is its validator key) and role.",
               (((("pubkey", status.node_id),
                  ("role", "validator" if status.validator else "observer")), 1),)),
        _one("faircoop_height", "gauge", "Height of the last committed block.",
             view.store.tip().height),
        _one("faircoop_last_block_age_seconds", "gauge",
             "Seconds since the last committed block's time (its proposer's clock).",
             max(0.0, (now_ms - state.last_block_time_ms) / 1000)),
        _one("faircoop_heartbeat_seconds", "gauge",
             "The chain's heartbeat: an idle chain makes an empty block this often.",
             state.params.heartbeat_ms / 1000),
        _one("faircoop_quorum", "gauge", "Signatures a block needs (of the voting set).",
             state.quorum()),
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
        Metric("faircoop_validator_rounds_voted", "gauge",
               "Each validator's precommits in commit certificates (participation ledger).",
               per_validator(lambda p, _: p.voted)),
        Metric("faircoop_validator_quarantined", "gauge",
               "1 while a validator is out of the proposer rotation for missed proposals.",
               per_validator(lambda _, pk: float(pk in quarantined))),
        Metric("faircoop_validator_suspended", "gauge",
               "1 for each validator suspended for equivocating (out of the voting set).",
               tuple(((("validator", v.name), ("pubkey", v.pubkey.hex())), 1.0)
                     for v in state.suspended)),
    ]


@routes.get("/metrics")
@routes.get("/api/v1/metrics")
async def metrics(request: web.Request) -> web.Response:
    series = collect(request.app[VIEW])
    counters = request.app.get(NODE_COUNTERS)
    if counters is not None:
        series += node_metrics(counters())
    body = render(series)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
