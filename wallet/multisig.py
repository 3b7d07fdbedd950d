"""Multisig treasuries and partially-signed transactions passed around as files.

A treasury is an m-of-n `SpendPolicy`; its address encodes the policy's lock. To spend, one
member builds the unsigned tx and writes a *partial tx* file (format below, documented in
docs/WALLET.md). Each member signs a copy offline; copies combine; once every input has m
signatures the file finalizes into a `Tx` to broadcast.

The file (JSON, version 1)::

    {"format": "faircoop-partial-tx", "version": 1, "network": "test", "chain_id": "...",
     "txid": "<hex>", "tx": "<hex of codec.encode_tx, no witnesses>",
     "inputs": [{"amount": 123, "lock": "<hex>", "policy": "<hex of codec.encode_policy>"}],
     "change": [1],
     "signatures": [{"0": "<64-byte hex>", "2": "..."}]}

Safety: a signature covers `tx_sighash`, which commits to the chain id and the txid, and the
txid commits to every input, output, amount and the memo. Before adding its own signature a
member checks every signature already present against the sighash of the tx *in the file*;
if someone changed anything after others signed, those signatures fail and signing is refused
(`PartialTxChanged`). Input amounts are not covered by the sighash (as in pre-segwit Bitcoin):
the fee a member sees is computed from the amounts the file claims, so `describe` says so and
the CLI checks them against the node when one is reachable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from consensus import crypto
from consensus.address import encode_address
from consensus.codec import decode_policy, decode_tx, encode_policy, encode_tx, policy_lock, txid
from consensus.crypto import PrivateKey
from consensus.errors import DecodeError, FaircoopError
from consensus.ledger import tx_sighash
from consensus.types import MAX_AMOUNT, Lock, SpendPolicy, Tx, TxOut, Witness
from wallet.amounts import format_coins
from wallet.builder import UnsignedTx, signed_size
from wallet.errors import PartialTxChanged, PartialTxError

FORMAT = "faircoop-partial-tx"
VERSION = 1

Signatures = tuple[tuple[int, bytes], ...]  # (key index in the policy, signature), ascending


def treasury_policy(threshold: int, pubkeys: Sequence[bytes]) -> SpendPolicy:
    """An m-of-n policy from member keys in any order (sorted, duplicates refused)."""
    if len(set(pubkeys)) != len(pubkeys):
        raise PartialTxError("a treasury lists each member key once")
    for k in pubkeys:
        if not crypto.pubkey_valid(bytes(k)):
            raise PartialTxError(f"{bytes(k).hex()} is not a valid compressed public key")
    try:
        return SpendPolicy.multisig(threshold, tuple(bytes(k) for k in pubkeys))
    except FaircoopError as exc:
        raise PartialTxError(str(exc)) from None


def treasury_address(policy: SpendPolicy, network: str) -> str:
    return encode_address(policy_lock(policy), network)


@dataclass(frozen=True, slots=True)
class PartialTx:
    network: str
    tx: Tx  # unsigned: witnesses empty
    spent: tuple[TxOut, ...]  # per input: the output it spends (as the file claims)
    policies: tuple[SpendPolicy, ...]  # per input: the policy behind the spent lock
    change: tuple[int, ...]  # indexes of outputs that return to the spender
    signatures: tuple[Signatures, ...]  # per input

    @property
    def txid(self) -> bytes:
        return txid(self.tx)

    @property
    def fee(self) -> int:
        return sum(o.amount for o in self.spent) - sum(o.amount for o in self.tx.outputs)


def from_unsigned(unsigned: UnsignedTx, network: str) -> PartialTx:
    change = () if unsigned.change_index is None else (unsigned.change_index,)
    return PartialTx(
        network=network,
        tx=replace(unsigned.tx, witnesses=()),
        spent=unsigned.spent,
        policies=unsigned.policies,
        change=change,
        signatures=tuple(() for _ in unsigned.tx.inputs),
    )


# -- the file ---------------------------------------------------------------------------------


def to_json(ptx: PartialTx) -> str:
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "network": ptx.network,
        "chain_id": ptx.tx.chain_id,
        "txid": ptx.txid.hex(),
        "tx": encode_tx(ptx.tx).hex(),
        "inputs": [
            {"amount": o.amount, "lock": o.lock.hex(), "policy": encode_policy(p).hex()}
            for o, p in zip(ptx.spent, ptx.policies, strict=True)
        ],
        "change": list(ptx.change),
        "signatures": [{str(i): s.hex() for i, s in sigs} for sigs in ptx.signatures],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise PartialTxError(f"{what}: expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise PartialTxError(f"{what}: not hex") from None


def from_json(text: str) -> PartialTx:
    """Parse and check a partial-tx file; every inconsistency is a `PartialTxError`."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise PartialTxError("not a partial-transaction file (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PartialTxError("not a faircoop partial-transaction file")
    if doc.get("version") != VERSION:
        raise PartialTxError(f"partial-tx version {doc.get('version')!r}; this wallet reads 1")
    try:
        tx = decode_tx(_hex(doc.get("tx"), "tx"))
    except DecodeError as exc:
        raise PartialTxError(f"tx does not decode: {exc}") from None
    if tx.witnesses:
        raise PartialTxError("the tx in a partial-tx file carries no witnesses")
    if doc.get("chain_id") != tx.chain_id:
        raise PartialTxError("chain_id does not match the tx")
    if doc.get("txid") != txid(tx).hex():
        raise PartialTxError("txid does not match the tx")
    network = doc.get("network")
    if network not in ("main", "test"):
        raise PartialTxError("network must be main or test")
    inputs = doc.get("inputs")
    sigs = doc.get("signatures")
    if not isinstance(inputs, list) or len(inputs) != len(tx.inputs):
        raise PartialTxError("inputs: one entry per tx input")
    if not isinstance(sigs, list) or len(sigs) != len(tx.inputs):
        raise PartialTxError("signatures: one entry per tx input")
    spent: list[TxOut] = []
    policies: list[SpendPolicy] = []
    for n, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise PartialTxError(f"inputs[{n}]: expected an object")
        amount = item.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or not (
            1 <= amount <= MAX_AMOUNT
        ):
            raise PartialTxError(f"inputs[{n}].amount out of range")
        lock = _hex(item.get("lock"), f"inputs[{n}].lock")
        try:
            policy = decode_policy(_hex(item.get("policy"), f"inputs[{n}].policy"))
        except DecodeError as exc:
            raise PartialTxError(f"inputs[{n}].policy: {exc}") from None
        if policy_lock(policy) != lock:
            raise PartialTxError(f"inputs[{n}]: the policy does not hash to the lock")
        spent.append(TxOut(amount, Lock(lock)))
        policies.append(policy)
    signatures = tuple(
        _parse_sigs(entry, policies[n], n) for n, entry in enumerate(sigs)
    )
    change = doc.get("change")
    if not isinstance(change, list) or not all(
        isinstance(i, int) and 0 <= i < len(tx.outputs) for i in change
    ):
        raise PartialTxError("change: a list of output indexes")
    return PartialTx(network, tx, tuple(spent), tuple(policies), tuple(sorted(set(change))),
                     signatures)


def _parse_sigs(entry: object, policy: SpendPolicy, n: int) -> Signatures:
    if not isinstance(entry, dict):
        raise PartialTxError(f"signatures[{n}]: expected an object")
    pairs: list[tuple[int, bytes]] = []
    for key, value in entry.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < len(policy.pubkeys)):
            raise PartialTxError(f"signatures[{n}]: {key!r} is not a key index of the policy")
        sig = _hex(value, f"signatures[{n}][{key}]")
        if len(sig) != crypto.SIGNATURE_SIZE:
            raise PartialTxError(f"signatures[{n}][{key}]: a signature is 64 bytes")
        pairs.append((int(key), sig))
    return tuple(sorted(pairs))


# -- checking, signing, combining -------------------------------------------------------------


def check_signatures(ptx: PartialTx) -> None:
    """Every signature present must verify against the current tx's sighash."""
    digest = tx_sighash(ptx.tx)
    for n, (policy, sigs) in enumerate(zip(ptx.policies, ptx.signatures, strict=True)):
        for index, sig in sigs:
            if not crypto.verify(policy.pubkeys[index], sig, digest):
                raise PartialTxChanged(
                    f"input {n}: the signature of key {index} "
                    f"({policy.pubkeys[index].hex()[:16]}...) does not match this transaction: "
                    "it was changed after that member signed (or the signature is forged); "
                    "refusing to sign"
                )


def sign_partial(ptx: PartialTx, keys: Mapping[bytes, PrivateKey]) -> tuple[PartialTx, int]:
    """Add our signatures to every input whose policy names one of our keys.

    Returns the new partial tx and how many signatures were added. Refuses (PartialTxChanged)
    if any existing signature does not match the tx as it is now.
    """
    check_signatures(ptx)
    digest = tx_sighash(ptx.tx)
    added = 0
    out: list[Signatures] = []
    for policy, sigs in zip(ptx.policies, ptx.signatures, strict=True):
        have = dict(sigs)
        for i, pub in enumerate(policy.pubkeys):
            key = keys.get(pub)
            if key is not None and i not in have:
                have[i] = key.sign(digest)
                added += 1
        out.append(tuple(sorted(have.items())))
    return replace(ptx, signatures=tuple(out)), added


def combine(parts: Sequence[PartialTx]) -> PartialTx:
    """Merge the signatures of copies of one partial tx (each copy is checked first)."""
    if not parts:
        raise PartialTxError("nothing to combine")
    first = parts[0]
    for p in parts:
        if (p.tx, p.spent, p.policies, p.network) != (first.tx, first.spent, first.policies,
                                                      first.network):
            raise PartialTxError(
                f"cannot combine: copy {p.txid.hex()[:16]}... is a different transaction "
                f"from {first.txid.hex()[:16]}..."
            )
        check_signatures(p)
    merged: list[Signatures] = []
    for n in range(len(first.tx.inputs)):
        have: dict[int, bytes] = {}
        for p in parts:
            have.update(dict(p.signatures[n]))
        merged.append(tuple(sorted(have.items())))
    return replace(first, signatures=tuple(merged))


def remaining(ptx: PartialTx) -> tuple[int, ...]:
    """Per input: how many more signatures it needs."""
    return tuple(max(0, p.threshold - len(s)) for p, s in zip(ptx.policies, ptx.signatures,
                                                              strict=True))


def finalize(ptx: PartialTx) -> Tx:
    """The broadcastable tx: each input takes exactly m signatures, lowest key indexes first."""
    check_signatures(ptx)
    missing = remaining(ptx)
    if any(missing):
        raise PartialTxError(
            f"not enough signatures yet: {sum(missing)} more needed "
            f"(per input: {list(missing)})"
        )
    witnesses = tuple(
        Witness(policy, sigs[: policy.threshold])
        for policy, sigs in zip(ptx.policies, ptx.signatures, strict=True)
    )
    return replace(ptx.tx, witnesses=witnesses)


# -- what a member sees before signing --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutputLine:
    address: str
    amount: int
    change: bool


@dataclass(frozen=True, slots=True)
class InputSigners:
    threshold: int
    signed: tuple[bytes, ...]  # public keys that have signed
    waiting: tuple[bytes, ...]  # public keys that have not
    remaining: int


@dataclass(frozen=True, slots=True)
class Description:
    txid: str
    chain_id: str
    network: str
    outputs: tuple[OutputLine, ...]
    memo: bytes
    value_in: int
    fee: int
    size: int  # signed size
    inputs: tuple[InputSigners, ...]

    @property
    def paid(self) -> int:
        return sum(o.amount for o in self.outputs if not o.change)

    @property
    def remaining(self) -> int:
        return sum(i.remaining for i in self.inputs)

    def as_json(self) -> dict[str, object]:
        return {
            "txid": self.txid,
            "chain_id": self.chain_id,
            "network": self.network,
            "outputs": [
                {"address": o.address, "amount": o.amount, "change": o.change}
                for o in self.outputs
            ],
            "memo": self.memo.decode("utf-8", "replace"),
            "value_in": self.value_in,
            "paid": self.paid,
            "fee": self.fee,
            "size": self.size,
            "inputs": [
                {"threshold": i.threshold, "signed": [k.hex() for k in i.signed],
                 "waiting": [k.hex() for k in i.waiting], "remaining": i.remaining}
                for i in self.inputs
            ],
            "signatures_remaining": self.remaining,
            "complete": self.remaining == 0,
        }


def describe(ptx: PartialTx) -> Description:
    """Exactly what the tx pays, its fee, and who has signed each input."""
    outputs = tuple(
        OutputLine(encode_address(o.lock, ptx.network), o.amount, i in ptx.change)
        for i, o in enumerate(ptx.tx.outputs)
    )
    inputs = []
    for policy, sigs in zip(ptx.policies, ptx.signatures, strict=True):
        signed_idx = {i for i, _ in sigs}
        inputs.append(InputSigners(
            threshold=policy.threshold,
            signed=tuple(k for i, k in enumerate(policy.pubkeys) if i in signed_idx),
            waiting=tuple(k for i, k in enumerate(policy.pubkeys) if i not in signed_idx),
            remaining=max(0, policy.threshold - len(sigs)),
        ))
    return Description(
        txid=ptx.txid.hex(),
        chain_id=ptx.tx.chain_id,
        network=ptx.network,
        outputs=outputs,
        memo=ptx.tx.memo,
        value_in=sum(o.amount for o in ptx.spent),
        fee=ptx.fee,
        size=signed_size(ptx.tx, ptx.policies),
        inputs=tuple(inputs),
    )


def render(d: Description, own_keys: Sequence[bytes] = ()) -> str:
    """A human summary: recipients, amounts, fee, change, and who still has to sign."""
    lines = [f"transaction {d.txid} on {d.chain_id} ({d.network})"]
    for o in d.outputs:
        tag = "change " if o.change else "pay    "
        lines.append(f"  {tag} {format_coins(o.amount):>20}  to {o.address}")
    lines.append(f"  fee     {format_coins(d.fee):>20}  ({d.size} bytes signed)")
    if d.memo:
        lines.append(f"  memo    {d.memo.decode('utf-8', 'replace')!r}")
    lines.append(f"  inputs total {format_coins(d.value_in)} (amounts as claimed by the file)")
    own = set(own_keys)
    for n, i in enumerate(d.inputs):
        who = ", ".join(k.hex()[:16] + ("(you)" if k in own else "") for k in i.signed) or "none"
        lines.append(f"  input {n}: {len(i.signed)}/{i.threshold} signed [{who}], "
                     f"{i.remaining} more needed")
    lines.append("  complete: ready to broadcast" if d.remaining == 0
                 else f"  {d.remaining} signature(s) still needed")
    return "\n".join(lines)
