"""The `gov` commands: call the library (`wallet.proposals`, `wallet.governors`, `Wallet`),
render what it returns. A wallet is needed to sign, to show a governor key and to name
governors; proposing, showing, combining and submitting work without one (a wallet, when
there is one, names the chain every file must be for)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from consensus.address import decode_address
from consensus.governance import (
    ActionBody,
    AddValidator,
    ReadmitValidator,
    Reference,
    RekeyValidator,
    RemoveValidator,
    SetCreditLimit,
    SetGovernors,
    SetParam,
    SetReferenceRate,
    SetTreasury,
)
from consensus.types import PublicKey
from wallet import governors, proposals
from wallet.amounts import parse_units
from wallet.cli import gov_render as render
from wallet.cli.env import Cli, UsageError
from wallet.client import NodeClient
from wallet.errors import BadAction, ChainMismatch, NodeUnreachable, ProposalChanged
from wallet.governors import ChainIdentity, Proposed
from wallet.keys import governor_path
from wallet.proposals import GovernanceView, Proposal
from wallet.walletfile import WalletData

# -- governor keys and names ------------------------------------------------------------------


async def cmd_gov_key(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        if wallet.data.governor_key is None:
            cli.unlock(wallet)  # derived from the seed: the first time needs the password
        key = await wallet.governor_key()
        data = wallet.data
    path = governor_path(data.network, data.account)
    cli.out(key.hex())
    cli.emit({"command": "gov key", "pubkey": key.hex(), "path": path,
              "name": data.governor_name(key)})


async def cmd_gov_name(cli: Cli) -> None:
    a = cli.args
    if (a.key is None) != (a.name is None):
        raise UsageError("give a governor KEY and its NAME, or neither (to list the names)")
    async with cli.open_wallet() as wallet:
        if a.key is not None:
            await wallet.name_governor(_pubkey(a.key, "KEY"), a.name)
        names = wallet.data.governor_names
    for key, name in names:
        cli.out(f"{key.hex()}  {proposals.printable(name)}")
    if not names:
        cli.out("this wallet names no governors yet")
    cli.emit({"command": "gov name", "names": [{"pubkey": k.hex(), "name": n}
                                              for k, n in names]})


# -- proposing --------------------------------------------------------------------------------


def _pubkey(text: str, what: str) -> PublicKey:
    try:
        return PublicKey(bytes.fromhex(text.strip()))
    except ValueError:
        raise BadAction(f"{what} {text[:16]!r}: not hex") from None


def _body(cli: Cli, network: str) -> ActionBody:
    """The action the command line describes (its keys and values checked by the library)."""
    a = cli.args
    match a.proposal_kind:
        case "add-validator":
            return AddValidator(a.name, _pubkey(a.pubkey, "--pubkey"))
        case "remove-validator":
            return RemoveValidator(_pubkey(a.pubkey, "--pubkey"))
        case "rekey-validator":
            return RekeyValidator(_pubkey(a.old, "--old"), _pubkey(a.new, "--new"))
        case "readmit-validator":
            return ReadmitValidator(_pubkey(a.pubkey, "--pubkey"))
        case "set-param":
            name, sep, value = a.setting.partition("=")
            if not sep or not value.strip().isdigit():
                raise UsageError(f"{a.setting!r}: expected NAME=VALUE, VALUE a whole number")
            return SetParam(name.strip(), int(value))
        case "set-governors":
            keys = [_pubkey(k, "KEY") for k in a.keys]
            if len(set(keys)) != len(keys):
                raise BadAction("a governor key is listed twice")
            return SetGovernors(tuple(sorted(keys)), a.threshold)
        case "set-treasury":
            return SetTreasury(decode_address(a.address.strip(), network))
        case "set-credit-limit":
            return SetCreditLimit(decode_address(a.address.strip(), network),
                                  parse_units(a.limit, zero=True))
        case "set-rate":
            return SetReferenceRate(a.currency.strip(), proposals.rate_units(a.price))
    raise UsageError(f"unknown proposal kind {a.proposal_kind!r}")  # pragma: no cover


def _given_chain(cli: Cli, data: WalletData | None) -> ChainIdentity | None:
    """The chain from the wallet, or from --network/--chain-id/--genesis-hash (all three)."""
    a = cli.args
    flags = (a.network, a.chain_id, a.genesis_hash)
    if any(flags) and not all(flags):
        raise UsageError("give all of --network, --chain-id and --genesis-hash, or none")
    given = None
    if all(flags):
        try:
            genesis = bytes.fromhex(a.genesis_hash)
        except ValueError:
            raise UsageError("--genesis-hash must be hex") from None
        given = ChainIdentity(a.network, a.chain_id, genesis)
    if data is None:
        return given
    own = ChainIdentity(data.network, data.chain_id, data.genesis_hash)
    if given is not None:
        governors.check_same_chain(given, own, "the chain given")
    return own


async def cmd_gov_propose(cli: Cli) -> None:
    a = cli.args
    data = cli.wallet_data()
    chain = _given_chain(cli, data)
    recovery = a.proposal_kind == "recovery"

    async def made(node: NodeClient | None) -> Proposed:
        if chain is not None:
            network = chain.network
        elif node is not None:
            network = (await governors.chain_tip(node)).network
        else:
            raise BadAction("offline, the chain must be given: a wallet, or --network, "
                            "--chain-id and --genesis-hash")
        if recovery:
            note = a.note or proposals.default_note(a.validator, network)
            last = None if a.last_block is None else _hex(a.last_block, "--last-block")
            return await governors.propose_recovery(
                node, a.validator, Reference(a.ref, note), chain=chain, height=a.height,
                last_block_id=last, known=governors.known_validators(data.light if data else None))
        body = _body(cli, network)
        note = a.note or proposals.default_note(body, network)
        return await governors.propose(node, body, Reference(a.ref, note), chain=chain,
                                       nonce=a.nonce)

    has_all = chain is not None and (a.height is not None if recovery else a.nonce is not None)
    async with _node(cli, offline=a.offline) as node:
        try:
            result = await made(node)
        except NodeUnreachable:
            if not has_all:
                raise
            result = await made(None)  # everything was given: go on offline
    view = result.node.view if result.node else _light_view(data)
    proposals.save_proposal(a.out, result.proposal)
    d = proposals.describe(result.proposal, view, **_viewer(data))
    cli.out(render.description(d) + f"\n  nonce/tip: {result.nonce_source}"
            f"\nproposal written to {a.out}: each governor runs `gov sign {a.out}`")
    cli.emit({"command": "gov propose", "file": a.out, "source": result.nonce_source,
              **d.as_json()})


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise UsageError(f"{what} must be hex") from None


# -- reading, showing, combining --------------------------------------------------------------


@asynccontextmanager
async def _node(cli: Cli, *, offline: bool) -> AsyncIterator[NodeClient | None]:
    """The node client (closed after), or None with --offline."""
    if offline:
        yield None
        return
    async with cli.client() as node:
        yield node


def _light_view(data: WalletData | None) -> GovernanceView | None:
    return None if data is None or data.light is None else governors.light_view(data.light)


def _viewer(data: WalletData | None) -> dict[str, Any]:
    if data is None:
        return {}
    return {"names": dict(data.governor_names), "own": data.governor_key}


def _read(cli: Cli, path: str, data: WalletData | None) -> Proposal:
    """A proposal file, its signatures checked, and its chain the wallet's if there is one."""
    proposal = cli.read(path, proposals.load_proposal)
    if data is not None:
        try:
            proposals.check_chain(proposal, data.chain_id, data.network, data.genesis_hash)
        except ChainMismatch as exc:
            raise ChainMismatch(f"{path}: {exc}") from None
    try:
        proposals.check_signatures(proposal)
    except ProposalChanged as exc:
        raise ProposalChanged(f"{path}: {exc}") from None
    return proposal


async def _view(cli: Cli, proposal: Proposal, data: WalletData | None,
                offline: bool) -> GovernanceView | None:
    """The governors as the node says (checked to serve the proposal's chain), or offline
    (--offline, or no node answering) as this wallet followed them, or None."""
    if not offline:
        try:
            async with cli.client() as node:
                found = await governors.node_governance(node)
            governors.check_same_chain(found.tip.identity, _identity(proposal))
            return found.view
        except NodeUnreachable:
            pass
    return _light_view(data)


def _identity(p: Proposal) -> ChainIdentity:
    return ChainIdentity(p.network, p.chain_id, p.genesis_hash)


async def cmd_gov_show(cli: Cli) -> None:
    data = cli.wallet_data()
    proposal = _read(cli, cli.args.file, data)
    view = await _view(cli, proposal, data, cli.args.offline)
    d = proposals.describe(proposal, view, **_viewer(data))
    cli.out(render.description(d))
    cli.emit({"command": "gov show", "file": cli.args.file, **d.as_json()})


async def cmd_gov_combine(cli: Cli) -> None:
    data = cli.wallet_data()
    merged = proposals.combine([_read(cli, f, data) for f in cli.args.files])
    proposals.save_proposal(cli.args.out, merged)
    d = proposals.describe(merged, await _view(cli, merged, data, cli.args.offline),
                           **_viewer(data))
    cli.out(render.description(d) + f"\ncombined into {cli.args.out}")
    cli.emit({"command": "gov combine", "file": cli.args.out, **d.as_json()})


# -- signing, submitting, history -------------------------------------------------------------


async def cmd_gov_sign(cli: Cli) -> None:
    a = cli.args
    async with cli.open_wallet() as wallet:
        proposal = _read(cli, a.file, wallet.data)  # refused before anything is asked
        if wallet.data.governor_key is None:
            cli.unlock(wallet)  # the governor key is not known yet: it needs the seed
        offline = a.offline
        try:
            review = await wallet.review_proposal(proposal, offline=offline)
        except NodeUnreachable:  # sign offline: the summary says the governors are unchecked
            offline = True
            review = await wallet.review_proposal(proposal, offline=True)
        cli.confirm(render.description(review.description)
                    + f"\n  sign as governor {review.governor.hex()} (this wallet)"
                    + ("" if review.governors_checked else
                       "\n  NOTE: the governors could not be checked (offline)"))
        if not wallet.unlocked:
            cli.unlock(wallet)
        signed = await wallet.sign_proposal(review)
        d = wallet.describe_proposal(signed.proposal, review.description.view)
    out = a.out or a.file
    proposals.save_proposal(out, signed.proposal)
    still = ("unknown (governors not checked)" if d.remaining is None
             else str(d.remaining))
    cli.out(("signed" if signed.added else "already signed by this wallet: nothing added")
            + f"; signatures still needed: {still}; written to {out}")
    cli.emit({"command": "gov sign", "file": out, "added": signed.added,
              "signer": review.governor.hex(), "offline": offline, **d.as_json()})


async def cmd_gov_submit(cli: Cli) -> None:
    data = cli.wallet_data()
    proposal = _read(cli, cli.args.file, data)
    if cli.args.inbox:
        path = governors.write_to_inbox(proposal, cli.args.inbox)
        d = proposals.describe(proposal, _light_view(data), **_viewer(data))
        cli.out(render.description(d) + f"\nwritten to {path}: the node pools it within "
                "seconds (an inbox is read every 2 s)")
        cli.emit({"command": "gov submit", "inbox_file": str(path), "status": "written",
                  "id": None, **d.as_json()})
        return
    async with cli.client() as node:
        found = await governors.node_governance(node)
        submitted = await governors.submit_checked(node, proposal, found)
    d = proposals.describe(proposal, found.view, **_viewer(data))
    cli.out(render.description(d) + f"\nsubmitted to {cli.node_url}: {submitted.status}"
            + (f" (id {submitted.id})" if submitted.id else "")
            + "; the node passes it on to every validator")
    cli.emit({"command": "gov submit", "inbox_file": None, "status": submitted.status,
              "id": submitted.id, **d.as_json()})


async def cmd_gov_history(cli: Cli) -> None:
    data = cli.wallet_data()
    async with cli.client() as node:
        tip = await governors.chain_tip(node)
        if data is not None:
            governors.check_same_chain(tip.identity, ChainIdentity(
                data.network, data.chain_id, data.genesis_hash))
        entries = await governors.history(node, tip.network, cli.args.limit)
    names = dict(data.governor_names) if data else {}
    for e in entries:
        cli.out(render.history_entry(e, names))
    if not entries:
        cli.out("no governance action included yet")
    cli.emit({"command": "gov history", "actions": render.history_json(entries)})


HANDLERS = {
    "gov_key": cmd_gov_key,
    "gov_name": cmd_gov_name,
    "gov_propose": cmd_gov_propose,
    "gov_show": cmd_gov_show,
    "gov_sign": cmd_gov_sign,
    "gov_combine": cmd_gov_combine,
    "gov_submit": cmd_gov_submit,
    "gov_history": cmd_gov_history,
}
