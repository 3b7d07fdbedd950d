"""Multisig treasuries and partially-signed transactions passed around as files.

A treasury is an m-of-n `SpendPolicy`; its address encodes the policy's lock. To spend, one
member builds the unsigned tx and writes a *partial tx* file (format below, documented in
docs/WALLET.md). Each member signs a copy offline; copies combine; once every input has m
signatures the file finalizes into a `Tx` to broadcast.

The file (JSON, version 1)::

    {"format": "faircoop-partial-tx", "version": 1, "network": "test", "chain_id": "...",
     "txid": "<hex>", "tx": "<hex of codec.encode_tx, no witnesses>",
     "inputs": [{"amount": 123, "lock": "<hex>", "policy": "<hex of codec.encode_policy>"}],
     "change": [1], "genesis_hash": "<hex, optional>",
     "signatures": [{"0": "<64-byte hex>", "2": "..."}]}

What a member signs. A signature covers `tx_sighash` (chain id and txid), one digest for
every input, so a key's signature unlocks *any* input of the tx whose policy holds that key.
The signer therefore decides first what it agrees to spend (`signing_scope`): either one
treasury (every input spends that one m-of-n policy, signed only with the wallet's treasury
member keys), or, asked explicitly, the wallet's own coins (single-key receive/change keys, for
a tx it built with `send --unsigned`). Anything else in the file (the wallet's personal coins in
a treasury proposal, a stranger's coins, a second policy, one coin twice) is refused, never
signed around. What is "change" is computed, not read from the file: an output is change only
if it pays back to the spender (the treasury, or in own-coins mode this wallet's addresses);
the file's `change` list is a claim, and a mismatch is shown as a warning.

Tampering. Before adding its own signature a member checks every signature already present
against the sighash of the tx *in the file*; if anything changed after someone signed, those
signatures fail and signing is refused (`PartialTxChanged`). Input amounts and locks are not
covered by the sighash (as in pre-segwit Bitcoin), so the fee a member sees rests on the
file's claims until `verify_spent` checks them against the parent transactions (whose txids
the outpoints name, so no node can forge them). `sign_partial` itself takes those parents'
outputs and checks them: a caller can't forget to. Signing without them (offline) must be
asked for by passing `OFFLINE`, and the result says the inputs were not checked.

Files are read with `load_partial` (at most MAX_FILE_BYTES) and written with `save_partial`
(atomically: a reader or a crash never sees half a file, so signing in place is safe).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

from consensus import crypto
from consensus.address import encode_address
from consensus.codec import decode_policy, decode_tx, encode_policy, encode_tx, policy_lock, txid
from consensus.crypto import PrivateKey
from consensus.errors import DecodeError, FaircoopError
from consensus.ledger import tx_sighash
from consensus.types import MAX_AMOUNT, Lock, OutPoint, PublicKey, SpendPolicy, Tx, TxOut, Witness
from wallet.builder import UnsignedTx, signed_size
from wallet.errors import (
    ClaimedInputMismatch,
    PartialTxChanged,
    PartialTxError,
    UnexpectedInput,
)
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
from wallet.memos import parse_grant

FORMAT = "faircoop-partial-tx"
VERSION = 1
MAX_FILE_BYTES = 64 << 20  # far above any tx within max_tx_size, with its claims

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
    change: tuple[int, ...]  # outputs the file *claims* return to the spender (see describe)
    signatures: tuple[Signatures, ...]  # per input
    genesis_hash: bytes | None = None  # the chain's genesis, if the writer named it

    @property
    def txid(self) -> bytes:
        return txid(self.tx)

    @property
    def fee(self) -> int:
        return sum(o.amount for o in self.spent) - sum(o.amount for o in self.tx.outputs)


def from_unsigned(unsigned: UnsignedTx, network: str,
                  genesis_hash: bytes | None = None) -> PartialTx:
    change = () if unsigned.change_index is None else (unsigned.change_index,)
    return PartialTx(
        network=network,
        tx=replace(unsigned.tx, witnesses=()),
        spent=unsigned.spent,
        policies=unsigned.policies,
        change=change,
        signatures=tuple(() for _ in unsigned.tx.inputs),
        genesis_hash=genesis_hash,
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
    return dump_file(doc, ptx.genesis_hash)


def _hex(value: object, what: str) -> bytes:
    return hex_field(value, what, PartialTxError)


def from_bytes(raw: bytes) -> PartialTx:
    """A partial-tx file's bytes (at most MAX_FILE_BYTES of UTF-8 JSON), checked as `from_json`."""
    return from_json(bounded_text(raw, MAX_FILE_BYTES, PartialTxError,
                                  "a partial-transaction file"))


def load_partial(path: str | os.PathLike[str]) -> PartialTx:
    """Read and check a partial-tx file; its errors name the file. OSError if unreadable."""
    return load_bounded(path, MAX_FILE_BYTES, from_bytes, PartialTxError)


def save_partial(path: str | os.PathLike[str], ptx: PartialTx) -> None:
    """Write a partial-tx file atomically (mode 0600): signing FILE in place never leaves a
    torn file behind, whatever happens while it is written."""
    write_private(path, to_json(ptx))


def check_chain(ptx: PartialTx, chain_id: str, network: str, genesis_hash: bytes) -> None:
    """The file is for this chain: chain id and network, and the genesis if the file names one.

    The sighash commits to the chain id only; a chain of the same name but another genesis is
    caught here when the file names its genesis, and online by `verify_spent` (the coins are
    not on this chain) when it does not.
    """
    check_file_chain(ptx.tx.chain_id, ptx.network, ptx.genesis_hash, chain_id, network,
                     genesis_hash)


def from_json(text: str) -> PartialTx:
    """Parse and check a partial-tx file; every inconsistency is a `PartialTxError`."""
    doc = read_head(text, FORMAT, VERSION, PartialTxError, "partial-transaction file",
                    "partial-tx")
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
    network, genesis_hash = file_chain(doc, PartialTxError)
    if not tx.inputs:
        raise PartialTxError("the tx spends nothing (no inputs)")
    seen: dict[OutPoint, int] = {}
    for n, txin in enumerate(tx.inputs):
        first = seen.setdefault(txin.prevout, n)
        if first != n:
            raise UnexpectedInput(f"input {n} spends the same output as input {first}")
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
    ptx = PartialTx(network, tx, tuple(spent), tuple(policies), tuple(sorted(set(change))),
                    signatures, genesis_hash)
    if ptx.fee < 0:
        raise PartialTxError(f"the outputs pay {-ptx.fee} base units more than the inputs "
                             "the file claims")
    return ptx


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


# -- what the signer agrees to sign -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnKeys:
    """The signer's public keys by role, from its wallet (with a look-ahead past the last
    handed-out address, so an offline signer recognises change it has not seen yet)."""

    personal: frozenset[PublicKey]  # receive and change keys: the wallet's own addresses
    cosigner: frozenset[PublicKey]  # treasury member keys (never an ordinary address)
    treasuries: tuple[tuple[str, SpendPolicy], ...] = ()  # registered, for names
    personal_locks: frozenset[Lock] = field(init=False)

    def __post_init__(self) -> None:
        locks = frozenset(policy_lock(SpendPolicy.single(k)) for k in self.personal)
        object.__setattr__(self, "personal_locks", locks)

    def treasury_name(self, policy: SpendPolicy) -> str | None:
        return next((name for name, p in self.treasuries if p == policy), None)


@dataclass(frozen=True, slots=True)
class SigningScope:
    """What a signer agreed to sign: inputs of these policies, with these keys only."""

    own_coins: bool  # True: the wallet's own single-key coins; False: one treasury
    policies: frozenset[SpendPolicy]
    keys: frozenset[PublicKey]
    spender_locks: frozenset[Lock]  # outputs paying one of these are change
    label: str  # for the summary: what is being spent


def signing_scope(ptx: PartialTx, own: OwnKeys, *, own_coins: bool = False) -> SigningScope:
    """Decide what signing `ptx` would spend, refusing anything the signer did not ask for.

    Treasury mode (the default): every input spends one m-of-n policy that names one of the
    wallet's treasury member keys and none of its personal keys; only those member keys sign.
    Own-coins mode: every input spends one of the wallet's own single-key addresses.
    `UnexpectedInput` names the first input that does not fit, and why.
    """
    if own_coins:
        for n, lock in enumerate(o.lock for o in ptx.spent):
            if lock not in own.personal_locks:
                raise UnexpectedInput(
                    f"input {n} spends {encode_address(lock, ptx.network)}, which is not one of "
                    "this wallet's own addresses: --own-coins signs only this wallet's coins")
        policies = frozenset(ptx.policies)
        keys = frozenset(k for p in policies for k in p.pubkeys if k in own.personal)
        return SigningScope(True, policies, keys, own.personal_locks, "this wallet's own coins")
    for n, lock in enumerate(o.lock for o in ptx.spent):
        if lock in own.personal_locks:
            raise UnexpectedInput(
                f"input {n} spends this wallet's own coin at {encode_address(lock, ptx.network)}, "
                "not a treasury's: a treasury proposal never does, refusing to sign. If you "
                "built this transaction yourself (send --unsigned), sign with --own-coins")
    policy = ptx.policies[0]
    lock = policy_lock(policy)
    address = encode_address(lock, ptx.network)
    for n, other in enumerate(ptx.policies):
        if other != policy:
            raise UnexpectedInput(
                f"input {n} spends {encode_address(policy_lock(other), ptx.network)}, another "
                f"policy than the treasury {address} of input 0: a proposal spends one "
                "treasury, refusing to sign")
    if any(k in own.personal for k in policy.pubkeys):
        raise UnexpectedInput(
            f"the spent policy {address} names one of this wallet's personal (receive or "
            "change) keys, not a treasury member key: refusing to sign with it")
    keys = frozenset(k for k in policy.pubkeys if k in own.cosigner)
    if not keys:
        raise PartialTxError("this wallet holds none of the keys this transaction needs")
    name = own.treasury_name(policy)
    label = (f"treasury {name!r} ({address})" if name
             else f"the {policy.threshold}-of-{len(policy.pubkeys)} policy {address} "
                  "(not registered in this wallet)")
    return SigningScope(False, frozenset({policy}), keys, frozenset({lock}), label)


def verify_spent(ptx: PartialTx, actual: Mapping[OutPoint, TxOut]) -> None:
    """The file's claimed amount and lock of each spent output equal `actual`.

    `actual` must come from data checked against the outpoints' txids (the parent txs, or the
    genesis); then a mismatch is the file lying (`ClaimedInputMismatch`).
    """
    for n, (txin, claimed) in enumerate(zip(ptx.tx.inputs, ptx.spent, strict=True)):
        real = actual.get(txin.prevout)
        if real is None:
            raise ClaimedInputMismatch(
                f"input {n} spends output {txin.prevout.index} of {txin.prevout.txid.hex()}, "
                "which is not on this chain (no such transaction or output)")
        if real.lock != claimed.lock:
            raise ClaimedInputMismatch(
                f"input {n}: the file claims it spends {encode_address(claimed.lock, ptx.network)}"
                f", its parent transaction says {encode_address(real.lock, ptx.network)}; "
                "refusing to sign")
        if real.amount != claimed.amount:
            raise ClaimedInputMismatch(
                f"input {n}: the file claims {claimed.amount} base units, its parent "
                f"transaction says {real.amount}; refusing to sign a misleading fee")


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


class Offline(Enum):
    """The signer's explicit choice to sign without checking the claimed inputs."""

    OFFLINE = "offline"


OFFLINE = Offline.OFFLINE
# What the inputs really spend (from parent txs checked against their txids: see
# `wallet.ops.spent_outputs`), or OFFLINE to sign without knowing.
SpentOutputs = Mapping[OutPoint, TxOut] | Literal[Offline.OFFLINE]


@dataclass(frozen=True, slots=True)
class SignedPartial:
    ptx: PartialTx
    added: int  # signatures added
    inputs_checked: bool  # False: signed OFFLINE, the claimed amounts and locks unchecked


def sign_partial(ptx: PartialTx, keys: Mapping[bytes, PrivateKey], scope: SigningScope, *,
                 spent: SpentOutputs) -> SignedPartial:
    """Add our signatures to the inputs `scope` covers, with the keys it allows.

    Refuses (PartialTxChanged) if any existing signature does not match the tx as it is now,
    (UnexpectedInput) if an input lies outside the scope: nothing is signed around it, and
    (ClaimedInputMismatch) if an input's claimed amount or lock differs from `spent`, unless
    the caller passed OFFLINE, which the result records.
    """
    check_signatures(ptx)
    for n, policy in enumerate(ptx.policies):
        if policy not in scope.policies:
            raise UnexpectedInput(f"input {n} spends a policy outside what was agreed to")
    if spent is not OFFLINE:
        verify_spent(ptx, spent)
    digest = tx_sighash(ptx.tx)
    added = 0
    out: list[Signatures] = []
    for policy, sigs in zip(ptx.policies, ptx.signatures, strict=True):
        have = dict(sigs)
        for i, pub in enumerate(policy.pubkeys):
            key = keys.get(pub)
            if key is not None and pub in scope.keys and i not in have:
                have[i] = key.sign(digest)
                added += 1
        out.append(tuple(sorted(have.items())))
    return SignedPartial(replace(ptx, signatures=tuple(out)), added, spent is not OFFLINE)


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
    named = {p.genesis_hash for p in parts if p.genesis_hash is not None}
    if len(named) > 1:
        raise PartialTxError("cannot combine: the copies name different genesis hashes")
    merged: list[Signatures] = []
    for n in range(len(first.tx.inputs)):
        have: dict[int, bytes] = {}
        for p in parts:
            have.update(dict(p.signatures[n]))
        merged.append(tuple(sorted(have.items())))
    return replace(first, signatures=tuple(merged), genesis_hash=next(iter(named), None))


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
    address: str  # for a pledge: who gets it back if the campaign fails
    amount: int
    change: bool  # pays back to the spender (computed, never taken from the file)
    mine: bool = False  # pays one of the viewing wallet's own addresses
    campaign: str | None = None  # a pledge's campaign id (hex); None: a coin


@dataclass(frozen=True, slots=True)
class InputSigners:
    threshold: int
    signed: tuple[bytes, ...]  # public keys that have signed
    waiting: tuple[bytes, ...]  # public keys that have not
    remaining: int
    address: str = ""  # the address whose coin it spends (as the file claims)
    amount: int = 0  # the amount it spends (as the file claims)


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
    warnings: tuple[str, ...] = ()

    @property
    def paid(self) -> int:
        return sum(o.amount for o in self.outputs if not o.change)

    @property
    def remaining(self) -> int:
        return sum(i.remaining for i in self.inputs)

    @property
    def grant_reference(self) -> str | None:
        """The assembly decision a grant's memo names (docs/FUNDING.md), if it is one."""
        return parse_grant(self.memo)

    def as_json(self) -> dict[str, object]:
        return {
            "txid": self.txid,
            "chain_id": self.chain_id,
            "network": self.network,
            "outputs": [
                {"address": o.address, "amount": o.amount, "change": o.change, "mine": o.mine,
                 "campaign": o.campaign}
                for o in self.outputs
            ],
            "grant_reference": self.grant_reference,
            "memo": self.memo.decode("utf-8", "replace"),
            "value_in": self.value_in,
            "paid": self.paid,
            "fee": self.fee,
            "size": self.size,
            "inputs": [
                {"threshold": i.threshold, "signed": [k.hex() for k in i.signed],
                 "waiting": [k.hex() for k in i.waiting], "remaining": i.remaining,
                 "address": i.address, "amount": i.amount}
                for i in self.inputs
            ],
            "signatures_remaining": self.remaining,
            "complete": self.remaining == 0,
            "warnings": list(self.warnings),
        }


def describe(ptx: PartialTx, spender_locks: frozenset[Lock] | None = None,
             own_locks: frozenset[Lock] = frozenset()) -> Description:
    """Exactly what the tx pays, its fee, and who has signed each input.

    An output is change only if it pays one of `spender_locks` (default: the locks the inputs
    spend); `own_locks` marks outputs paying the viewing wallet. Where the file's own `change`
    list says otherwise, a warning says so and the output is shown as a payment.
    """
    spenders = (frozenset(o.lock for o in ptx.spent) if spender_locks is None
                else spender_locks)
    outputs = tuple(
        OutputLine(encode_address(o.lock, ptx.network), o.amount, o.lock in spenders,
                   o.lock in own_locks)
        if o.refund is None else
        OutputLine(encode_address(o.refund, ptx.network), o.amount, False, o.refund in own_locks,
                   o.lock.hex())
        for o in ptx.tx.outputs
    )
    warnings = tuple(
        f"the file labels output {i} as change, but it pays {outputs[i].address}, which is not "
        "the spender's: shown as a payment"
        for i in ptx.change if not outputs[i].change
    )
    inputs = []
    for policy, sigs, spent in zip(ptx.policies, ptx.signatures, ptx.spent, strict=True):
        signed_idx = {i for i, _ in sigs}
        inputs.append(InputSigners(
            threshold=policy.threshold,
            signed=tuple(k for i, k in enumerate(policy.pubkeys) if i in signed_idx),
            waiting=tuple(k for i, k in enumerate(policy.pubkeys) if i not in signed_idx),
            remaining=max(0, policy.threshold - len(sigs)),
            address=encode_address(spent.lock, ptx.network),
            amount=spent.amount,
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
        warnings=warnings,
    )


# -- deciding before signing ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartialReview:
    """What signing a partial tx would do, decided before anyone is asked: the scope, what
    the inputs really spend (or OFFLINE), and the description to show."""

    ptx: PartialTx
    scope: SigningScope
    spent: SpentOutputs
    description: Description

    @property
    def inputs_checked(self) -> bool:
        return self.spent is not OFFLINE


def review_partial(ptx: PartialTx, own: OwnKeys, *, own_coins: bool = False,
                   spent: SpentOutputs) -> PartialReview:
    """Every refusal `sign_partial` would make, made now: changed signatures, inputs outside
    what the signer agrees to spend, and (unless OFFLINE) claims the parents contradict."""
    check_signatures(ptx)
    scope = signing_scope(ptx, own, own_coins=own_coins)
    if spent is not OFFLINE:
        verify_spent(ptx, spent)
    return PartialReview(ptx, scope, spent, describe(ptx, scope.spender_locks,
                                                     own.personal_locks))
