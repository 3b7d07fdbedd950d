"""Finality receipts: a payment proven final, checkable offline.

A *receipt* proves a payment final (a coin tx, or a credit transfer: they share the blocks'
Merkle root): the tx, the block header holding it, the Merkle path from
the txid to the header's `tx_root`, the block's commit certificate and the validator set that
signed it. It verifies offline given the chain id, the network, the genesis hash and a trusted
commitment to the validator set of its height (from the verifier's own followed state, see
`wallet.lightclient`, or a set they trust). A receipt names its network (the address prefix
its payments are shown with); it verifies only for the verifier's network, as for its chain id
and genesis (the genesis commits to its network, so one chain has exactly one).
Simplification: a certificate by the right set is what proves finality (BFT safety: no two
blocks at one height are both certified by more than 2/3 unless over 1/3 of the set
equivocates).

The light client lives in `wallet.lightclient`; its names are re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from consensus import codec
from consensus.codec import (
    block_hash,
    decode_block_tx,
    decode_header,
    encode_tx,
    txid,
    validators_hash,
)
from consensus.errors import DecodeError
from consensus.merkle import verify_merkle_proof
from consensus.types import NETWORKS, BlockHeader, BlockTx
from consensus.votes import decode_certificate
from wallet.client import NodeClient
from wallet.errors import ChainMismatch, ReceiptInvalid
from wallet.fileio import write_private
from wallet.lightclient import (
    HEADER_BATCH,
    Governance,
    HeaderSource,
    LightState,
    ValidatorSet,
    decode_validator_set,
    encode_validator_set,
    fetch_validator_set,
    follow_header,
    genesis_light_state,
    sync_headers,
    verify_block_certificate,
)
from wallet.lightclient import hex_field as _hex

__all__ = [
    "HEADER_BATCH", "MAX_RECEIPT_BYTES", "RECEIPT_FORMAT", "RECEIPT_VERSION", "Finality",
    "Governance", "HeaderSource", "LightState", "Receipt", "ValidatorSet", "VerifiedReceipt",
    "decode_validator_set", "encode_validator_set", "fetch_receipt", "fetch_validator_set",
    "follow_header", "genesis_light_state", "load_receipt", "save_receipt", "sync_headers",
    "verify_receipt",
]

RECEIPT_FORMAT = "faircoop-receipt"
RECEIPT_VERSION = 1
MAX_RECEIPT_BYTES = 16 << 20  # far above a receipt of the largest tx and validator set


# -- receipts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    chain_id: str
    network: str
    genesis_hash: bytes
    tx: BlockTx  # the whole signed tx (or credit transfer): what was paid, to whom
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
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
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
                tx=decode_block_tx(_hex(doc["tx_hex"], "tx_hex")),
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
        if receipt.network not in NETWORKS:
            raise ReceiptInvalid(f"receipt network {receipt.network!r} is neither main nor test")
        return receipt


def load_receipt(path: str | os.PathLike[str]) -> Receipt:
    """Read a receipt file (at most MAX_RECEIPT_BYTES); OSError if it can't be read."""
    with open(path, "rb") as f:
        raw = f.read(MAX_RECEIPT_BYTES + 1)
    if len(raw) > MAX_RECEIPT_BYTES:
        raise ReceiptInvalid(f"{os.fspath(path)}: over {MAX_RECEIPT_BYTES >> 20} MiB: not a "
                             "receipt file")
    try:
        return Receipt.from_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ReceiptInvalid(f"{os.fspath(path)}: not UTF-8: not a receipt file") from None


def save_receipt(path: str | os.PathLike[str], receipt: Receipt) -> None:
    """Write a receipt file atomically (mode 0600)."""
    write_private(path, receipt.to_json())


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
    receipt: Receipt, *, chain_id: str, network: str, genesis_hash: bytes,
    trusted_validators_hash: bytes,
) -> VerifiedReceipt:
    """Check a receipt offline; `ReceiptInvalid` or `ChainMismatch` says which link fails.

    `chain_id`, `network` and `genesis_hash` are the verifier's own chain; a receipt for
    another never verifies. `trusted_validators_hash` is the verifier's own knowledge of which
    set certifies `receipt.height` (from its followed state, or a set it trusts): the set
    carried in the receipt is used only if it hashes to it.
    """
    if receipt.chain_id != chain_id or receipt.tx.chain_id != chain_id:
        raise ChainMismatch(f"receipt is for chain {receipt.chain_id!r}, not {chain_id!r}")
    if receipt.network != network:
        raise ChainMismatch(f"receipt is for the {receipt.network!r} network, the verifier's "
                            f"chain is on {network!r}")
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
    verify_block_certificate(receipt.certificate, bid, receipt.validator_set, chain_id,
                             receipt.height)
    tid = receipt.txid
    if not verify_merkle_proof(tid, receipt.position, receipt.tx_count, receipt.merkle_proof,
                               h.tx_root):
        raise ReceiptInvalid("the Merkle proof does not place the tx in the block's tx_root")
    signers = len(decode_certificate(receipt.certificate).signatures)
    return VerifiedReceipt(tid, receipt.height, bid, signers, len(receipt.validator_set))


@dataclass(frozen=True, slots=True)
class Finality:
    """A payment proven final by this wallet: the receipt to keep or hand on, and what its
    verification found."""

    receipt: Receipt
    verified: VerifiedReceipt

    @property
    def txid(self) -> str:
        return self.verified.txid.hex()

    @property
    def height(self) -> int:
        return self.verified.height


async def fetch_receipt(
    client: NodeClient, state: LightState, txid_hex: str, network: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[Receipt, LightState, VerifiedReceipt]:
    """Fetch a payment's proof, follow headers up to its block, and verify it all.

    Returns the receipt, the advanced light state (to be saved), and the verification summary.
    """
    if network != state.network:
        raise ChainMismatch(f"the followed chain is on the {state.network!r} network, "
                            f"not {network!r}")
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
        tx = decode_block_tx(_hex(tx_doc.get("hex") if isinstance(tx_doc, dict) else None,
                                  "tx.hex"))
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
    verified = verify_receipt(receipt, chain_id=state.chain_id, network=state.network,
                              genesis_hash=state.genesis_hash, trusted_validators_hash=trusted)
    return receipt, state, verified
