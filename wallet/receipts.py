"""Finality receipts and the light client that makes them trustworthy.

The wallet trusts no single node. It *follows* the header chain from genesis: header h must
link to header h-1 (`prev_hash`), name the validator set header h-1 committed to
(`next_validators_hash`), and carry a commit certificate by more than 2/3 of that set
(`consensus.certificate.verify_certificate`). A validator set fetched from a node is accepted
only if it hashes to the commitment the followed chain already holds. The followed state
(`LightState`) is public data; it lives in the wallet file, not in the encrypted secrets.

A *receipt* proves a payment final: the tx, the block header holding it, the Merkle path from
the txid to the header's `tx_root`, the block's commit certificate and the validator set that
signed it. It verifies offline given the chain id, the genesis hash and a trusted commitment to
the validator set of its height (from the verifier's own followed state, or a set they trust).
Simplification: the light state keeps only the validator-set changes (epochs), not every header
hash; a certificate by the right set is what proves finality (BFT safety: no two blocks at one
height are both certified by more than 2/3 unless over 1/3 of the set equivocates).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from consensus import codec
from consensus.codec import block_hash, decode_header, decode_tx, encode_tx, txid, validators_hash
from consensus.errors import DecodeError, FaircoopError
from consensus.governance import sorted_validators, sorted_validators_from
from consensus.merkle import verify_merkle_proof
from consensus.types import BlockHeader, Genesis, PublicKey, Tx, Validator
from consensus.votes import decode_certificate
from wallet.client import NodeClient
from wallet.errors import ChainMismatch, ReceiptInvalid

RECEIPT_FORMAT = "faircoop-receipt"
RECEIPT_VERSION = 1
HEADER_BATCH = 1000  # the API's maximum count per headers request

ValidatorSet = tuple[Validator, ...]


def _verify_certificate(cert: bytes, block_id: bytes, validators: ValidatorSet, chain_id: str,
                        height: int) -> None:
    # Imported here so the wallet loads even where the consensus engine is absent.
    from consensus.certificate import InvalidCertificate, verify_certificate

    keys = tuple(PublicKey(v.pubkey) for v in validators)
    try:
        verify_certificate(cert, block_id, keys, chain_id, height)
    except InvalidCertificate as exc:
        raise ReceiptInvalid(f"height {height}: block is not final: {exc}") from None


def encode_validator_set(vs: ValidatorSet) -> bytes:
    return codec.pack(codec.validators_obj(vs))


def decode_validator_set(data: bytes) -> ValidatorSet:
    """A validator set in canonical (pubkey-sorted) order, as `validator-set/{hash}` serves."""
    return codec.decode_canonical(
        data, "validator set", lambda obj: sorted_validators_from(obj, "validator set")
    )


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ReceiptInvalid(f"{what}: expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ReceiptInvalid(f"{what}: not hex") from None


# -- the light client -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LightState:
    """What the wallet knows, verified, about the chain it follows."""

    chain_id: str
    genesis_hash: bytes
    height: int  # the last header followed (0 = genesis)
    header_hash: bytes  # its block hash (the genesis hash at 0)
    next_validators_hash: bytes  # the set that must certify height + 1
    epochs: tuple[tuple[int, bytes], ...]  # (first height, validators hash), ascending
    sets: tuple[tuple[bytes, ValidatorSet], ...]  # every set met, by hash

    def set_hash_at(self, height: int) -> bytes | None:
        """The validators hash that certifies `height`, if followed that far."""
        if not 1 <= height <= self.height + 1:
            return None
        found: bytes | None = None
        for first, vhash in self.epochs:
            if first <= height:
                found = vhash
        return found

    def known_set(self, vhash: bytes) -> ValidatorSet | None:
        for h, vs in self.sets:
            if h == vhash:
                return vs
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash.hex(),
            "height": self.height,
            "header_hash": self.header_hash.hex(),
            "next_validators_hash": self.next_validators_hash.hex(),
            "epochs": [[h, v.hex()] for h, v in self.epochs],
            "validator_sets": {h.hex(): encode_validator_set(vs).hex() for h, vs in self.sets},
        }

    @classmethod
    def from_json(cls, doc: object) -> LightState:
        if not isinstance(doc, dict):
            raise ReceiptInvalid("the wallet's followed-chain state is malformed")
        try:
            sets = tuple(
                (bytes.fromhex(h), decode_validator_set(bytes.fromhex(v)))
                for h, v in doc["validator_sets"].items()
            )
            state = cls(
                chain_id=str(doc["chain_id"]),
                genesis_hash=bytes.fromhex(doc["genesis_hash"]),
                height=int(doc["height"]),
                header_hash=bytes.fromhex(doc["header_hash"]),
                next_validators_hash=bytes.fromhex(doc["next_validators_hash"]),
                epochs=tuple((int(h), bytes.fromhex(v)) for h, v in doc["epochs"]),
                sets=sets,
            )
        except (AttributeError, KeyError, TypeError, ValueError, DecodeError):
            raise ReceiptInvalid("the wallet's followed-chain state is malformed") from None
        for vhash, vs in state.sets:
            if validators_hash(vs) != vhash:
                raise ReceiptInvalid("the wallet's followed-chain state holds a mislabelled set")
        return state


def genesis_light_state(genesis: Genesis) -> LightState:
    """The starting point: trust the genesis (its hash is the chain's identity)."""
    gid = codec.genesis_hash(genesis)
    try:
        vs = sorted_validators(genesis.validators)
    except FaircoopError as exc:
        raise ReceiptInvalid(f"genesis validator set: {exc}") from None
    vhash = validators_hash(vs)
    return LightState(genesis.chain_id, gid, 0, gid, vhash, ((1, vhash),), ((vhash, vs),))


def follow_header(state: LightState, header: BlockHeader, certificate: bytes,
                  next_set: ValidatorSet | None = None) -> LightState:
    """Advance one height, checking link, validator set and certificate.

    `next_set` must be given (and must hash to `header.next_validators_hash`) when that set is
    not yet known.
    """
    h = state.height + 1
    if header.height != h:
        raise ReceiptInvalid(f"expected header {h}, got {header.height}")
    if header.chain_id != state.chain_id:
        raise ChainMismatch(f"header {h} is for chain {header.chain_id!r}, "
                            f"the wallet follows {state.chain_id!r}")
    if header.prev_hash != state.header_hash:
        raise ReceiptInvalid(f"header {h} does not link to the followed header {h - 1}")
    if header.validators_hash != state.next_validators_hash:
        raise ReceiptInvalid(f"header {h} names a validator set its parent did not commit to")
    validators = state.known_set(header.validators_hash)
    if validators is None:
        raise ReceiptInvalid(f"validator set of height {h} is unknown")
    bid = block_hash(header)
    _verify_certificate(certificate, bid, validators, state.chain_id, h)
    sets = state.sets
    nxt = header.next_validators_hash
    if state.known_set(nxt) is None:
        if next_set is None or validators_hash(next_set) != nxt:
            raise ReceiptInvalid(f"header {h} commits to a validator set the wallet cannot check")
        sets = (*sets, (nxt, next_set))
    epochs = state.epochs
    if nxt != header.validators_hash:
        epochs = (*epochs, (h + 1, nxt))
    return replace(state, height=h, header_hash=bid, next_validators_hash=nxt, epochs=epochs,
                   sets=sets)


class HeaderSource(Protocol):
    """What following needs from a node (`NodeClient` satisfies it)."""

    def headers(self, start: int, count: int) -> Awaitable[Any]: ...

    def validator_set(self, validators_hash: str) -> Awaitable[Any]: ...


async def fetch_validator_set(source: HeaderSource, vhash: bytes) -> ValidatorSet:
    """A set from the node, accepted only if it hashes to `vhash`."""
    doc = await source.validator_set(vhash.hex())
    if not isinstance(doc, dict):
        raise ReceiptInvalid("validator-set: malformed answer")
    try:
        vs = decode_validator_set(_hex(doc.get("hex"), "validator-set.hex"))
    except DecodeError as exc:
        raise ReceiptInvalid(f"validator set {vhash.hex()[:16]}: {exc}") from None
    if validators_hash(vs) != vhash:
        raise ReceiptInvalid(f"the node sent a validator set that does not hash to "
                             f"{vhash.hex()[:16]}")
    return vs


async def sync_headers(
    source: HeaderSource, state: LightState, upto: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> LightState:
    """Follow headers from `state.height + 1` up to `upto` (or as far as the node serves)."""
    while upto is None or state.height < upto:
        count = HEADER_BATCH if upto is None else min(HEADER_BATCH, upto - state.height)
        batch = await source.headers(state.height + 1, count)
        if not isinstance(batch, list):
            raise ReceiptInvalid("headers: malformed answer")
        if not batch:
            break
        advanced = False
        for entry in batch:
            if not isinstance(entry, dict):
                raise ReceiptInvalid("headers: malformed entry")
            if entry.get("certificate_hex") is None:
                break  # not certified yet (the tip being committed): stop here
            try:
                header = decode_header(_hex(entry.get("header_hex"), "header_hex"))
            except DecodeError as exc:
                raise ReceiptInvalid(f"header: {exc}") from None
            cert = _hex(entry.get("certificate_hex"), "certificate_hex")
            next_set = None
            if state.known_set(header.next_validators_hash) is None:
                next_set = await fetch_validator_set(source, header.next_validators_hash)
            state = follow_header(state, header, cert, next_set)
            advanced = True
        if progress is not None:
            progress(state.height)
        if not advanced:
            break
    if upto is not None and state.height < upto:
        raise ReceiptInvalid(f"the node served headers only up to {state.height}, not {upto}")
    return state


# -- receipts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    chain_id: str
    network: str
    genesis_hash: bytes
    tx: Tx  # the whole signed tx: what was paid, to whom
    height: int
    header: BlockHeader
    position: int  # the tx's index in the block
    tx_count: int
    merkle_proof: tuple[bytes, ...]
    certificate: bytes  # encoded CommitCertificate of the block
    validator_set: ValidatorSet  # the set that signed it (checked against a trusted hash)

    @property
    def txid(self) -> bytes:
        return txid(self.tx)

    def to_json(self) -> str:
        doc = {
            "format": RECEIPT_FORMAT,
            "version": RECEIPT_VERSION,
            "chain_id": self.chain_id,
            "network": self.network,
            "genesis_hash": self.genesis_hash.hex(),
            "txid": self.txid.hex(),
            "tx_hex": encode_tx(self.tx).hex(),
            "height": self.height,
            "block_hash": block_hash(self.header).hex(),
            "header_hex": codec.encode_header(self.header).hex(),
            "position": self.position,
            "tx_count": self.tx_count,
            "merkle_proof": [p.hex() for p in self.merkle_proof],
            "certificate_hex": self.certificate.hex(),
            "validator_set_hex": encode_validator_set(self.validator_set).hex(),
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Receipt:
        try:
            doc = json.loads(text)
        except ValueError:
            raise ReceiptInvalid("not a receipt file (invalid JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FORMAT:
            raise ReceiptInvalid("not a faircoop receipt file")
        if doc.get("version") != RECEIPT_VERSION:
            raise ReceiptInvalid(f"receipt version {doc.get('version')!r}; this wallet reads 1")
        try:
            receipt = cls(
                chain_id=str(doc["chain_id"]),
                network=str(doc["network"]),
                genesis_hash=_hex(doc["genesis_hash"], "genesis_hash"),
                tx=decode_tx(_hex(doc["tx_hex"], "tx_hex")),
                height=_int(doc["height"], "height"),
                header=decode_header(_hex(doc["header_hex"], "header_hex")),
                position=_int(doc["position"], "position"),
                tx_count=_int(doc["tx_count"], "tx_count"),
                merkle_proof=tuple(_hex(p, "merkle_proof") for p in doc["merkle_proof"]),
                certificate=_hex(doc["certificate_hex"], "certificate_hex"),
                validator_set=decode_validator_set(_hex(doc["validator_set_hex"],
                                                        "validator_set_hex")),
            )
        except KeyError as exc:
            raise ReceiptInvalid(f"receipt is missing {exc.args[0]!r}") from None
        except (TypeError, DecodeError) as exc:
            raise ReceiptInvalid(f"receipt is malformed: {exc}") from None
        if doc.get("txid") != receipt.txid.hex():
            raise ReceiptInvalid("receipt txid does not match its tx")
        return receipt


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReceiptInvalid(f"{what}: expected a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    txid: bytes
    height: int
    block_hash: bytes
    signers: int  # how many validators certified the block
    set_size: int


def verify_receipt(
    receipt: Receipt, *, chain_id: str, genesis_hash: bytes, trusted_validators_hash: bytes,
) -> VerifiedReceipt:
    """Check a receipt offline; `ReceiptInvalid` says which link fails.

    `trusted_validators_hash` is the verifier's own knowledge of which set certifies
    `receipt.height` (from its followed state, or a set it trusts): the set carried in the
    receipt is used only if it hashes to it.
    """
    if receipt.chain_id != chain_id or receipt.tx.chain_id != chain_id:
        raise ChainMismatch(f"receipt is for chain {receipt.chain_id!r}, not {chain_id!r}")
    if receipt.genesis_hash != genesis_hash:
        raise ChainMismatch("receipt names another genesis than the verifier's")
    h = receipt.header
    if h.chain_id != chain_id or h.height != receipt.height:
        raise ReceiptInvalid("receipt header does not match its chain id or height")
    if validators_hash(receipt.validator_set) != h.validators_hash:
        raise ReceiptInvalid("receipt validator set is not the one its header names")
    if h.validators_hash != trusted_validators_hash:
        raise ReceiptInvalid(
            f"the header at height {receipt.height} names validator set "
            f"{h.validators_hash.hex()[:16]}, but the trusted set is "
            f"{trusted_validators_hash.hex()[:16]}"
        )
    bid = block_hash(h)
    _verify_certificate(receipt.certificate, bid, receipt.validator_set, chain_id, receipt.height)
    tid = receipt.txid
    if not verify_merkle_proof(tid, receipt.position, receipt.tx_count, receipt.merkle_proof,
                               h.tx_root):
        raise ReceiptInvalid("the Merkle proof does not place the tx in the block's tx_root")
    signers = len(decode_certificate(receipt.certificate).signatures)
    return VerifiedReceipt(tid, receipt.height, bid, signers, len(receipt.validator_set))


async def fetch_receipt(
    client: NodeClient, state: LightState, txid_hex: str, network: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[Receipt, LightState, VerifiedReceipt]:
    """Fetch a payment's proof, follow headers up to its block, and verify it all.

    Returns the receipt, the advanced light state (to be saved), and the verification summary.
    """
    proof = await client.tx_proof(txid_hex)
    if not isinstance(proof, dict):
        raise ReceiptInvalid("tx proof: malformed answer")
    height = _int(proof.get("height"), "proof.height")
    if state.height < height:
        state = await sync_headers(client, state, upto=height, progress=progress)
    trusted = state.set_hash_at(height)
    if trusted is None:
        raise ReceiptInvalid(f"the wallet has not followed the chain to height {height}")
    tx_doc = await client.tx(txid_hex)
    try:
        tx = decode_tx(_hex(tx_doc.get("hex") if isinstance(tx_doc, dict) else None, "tx.hex"))
        header = decode_header(_hex(proof.get("header_hex"), "proof.header_hex"))
        vs_hex = proof.get("validator_set_hex")
        vs = (decode_validator_set(_hex(vs_hex, "proof.validator_set_hex")) if vs_hex
              else state.known_set(trusted))
    except DecodeError as exc:
        raise ReceiptInvalid(f"proof: {exc}") from None
    if vs is None:
        raise ReceiptInvalid("no validator set for the proof's height")
    if txid(tx).hex() != txid_hex:
        raise ReceiptInvalid("the node sent a tx that does not hash to the txid asked for")
    proof_path = proof.get("merkle_proof")
    if not isinstance(proof_path, list):
        raise ReceiptInvalid("proof.merkle_proof: expected a list")
    receipt = Receipt(
        chain_id=state.chain_id,
        network=network,
        genesis_hash=state.genesis_hash,
        tx=tx,
        height=height,
        header=header,
        position=_int(proof.get("position"), "proof.position"),
        tx_count=_int(proof.get("tx_count"), "proof.tx_count"),
        merkle_proof=tuple(_hex(p, "proof.merkle_proof") for p in proof_path),
        certificate=_hex(proof.get("certificate_hex"), "proof.certificate_hex"),
        validator_set=vs,
    )
    verified = verify_receipt(receipt, chain_id=state.chain_id, genesis_hash=state.genesis_hash,
                              trusted_validators_hash=trusted)
    return receipt, state, verified
