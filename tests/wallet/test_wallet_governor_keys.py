"""A governor's key lives in the encrypted wallet, on a derivation path of its own.

The path is pinned by vectors; the key is none of the wallet's payment or treasury keys; it
needs the password once, then the public key is remembered (and checked against the seed
whenever the wallet is unlocked); a watch-only wallet has none; `gov key` shows it, and no
`gov` option takes a secret.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bip32 import BIP32

from faircoop_common.clikit import walk_parsers
from tests.wallet.gov_world import gov_world
from tests.wallet.wallet_cli_harness import ACCOUNTS, MNEMONICS, PASSWORD
from wallet.cli.args import build_parser
from wallet.cli.env import Environment
from wallet.errors import WalletFileError, WalletLocked
from wallet.keys import CHAINS, HDAccount, governor_path, mnemonic_to_seed
from wallet.session import Wallet

ABANDON = " ".join(["abandon"] * 11 + ["about"])


@pytest.mark.parametrize(("network", "index", "path", "pubkey"), [
    ("main", 0, "m/17987'/17987'/0'/0'/0'",
     "036c2267c97309ede950f2a32ae757978623125f3a95de357b93409abbad75d972"),
    ("main", 1, "m/17987'/17987'/0'/0'/1'",
     "03b1224a7b131803cd3e895a134642e64f3d8bb7206b366255045f862207f72506"),
    ("test", 0, "m/17987'/1'/0'/0'/0'",
     "02680541f02c645868f2415e4c692e1b1fba7a1f62913909306174569a397719e4"),
    ("test", 1, "m/17987'/1'/0'/0'/1'",
     "03d725802632cab5c929d2818a304b3654278d4ad99ec53d3932355c27c9397a27"),
])
def test_the_governor_key_is_at_its_documented_path(network: str, index: int, path: str,
                                                    pubkey: str) -> None:
    assert governor_path(network, 0, index) == path
    key = HDAccount.from_mnemonic(ABANDON, network).governor_key(index)
    assert key.public_key.hex() == pubkey
    # the same key, derived by the bip32 package from the seed along the written path
    root = BIP32.from_seed(mnemonic_to_seed(ABANDON), network=network)
    assert root.get_pubkey_from_path(path).hex() == pubkey


def test_the_path_is_hardened_at_every_step_and_outside_the_bip44_account() -> None:
    steps = governor_path("test").split("/")[1:]
    assert all(s.endswith("'") for s in steps) and steps[0] != "44'"


def test_the_governor_key_is_no_payment_or_treasury_key() -> None:
    for account in ACCOUNTS:
        gov = account.governor_key().public_key
        assert all(account.pubkey(chain, i) != gov for chain in CHAINS for i in range(100))
        assert account.governor_key(1).public_key != gov


def test_the_wallet_derives_it_once_then_remembers_it(tmp_path: Path) -> None:
    with gov_world(tmp_path):
        path = tmp_path / "w0.json"

        async def run() -> None:
            async with Wallet.open(path) as locked:
                with pytest.raises(WalletLocked):
                    await locked.governor_key()
            async with Wallet.open(path, PASSWORD) as wallet:
                key = await wallet.governor_key()
            assert key == ACCOUNTS[0].governor_key().public_key
            assert json.loads(path.read_text())["governor_key"] == key.hex()
            async with Wallet.open(path) as later:  # no password: the remembered key
                assert await later.governor_key() == key
            doc = json.loads(path.read_text())
            doc["governor_key"] = ACCOUNTS[1].governor_key().public_key.hex()
            path.write_text(json.dumps(doc))
            async with Wallet.open(path, PASSWORD) as edited:
                with pytest.raises(WalletFileError, match="governor key is not this wallet's"):
                    await edited.governor_key()

        asyncio.run(run())


def test_a_watch_only_wallet_has_no_governor_key(tmp_path: Path) -> None:
    with gov_world(tmp_path) as w:
        r = w.h.run("create", "--watch-only", ACCOUNTS[0].xpub, "--no-scan", wallet="watch",
                    password=None)
        assert r.code == 0, r.err
        r = w.h.run("--json", "gov", "key", wallet="watch", password=None)
        assert (r.code, r.doc["error"]["kind"]) == (1, "watch_only")


def test_gov_key_asks_the_password_once_and_shows_no_secret(tmp_path: Path) -> None:
    with gov_world(tmp_path) as w:
        first = w.h.run("--json", "gov", "key")
        assert first.code == 0, first.err
        key = ACCOUNTS[0].governor_key()
        assert first.doc == {"ok": True, "command": "gov key", "pubkey": key.public_key.hex(),
                             "path": "m/17987'/1'/0'/0'/0'", "name": None}
        again = w.h.run("gov", "key", password=None)  # asking again would fail the harness
        assert again.code == 0 and again.out == key.public_key.hex() + "\n"
        everything = first.out + first.err + again.out + again.err
        assert key.secret_bytes().hex() not in everything
        assert MNEMONICS[0].split()[0] + " " + MNEMONICS[0].split()[1] not in everything


def test_no_gov_option_takes_a_secret() -> None:
    gov = next(p for p in walk_parsers(build_parser(Environment()))
               if p.prog.endswith(" gov"))
    for parser in walk_parsers(gov):
        for action in parser._actions:
            for flag in action.option_strings:
                assert not any(word in flag for word in ("priv", "secret", "seed", "mnemonic")
                               ), f"{parser.prog} {flag}"
                if flag.endswith("-file"):
                    assert flag == "--password-file", f"{parser.prog} {flag}"
