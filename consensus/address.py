"""Addresses: a lock, bech32m-encoded with a network prefix (`fair` main, `tfair` test).

The data part is a version (0) followed by the 32-byte lock, as in BIP-350 segwit v1
addresses, so a mistyped address fails its checksum and another network's address fails its
prefix. The bech32m arithmetic comes from the `bech32m` package, not from here.
"""

from __future__ import annotations

from bech32m import codecs as _b32

from consensus.errors import AddressError
from consensus.types import Lock

ADDRESS_VERSION = 0
PREFIXES = {"main": "fair", "test": "tfair"}


def prefix_for(network: str) -> str:
    try:
        return PREFIXES[network]
    except (KeyError, TypeError):  # TypeError: an unhashable "network"
        raise AddressError(f"unknown network {network!r}") from None


def encode_address(lock: bytes, network: str) -> str:
    if not isinstance(lock, bytes) or len(lock) != 32:
        raise AddressError("a lock is 32 bytes")
    data = bytes([ADDRESS_VERSION]) + bytes(_b32.convertbits(lock, 8, 5))
    return str(_b32.bech32_encode(prefix_for(network), data, _b32.Encoding.BECH32M))


def decode_address(address: str, network: str) -> Lock:
    """The lock an address names; AddressError says what is wrong with a bad one."""
    if not isinstance(address, str):
        raise AddressError("an address is text")
    expected = prefix_for(network)
    try:
        hrp, data, spec = _b32.bech32_decode(address)
    except _b32.DecodeError:
        raise AddressError(
            f"{address!r} is not a valid address (bad checksum or characters)"
        ) from None
    if spec != _b32.Encoding.BECH32M:
        raise AddressError("address uses bech32, not bech32m")
    if hrp != expected:
        other = [n for n, p in PREFIXES.items() if p == hrp]
        where = f"the {other[0]} network" if other else f"prefix {hrp!r}"
        raise AddressError(f"address is for {where}, but this is the {network} network")
    if len(data) < 1 or data[0] != ADDRESS_VERSION:
        raise AddressError("unknown address version")
    try:
        lock = bytes(_b32.convertbits(data[1:], 5, 8, False))
    except _b32.DecodeError:
        raise AddressError("address has invalid padding") from None
    if len(lock) != 32:
        raise AddressError(f"address holds {len(lock)} bytes, not a 32-byte lock")
    return Lock(lock)
