"""JSON shapes of the API's objects: integers for amounts, lower-case hex for bytes.

One function per shape, so a shape is defined once and the OpenAPI schemas in `openapi.py`
describe exactly these keys (a test checks the two agree).
"""

from __future__ import annotations

from consensus.address import encode_address
from consensus.campaign import campaign_id
from consensus.codec import encode_header, encode_tx, tx_size
from consensus.types import (
    Block,
    BlockHash,
    BlockTx,
    CampaignTerms,
    CreditTransfer,
    Tx,
    TxId,
    TxOut,
)

Json = dict[str, object]


def hex_or_none(data: bytes | None) -> str | None:
    return data.hex() if data is not None else None


def block_json(block: Block, block_id: BlockHash, certificate: bytes | None) -> Json:
    h = block.header
    return {
        "hash": block_id.hex(),
        "height": h.height,
        "prev_hash": h.prev_hash.hex(),
        "time_ms": h.time_ms,
        "tx_count": len(block.txs),
        "proposer": h.proposer.hex(),
        "header_hex": encode_header(h).hex(),
        "certificate_hex": hex_or_none(certificate),
    }


def genesis_block_json(genesis_id: BlockHash, time_ms: int) -> Json:
    """Height 0 in the block shape: it has no header, proposer or certificate."""
    return {
        "hash": genesis_id.hex(),
        "height": 0,
        "prev_hash": None,
        "time_ms": time_ms,
        "tx_count": 0,
        "proposer": None,
        "header_hex": None,
        "certificate_hex": None,
    }


def status_json(
    *, in_mempool: bool, height: int | None = None, block_hash: bytes | None = None,
    position: int | None = None, certificate: bytes | None = None,
) -> Json:
    """A tx's status: final once its block is committed (the certificate proves it)."""
    return {
        "final": height is not None,
        "in_mempool": in_mempool,
        "height": height,
        "block_hash": hex_or_none(block_hash),
        "position": position,
        "certificate_hex": hex_or_none(certificate),
    }


def output_json(o: TxOut, network: str) -> Json:
    """A coin, or a pledge: then `campaign` is its campaign's id (also its lock, shown as an
    address nobody holds a key to) and `refund_address` who gets it back on failure."""
    return {
        "amount": o.amount,
        "address": encode_address(o.lock, network),
        "lock": o.lock.hex(),
        "campaign": None if o.refund is None else o.lock.hex(),
        "refund_address": None if o.refund is None else encode_address(o.refund, network),
    }


def terms_json(terms: CampaignTerms, network: str) -> Json:
    return {
        "beneficiary": encode_address(terms.beneficiary, network),
        "goal": terms.goal,
        "deadline": terms.deadline,
        "mode": terms.mode.label,
        "title": terms.title,
        "uri": terms.uri,
    }


def block_tx_json(tx: BlockTx, tid: TxId, network: str, fee: int | None, status: Json
                  ) -> Json:
    """A coin tx (`tx_json`) or a credit transfer (`credit_transfer_json`)."""
    if isinstance(tx, CreditTransfer):
        return credit_transfer_json(tx, tid, network, status)
    return tx_json(tx, tid, network, fee, status)


def credit_transfer_json(t: CreditTransfer, tid: TxId, network: str, status: Json) -> Json:
    return {
        "kind": "credit_transfer",
        "txid": tid.hex(),
        "hex": encode_tx(t).hex(),
        "sender": encode_address(t.sender, network),
        "sender_lock": t.sender.hex(),
        "sequence": t.sequence,
        "payments": [
            {"amount": p.amount, "address": encode_address(p.lock, network), "lock": p.lock.hex()}
            for p in t.payments
        ],
        "total": sum(p.amount for p in t.payments),
        "memo_hex": t.memo.hex(),
        "size": tx_size(t),
        "status": status,
    }


def tx_json(tx: Tx, tid: TxId, network: str, fee: int | None, status: Json) -> Json:
    """`campaign` is null unless the tx creates one (version 2): then its id and terms."""
    return {
        "txid": tid.hex(),
        "hex": encode_tx(tx).hex(),
        "inputs": [{"txid": i.prevout.txid.hex(), "index": i.prevout.index} for i in tx.inputs],
        "outputs": [output_json(o, network) for o in tx.outputs],
        "memo_hex": tx.memo.hex(),
        "fee": fee,
        "size": tx_size(tx),
        "status": status,
        "campaign": None if tx.campaign is None else {
            "id": campaign_id(tid).hex(), **terms_json(tx.campaign, network)},
    }
