"""What the CLI shows: the human summaries and the `--json` objects of the library's values.

Amounts in text are coins (8 places); in JSON, integer base units. The JSON shapes are
documented in docs/WALLET.md; fields are only ever added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consensus.address import encode_address
from consensus.campaign import campaign_id
from consensus.codec import txid
from consensus.types import CreditTransfer
from wallet.amounts import format_coins
from wallet.multisig import Description
from wallet.ops import HistoryEntry
from wallet.payments import PreparedPayment
from wallet.pricing import format_currency
from wallet.proposals import printable
from wallet.receipts import Receipt, VerifiedReceipt


def payment_summary(p: PreparedPayment) -> str:
    """What the payer agrees to: every payee, the fee and size, the change, the memo."""
    lines = ["About to send:"]
    if p.unsigned.tx.campaign is not None:
        lines.append(f"  create  campaign {txid_campaign(p)}")
    for payee in p.payees:
        if payee.campaign is not None:
            lines.append(f"  pledge  {format_coins(payee.amount):>20}  to campaign "
                         f"{payee.campaign}, back to {payee.address} if it fails")
            continue
        lines.append(f"  pay     {format_coins(payee.amount):>20}  to {payee.address}")
    lines.append(f"  fee     {format_coins(p.fee):>20}  ({p.size} bytes)")
    change = p.change
    lines.append("  change  none" if change is None
                 else f"  change  {format_coins(change.amount):>20}  to {change.address}")
    if p.memo:
        lines.append(f"  memo    {p.memo.decode('utf-8', 'replace')!r}")
    return "\n".join(lines)


def txid_campaign(p: PreparedPayment) -> str:
    """The id of the campaign a prepared creation makes (known before it is sent)."""
    return campaign_id(txid(p.unsigned.tx)).hex()


def payment_json(p: PreparedPayment) -> dict[str, Any]:
    """`outputs[i].address` is, for a pledge, who gets it back (its `campaign` is not null)."""
    tx = p.unsigned.tx
    outs = [{"address": encode_address(o.lock if o.refund is None else o.refund, p.network),
             "amount": o.amount, "change": i == p.unsigned.change_index,
             "campaign": None if o.refund is None else o.lock.hex()}
            for i, o in enumerate(tx.outputs)]
    change = p.change
    return {"outputs": outs, "fee": p.fee, "size": p.size,
            "change": 0 if change is None else change.amount, "inputs": p.inputs,
            "amount": p.amount}


def verified_line(v: VerifiedReceipt) -> str:
    return (f"final at height {v.height} (block {v.block_hash.hex()[:16]}, "
            f"{v.signers}/{v.set_size} validators)")


def verified_json(v: VerifiedReceipt) -> dict[str, Any]:
    return {"height": v.height, "block_hash": v.block_hash.hex(), "signers": v.signers,
            "validators": v.set_size}


def receipt_outputs(receipt: Receipt) -> list[tuple[str, int]]:
    """(address, amount) of each output (each payment of a credit transfer), in the
    receipt's network."""
    tx = receipt.tx
    paid = tx.payments if isinstance(tx, CreditTransfer) else tx.outputs
    return [(encode_address(o.lock, receipt.network), o.amount) for o in paid]


def receipt_credit_sender(receipt: Receipt) -> str | None:
    """The account a credit transfer's receipt debits; None for a coin tx's."""
    tx = receipt.tx
    return encode_address(tx.sender, receipt.network) if isinstance(tx, CreditTransfer) else None


def history_line(e: HistoryEntry) -> str:
    where = f"height {e.height}" if e.height is not None else "mempool"
    net = ("sent " + format_coins(e.sent) + " + unknown fee" if e.net is None
           else f"{'+' if e.net >= 0 else ''}{format_coins(e.net)}")
    line = f"{e.txid}  {where:>14}  {net}"
    if e.values:
        line += "  (" + ", ".join(format_currency(v.currency_units, v.currency)
                                  for v in e.values) + ")"
    if e.request is not None:
        line += f"  [request {e.request}]"
    if e.label is not None:
        line += f"  {printable(e.label)!r}"
    return line


def history_json(entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    return [{"txid": e.txid, "height": e.height, "position": e.position, "received": e.received,
             "sent": e.sent, "fee": e.fee, "outgoing": e.outgoing, "net": e.net,
             "values": [v.as_json() for v in e.values], "label": e.label,
             "request": e.request, "addresses": list(e.own_addresses)}
            for e in entries]


def partial_summary(d: Description, own_keys: Sequence[bytes] = (), spending: str = "") -> str:
    """A partial tx for a human: what is spent, recipients, amounts, fee, change, who still
    signs."""
    lines = [f"transaction {d.txid} on {d.chain_id} ({d.network})"]
    if spending:
        lines.append(f"  spends  {spending}")
    for o in d.outputs:
        tag = "change " if o.change else "pay    "
        mine = "  (this wallet)" if o.mine else ""
        if o.campaign is not None:
            lines.append(f"  pledge  {format_coins(o.amount):>20}  to campaign {o.campaign}, "
                         f"back to {o.address}{mine} if it fails")
            continue
        lines.append(f"  {tag} {format_coins(o.amount):>20}  to {o.address}{mine}")
    rate = d.fee / d.size if d.size else 0.0
    lines.append(f"  fee     {format_coins(d.fee):>20}  ({d.size} bytes signed, "
                 f"{rate:.1f} base units/byte)")
    if d.memo:
        lines.append(f"  memo    {d.memo.decode('utf-8', 'replace')!r}")
    if d.grant_reference is not None:
        lines.append(f"  grant   by the assembly decision {d.grant_reference}")
    lines.append(f"  inputs total {format_coins(d.value_in)} (amounts as claimed by the file)")
    own = set(own_keys)
    for n, i in enumerate(d.inputs):
        who = ", ".join(k.hex()[:16] + ("(you)" if k in own else "") for k in i.signed) or "none"
        lines.append(f"  input {n}: {format_coins(i.amount)} from {i.address}; "
                     f"{len(i.signed)}/{i.threshold} signed [{who}], {i.remaining} more needed")
    for w in d.warnings:
        lines.append(f"  WARNING: {w}")
    lines.append("  complete: ready to broadcast" if d.remaining == 0
                 else f"  {d.remaining} signature(s) still needed")
    return "\n".join(lines)


def inputs_note(checked: bool) -> str:
    """Whether the fee and the addresses spent rest on the file's word."""
    return ("input amounts and addresses checked against their parent transactions (each "
            "checked against its txid: no node can forge them)" if checked
            else "input amounts NOT checked (node unreachable): the fee and the addresses "
                 "spent are as the file claims")
