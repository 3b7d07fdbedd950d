"""What `faircoop_node` and `wallet` share beyond the rules in `consensus`.

`faircoop_node` imports `wallet` (the devnet makes a demo wallet), so `wallet` must never
import `faircoop_node`; code both need lives here instead:

- `clikit`: the one command-line convention of `faircoop-node` and `faircoop-wallet`
  (environment, exit codes, error prefix, `--version`, help checks, shell completion, the
  node URL variable). docs/CLI.md describes it for users.
- `fileio`: the atomic file write every file the node and the wallet write goes through.

Left out on purpose: ledger and consensus rules (`consensus`), anything that needs the
network, a store or asyncio, and anything only one of the two packages uses. This package
imports `consensus` and the standard library (plus `shtab` for completion), nothing else of
ours.
"""
