"""The faircoop wallet library and CLI: keys, key store, transaction building, receipts.

It builds and checks everything with `consensus` rules and trusts no single node. It leaves out
any node-side state. A program pays through `Wallet` (`wallet.session`); the names a payer needs
are here (docs/WALLET.md opens with an example):

    async with Wallet.open("alice.json", password, node=url) as wallet:
        sent = await wallet.pay(address, parse_coins("1.5"))
        final = await wallet.wait_final(sent.txid)

and a shop asks to be paid with `request = await wallet.request(...)`, then
`await wallet.wait_paid(request)` (docs/WALLET.md, "Payments for shops and members").
"""

from wallet.amounts import format_coins, parse_coins
from wallet.errors import WalletError
from wallet.payments import Payee, PreparedPayment, SentPayment
from wallet.pricing import Asked, Converted, parse_amount
from wallet.receipts import Finality, Receipt, VerifiedReceipt, load_receipt, save_receipt
from wallet.requests import PaymentRequest, RequestStatus
from wallet.session import SyncWallet, Wallet
from wallet.uri import PaymentUri, format_uri, parse_uri

__all__ = [
    "Asked", "Converted", "Finality", "Payee", "PaymentRequest", "PaymentUri", "PreparedPayment",
    "Receipt", "RequestStatus", "SentPayment", "SyncWallet", "VerifiedReceipt", "Wallet",
    "WalletError", "format_coins", "format_uri", "load_receipt", "parse_amount", "parse_coins",
    "parse_uri", "save_receipt",
]
