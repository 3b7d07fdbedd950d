"""The wallet library and CLI, in process, against a fake node and the node's own API app."""
