"""A coop treasury's credit transfer, passed from member to member as a file until m signed.

A treasury (an m-of-n policy over member keys, `wallet.multisig`) can hold a credit line like
any lock. Paying from it works as a treasury's coin spend does: one member prepares the
transfer and writes this file; each member reads what it pays, and signs a copy (offline if
they like); copies combine; once m have signed, anyone broadcasts it.

The file (JSON, version 1)::

    {"format": "faircoop-partial-credit", "version": 1, "network": "test",
     "chain_id": "...", "genesis_hash": "<hex, optional>", "txid": "<hex>",
     "transfer": "<hex of codec.encode_tx, no witness>",
     "policy": "<hex of codec.encode_policy: the sender's>",
     "signatures": {"0": "<64-byte hex>", "2": "..."}}

Simpler than a coin partial tx: the transfer names its sender (the policy must hash to it) and
everything a member agrees to is in the transfer itself (no claimed inputs, no fee). What a
member signs is `credit_sighash`: the chain id and the transfer's id, which covers the sender,
its sequence number, every payment and the memo. A member signs only with its treasury member
keys (never an ordinary address's key), and only after every signature already present checks
against the transfer in the file (`PartialTxChanged` if it was changed after someone signed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from consensus import crypto
from consensus.address import encode_address
from consensus.codec import (
    decode_credit_transfer,
    decode_policy,
    encode_policy,
    encode_tx,
    policy_lock,
    txid,
)
from consensus.credit import credit_sighash
from consensus.crypto import PrivateKey
from consensus.errors import DecodeError
from consensus.types import CreditTransfer, PublicKey, SpendPolicy, Witness
from wallet.errors import PartialTxChanged, PartialTxError
from wallet.fileio import (
    bounded_text,
    check_file_chain,
    dump_file,
    file_chain,
    hex_field,
    load_bounded,
    read_head,
    write_private,
)

FORMAT = "faircoop-partial-credit"
VERSION = 1
MAX_FILE_BYTES = 1 << 20  # a transfer of 64 payments signed by 16 keys is under 10 KB

Signatures = tuple[tuple[int, bytes], ...]  # (key index in the policy, signature), ascending


@dataclass(frozen=True, slots=True)
class PartialCredit:
    network: str
    transfer: CreditTransfer  # unsigned: no witness
    policy: SpendPolicy  # the sender's, hashing to transfer.sender
    signatures: Signatures
    genesis_hash: bytes | None = None

    @property
    def txid(self) -> bytes:
        return txid(self.transfer)

    @property
    def remaining(self) -> int:
        return max(0, self.policy.threshold - len(self.signatures))


def new_partial(transfer: CreditTransfer, policy: SpendPolicy, network: str,
                genesis_hash: bytes | None = None) -> PartialCredit:
    if policy_lock(policy) != transfer.sender:
        raise PartialTxError("the policy is not the transfer's sender")
    return PartialCredit(network, replace(transfer, witness=None), policy, (), genesis_hash)


# -- the file ---------------------------------------------------------------------------------


def to_json(pc: PartialCredit) -> str:
    doc: dict[str, object] = {
        "format": FORMAT, "version": VERSION, "network": pc.network,
        "chain_id": pc.transfer.chain_id, "txid": pc.txid.hex(),
        "transfer": encode_tx(pc.transfer).hex(), "policy": encode_policy(pc.policy).hex(),
        "signatures": {str(i): s.hex() for i, s in pc.signatures},
    }
    return dump_file(doc, pc.genesis_hash)


def _hex(value: object, what: str) -> bytes:
    return hex_field(value, what, PartialTxError)


def from_json(text: str) -> PartialCredit:
    """Parse and check a partial credit file; every inconsistency is a `PartialTxError`."""
    doc = read_head(text, FORMAT, VERSION, PartialTxError, "partial credit file",
                    "partial credit")
    try:
        transfer = decode_credit_transfer(_hex(doc.get("transfer"), "transfer"))
        policy = decode_policy(_hex(doc.get("policy"), "policy"))
    except DecodeError as exc:
        raise PartialTxError(f"does not decode: {exc}") from None
    if transfer.witness is not None:
        raise PartialTxError("the transfer in a partial credit file carries no witness")
    if doc.get("chain_id") != transfer.chain_id or doc.get("txid") != txid(transfer).hex():
        raise PartialTxError("chain_id or txid does not match the transfer")
    if policy_lock(policy) != transfer.sender:
        raise PartialTxError("the policy is not the transfer's sender")
    network, genesis_hash = file_chain(doc, PartialTxError)
    sigs = doc.get("signatures")
    if not isinstance(sigs, dict):
        raise PartialTxError("signatures: expected an object")
    pairs: list[tuple[int, bytes]] = []
    for key, value in sigs.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < len(policy.pubkeys)):
            raise PartialTxError(f"signatures: {key!r} is not a key index of the policy")
        sig = _hex(value, f"signatures[{key}]")
        if len(sig) != crypto.SIGNATURE_SIZE:
            raise PartialTxError(f"signatures[{key}]: a signature is 64 bytes")
        pairs.append((int(key), sig))
    return PartialCredit(network, transfer, policy, tuple(sorted(pairs)), genesis_hash)


def load_partial(path: str | os.PathLike[str]) -> PartialCredit:
    return load_bounded(path, MAX_FILE_BYTES, lambda raw: from_json(
        bounded_text(raw, MAX_FILE_BYTES, PartialTxError, "a partial credit file")),
        PartialTxError)


def save_partial(path: str | os.PathLike[str], pc: PartialCredit) -> None:
    """Written atomically (mode 0600): signing a file in place never tears it."""
    write_private(path, to_json(pc))


# -- checking, signing, combining -------------------------------------------------------------


def check_chain(pc: PartialCredit, chain_id: str, network: str, genesis_hash: bytes) -> None:
    check_file_chain(pc.transfer.chain_id, pc.network, pc.genesis_hash, chain_id, network,
                     genesis_hash)


def check_signatures(pc: PartialCredit) -> None:
    """Every signature present verifies against the transfer in the file."""
    digest = credit_sighash(pc.transfer)
    for index, sig in pc.signatures:
        if not crypto.verify(pc.policy.pubkeys[index], sig, digest):
            raise PartialTxChanged(
                f"the signature of key {index} ({pc.policy.pubkeys[index].hex()[:16]}...) does "
                "not match this transfer: it was changed after that member signed (or the "
                "signature is forged); refusing to sign")


def signing_keys(pc: PartialCredit, member_keys: frozenset[PublicKey]) -> frozenset[PublicKey]:
    """The sender policy's keys this wallet may sign with: its treasury member keys only."""
    keys = frozenset(k for k in pc.policy.pubkeys if k in member_keys)
    if not keys:
        raise PartialTxError("this wallet holds none of the treasury member keys this "
                             "transfer needs")
    return keys


def sign(pc: PartialCredit, keys: Mapping[bytes, PrivateKey],
         allowed: frozenset[PublicKey]) -> tuple[PartialCredit, int]:
    """Our signatures added (with `allowed` keys only); how many were added."""
    check_signatures(pc)
    digest = credit_sighash(pc.transfer)
    have = dict(pc.signatures)
    added = 0
    for i, pub in enumerate(pc.policy.pubkeys):
        key = keys.get(pub)
        if key is not None and pub in allowed and i not in have:
            have[i] = key.sign(digest)
            added += 1
    return replace(pc, signatures=tuple(sorted(have.items()))), added


def combine(parts: Sequence[PartialCredit]) -> PartialCredit:
    """Merge the signatures of copies of one partial transfer (each copy checked first)."""
    if not parts:
        raise PartialTxError("nothing to combine")
    first = parts[0]
    for p in parts:
        if (p.transfer, p.policy, p.network) != (first.transfer, first.policy, first.network):
            raise PartialTxError(f"cannot combine: copy {p.txid.hex()[:16]}... is another "
                                 f"transfer than {first.txid.hex()[:16]}...")
        check_signatures(p)
    named = {p.genesis_hash for p in parts if p.genesis_hash is not None}
    if len(named) > 1:
        raise PartialTxError("cannot combine: the copies name different genesis hashes")
    have: dict[int, bytes] = {}
    for p in parts:
        have.update(dict(p.signatures))
    return replace(first, signatures=tuple(sorted(have.items())),
                   genesis_hash=next(iter(named), None))


def finalize(pc: PartialCredit) -> CreditTransfer:
    """The broadcastable transfer: exactly m signatures, lowest key indexes first."""
    check_signatures(pc)
    if pc.remaining:
        raise PartialTxError(f"not enough signatures yet: {pc.remaining} more needed")
    return replace(pc.transfer,
                   witness=Witness(pc.policy, pc.signatures[:pc.policy.threshold]))


@dataclass(frozen=True, slots=True)
class Description:
    txid: str
    sender: str
    sequence: int
    payments: tuple[tuple[str, int], ...]  # (address, amount)
    memo: bytes
    threshold: int
    signed: tuple[PublicKey, ...]
    waiting: tuple[PublicKey, ...]

    @property
    def amount(self) -> int:
        return sum(a for _, a in self.payments)

    @property
    def remaining(self) -> int:
        return max(0, self.threshold - len(self.signed))

    def as_json(self) -> dict[str, object]:
        return {"txid": self.txid, "sender": self.sender, "sequence": self.sequence,
                "payments": [{"address": a, "amount": m} for a, m in self.payments],
                "amount": self.amount, "memo": self.memo.decode("utf-8", "replace"),
                "threshold": self.threshold, "signed": [k.hex() for k in self.signed],
                "waiting": [k.hex() for k in self.waiting],
                "signatures_remaining": self.remaining, "complete": self.remaining == 0}


def describe(pc: PartialCredit) -> Description:
    t = pc.transfer
    done = {i for i, _ in pc.signatures}
    return Description(
        txid=pc.txid.hex(), sender=encode_address(t.sender, pc.network), sequence=t.sequence,
        payments=tuple((encode_address(p.lock, pc.network), p.amount) for p in t.payments),
        memo=t.memo, threshold=pc.policy.threshold,
        signed=tuple(k for i, k in enumerate(pc.policy.pubkeys) if i in done),
        waiting=tuple(k for i, k in enumerate(pc.policy.pubkeys) if i not in done))
