"""Genesis files: build a Genesis from public keys and allocations, write it, read it back.

A genesis file is JSON, for people to read and for tools to diff. It holds the genesis twice:
the canonical encoding (`hex`, what the chain actually commits to; `hash` is
`codec.genesis_hash`) and a readable rendering of the same fields. Loading decodes `hex`
strictly, checks `hash`, then renders the decoded genesis again and insists the readable part
is identical, so nobody can edit a readable field and believe it changed the chain.

Validators are kept sorted by public key (the order the voting set and commit certificates
use), governors likewise. The treasury lock defaults to the governors' own t-of-n multisig,
so fees are spendable from the first block by the same people who govern the chain.

Left out: allocations to multisig policies given as key lists (give their address or lock).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from consensus.address import decode_address, encode_address
from consensus.chainstate import genesis_state
from consensus.codec import (
    decode_genesis,
    encode_genesis,
    expect_chain_id,
    genesis_hash,
    policy_lock,
)
from consensus.crypto import pubkey_valid
from consensus.errors import AddressError, CryptoError, DecodeError, FaircoopError, ParamsError
from consensus.params import PARAM_NAMES, ChainParams
from consensus.types import (
    GENESIS_VERSION,
    MAX_AMOUNT,
    MAX_POLICY_KEYS,
    NETWORKS,
    Genesis,
    Lock,
    PublicKey,
    SpendPolicy,
    TxOut,
    Validator,
)
from faircoop_common.fileio import write_atomic

FORMAT = "faircoop-genesis/1"


class GenesisFileError(FaircoopError):
    """A genesis that can't be built, or a genesis file that is malformed or inconsistent."""


# -- parsing the pieces -----------------------------------------------------------------------


def parse_pubkey(text: str, what: str) -> PublicKey:
    """A 33-byte compressed public key from hex, checked to be on the curve."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raise GenesisFileError(f"{what}: {text!r} is not hex") from None
    if len(raw) != 33 or not pubkey_valid(raw):
        raise GenesisFileError(f"{what}: not a 33-byte compressed secp256k1 public key")
    return PublicKey(raw)


def parse_lock(text: str, network: str, what: str) -> Lock:
    """An address of `network`, or a lock as 64 hex digits."""
    text = text.strip()
    if len(text) == 64:
        try:
            return Lock(bytes.fromhex(text))
        except ValueError:
            pass
    try:
        return decode_address(text, network)
    except AddressError as exc:
        raise GenesisFileError(f"{what}: {exc}") from None


def parse_amount(text: str, what: str) -> int:
    try:
        amount = int(text.replace("_", ""), 10)
    except ValueError:
        raise GenesisFileError(f"{what}: amount {text!r} is not a whole number of base units"
                               ) from None
    if not 1 <= amount <= MAX_AMOUNT:
        raise GenesisFileError(f"{what}: amount must be 1 to {MAX_AMOUNT} base units")
    return amount


def parse_allocations(items: Sequence[str], network: str) -> list[TxOut]:
    """`--alloc ADDRESS_OR_LOCK:AMOUNT` items (amounts in base units)."""
    out: list[TxOut] = []
    for item in items:
        target, sep, amount = item.rpartition(":")
        if not sep or not target:
            raise GenesisFileError(f"--alloc: expected ADDRESS_OR_LOCK:AMOUNT, got {item!r}")
        out.append(TxOut(parse_amount(amount, f"--alloc {target}"),
                         parse_lock(target, network, "--alloc")))
    return out


def parse_params(items: Sequence[str]) -> dict[str, int]:
    """`--param NAME=INTEGER` items (the names are checked when the genesis is built)."""
    params: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            params[name.strip()] = int(value)
        except ValueError:
            raise GenesisFileError(f"--param: expected NAME=INTEGER, got {item!r}") from None
        if not sep:
            raise GenesisFileError(f"--param: expected NAME=INTEGER, got {item!r}")
    return params


def default_treasury(governors: Sequence[bytes], threshold: int) -> Lock:
    """The governors' t-of-n multisig lock (when there are at most 16 governors)."""
    if len(governors) > MAX_POLICY_KEYS:
        raise GenesisFileError(f"with more than {MAX_POLICY_KEYS} governors the treasury can't "
                               "be their multisig: give a treasury address")
    try:
        return policy_lock(SpendPolicy.multisig(threshold, tuple(governors)))
    except CryptoError as exc:
        raise GenesisFileError(f"treasury: {exc}") from None


# -- building and checking --------------------------------------------------------------------


def build_genesis(
    *,
    chain_id: str,
    network: str,
    validators: Sequence[Validator],
    governors: Sequence[bytes],
    threshold: int,
    allocations: Sequence[TxOut],
    time_ms: int,
    params: Mapping[str, int] | None = None,
    treasury_lock: bytes | None = None,
) -> Genesis:
    """A checked Genesis, with validators and governors in canonical (sorted) order."""
    chain_params = ChainParams()
    for name, value in (params or {}).items():
        try:
            chain_params = chain_params.with_value(name, value)
        except ParamsError as exc:
            raise GenesisFileError(f"params: {exc}") from None
    gov = tuple(sorted(PublicKey(bytes(k)) for k in governors))
    if treasury_lock is not None:
        treasury = Lock(bytes(treasury_lock))
    elif gov and len(set(gov)) == len(gov) and 1 <= threshold <= len(gov):
        treasury = default_treasury(gov, threshold)
    else:
        treasury = Lock(bytes(32))  # a placeholder: check_genesis reports the governor problem
    genesis = Genesis(
        version=GENESIS_VERSION,
        chain_id=chain_id,
        network=network,
        time_ms=time_ms,
        allocations=tuple(allocations),
        validators=tuple(sorted(validators, key=lambda v: v.pubkey)),
        governors=gov,
        governor_threshold=threshold,
        params=chain_params,
        treasury_lock=treasury,
    )
    return check_genesis(genesis)


def check_genesis(g: Genesis) -> Genesis:
    """`g` itself if a chain can start from it; GenesisFileError naming the first problem."""
    try:
        expect_chain_id(g.chain_id, "chain_id")
    except DecodeError as exc:
        raise GenesisFileError(str(exc)) from None
    if g.network not in NETWORKS:
        raise GenesisFileError(f"network must be one of {', '.join(NETWORKS)}, not {g.network!r}")
    if not g.validators:
        raise GenesisFileError("a genesis needs at least one validator")
    names = [v.name for v in g.validators]
    if len(set(names)) != len(names):
        raise GenesisFileError("validator names must be unique")
    if [v.pubkey for v in g.validators] != sorted(v.pubkey for v in g.validators):
        raise GenesisFileError("validators must be sorted by public key")
    for v in g.validators:
        if not pubkey_valid(v.pubkey):
            raise GenesisFileError(f"validator {v.name!r}: not a valid public key")
    if not g.governors:
        raise GenesisFileError("a genesis needs at least one governor")
    if list(g.governors) != sorted(set(g.governors)):
        raise GenesisFileError("governors must be unique and sorted")
    for k in g.governors:
        if not pubkey_valid(k):
            raise GenesisFileError(f"governor {k.hex()}: not a valid public key")
    if not 1 <= g.governor_threshold <= len(g.governors):
        raise GenesisFileError(f"governor threshold must be 1 to {len(g.governors)}, "
                               f"not {g.governor_threshold}")
    supply = sum(o.amount for o in g.allocations)
    if supply > MAX_AMOUNT:
        raise GenesisFileError(f"allocations total {supply}, over the {MAX_AMOUNT} limit")
    try:
        if decode_genesis(encode_genesis(g)) != g:
            raise GenesisFileError("genesis does not survive its own encoding")
        genesis_state(g)
    except FaircoopError as exc:
        if isinstance(exc, GenesisFileError):
            raise
        raise GenesisFileError(f"invalid genesis: {exc}") from None
    return g


# -- the file ---------------------------------------------------------------------------------


def genesis_to_json(g: Genesis) -> dict[str, Any]:
    """The file's document: readable fields plus the canonical `hex` and its `hash`."""
    return {
        "format": FORMAT,
        "hash": genesis_hash(g).hex(),
        "chain_id": g.chain_id,
        "network": g.network,
        "time_ms": g.time_ms,
        "validators": [{"name": v.name, "pubkey": v.pubkey.hex()} for v in g.validators],
        "governors": [k.hex() for k in g.governors],
        "governor_threshold": g.governor_threshold,
        "treasury": {"lock": g.treasury_lock.hex(),
                     "address": encode_address(g.treasury_lock, g.network)},
        "allocations": [
            {"index": i, "address": encode_address(o.lock, g.network), "lock": o.lock.hex(),
             "amount": o.amount}
            for i, o in enumerate(g.allocations)
        ],
        "total_supply": sum(o.amount for o in g.allocations),
        "params": dict(zip(PARAM_NAMES, g.params.as_tuple(), strict=True)),
        "hex": encode_genesis(g).hex(),
    }


def genesis_from_json(doc: object, source: str = "genesis") -> Genesis:
    if not isinstance(doc, dict):
        raise GenesisFileError(f"{source}: expected a JSON object")
    if doc.get("format") != FORMAT:
        raise GenesisFileError(f"{source}: format must be {FORMAT!r}, not {doc.get('format')!r}")
    text = doc.get("hex")
    if not isinstance(text, str):
        raise GenesisFileError(f"{source}: missing the canonical 'hex'")
    try:
        genesis = decode_genesis(bytes.fromhex(text))
    except ValueError:
        raise GenesisFileError(f"{source}: 'hex' is not hex") from None
    except DecodeError as exc:
        raise GenesisFileError(f"{source}: 'hex' is not a valid genesis: {exc}") from None
    check_genesis(genesis)
    if doc.get("hash") != genesis_hash(genesis).hex():
        raise GenesisFileError(f"{source}: 'hash' is not the hash of 'hex' "
                               f"(expected {genesis_hash(genesis).hex()})")
    expected = genesis_to_json(genesis)
    for key in sorted(set(expected) | set(doc)):
        if key not in expected:
            raise GenesisFileError(f"{source}: unknown field {key!r}")
        if doc.get(key) != expected[key]:
            raise GenesisFileError(f"{source}: field {key!r} does not match 'hex' "
                                   "(edit the inputs and rebuild the genesis, not the file)")
    return genesis


def write_genesis(path: Path | str, g: Genesis) -> None:
    """Write the genesis file atomically."""
    path = Path(path)
    text = json.dumps(genesis_to_json(check_genesis(g)), indent=2) + "\n"
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise GenesisFileError(f"cannot write genesis file {path}: {exc.strerror}") from None


def load_genesis(path: Path | str) -> Genesis:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenesisFileError(f"genesis file {path} does not exist "
                               "(build one with `faircoop-node genesis`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenesisFileError(f"cannot read genesis file {path}: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenesisFileError(f"{path} is not valid JSON: {exc}") from None
    return genesis_from_json(doc, str(path))
