"""The P2P layer: wire format, limits, the in-memory and WebSocket transports."""
