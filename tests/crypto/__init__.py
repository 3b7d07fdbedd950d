"""Hashing, keys and signatures (consensus/crypto.py): both verify backends, Wycheproof vectors."""
