"""The running node: the one loop around the consensus engine, sync and gossip.

- `runner`: `Node`, the loop that feeds the engine and carries out its actions, commits blocks,
  syncs and gossips; watchers (the process's API) register for its commits with `on_commit`.
- `sync`: checking blocks fetched from peers against their certificates, and storing a fetched
  range in one thread hop; serving ranges; request bookkeeping.
- `commit`: the one atomic write of a final block.
- `gossip`: the relay cache, tx relay batching and the evidence pool.
- `signing`: the last-signed record and the rule for a validator that lost it.
- `inbox`: the directory where operators drop signed governance and recovery actions.

The process around it (config, LevelDB, WebSocket P2P, the HTTP API, signals) is
`faircoop_node.service`, outside this package: the runtime imports nothing of the API.

Left out: peer exchange, a mempool that survives restarts, and gossip of governance actions
(each validator reads its own inbox; see docs/OPERATIONS.md).
"""

from faircoop_node.node.runner import Node, NodeError, NodeOptions

__all__ = ["Node", "NodeError", "NodeOptions"]
