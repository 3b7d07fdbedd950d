"""The faircoop wallet library and CLI: keys, key store, transaction building, receipts.

It builds and checks everything with `consensus` rules and trusts no single node. It leaves out
any node-side state.
"""
