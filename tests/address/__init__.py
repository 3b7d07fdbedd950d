"""Addresses (consensus/address.py): bech32m vectors, typos and network prefixes."""
