"""Moved to `faircoop_node.service` (the process wires the runtime and the API, so it sits
outside the runtime package). Kept only for `faircoop_node/cli.py` and tests that still import
it from here; delete once they import `faircoop_node.service`."""

from faircoop_node.service import NodeApi, NodeProcess, open_node, run_node, serve, tune_gc

__all__ = ["NodeApi", "NodeProcess", "open_node", "run_node", "serve", "tune_gc"]
