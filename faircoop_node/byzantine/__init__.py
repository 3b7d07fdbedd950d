"""Tools that attack a faircoop network on purpose, for the fault and attack suites.

`rawpeer`: a P2P peer that does the real handshake and then sends anything; `attacker`: a
Byzantine validator built on it (run it with `scripts/byzantine_node.py`); `outsider`: the
attacks of a peer that holds no validator key (`forge` builds its payloads, `outpeer` and
`rawsock` its connections, `campaign` runs them together; `scripts/outsider_node.py`).
Nothing in the node imports this package.
"""
