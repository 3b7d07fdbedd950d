"""`faircoop-wallet` processes against devnets of real node processes (slow)."""
