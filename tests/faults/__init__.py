"""Faults under load on a devnet of real processes behind a controllable proxy (slow)."""
