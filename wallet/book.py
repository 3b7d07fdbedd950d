"""The address book and labels: who a member pays, and what their own addresses and txs are.

`send NAME AMOUNT` pays a contact; `history` shows the labels of the wallet's addresses and
txs. Who someone pays and what they call it is private, so the book lives inside the
encrypted key store (its contents version 2, `wallet.keystore`), never in the public wallet
file: reading or changing it takes the password. A watch-only wallet has no key store, so no
book.

Bounds: `MAX_CONTACTS` contacts (a name of 1 to 64 printable characters, not one that reads
as an address or a URI, so `send NAME` is never ambiguous) and `MAX_LABELS` labels (1 to 200
printable characters each): at most ~4.5 MB, encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from consensus.codec import Obj
from wallet.errors import BookError

MAX_CONTACTS = 1_000
MAX_LABELS = 5_000
MAX_CONTACT_NAME = 64
MAX_LABEL = 200
MAX_TARGET = 100  # an address (65 characters) or a txid (64 hex digits)


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    address: str


def check_name(name: str) -> str:
    text = name.strip()
    if not 1 <= len(text) <= MAX_CONTACT_NAME or not text.isprintable():
        raise BookError(f"a contact's name is 1 to {MAX_CONTACT_NAME} printable characters")
    lower = text.lower()
    if lower.startswith(("fair1", "tfair1")) or ":" in text:
        raise BookError(f"{text!r} reads as an address or a URI: choose another name")
    return text


def check_label(text: str) -> str:
    label = text.strip()
    if not 1 <= len(label) <= MAX_LABEL or not label.isprintable():
        raise BookError(f"a label is 1 to {MAX_LABEL} printable characters")
    return label


@dataclass(frozen=True, slots=True)
class AddressBook:
    """Contacts (sorted by name, case-insensitively unique) and labels (sorted by target)."""

    contacts: tuple[Contact, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # (an address or txid hex, text)

    def __bool__(self) -> bool:
        return bool(self.contacts or self.labels)

    def contact(self, name: str) -> Contact | None:
        key = name.strip().casefold()
        return next((c for c in self.contacts if c.name.casefold() == key), None)

    def with_contact(self, name: str, address: str) -> AddressBook:
        name = check_name(name)
        others = tuple(c for c in self.contacts if c.name.casefold() != name.casefold())
        if len(others) >= MAX_CONTACTS:
            raise BookError(f"the address book is full ({MAX_CONTACTS} contacts)")
        contacts = tuple(sorted((*others, Contact(name, address)), key=lambda c: c.name.casefold()))
        return replace(self, contacts=contacts)

    def without_contact(self, name: str) -> AddressBook:
        if self.contact(name) is None:
            raise BookError(f"no contact named {name!r}")
        key = name.strip().casefold()
        return replace(self, contacts=tuple(c for c in self.contacts
                                            if c.name.casefold() != key))

    def label(self, target: str) -> str | None:
        return next((t for k, t in self.labels if k == target), None)

    def with_label(self, target: str, text: str) -> AddressBook:
        text = check_label(text)
        others = tuple(x for x in self.labels if x[0] != target)
        if len(others) >= MAX_LABELS:
            raise BookError(f"the wallet holds {MAX_LABELS} labels, as many as it keeps")
        return replace(self, labels=tuple(sorted((*others, (target, text)))))

    def without_label(self, target: str) -> AddressBook:
        if self.label(target) is None:
            raise BookError(f"no label on {target}")
        return replace(self, labels=tuple(x for x in self.labels if x[0] != target))


def book_obj(book: AddressBook) -> Obj:
    return (tuple((c.name, c.address) for c in book.contacts), book.labels)


def book_from(obj: object) -> AddressBook:
    """The book from the key store's contents; KeyError/TypeError/ValueError if malformed
    (the key store reports it)."""
    if not isinstance(obj, (list, tuple)) or len(obj) != 2:
        raise ValueError("book: expected [contacts, labels]")
    contacts, labels = obj
    if len(contacts) > MAX_CONTACTS or len(labels) > MAX_LABELS:
        raise ValueError("book: over its bounds")
    book = AddressBook(
        tuple(Contact(check_name(str(n)), _target(a)) for n, a in contacts),
        tuple((_target(k), check_label(str(t))) for k, t in labels))
    return book


def _target(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TARGET:
        raise ValueError("book: an address or txid is text of at most 100 characters")
    return value
