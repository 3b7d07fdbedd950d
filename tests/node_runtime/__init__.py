"""The node runtime in process: real `Node`s over the in-memory transport."""
