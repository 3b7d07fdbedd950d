"""What the `gov` commands show: a proposal in words, and the chain's governance history.

Every string that comes from a file or a node (coop names, references, the node's summaries)
goes through `proposals.printable`, so it can't rewrite the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consensus.governance import RecoveryAction
from consensus.types import PublicKey
from wallet.governors import HistoryEntry
from wallet.proposals import ProposalDescription, printable


def description(d: ProposalDescription) -> str:
    """A proposal for a governor: what it does, from when, on whose decision, who signed."""
    p = d.proposal
    where = (f"against height {p.action.height}" if isinstance(p.action, RecoveryAction)
             else f"nonce {p.nonce}")
    lines = [f"proposal {d.kind} on {p.chain_id} ({p.network}), {where}",
             f"  does:      {d.summary}",
             f"  effective: {d.effective}",
             f"  decision:  {printable(p.reference.uri)}",
             f"             \"{printable(p.reference.text)}\"",
             f"  digest:    {p.digest.hex()}"]
    if d.view is None:
        lines.append(f"  signed by {len(d.signers)}; who governs could not be checked (no node "
                     "answered, and this wallet has followed no chain): how many more must "
                     "sign is unknown")
    else:
        lines.append(f"  signed by {len(d.signers)}, {d.threshold} needed (governors as "
                     f"{d.view.source})")
    for s in d.signers:
        tags = [f"'{printable(s.name)}'" if s.name else "", "(you)" if s.you else "",
                "NOT A CURRENT GOVERNOR" if s.governor is False else ""]
        lines.append(f"    {s.pubkey.hex()} {' '.join(t for t in tags if t)}".rstrip())
    for w in d.warnings:
        lines.append(f"  WARNING: {w}")
    if d.complete:
        lines.append("  complete: ready to submit (gov submit FILE)")
    elif d.remaining is not None:
        lines.append(f"  {d.remaining} more signature(s) needed"
                     if d.remaining else "  enough signatures, but not all by governors")
    return "\n".join(lines)


def history_entry(e: HistoryEntry, names: Mapping[PublicKey, str]) -> str:
    at = "height ?" if e.height is None else f"height {e.height}"
    effective = "" if e.effective_height is None else f" (effective {e.effective_height})"
    lines = [f"{at}{effective}  {printable(e.kind)}: {printable(e.summary)}"]
    if e.reference is not None:
        lines.append(f"    decision: {printable(e.reference.uri)} "
                     f"\"{printable(e.reference.text)}\"")
    else:
        lines.append("    decision: none recorded (an action from before references)")
    signers = [_signer(k, names) for k in e.signers]
    lines.append(f"    signed by: {', '.join(signers) or 'nobody'}")
    return "\n".join(lines)


def _signer(key_hex: str, names: Mapping[PublicKey, str]) -> str:
    try:
        name = names.get(PublicKey(bytes.fromhex(key_hex)))
    except ValueError:
        name = None
    return printable(key_hex) + (f" '{printable(name)}'" if name else "")


def history_json(entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    return [{"height": e.height, "effective_height": e.effective_height, "kind": e.kind,
             "summary": e.summary, "nonce": e.nonce, "signers": list(e.signers),
             "reference": None if e.reference is None
             else {"uri": e.reference.uri, "text": e.reference.text}} for e in entries]
