"""Devnets of real node processes driven through the HTTP API (slow)."""
