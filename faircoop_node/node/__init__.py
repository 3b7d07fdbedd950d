"""The running node: the one loop around the consensus engine, sync and gossip.

- `runner`: `Node`, its parts wired together, the one queue and task that drives them, and the
  lifecycle; watchers (the process's API) register for its commits with `on_commit`.
- `driver`: the consensus driver, the one place the engine's actions are carried out (it owns
  the engine, the chain state, the pools a proposer carries and the last-signed record);
  `contract`: the ports it needs from its host, and `ports`: the node's implementations.
- `peers`: peers' messages, judged, relayed and queued for the driver; `admission`: what a
  peer's message (or a submitted action) must pass first; `inflow`: the bound on peers' share
  of the work queue.
- `catchup`: fetching final blocks from peers ahead, a recovery's corroboration, joining;
  `sync`: checking fetched blocks against their certificates, storing a range, bookkeeping;
  `serve`: answering peers' GET_BLOCKS off the loop.
- `commit`: the one atomic write of a final block.
- `gossip`: the relay cache, tx relay batching and the evidence pool.
- `proposals`: the proposals held per round; `carried`: the votes a validator signed before its
  engine started over.
- `signing`: the last-signed record and the rule for a validator that lost it.
- `inbox`: the directory where operators drop signed governance and recovery actions.
- `counters`: what the node did since it started.

The process around it (config, LevelDB, WebSocket P2P, the HTTP API, signals) is
`faircoop_node.service`, outside this package: the runtime imports nothing of the API.

Left out: peer exchange and a mempool that survives restarts. Governance actions are gossiped
and pooled (`Node.submit_action` for the API; the inbox feeds the same path).
"""

from faircoop_node.node.runner import Node, NodeError, NodeOptions

__all__ = ["Node", "NodeError", "NodeOptions"]
