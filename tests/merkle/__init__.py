"""Merkle roots and proofs (consensus/merkle.py), against RFC 6962."""
