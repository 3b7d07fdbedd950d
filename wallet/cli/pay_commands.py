"""The commands for shops and members: payment requests, the reference price, contacts,
labels and signed messages. Each calls the library (`Wallet`, `wallet.requests`,
`wallet.message`) and renders what it returns (`pay_render`)."""

from __future__ import annotations

import time

from consensus.errors import AddressError
from wallet.amounts import format_coins
from wallet.cli import pay_render as render
from wallet.cli.env import Cli
from wallet.errors import BadUri, ReceiptInvalid, RequestExpired, WalletError
from wallet.message import verify_message
from wallet.pricing import parse_amount
from wallet.proposals import printable
from wallet.requests import status_of
from wallet.uri import network_of


def address_network(address: str) -> str:
    """The network an address is written for, by its prefix (AddressError if it has none)."""
    try:
        return network_of(address.strip())
    except BadUri:
        raise AddressError(f"{address.strip()[:20]!r} is not a faircoop address (fair1... or "
                           "tfair1...)") from None

# -- payment requests -------------------------------------------------------------------------


async def cmd_request_create(cli: Cli) -> None:
    a = cli.args
    asked = parse_amount(a.amount)
    expires = a.expires if a.expires is not None else (3600 if asked.in_currency else None)
    async with cli.open_wallet() as wallet:
        amount = asked if asked.in_currency else asked.base_units or 0
        request = await wallet.request(amount, memo=a.memo, expires_in_s=expires)
    for line in render.request_lines(request):
        cli.out(line)
    cli.out(request.uri)
    if not a.no_qr:
        cli.out(render.qr_text(request.uri))
    cli.emit({"command": "request create", **render.request_doc(request)})


async def cmd_request_list(cli: Cli) -> None:
    data = cli.wallet_data()
    if data is None:
        raise WalletError(f"no wallet at {cli.wallet_path}")
    requests = data.requests
    now = time.time()
    docs = []
    for r in requests:
        s = status_of(r, now)
        cli.out(f"{r.id:>4}  {s.state:<9}  {format_coins(r.amount):>20}  received "
                f"{format_coins(s.received)}  {r.address}  {printable(r.memo)!r}")
        docs.append(render.status_doc(s))
    if not requests:
        cli.out("no payment requests yet (`request create AMOUNT`)")
    cli.emit({"command": "request list", "requests": docs})


async def cmd_request_show(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        status = await wallet.check_request(cli.args.id)
    for line in render.status_lines(status):
        cli.out(line)
    cli.out(status.request.uri)
    cli.emit({"command": "request show", **render.status_doc(status)})


async def cmd_request_wait(cli: Cli) -> None:
    notes: list[str] = []

    def heard(text: str) -> None:
        notes.append(text)
        cli.progress(text)

    async with cli.open_wallet() as wallet:
        status = await wallet.wait_paid(cli.args.id, timeout_s=cli.args.timeout,
                                        progress=heard)
    cli.progress_done()
    for line in render.status_lines(status):
        cli.out(line)
    if status.state == "expired":
        raise RequestExpired(f"request {cli.args.id} expired unpaid: "
                             f"{format_coins(status.received)} of "
                             f"{format_coins(status.request.amount)} received in time")
    if status.state == "cancelled":
        raise WalletError(f"request {cli.args.id} is cancelled")
    if not status.paid:
        raise ReceiptInvalid(f"request {cli.args.id} not paid after {cli.args.timeout:.0f} s "
                             f"({status.state})")
    cli.emit({"command": "request wait", **render.status_doc(status), "notes": notes})


async def cmd_request_cancel(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        request = await wallet.cancel_request(cli.args.id)
    cli.out(f"request {request.id} cancelled")
    cli.emit({"command": "request cancel", **render.request_doc(request)})


# -- the reference price ----------------------------------------------------------------------


async def cmd_rates(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        book, height = await wallet.rates()
    in_force = book.in_force(height)
    for currency, change in in_force:
        cli.out(render.rate_line(currency, change))
    if not in_force:
        cli.out(f"the assembly has no reference rate in force at height {height}")
    cli.emit({"command": "rates", "height": height,
              "rates": [render.rate_json(c, ch) for c, ch in in_force]})


# -- contacts and labels ----------------------------------------------------------------------


async def cmd_contacts_add(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        contact = await wallet.add_contact(cli.args.name, cli.args.address)
    cli.out(f"{printable(contact.name)}: {contact.address}")
    cli.emit({"command": "contacts add", "name": contact.name, "address": contact.address})


async def cmd_contacts_list(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        contacts = wallet.book.contacts
    for c in contacts:
        cli.out(f"{printable(c.name)}: {c.address}")
    if not contacts:
        cli.out("no contacts yet (`contacts add NAME ADDRESS`)")
    cli.emit({"command": "contacts list",
              "contacts": [{"name": c.name, "address": c.address} for c in contacts]})


async def cmd_contacts_remove(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        await wallet.remove_contact(cli.args.name)
    cli.out(f"contact {printable(cli.args.name)!r} removed")
    cli.emit({"command": "contacts remove", "name": cli.args.name})


async def cmd_label_add(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        target = await wallet.set_label(cli.args.target, cli.args.text)
        text = wallet.book.label(target)
    cli.out(f"{target}: {printable(text or '')}")
    cli.emit({"command": "label add", "target": target, "text": text})


async def cmd_label_list(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        labels = wallet.book.labels
    for target, text in labels:
        cli.out(f"{target}: {printable(text)}")
    if not labels:
        cli.out("no labels yet (`label add TARGET TEXT`)")
    cli.emit({"command": "label list",
              "labels": [{"target": t, "text": x} for t, x in labels]})


async def cmd_label_remove(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        await wallet.remove_label(cli.args.target)
    cli.out(f"label of {cli.args.target} removed")
    cli.emit({"command": "label remove", "target": cli.args.target})


# -- signed messages --------------------------------------------------------------------------


async def cmd_message_sign(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        cli.unlock(wallet)
        signed = wallet.sign_message(cli.args.address, cli.args.message)
    cli.out(signed.signature)
    cli.emit({"command": "message sign", "address": signed.address, "message": signed.message,
              "signature": signed.signature})


async def cmd_message_verify(cli: Cli) -> None:
    a = cli.args
    data = cli.wallet_data()
    network = a.network or (data.network if data is not None else address_network(a.address))
    pub = verify_message(a.address, a.message, a.signature, network)
    cli.out(f"valid: signed by the key of {a.address.strip()} ({bytes(pub).hex()})")
    cli.emit({"command": "message verify", "valid": True, "address": a.address.strip(),
              "pubkey": bytes(pub).hex(), "network": network})


HANDLERS = {
    "request_create": cmd_request_create,
    "request_list": cmd_request_list,
    "request_show": cmd_request_show,
    "request_wait": cmd_request_wait,
    "request_cancel": cmd_request_cancel,
    "rates": cmd_rates,
    "contacts_add": cmd_contacts_add,
    "contacts_list": cmd_contacts_list,
    "contacts_remove": cmd_contacts_remove,
    "label_add": cmd_label_add,
    "label_list": cmd_label_list,
    "label_remove": cmd_label_remove,
    "message_sign": cmd_message_sign,
    "message_verify": cmd_message_verify,
}
