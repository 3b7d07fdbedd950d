"""HD keys: a BIP39 mnemonic to a BIP32 tree, on one documented derivation path.

Path: ``m / 44' / coin_type' / account' / chain / index`` (BIP44 layout).

- ``coin_type`` is 17987 (0x4643, "FC") on the main network and 1 on test networks, as SLIP-44
  prescribes for every testnet. We deliberately do not reuse FairCoin 2's SLIP-44 entry: this is
  another chain with another address and signature format, and a mnemonic used with both must
  not produce the same keys on both.
- ``chain`` 0 receives, 1 takes change (BIP44), and 2 holds the keys a member contributes to
  multisig treasuries (so treasury keys are never ordinary receive addresses).
- Account 0 is used unless the caller picks another.

**Governor keys** live on a path of their own, hardened at every step:
``m / 17987' / coin_type' / account' / 0' / index'`` (purpose 17987', "FC", is faircoop's own
scheme, not a BIP; ``0'`` is the governance role). Not below the BIP44 account on purpose: the
account's xpub is public (it is in the wallet file), and with it one leaked payment key gives
away every unhardened key of the account; a governor key can then neither be derived from
public data, nor leak through a payment key, nor give a payment key away. A watch-only
wallet cannot derive it. A governor uses index 0; a later index is a new key (after
`SetGovernors` replaced the old one).

Watch-only wallets hold only the account's extended public key (``xpub``/``tpub``): every
path below the account is unhardened, so public derivation gives the same public keys.

The wordlist codec is the `mnemonic` package (trezor's reference implementation); the tree is
the `bip32` package. Secrets stay inside `HDAccount`; its repr names only public data.
"""

from __future__ import annotations

from dataclasses import dataclass

from bip32 import BIP32
from mnemonic import Mnemonic

from consensus.codec import policy_lock
from consensus.crypto import PrivateKey
from consensus.types import Lock, PublicKey, SpendPolicy
from wallet.errors import KeyDerivationError

HARDENED = 0x8000_0000
PURPOSE = 44
GOVERNOR_PURPOSE = 17987  # "FC": faircoop's own derivation scheme for keys that are not coins
GOVERNOR_ROLE = 0  # the governance branch below the governor purpose
COIN_TYPES = {"main": 17987, "test": 1}
RECEIVE, CHANGE, COSIGNER = 0, 1, 2
CHAINS = (RECEIVE, CHANGE, COSIGNER)
MNEMONIC_STRENGTHS = {12: 128, 15: 160, 18: 192, 21: 224, 24: 256}

_WORDS = Mnemonic("english")

__all__ = [
    "CHAINS", "CHANGE", "COIN_TYPES", "COSIGNER", "RECEIVE", "HDAccount", "KeyDerivationError",
    "WatchAccount", "account_path", "extended_keys", "generate_mnemonic", "governor_path",
    "key_path", "lock_for_pubkey", "mnemonic_from_entropy", "mnemonic_to_seed",
    "normalize_mnemonic",
]


def generate_mnemonic(words: int = 24) -> str:
    """A fresh English BIP39 mnemonic of `words` words (OS randomness)."""
    strength = MNEMONIC_STRENGTHS.get(words)
    if strength is None:
        raise KeyDerivationError(f"a mnemonic has 12, 15, 18, 21 or 24 words, not {words}")
    return str(_WORDS.generate(strength))


def normalize_mnemonic(text: str) -> str:
    """Lower-case, single-spaced words; raises if the checksum or a word is wrong."""
    words = " ".join(text.lower().split())
    if len(words.split()) not in MNEMONIC_STRENGTHS:
        raise KeyDerivationError("a mnemonic has 12, 15, 18, 21 or 24 words")
    if not _WORDS.check(words):
        raise KeyDerivationError("not a valid BIP39 mnemonic (unknown word or bad checksum)")
    return words


def mnemonic_from_entropy(entropy: bytes) -> str:
    return str(_WORDS.to_mnemonic(entropy))


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic"+passphrase)."""
    return bytes(Mnemonic.to_seed(normalize_mnemonic(mnemonic), passphrase))


def extended_keys(seed: bytes, path: str, network: str = "main") -> tuple[str, str]:
    """(xpub, xprv) at `path` ("m/0'/1", hardened with ' or h) below the seed's master key."""
    try:
        root = BIP32.from_seed(seed, network=network)
        return str(root.get_xpub_from_path(path)), str(root.get_xpriv_from_path(path))
    except Exception:  # the bip32 package raises ValueError subclasses
        raise KeyDerivationError(f"cannot derive {path!r} from this seed") from None


def account_path(network: str, account: int = 0) -> str:
    coin = COIN_TYPES.get(network)
    if coin is None:
        raise KeyDerivationError(f"unknown network {network!r}")
    if not 0 <= account < HARDENED:
        raise KeyDerivationError("account index out of range")
    return f"m/{PURPOSE}'/{coin}'/{account}'"


def governor_path(network: str, account: int = 0, index: int = 0) -> str:
    """The governor key's path: hardened at every step, outside the BIP44 account."""
    coin = COIN_TYPES.get(network)
    if coin is None:
        raise KeyDerivationError(f"unknown network {network!r}")
    if not (0 <= account < HARDENED and 0 <= index < HARDENED):
        raise KeyDerivationError("account or governor key index out of range")
    return f"m/{GOVERNOR_PURPOSE}'/{coin}'/{account}'/{GOVERNOR_ROLE}'/{index}'"


def key_path(network: str, account: int, chain: int, index: int) -> str:
    _check_child(chain, index)
    return f"{account_path(network, account)}/{chain}/{index}"


def _check_child(chain: int, index: int) -> None:
    if chain not in CHAINS:
        raise KeyDerivationError(f"chain must be one of {CHAINS}")
    if not 0 <= index < HARDENED:
        raise KeyDerivationError("address index out of range")


def lock_for_pubkey(pubkey: bytes) -> Lock:
    """The lock of a single-key policy: what an ordinary address encodes."""
    return policy_lock(SpendPolicy.single(pubkey))


@dataclass(frozen=True, slots=True)
class WatchAccount:
    """An account known by its extended public key: derives public keys, never signs."""

    xpub: str
    network: str

    def __post_init__(self) -> None:
        _node_from_xpub(self.xpub)  # validate early

    def pubkey(self, chain: int, index: int) -> PublicKey:
        _check_child(chain, index)
        node = _node_from_xpub(self.xpub)
        return PublicKey(bytes(node.get_pubkey_from_path([chain, index])))

    def lock(self, chain: int, index: int) -> Lock:
        return lock_for_pubkey(self.pubkey(chain, index))


def _node_from_xpub(xpub: str) -> BIP32:
    try:
        node = BIP32.from_xpub(xpub)
    except Exception:  # the bip32 package raises ValueError subclasses and base58 errors
        raise KeyDerivationError("not a valid extended public key") from None
    return node


class HDAccount:
    """One BIP44 account of an HD tree, holding its private extended key.

    The repr shows only the account path and fingerprint-free public xpub prefix, never secrets.
    """

    __slots__ = ("_node", "_governance", "_network", "_account", "_xpub")

    def __init__(self, seed: bytes, network: str, account: int = 0) -> None:
        if not isinstance(seed, bytes) or not 16 <= len(seed) <= 64:
            raise KeyDerivationError("a BIP32 seed is 16 to 64 bytes")
        root = BIP32.from_seed(seed, network=network)
        xprv = root.get_xpriv_from_path(account_path(network, account))
        self._node = BIP32.from_xpriv(xprv)
        # the governance branch (m/17987'/coin'/account'/0'), kept apart from the account
        branch = governor_path(network, account).rsplit("/", 1)[0]
        self._governance = BIP32.from_xpriv(root.get_xpriv_from_path(branch))
        self._network = network
        self._account = account
        self._xpub = str(self._node.get_xpub())

    @classmethod
    def from_mnemonic(
        cls, mnemonic: str, network: str, passphrase: str = "", account: int = 0
    ) -> HDAccount:
        return cls(mnemonic_to_seed(mnemonic, passphrase), network, account)

    @property
    def network(self) -> str:
        return self._network

    @property
    def xpub(self) -> str:
        """The account's extended public key: enough for a watch-only wallet."""
        return self._xpub

    def watch(self) -> WatchAccount:
        return WatchAccount(self._xpub, self._network)

    def private_key(self, chain: int, index: int) -> PrivateKey:
        _check_child(chain, index)
        return PrivateKey(bytes(self._node.get_privkey_from_path([chain, index])))

    def pubkey(self, chain: int, index: int) -> PublicKey:
        _check_child(chain, index)
        return PublicKey(bytes(self._node.get_pubkey_from_path([chain, index])))

    def governor_key(self, index: int = 0) -> PrivateKey:
        """The governor key at `governor_path(network, account, index)`."""
        if not 0 <= index < HARDENED:
            raise KeyDerivationError("governor key index out of range")
        return PrivateKey(bytes(self._governance.get_privkey_from_path([HARDENED + index])))

    def __repr__(self) -> str:
        return f"HDAccount({account_path(self._network, self._account)}, xpub={self._xpub[:12]}...)"
