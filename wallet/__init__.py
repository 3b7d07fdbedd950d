"""The faircoop wallet library and CLI: keys, key store, transaction building, receipts.

It builds and checks everything with `consensus` rules and trusts no single node. It leaves out
any node-side state. A program pays through `Wallet` (`wallet.session`); the names a payer needs
are here (docs/WALLET.md opens with an example):

    async with Wallet.open("alice.json", password, node=url) as wallet:
        sent = await wallet.pay(address, parse_coins("1.5"))
        final = await wallet.wait_final(sent.txid)
"""

from wallet.amounts import format_coins, parse_coins
from wallet.errors import WalletError
from wallet.payments import Payee, PreparedPayment, SentPayment
from wallet.receipts import Finality, Receipt, VerifiedReceipt, load_receipt, save_receipt
from wallet.session import SyncWallet, Wallet

__all__ = [
    "Finality", "Payee", "PreparedPayment", "Receipt", "SentPayment", "SyncWallet",
    "VerifiedReceipt", "Wallet", "WalletError", "format_coins", "load_receipt", "parse_coins",
    "save_receipt",
]
