"""The ledger (consensus/ledger.py): every rule from a table, properties of random chains."""
