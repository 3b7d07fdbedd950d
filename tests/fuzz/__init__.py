"""Fuzzing every decoder, a live node's P2P endpoint, and the HTTP API."""
