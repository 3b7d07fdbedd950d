"""The wallet data file: public, JSON, versioned; the secrets live in a separate key store.

``wallet.json`` holds what the wallet may keep in the clear: network and chain identity, the
account's extended public key, address counters, known treasuries and the followed chain
(`LightState`). The mnemonic lives in the key store beside it (``wallet.json.keys``), written by
`wallet.keystore`. A watch-only wallet has no key store. Both files are written atomically with
mode 0600 (addresses and balances are private too).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from consensus.address import encode_address
from consensus.codec import decode_policy, encode_policy, policy_lock
from consensus.errors import DecodeError
from consensus.types import Lock, OutPoint, PublicKey, SpendPolicy, TxId
from wallet.errors import WalletError, WalletFileError, WatchOnly
from wallet.fileio import write_private
from wallet.keys import CHANGE, COSIGNER, RECEIVE, HDAccount, WatchAccount, lock_for_pubkey
from wallet.keystore import (
    OpenedKeystore,
    ScryptParams,
    WalletSecrets,
    open_keystore,
    save_keystore,
)
from wallet.lightclient import LightState
from wallet.multisig import OwnKeys
from wallet.requests import PaymentRequest, request_from, request_json

FORMAT = "faircoop-wallet"
VERSION = 1
KEYSTORE_SUFFIX = ".keys"
LOOKAHEAD = 20  # receive/change keys past the last handed out that a signer still recognises


@dataclass(frozen=True, slots=True)
class Treasury:
    name: str
    policy: SpendPolicy


@dataclass(frozen=True, slots=True)
class PendingSpend:
    """A tx this wallet broadcast that was not yet known final, and the coins it spends.

    The node lists only confirmed coins and refuses a second spend of a pooled one
    (`mempool_conflict`), so coin selection skips these until the tx is final or the node no
    longer knows it.
    """

    txid: bytes
    spends: tuple[OutPoint, ...]


@dataclass(frozen=True, slots=True)
class WalletData:
    network: str
    chain_id: str
    genesis_hash: bytes
    account: int
    xpub: str
    watch_only: bool
    receive_index: int  # the current receive address; `address --new` moves on
    change_index: int  # the next fresh change address
    cosigner_index: int  # the next treasury member key
    treasuries: tuple[Treasury, ...]
    light: LightState | None  # the followed chain, if a genesis was known
    pending: tuple[PendingSpend, ...] = ()  # broadcast, not yet seen final
    governor_key: PublicKey | None = None  # this wallet's governor key, once shown (`gov key`)
    governor_names: tuple[tuple[PublicKey, str], ...] = ()  # names this wallet gives governors
    requests: tuple[PaymentRequest, ...] = ()  # payment requests this wallet made (`request`)

    def held_outpoints(self) -> frozenset[OutPoint]:
        """Coins spent by this wallet's pending txs: not to be chosen again."""
        return frozenset(op for p in self.pending for op in p.spends)

    def watch(self) -> WatchAccount:
        return WatchAccount(self.xpub, self.network)

    def address(self, chain: int, index: int) -> str:
        return encode_address(self.watch().lock(chain, index), self.network)

    def known_keys(self) -> tuple[tuple[int, int, PublicKey], ...]:
        """(chain, index, pubkey) of every address handed out so far."""
        return self.keys_ahead(0)

    def keys_ahead(self, lookahead: int = LOOKAHEAD) -> tuple[tuple[int, int, PublicKey], ...]:
        """`known_keys` plus `lookahead` receive and change keys past them: the wallet that
        signs a file offline may lag the one (same account) that built it."""
        w = self.watch()
        out = [(RECEIVE, i, w.pubkey(RECEIVE, i))
               for i in range(self.receive_index + 1 + lookahead)]
        out += [(CHANGE, i, w.pubkey(CHANGE, i)) for i in range(self.change_index + lookahead)]
        out += [(COSIGNER, i, w.pubkey(COSIGNER, i)) for i in range(self.cosigner_index)]
        return tuple(out)

    def signer_keys(self) -> OwnKeys:
        """The wallet's keys by role, as `multisig.signing_scope` needs them."""
        ahead = self.keys_ahead()
        return OwnKeys(
            personal=frozenset(pub for chain, _, pub in ahead if chain != COSIGNER),
            cosigner=frozenset(pub for chain, _, pub in ahead if chain == COSIGNER),
            treasuries=tuple((t.name, t.policy) for t in self.treasuries))

    def known_locks(self) -> dict[Lock, tuple[int, int, PublicKey]]:
        return {lock_for_pubkey(pub): (c, i, pub) for c, i, pub in self.known_keys()
                if c != COSIGNER}

    def governor_name(self, pubkey: bytes) -> str | None:
        return next((name for key, name in self.governor_names if key == pubkey), None)

    def treasury(self, name_or_address: str) -> Treasury:
        for t in self.treasuries:
            if name_or_address in (t.name, encode_address(policy_lock(t.policy), self.network)):
                return t
        raise WalletError(f"no treasury named {name_or_address!r} in this wallet")

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "network": self.network,
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash.hex(),
            "account": self.account,
            "xpub": self.xpub,
            "watch_only": self.watch_only,
            "receive_index": self.receive_index,
            "change_index": self.change_index,
            "cosigner_index": self.cosigner_index,
            "treasuries": [{"name": t.name, "policy": encode_policy(t.policy).hex()}
                           for t in self.treasuries],
            "light_client": self.light.to_json() if self.light else None,
            "pending": [{"txid": p.txid.hex(),
                         "spends": [[op.txid.hex(), op.index] for op in p.spends]}
                        for p in self.pending],
        }
        if self.governor_key is not None:
            doc["governor_key"] = self.governor_key.hex()
        if self.governor_names:
            doc["governor_names"] = [{"pubkey": k.hex(), "name": n}
                                     for k, n in self.governor_names]
        if self.requests:
            doc["requests"] = [request_json(r) for r in self.requests]
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> WalletData:
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise WalletFileError("not a faircoop wallet file")
            if doc.get("version") != VERSION:
                raise WalletFileError(f"wallet file version {doc.get('version')!r}; "
                                      f"this wallet reads {VERSION}")
            light = doc.get("light_client")
            data = cls(
                network=str(doc["network"]),
                chain_id=str(doc["chain_id"]),
                genesis_hash=bytes.fromhex(doc["genesis_hash"]),
                account=int(doc["account"]),
                xpub=str(doc["xpub"]),
                watch_only=bool(doc["watch_only"]),
                receive_index=int(doc["receive_index"]),
                change_index=int(doc["change_index"]),
                cosigner_index=int(doc["cosigner_index"]),
                treasuries=tuple(Treasury(str(t["name"]), decode_policy(bytes.fromhex(
                    t["policy"]))) for t in doc["treasuries"]),
                # a state from before governance was followed is dropped: sync starts over
                light=(None if light is None or LightState.is_legacy(light)
                       else LightState.from_json(light)),
                pending=tuple(  # absent in files written before it existed
                    PendingSpend(bytes.fromhex(p["txid"]),
                                 tuple(OutPoint(TxId(bytes.fromhex(t)), int(i))
                                       for t, i in p["spends"]))
                    for p in doc.get("pending", [])),
                # absent in files written before governance (issue 14)
                governor_key=(None if doc.get("governor_key") is None
                              else PublicKey(bytes.fromhex(doc["governor_key"]))),
                governor_names=tuple((PublicKey(bytes.fromhex(g["pubkey"])), str(g["name"]))
                                     for g in doc.get("governor_names", [])),
                # absent in files written before payment requests (issue 19)
                requests=tuple(request_from(r) for r in doc.get("requests", [])),
            )
        except (KeyError, TypeError, ValueError, AttributeError, DecodeError) as exc:
            raise WalletFileError(f"wallet file is malformed ({type(exc).__name__})") from None
        if data.network not in ("main", "test"):
            raise WalletFileError("wallet network must be main or test")
        data.watch()  # validates the xpub
        return data


def keystore_path(wallet_path: str | os.PathLike[str]) -> Path:
    p = Path(wallet_path)
    return p.with_name(p.name + KEYSTORE_SUFFIX)


def lock_path(wallet_path: str | os.PathLike[str]) -> Path:
    """The file whose flock a process holds while it changes the wallet (`fileio.FileLock`)."""
    p = Path(wallet_path)
    return p.with_name(p.name + ".lock")


def load_wallet(path: str | os.PathLike[str]) -> WalletData:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WalletFileError(f"no wallet at {path} (create one with `create`, or pass "
                              "--wallet FILE)") from None
    except OSError as exc:
        raise WalletFileError(f"cannot read wallet {path}: {exc.strerror}") from None
    return WalletData.from_json(text)


def save_wallet(path: str | os.PathLike[str], data: WalletData) -> None:
    write_private(path, data.to_json(), parents=True)


def create_wallet_files(
    path: str | os.PathLike[str], *, secrets_: WalletSecrets, password: str, network: str,
    chain_id: str, genesis_hash: bytes, light: LightState | None, account: int = 0,
    kdf: ScryptParams | None = None,
) -> tuple[WalletData, HDAccount]:
    """Write a new wallet and its key store; refuses to overwrite an existing wallet."""
    if Path(path).exists() or keystore_path(path).exists():
        raise WalletFileError(f"{path} already exists; refusing to overwrite a wallet")
    hd = HDAccount.from_mnemonic(secrets_.mnemonic, network, secrets_.passphrase, account)
    data = WalletData(network, chain_id, genesis_hash, account, hd.xpub, False, 0, 0, 0, (),
                      light)
    save_keystore(keystore_path(path), secrets_, password, kdf)
    save_wallet(path, data)
    return data, hd


def create_watch_only(path: str | os.PathLike[str], *, xpub: str, network: str, chain_id: str,
                      genesis_hash: bytes, light: LightState | None) -> WalletData:
    if Path(path).exists():
        raise WalletFileError(f"{path} already exists; refusing to overwrite a wallet")
    data = WalletData(network, chain_id, genesis_hash, 0, xpub, True, 0, 0, 0, (), light)
    save_wallet(path, data)
    return data


def unlock(path: str | os.PathLike[str], data: WalletData, password: str) -> HDAccount:
    """The account's private keys, from the key store beside the wallet file."""
    return unlock_keystore(path, data, password)[0]


def unlock_keystore(path: str | os.PathLike[str], data: WalletData,
                    password: str) -> tuple[HDAccount, OpenedKeystore]:
    """The account's private keys, and the opened key store (its address book, and what
    saves a changed one)."""
    if data.watch_only:
        raise WatchOnly("this is a watch-only wallet: it holds no private keys")
    opened = open_keystore(keystore_path(path), password)
    secrets_ = opened.secrets
    hd = HDAccount.from_mnemonic(secrets_.mnemonic, data.network, secrets_.passphrase,
                                 data.account)
    if hd.xpub != data.xpub:
        raise WalletFileError("the key store does not belong to this wallet file")
    return hd, opened


def with_light(data: WalletData, light: LightState) -> WalletData:
    return replace(data, light=light)
