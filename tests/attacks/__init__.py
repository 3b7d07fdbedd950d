"""Attacks on real node processes: Byzantine validators, outsiders, hostile wallets (slow)."""
