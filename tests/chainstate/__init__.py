"""The chain state: header-chain validation, evidence, quarantine, recovery."""
