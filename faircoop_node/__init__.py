"""The faircoop node runtime: LevelDB storage, P2P network, HTTP API and the node CLI.

It carries the pure rules of `consensus` out into the world: it persists, sends and serves. It
holds no ledger or consensus rule of its own.
"""
