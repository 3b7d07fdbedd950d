"""Tools that attack a faircoop network on purpose, for the fault and attack suites.

`rawpeer`: a P2P peer that does the real handshake and then sends anything; `attacker`: a
Byzantine validator built on it (run it with `scripts/byzantine_node.py`). Nothing in the node
imports this package.
"""
