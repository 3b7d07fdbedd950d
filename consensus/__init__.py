"""Pure consensus and ledger rules for faircoop.

Everything here is deterministic: no asyncio, sockets, files, clocks or randomness (key
generation excepted, which callers invoke explicitly). The node (`faircoop_node`) and the wallet
(`wallet`) import this package; it imports neither. It leaves out storage, networking and
wall-clock time: those are adapters at the edges.
"""
