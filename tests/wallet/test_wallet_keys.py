"""HD keys: the official BIP39 and BIP32 vectors, our derivation path, watch-only equivalence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.keys import (
    CHANGE,
    COIN_TYPES,
    COSIGNER,
    RECEIVE,
    HDAccount,
    KeyDerivationError,
    WatchAccount,
    account_path,
    extended_keys,
    generate_mnemonic,
    key_path,
    mnemonic_from_entropy,
    mnemonic_to_seed,
    normalize_mnemonic,
)

DATA = Path(__file__).parent / "data"
BIP39 = json.loads((DATA / "bip39_vectors.json").read_text())
BIP32 = json.loads((DATA / "bip32_vectors.json").read_text())
ABANDON = " ".join(["abandon"] * 11 + ["about"])


@pytest.mark.parametrize("entropy,words,seed,xprv", BIP39["english"])
def test_bip39_official_vector(entropy: str, words: str, seed: str, xprv: str) -> None:
    assert mnemonic_from_entropy(bytes.fromhex(entropy)) == words
    assert mnemonic_to_seed(words, BIP39["passphrase"]).hex() == seed
    assert extended_keys(bytes.fromhex(seed), "m")[1] == xprv


BIP32_CASES = [(v["seed"], path, xpub, xprv) for v in BIP32["vectors"]
               for path, xpub, xprv in v["chains"]]


@pytest.mark.parametrize("seed,path,xpub,xprv", BIP32_CASES)
def test_bip32_official_vector(seed: str, path: str, xpub: str, xprv: str) -> None:
    assert extended_keys(bytes.fromhex(seed), path) == (xpub, xprv)


def test_bip32_vectors_cover_1_to_3() -> None:
    assert len(BIP32["vectors"]) == 3 and len(BIP32_CASES) == 14


@pytest.mark.parametrize("network,account,expected", [
    ("main", 0, "m/44'/17987'/0'"),
    ("test", 0, "m/44'/1'/0'"),
    ("main", 7, "m/44'/17987'/7'"),
])
def test_derivation_path_is_bip44_with_our_coin_type(network: str, account: int,
                                                     expected: str) -> None:
    assert account_path(network, account) == expected
    assert key_path(network, account, CHANGE, 5) == expected + "/1/5"


def test_account_keys_match_generic_derivation_at_documented_path() -> None:
    seed = mnemonic_to_seed(ABANDON)
    hd = HDAccount(seed, "test")
    xpub, _ = extended_keys(seed, account_path("test") + "/0/3", "test")
    from bip32 import BIP32 as Node

    assert hd.pubkey(RECEIVE, 3) == Node.from_xpub(xpub).pubkey
    assert hd.private_key(RECEIVE, 3).public_key == hd.pubkey(RECEIVE, 3)
    assert hd.xpub.startswith("tpub") and HDAccount(seed, "main").xpub.startswith("xpub")
    assert COIN_TYPES == {"main": 17987, "test": 1}


@settings(max_examples=30, deadline=None)
@given(chain=st.sampled_from([RECEIVE, CHANGE, COSIGNER]), index=st.integers(0, 2**31 - 1))
def test_watch_only_derives_the_same_public_keys_as_the_private_account(chain: int,
                                                                         index: int) -> None:
    hd = _ACCOUNT
    watch = WatchAccount(hd.xpub, "test")
    assert watch.pubkey(chain, index) == hd.pubkey(chain, index)
    assert watch.lock(chain, index) == hd.watch().lock(chain, index)


_ACCOUNT = HDAccount.from_mnemonic(ABANDON, "test")


@pytest.mark.parametrize("bad", [
    "abandon " * 11 + "abandon",  # bad checksum
    "abandon abandon",  # too short
    ABANDON.replace("about", "aboot"),  # not a word
])
def test_invalid_mnemonic_is_refused(bad: str) -> None:
    with pytest.raises(KeyDerivationError):
        normalize_mnemonic(bad)


def test_mnemonic_normalization_and_generation() -> None:
    assert normalize_mnemonic("  ABANDON " + ABANDON[8:].replace(" ", "   ")) == ABANDON
    words = generate_mnemonic(12)
    assert len(words.split()) == 12 and normalize_mnemonic(words) == words
    assert len(generate_mnemonic().split()) == 24
    with pytest.raises(KeyDerivationError):
        generate_mnemonic(13)


def test_secrets_never_in_repr() -> None:
    hd = HDAccount.from_mnemonic(ABANDON, "test")
    text = repr(hd) + repr(hd.private_key(0, 0))
    secret = hd.private_key(0, 0).secret_bytes().hex()
    assert secret not in text and "abandon" not in text


@pytest.mark.parametrize("chain,index", [(3, 0), (0, -1), (0, 2**31)])
def test_bad_child_index_is_refused(chain: int, index: int) -> None:
    with pytest.raises(KeyDerivationError):
        _ACCOUNT.pubkey(chain, index)


def test_bad_xpub_is_refused() -> None:
    with pytest.raises(KeyDerivationError):
        WatchAccount("xpub-not-really", "test")
