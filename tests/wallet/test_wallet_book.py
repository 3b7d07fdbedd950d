"""Contacts and labels: kept in the encrypted key store (contents version 2), old key stores
still open, and the wallet's calls refuse what they should."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
import pytest

from consensus.address import encode_address
from consensus.types import Lock
from tests.wallet.wallet_cli_harness import ACCOUNTS, MNEMONICS, PASSWORD
from wallet import keystore
from wallet.book import MAX_CONTACTS, AddressBook, Contact
from wallet.errors import BookError, KeystoreFormatError, TamperedKeystore, WalletLocked, WatchOnly
from wallet.keys import RECEIVE
from wallet.keystore import (
    ScryptParams,
    WalletSecrets,
    decrypt_secrets,
    encrypt_secrets,
    open_keystore,
    save_keystore,
)
from wallet.session import Wallet
from wallet.walletfile import create_wallet_files, create_watch_only, keystore_path

FAST = ScryptParams.for_tests()
BOB = encode_address(Lock(bytes(range(32))), "test")
CAROL = encode_address(Lock(bytes(range(1, 33))), "test")


def _contents(blob: bytes, password: str) -> tuple[object, ...]:
    """The decrypted contents array of a key store, as any version would read it."""
    prefix, header, ciphertext = keystore._parse(blob)
    key, _ = keystore._derive(password, header.salt, header.params)
    plain = keystore._aead(header.aead, key).decrypt(header.nonce, ciphertext, prefix)
    return msgpack.unpackb(plain, raw=False, use_list=False)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("steps", "contacts"), [
    ((("add", "Bob", BOB),), (("Bob", BOB),)),
    ((("add", "bob", BOB), ("add", "BOB", CAROL)), (("BOB", CAROL),)),  # names ignore case
    ((("add", "Zoe", BOB), ("add", "Ana", CAROL)), (("Ana", CAROL), ("Zoe", BOB))),
    ((("add", "Bob", BOB), ("remove", "bob", "")), ()),
])
def test_contacts_table(steps: tuple[tuple[str, str, str], ...],
                        contacts: tuple[tuple[str, str], ...]) -> None:
    book = AddressBook()
    for op, name, address in steps:
        book = book.with_contact(name, address) if op == "add" else book.without_contact(name)
    assert book.contacts == tuple(Contact(n, a) for n, a in contacts)


@pytest.mark.parametrize(("name", "says"), [
    ("", "1 to 64"), ("x" * 65, "1 to 64"), ("a\nb", "printable"), ("tfair1abc", "reads as"),
    ("FAIR1x", "reads as"), ("faircoop:x", "reads as"), ("a:b", "reads as"),
])
def test_a_contact_name_that_could_be_misread_is_refused(name: str, says: str) -> None:
    with pytest.raises(BookError) as info:
        AddressBook().with_contact(name, BOB)
    assert says in str(info.value)


def test_the_book_is_bounded_and_labels_are_set_and_removed() -> None:
    book = AddressBook()
    for n in range(MAX_CONTACTS):
        book = book.with_contact(f"c{n}", BOB)
    with pytest.raises(BookError, match="full"):
        book.with_contact("one more", BOB)
    book = book.with_contact("c1", CAROL)  # replacing is not growing
    labelled = AddressBook().with_label("ab" * 32, " rent, March ")
    assert labelled.label("ab" * 32) == "rent, March"
    with pytest.raises(BookError):
        labelled.with_label(BOB, "x" * 201)
    with pytest.raises(BookError, match="no label"):
        labelled.without_label(BOB)
    assert not labelled.without_label("ab" * 32)


def test_a_key_store_without_a_book_keeps_the_version_1_contents_old_wallets_read() -> None:
    blob = encrypt_secrets(WalletSecrets(MNEMONICS[0]), "pw", FAST)
    assert _contents(blob, "pw") == (1, MNEMONICS[0], "")
    booked = WalletSecrets(MNEMONICS[0], "", AddressBook().with_contact("Bob", BOB)
                           .with_label(BOB, "shop"))
    blob = encrypt_secrets(booked, "pw", FAST)
    assert _contents(blob, "pw") == (2, MNEMONICS[0], "", ((("Bob", BOB),), ((BOB, "shop"),)))
    assert decrypt_secrets(blob, "pw") == booked


def test_saving_the_book_while_unlocked_keeps_the_key_and_takes_a_fresh_nonce(
        tmp_path: Path) -> None:
    path = tmp_path / "w.keys"
    save_keystore(path, WalletSecrets(MNEMONICS[0]), "pw", FAST)
    before = path.read_bytes()
    opened = open_keystore(path, "pw")
    secret_key = opened._sealer.key
    assert secret_key.hex() not in repr(opened) and repr(opened._sealer) == "_Sealer(<key hidden>)"
    opened.rewrite(WalletSecrets(MNEMONICS[0], "", AddressBook().with_contact("Bob", BOB)))
    after = path.read_bytes()
    old, new = keystore._parse(before)[1], keystore._parse(after)[1]
    assert (new.salt, new.params, new.kcv) == (old.salt, old.params, old.kcv)
    assert new.nonce != old.nonce
    assert decrypt_secrets(after, "pw").book.contact("bob") == Contact("Bob", BOB)
    flipped = bytearray(after)
    flipped[-40] ^= 1
    with pytest.raises(TamperedKeystore):
        decrypt_secrets(bytes(flipped), "pw")


@pytest.mark.parametrize("book", [
    ((("tfair1x", BOB),), ()),  # a name that reads as an address
    ([["Bob"]], []),  # a contact without its address
    ("x", "y"),
    (((("n", 5),), ())),
    ((), ((BOB, ""),)),  # an empty label
    (tuple((f"c{n}", BOB) for n in range(MAX_CONTACTS + 1)), ()),
])
def test_a_malformed_book_is_a_key_store_error_not_a_crash(book: object) -> None:
    plain = msgpack.packb([2, MNEMONICS[0], "", book], use_bin_type=True)
    with pytest.raises(KeystoreFormatError, match="address book"):
        keystore._contents(plain)
    for contents in ([3, MNEMONICS[0], ""], [2, MNEMONICS[0], ""], [1, MNEMONICS[0], "", ()]):
        with pytest.raises(KeystoreFormatError, match="unknown version"):
            keystore._contents(msgpack.packb(contents, use_bin_type=True))


async def _wallet(tmp_path: Path) -> Wallet:
    path = tmp_path / "w.json"
    create_wallet_files(path, secrets_=WalletSecrets(MNEMONICS[0]), password=PASSWORD,
                        network="test", chain_id="c", genesis_hash=bytes(32), light=None,
                        kdf=FAST)
    return await Wallet.open(path, PASSWORD, node="http://127.0.0.1:9")


def test_the_wallet_keeps_its_book_encrypted_and_labels_only_its_own(tmp_path: Path) -> None:
    async def go() -> None:
        wallet = await _wallet(tmp_path)
        own = wallet.data.address(RECEIVE, 0)
        await wallet.add_contact("Bob", BOB.upper())
        await wallet.set_label(own, "savings")
        await wallet.set_label("AB" * 32, "rent")
        with pytest.raises(BookError, match="not one of this wallet's addresses"):
            await wallet.set_label(BOB, "bob's")
        assert wallet.resolve_payee("bob") == BOB and wallet.resolve_payee(CAROL) == CAROL
        with pytest.raises(BookError, match="neither an address nor a contact"):
            wallet.resolve_payee("Dan")
        await wallet.close()
        assert "Bob" not in keystore_path(wallet.path).read_bytes().decode("latin-1")
        assert "Bob" not in wallet.path.read_text()
        again = await Wallet.open(wallet.path, PASSWORD, node="http://127.0.0.1:9")
        assert again.book.contact("BOB") == Contact("Bob", BOB)
        assert again.book.label(own) == "savings" and again.book.label("ab" * 32) == "rent"
        await again.remove_contact("Bob")
        assert again.book.contacts == ()
        await again.close()
        locked = await Wallet.open(wallet.path, node="http://127.0.0.1:9")
        with pytest.raises(WalletLocked):
            _ = locked.book
        await locked.close()

    asyncio.run(go())


def test_a_watch_only_wallet_has_no_book(tmp_path: Path) -> None:
    async def go() -> None:
        path = tmp_path / "watch.json"
        create_watch_only(path, xpub=ACCOUNTS[0].xpub, network="test", chain_id="c",
                          genesis_hash=bytes(32), light=None)
        wallet = await Wallet.open(path, node="http://127.0.0.1:9")
        with pytest.raises(WatchOnly):
            await wallet.add_contact("Bob", BOB)
        await wallet.close()

    asyncio.run(go())
