"""Governance actions and the voting-set changes they make."""
