"""An open wallet: the whole payment workflow as library calls.

    async with Wallet.open("alice.json", password, node="http://127.0.0.1:7070") as wallet:
        payment = await wallet.prepare_payment([Payee(address, parse_coins("1.5"))])
        sent = await wallet.send(payment)
        final = await wallet.wait_final(sent.txid)

`Wallet` holds the wallet file's data, a node client and, once unlocked with the password,
the account's private keys (dropped by `close`). It checks that the node serves the wallet's
chain before its first use of it.

One writer at a time. The first call that changes the wallet file (paying, `sync`, a new
address...) takes an exclusive flock on `FILE.lock` (waiting up to `lock_timeout_s`, then
`WalletBusy`) and re-reads the file; the wallet keeps the lock until `close`, so no other
process chooses the same coins between `prepare_payment` and `send`. `wait_final` lets go of it
while it polls (the payment is recorded as pending by then). Reading (balance, history,
reviewing a partial tx, verifying a receipt) takes no lock: writes are atomic.

`SyncWallet` offers the same calls, blocking, on a private event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import wallet.campaigns as campaigns
import wallet.contributions as contributions
import wallet.credit as credit
import wallet.credit_partial as credit_partial
import wallet.governors as governors
import wallet.multisig as multisig
import wallet.ops as ops
import wallet.payments as payments
import wallet.pricing as pricing
import wallet.proposals as proposals
import wallet.requests as request_list
from consensus.address import decode_address, encode_address
from consensus.codec import encode_tx, policy_lock, txid
from consensus.crypto import PrivateKey
from consensus.governance import ActionBody, Reference
from consensus.rates import EMPTY_BOOK, RateBook
from consensus.types import MAX_AMOUNT, CampaignTerms, PublicKey, SpendPolicy, Tx, Validator
from wallet.book import AddressBook, Contact
from wallet.campaigns import CampaignInfo, PreparedSweeps
from wallet.client import DEFAULT_NODE_URL, NodeClient, RetryPolicy
from wallet.contributions import Contribution
from wallet.errors import (
    AmountError,
    BookError,
    CampaignError,
    MessageError,
    NodeError,
    NotAGovernor,
    NotFollowedYet,
    StalePayment,
    WalletError,
    WalletFileError,
    WalletLocked,
    WatchOnly,
)
from wallet.fileio import FileLock
from wallet.governors import ChainIdentity, Proposed, Submitted
from wallet.keys import COSIGNER, RECEIVE, HDAccount, lock_for_pubkey
from wallet.keystore import OpenedKeystore
from wallet.lightclient import LightState, sync_headers
from wallet.message import SignedMessage, sign_message
from wallet.multisig import OFFLINE, PartialReview, PartialTx, SignedPartial
from wallet.ops import Balance, HistoryEntry
from wallet.payments import Payee, PreparedPayment, SentPayment
from wallet.proposals import GovernanceView, Proposal, ProposalDescription
from wallet.receipts import Finality, Receipt, VerifiedReceipt, fetch_receipt, verify_receipt
from wallet.requests import PaymentRequest, Quote, RequestPayment, RequestStatus
from wallet.uri import PaymentUri, format_uri
from wallet.walletfile import (
    Treasury,
    WalletData,
    load_wallet,
    lock_path,
    save_wallet,
    unlock_keystore,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProposalReview:
    """What signing a proposal would do, decided before the governor is asked: the
    description to show, and whether the governors could be checked."""

    proposal: Proposal
    description: ProposalDescription
    governor: PublicKey  # this wallet's governor key

    @property
    def governors_checked(self) -> bool:
        return self.description.view is not None


@dataclass(frozen=True, slots=True)
class SignedProposal:
    proposal: Proposal
    added: bool  # False: this wallet's governor had signed already
Progress = Callable[[str], None]  # "header 12", "tx in mempool": for a progress line
DEFAULT_LOCK_TIMEOUT_S = 120.0


class Wallet:
    """An open wallet file and a node. Make one with `Wallet.open`."""

    def __init__(self, path: Path, data: WalletData, node: NodeClient, *, owns_node: bool,
                 lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        self._path = path
        self._data = data
        self._node = node
        self._owns_node = owns_node
        self._lock = FileLock(lock_path(path), timeout_s=lock_timeout_s)
        self._account: HDAccount | None = None
        self._keystore: OpenedKeystore | None = None
        self._chain_checked = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], password: str | None = None, *,
             node: str | NodeClient = DEFAULT_NODE_URL, retry: RetryPolicy | None = None,
             lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> Opening:
        """Open the wallet at `path`: `await Wallet.open(...)`, or `async with` to close it.

        With `password` the key store is unlocked now (WrongPassword here, not mid-payment);
        without it the wallet reads, prepares and verifies, and `unlock` comes before signing.
        `node` is a URL or a client the caller keeps (and closes) itself.
        """
        async def opened() -> Wallet:
            data = load_wallet(path)
            owns = not isinstance(node, NodeClient)
            client = NodeClient(node, retry=retry) if isinstance(node, str) else node
            wallet = cls(Path(path), data, client, owns_node=owns, lock_timeout_s=lock_timeout_s)
            if password is not None and not data.watch_only:
                try:  # scrypt: off the event loop
                    await asyncio.to_thread(wallet.unlock, password)
                except BaseException:
                    await wallet.close()
                    raise
            return wallet

        return Opening(opened)

    async def close(self) -> None:
        """Forget the private keys, let go of the wallet's lock, close the node client."""
        self._account = None
        self._keystore = None
        self._lock.release()
        if self._owns_node:
            await self._node.close()

    async def __aenter__(self) -> Wallet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what it is --------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def data(self) -> WalletData:
        """The wallet file as last read or written by this wallet (public data only)."""
        return self._data

    @property
    def node(self) -> NodeClient:
        return self._node

    @property
    def network(self) -> str:
        return self._data.network

    @property
    def unlocked(self) -> bool:
        return self._account is not None

    def unlock(self, password: str) -> None:
        """Open the key store: WrongPassword, TamperedKeystore, or WatchOnly (no keys)."""
        self._account, self._keystore = unlock_keystore(self._path, self._data, password)

    # -- the wallet file, the lock and the node ------------------------------------------------

    async def _hold(self) -> WalletData:
        """Take the wallet's lock (once), then re-read the file: it is ours to change."""
        if not self._lock.held:
            await asyncio.to_thread(self._lock.acquire)
            self._data = load_wallet(self._path)
        return self._data

    def _save(self, data: WalletData) -> WalletData:
        if not self._lock.held:
            raise WalletError("internal: the wallet file is written only under its lock")
        if data != self._data:
            save_wallet(self._path, data)
            self._data = data
        return data

    async def _checked_node(self) -> NodeClient:
        """The node, once it has shown it serves the wallet's chain (ChainMismatch if not)."""
        if not self._chain_checked:
            await ops.check_chain(self._node, self._data)
            self._chain_checked = True
        return self._node

    def _keys(self, wanted: Iterable[bytes] | None = None) -> dict[bytes, PrivateKey]:
        """The private keys of `wanted` public keys (default: every handed-out key), looking a
        little past the last handed-out address (an offline signer may lag the builder)."""
        if self._data.watch_only:
            raise WatchOnly("this is a watch-only wallet: it holds no private keys")
        if self._account is None:
            raise WalletLocked("the wallet was opened without its password: unlock it to sign")
        source = self._data.known_keys() if wanted is None else self._data.keys_ahead()
        want = None if wanted is None else set(wanted)
        return {bytes(pub): self._account.private_key(chain, index)
                for chain, index, pub in source if want is None or bytes(pub) in want}

    # -- addresses, balance, history, the followed chain ---------------------------------------

    async def receive_address(self, *, new: bool = False) -> str:
        """The current receive address; with `new`, hand out the next one."""
        if new:
            data = await self._hold()
            self._save(replace(data, receive_index=data.receive_index + 1))
        return self._data.address(RECEIVE, self._data.receive_index)

    async def balance(self) -> Balance:
        return await ops.balance(await self._checked_node(), self._data)

    async def history(self, limit: int = 50, *, valued: bool = False) -> list[HistoryEntry]:
        """The wallet's txs, newest first; its own pending ones first, with no height. Each
        names the payment request it paid and, once unlocked, its label (the tx's, else an
        address's it pays). `valued`: also what each was worth at the assembly's rates in
        force at its height, as this wallet followed them (it follows the chain further first
        only when the node keeps any rate: reading stays read-only on a chain without)."""
        node = await self._checked_node()
        entries = await ops.history(node, self._data, limit)
        by_address = {r.address: r.id for r in self._data.requests}
        book = self._keystore.secrets.book if self._keystore is not None else None
        light = self._data.light
        if valued:
            top = max((e.height for e in entries if e.height is not None), default=0)
            behind = light is None or light.height + 2 < top
            if behind and await ops.keeps_rates(node):
                light = await self.sync()
        out = []
        for e in entries:
            request = next((by_address[a] for a in e.own_addresses if a in by_address), None)
            label = None
            if book is not None:
                label = book.label(e.txid) or next(
                    (t for a in e.own_addresses if (t := book.label(a)) is not None), None)
            values: tuple[pricing.Converted, ...] = ()
            if valued and e.height is not None and light is not None \
                    and e.height <= light.height + 2:
                values = pricing.values_at(e.amount, light.rates, e.height)
            out.append(replace(e, request=request, label=label, values=values))
        return out

    async def sync(self, progress: Progress | None = None) -> LightState:
        """Follow and verify the node's headers up to its tip; saved in the wallet file."""
        data = await self._hold()
        node = await self._checked_node()
        light = await sync_headers(node, await ops.ensure_light(node, data),
                                   progress=_tagged(progress, "header"))
        self._save(replace(self._data, light=light))
        return light

    # -- paying --------------------------------------------------------------------------------

    async def prepare_payment(self, payees: Sequence[Payee], *, fee_rate: int | None = None,
                              memo: str | bytes = b"") -> PreparedPayment:
        """Choose coins and build the exact-fee tx paying `payees`; nothing is signed or sent.

        `fee_rate` (base units per byte) defaults to the chain's minimum. The wallet holds its
        lock from here on, so no other process spends these coins meanwhile.
        """
        data = await self._hold()
        data, prepared = await payments.prepare(await self._checked_node(), data, payees,
                                                fee_rate=fee_rate, memo=memo)
        self._save(data)
        return prepared

    async def send(self, prepared: PreparedPayment) -> SentPayment:
        """Sign, validate locally with the ledger's rules, broadcast, and record as pending.

        StalePayment if a payment sent since took its coins or change address.
        """
        payments.check_fresh(await self._hold(), prepared)
        tx = payments.sign_payment(prepared, self._keys())
        self._save(payments.reserve_change(self._data, prepared.change_index))
        return await self._broadcast(tx)

    async def pay(self, address: str, amount: int, *, fee_rate: int | None = None,
                  memo: str | bytes = b"") -> SentPayment:
        """Prepare and send one payment (`amount` in base units), without a confirmation."""
        return await self.pay_many([Payee(address, amount)], fee_rate=fee_rate, memo=memo)

    async def pay_many(self, payees: Sequence[Payee], *, fee_rate: int | None = None,
                       memo: str | bytes = b"") -> SentPayment:
        """Prepare and send one tx paying every payee."""
        return await self.send(await self.prepare_payment(payees, fee_rate=fee_rate,
                                                          memo=memo))

    async def save_unsigned(self, prepared: PreparedPayment,
                            path: str | os.PathLike[str]) -> PartialTx:
        """Write the payment as a partial-tx file to sign offline (`sign_partial` with
        `own_coins`), and keep its change address from being handed out again."""
        data = await self._hold()
        payments.check_fresh(data, prepared)
        ptx = multisig.from_unsigned(prepared.unsigned, data.network, data.genesis_hash)
        multisig.save_partial(path, ptx)
        self._save(payments.reserve_change(data, prepared.change_index))
        return ptx

    async def _broadcast(self, tx: Tx) -> SentPayment:
        node = await self._checked_node()
        sent = await node.broadcast(encode_tx(tx).hex())
        if sent != txid(tx).hex():
            raise NodeError(200, "the node reported another txid than the one sent")
        self._save(payments.record_sent(self._data, tx))
        return SentPayment(sent, tx)

    # -- finality ------------------------------------------------------------------------------

    async def wait_final(self, txid_hex: str, timeout_s: float = 60.0, *,
                         progress: Progress | None = None) -> Finality:
        """Wait until the tx is final, then prove it: the receipt, verified by this wallet
        against the chain it follows (ReceiptInvalid if the wait times out or a check fails)."""
        node = await self._checked_node()
        held = self._lock.held
        if held:  # the tx is pending in the wallet file: others may use the wallet meanwhile
            self._lock.release()
        try:
            await ops.wait_final(node, txid_hex, timeout_s, progress=_tagged(progress, "tx"))
        finally:
            if held:
                await self._hold()
        return await self.fetch_receipt(txid_hex, progress=progress)

    async def fetch_receipt(self, txid_hex: str, *,
                            progress: Progress | None = None) -> Finality:
        """The receipt of a final tx, verified after following headers up to its block."""
        data = await self._hold()
        node = await self._checked_node()
        receipt, light, verified = await fetch_receipt(
            node, await ops.ensure_light(node, data), txid_hex, data.network,
            progress=_tagged(progress, "header"))
        self._save(payments.forget_final(replace(self._data, light=light), txid_hex))
        return Finality(receipt, verified)

    def verify_receipt(self, receipt: Receipt, *,
                       trusted_validators_hash: bytes | None = None) -> VerifiedReceipt:
        """Check a receipt offline against this wallet's chain and the validator set it has
        followed for the receipt's height (or the set whose hash the caller trusts).

        NotFollowedYet if the wallet has not followed that far (`sync` first).
        """
        data = self._data
        trusted = trusted_validators_hash
        if trusted is None and data.light is not None:
            trusted = data.light.set_hash_at(receipt.height)
        if trusted is None:
            raise NotFollowedYet(f"the wallet has not followed the chain to height "
                                 f"{receipt.height}: sync it first")
        return verify_receipt(receipt, chain_id=data.chain_id, network=data.network,
                              genesis_hash=data.genesis_hash, trusted_validators_hash=trusted)

    # -- treasuries and partial transactions ---------------------------------------------------

    async def new_cosigner_key(self) -> PublicKey:
        """Hand out this wallet's next treasury member key (never an ordinary address)."""
        data = await self._hold()
        pub = data.watch().pubkey(COSIGNER, data.cosigner_index)
        self._save(replace(data, cosigner_index=data.cosigner_index + 1))
        return pub

    async def register_treasury(self, name: str, threshold: int,
                                pubkeys: Sequence[bytes]) -> Treasury:
        """Remember an m-of-n treasury under `name`; its address is
        `multisig.treasury_address(treasury.policy, wallet.network)`."""
        policy = multisig.treasury_policy(threshold, pubkeys)
        data = await self._hold()
        if any(t.name == name for t in data.treasuries):
            raise WalletError(f"a treasury named {name!r} already exists")
        treasury = Treasury(name, policy)
        self._save(replace(data, treasuries=(*data.treasuries, treasury)))
        return treasury

    async def spend_treasury(self, treasury: str, payees: Sequence[Payee], *,
                             fee_rate: int | None = None, memo: str | bytes = b"") -> PartialTx:
        """Propose a treasury payment: the unsigned partial tx its members sign. A payee with a
        `campaign` is a pledge (refunded to its address): the campaign must be open."""
        data = await self._hold()
        spender = data.treasury(treasury)
        for payee in payees:
            if payee.campaign is not None:
                info = await self.campaign(payee.campaign)
                if info.status != "open":
                    raise CampaignError(f"campaign {info.id.hex()[:16]} closed at height "
                                        f"{info.terms.deadline} ({info.status}): no more "
                                        "pledges")
        data, unsigned = await payments.prepare_treasury(
            await self._checked_node(), data, spender, payees, fee_rate=fee_rate, memo=memo)
        self._save(data)
        return multisig.from_unsigned(unsigned, data.network, data.genesis_hash)

    def check_partial_chain(self, ptx: PartialTx) -> None:
        """ChainMismatch unless the partial tx is for this wallet's chain."""
        d = self._data
        multisig.check_chain(ptx, d.chain_id, d.network, d.genesis_hash)

    def describe_partial(self, ptx: PartialTx) -> multisig.Description:
        """What a partial tx pays and who has signed, outputs to this wallet marked."""
        self.check_partial_chain(ptx)
        return multisig.describe(ptx, own_locks=self._data.signer_keys().personal_locks)

    async def review_partial(self, ptx: PartialTx, *, own_coins: bool = False,
                             offline: bool = False) -> PartialReview:
        """Everything signing would refuse, refused now, before anyone is asked.

        Unless `offline`, each input's claimed amount and lock is checked against its parent
        tx from the node (each checked against its txid: no node can forge it); NodeUnreachable
        then means no check was possible, and only an explicit `offline=True` signs without.
        """
        self.check_partial_chain(ptx)
        own = self._data.signer_keys()
        multisig.check_signatures(ptx)
        multisig.signing_scope(ptx, own, own_coins=own_coins)  # refuse before asking the node
        spent: multisig.SpentOutputs = OFFLINE
        if not offline:
            spent = await ops.spent_outputs(await self._checked_node(),
                                            [i.prevout for i in ptx.tx.inputs],
                                            self._data.genesis_hash)
        return multisig.review_partial(ptx, own, own_coins=own_coins, spent=spent)

    async def sign_partial(self, target: PartialTx | PartialReview, *, own_coins: bool = False,
                           offline: bool = False) -> SignedPartial:
        """Add this wallet's signatures: to one treasury's inputs, or (`own_coins`) to the
        wallet's own coins. A PartialTx is reviewed first (see `review_partial`)."""
        review = (target if isinstance(target, PartialReview)
                  else await self.review_partial(target, own_coins=own_coins, offline=offline))
        keys = self._keys(bytes(k) for k in review.scope.keys)
        return multisig.sign_partial(review.ptx, keys, review.scope, spent=review.spent)

    async def broadcast_partial(self, ptx: PartialTx) -> SentPayment:
        """Finalize a fully signed partial tx, broadcast it, and record it as pending."""
        await self._hold()
        self.check_partial_chain(ptx)
        return await self._broadcast(multisig.finalize(ptx))


    # -- campaigns and contributions (docs/FUNDING.md) ------------------------------------------

    async def campaign(self, campaign_id: str) -> CampaignInfo:
        """A campaign, its terms checked against the tx that created it."""
        return await campaigns.fetch_campaign(await self._checked_node(), campaign_id,
                                              self.network)

    async def campaigns(self, *, status: str | None = None, beneficiary: str | None = None,
                        limit: int = 100) -> list[CampaignInfo]:
        """Campaigns newest first, as the node lists them (`status`: open, succeeded, failed)."""
        return await campaigns.list_campaigns(await self._checked_node(), self.network,
                                              status=status, beneficiary=beneficiary,
                                              limit=limit)

    async def prepare_campaign(self, terms: CampaignTerms, *,
                               fee_rate: int | None = None) -> PreparedPayment:
        """A tx creating the campaign (send it with `send`); its id is
        `consensus.campaign.campaign_id` of the txid."""
        data = await self._hold()
        data, prepared = await campaigns.prepare_create(await self._checked_node(), data, terms,
                                                        fee_rate=fee_rate)
        self._save(data)
        return prepared

    async def prepare_pledge(self, campaign_id: str, amount: int, *, refund: str | None = None,
                             fee_rate: int | None = None,
                             memo: str | bytes = b"") -> PreparedPayment:
        """A payment pledging `amount` to an open campaign (send it with `send`), refunded to
        `refund` (default: the current receive address) if the campaign fails."""
        data = await self._hold()
        data, prepared, _ = await campaigns.prepare_pledge(
            await self._checked_node(), data, campaign_id, amount, refund=refund,
            fee_rate=fee_rate, memo=memo)
        self._save(data)
        return prepared

    async def prepare_claims(self, *, campaign: str | None = None, fee_rate: int | None = None,
                             force: bool = False) -> PreparedSweeps:
        """Every pledge of a succeeded campaign this wallet is the beneficiary of (or of
        `campaign`), in as few txs as fit; `force` skips the wallet's own refusals."""
        data = await self._hold()
        return await campaigns.prepare_sweeps(await self._checked_node(), data, "claim",
                                              campaign=campaign, fee_rate=fee_rate, force=force)

    async def prepare_refunds(self, *, campaign: str | None = None, fee_rate: int | None = None,
                              force: bool = False) -> PreparedSweeps:
        """Every pledge of this wallet's to a failed campaign (or to `campaign`), in as few
        txs as fit; `force` takes even those the chain will refuse (to show it does)."""
        data = await self._hold()
        return await campaigns.prepare_sweeps(await self._checked_node(), data, "refund",
                                              campaign=campaign, fee_rate=fee_rate, force=force)

    async def send_sweeps(self, prepared: PreparedSweeps, *,
                          check: bool = True) -> list[SentPayment]:
        """Sign each claim or refund, check it with the ledger's rules (unless `check` is
        False), broadcast, record as pending. The node's refusal is TxRejected."""
        data = await self._hold()
        if prepared.change_index < data.change_index:
            raise StalePayment("a payment made since these were prepared took their address: "
                               "prepare them again")
        signed = campaigns.sign_sweeps(prepared, self._keys(), check=check)
        self._save(payments.reserve_change(self._data, prepared.change_index))
        return [await self._broadcast(tx) for tx in signed]

    async def prepare_contribution(self, rate: Decimal, period: str, *, to: str | None = None,
                                   fee_rate: int | None = None) -> Contribution:
        """`rate` percent of this wallet's income from others in `period` (YYYY-MM), to `to`
        (default: the treasury), with the contribution memo; send `.payment` with `send`."""
        data = await self._hold()
        data, made = await contributions.prepare_contribution(
            await self._checked_node(), data, rate, period, to=to, fee_rate=fee_rate)
        self._save(data)
        return made

    # -- the assembly's reference price --------------------------------------------------------

    async def rates(self, *, sync: bool = True) -> tuple[RateBook, int]:
        """The rate book as this wallet followed the chain, and the next height (the one a
        payment made now falls in); `sync` follows the chain to the node's tip first."""
        light = await self.sync() if sync else self._data.light
        if light is None:
            return EMPTY_BOOK, 1
        return light.rates, light.height + 1

    async def quote(self, amount: int | pricing.Asked) -> pricing.Converted | None:
        """An amount in a currency converted at the rate in force now (following the chain to
        its tip first); None for an amount in coins. NoRate when no rate is in force."""
        if isinstance(amount, int) or not amount.in_currency:
            return None
        book, height = await self.rates()
        return pricing.convert(amount, book, height)

    # -- payment requests ----------------------------------------------------------------------

    @property
    def requests(self) -> tuple[PaymentRequest, ...]:
        return self._data.requests

    async def request(self, amount: int | pricing.Asked, *, memo: str = "",
                      expires_in_s: float | None = None) -> PaymentRequest:
        """A payment request: the next receive address, and a `faircoop:` URI asking for
        `amount` (base units, or a currency amount converted at the rate in force now, the
        quote kept with the request). A watch-only wallet can make them: nothing is signed."""
        quote = await self.quote(amount)
        if quote is not None:
            base = quote.base_units
        else:
            base = amount if isinstance(amount, int) else amount.base_units or 0
        if not 1 <= base <= MAX_AMOUNT:
            raise AmountError(f"a request asks for 1 to {MAX_AMOUNT} base units")
        payments.encode_memo(memo)
        data = await self._hold()
        index = data.receive_index + 1
        address = data.address(RECEIVE, index)
        now = int(time.time())
        expires = None if expires_in_s is None else now + max(1, int(expires_in_s))
        uri = format_uri(PaymentUri(address, base, memo, expires, data.network, data.chain_id))
        made = PaymentRequest(max((r.id for r in data.requests), default=0) + 1, index, address,
                              base, memo, now, expires, uri,
                              None if quote is None else Quote.of(quote))
        self._save(replace(data, receive_index=index,
                           requests=request_list.add(data.requests, made)))
        return made

    async def check_request(self, request: PaymentRequest | int) -> RequestStatus:
        """Where a request stands: each final payment to its address (new ones fetched and
        verified with a receipt, then recorded), and what the node's mempool holds for it
        (shown, never counted)."""
        found = request_list.find(self._data.requests,
                                  request if isinstance(request, int) else request.id)
        node = await self._checked_node()
        listed = await node.address_txs(found.address, request_list.MAX_REQUEST_PAYMENTS + 1)
        known = {t.hex() for t in found.paid_txids()}
        fresh = [t for t in request_list.committed_txids(listed) if t not in known]
        lock = decode_address(found.address, self.network)
        for tid in reversed(fresh):  # oldest first
            final = await self.fetch_receipt(tid)
            tx = final.receipt.tx
            paid = sum(o.amount for o in tx.outputs if o.lock == lock) if isinstance(tx, Tx) else 0
            if not paid:
                continue  # a spend from the address, not a payment to it
            v = final.verified
            payment = RequestPayment(v.txid, paid, v.height, v.block_hash,
                                     final.receipt.header.time_ms, v.signers, v.set_size)
            current = request_list.find(self._data.requests, found.id)
            self._save(replace(self._data, requests=request_list.updated(
                self._data.requests, request_list.with_payment(current, payment))))
        summary = await node.address(found.address)
        unconfirmed = summary.get("mempool_balance_delta", 0) if isinstance(summary, dict) \
            else 0
        return request_list.status_of(request_list.find(self._data.requests, found.id),
                                      time.time(), unconfirmed if isinstance(unconfirmed, int)
                                      else 0)

    async def wait_paid(self, request: PaymentRequest | int, *, timeout_s: float | None = None,
                        progress: Progress | None = None) -> RequestStatus:
        """Wait until the request is paid (its payments final and verified), expired or
        cancelled, or `timeout_s` passes; the status as it then stands. It listens to the
        node's address stream, and polls where the node has none."""
        found = request_list.find(self._data.requests,
                                  request if isinstance(request, int) else request.id)
        node = await self._checked_node()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        if found.expires is not None:
            until_expiry = time.monotonic() + max(0.0, found.expires - time.time())
            deadline = until_expiry if deadline is None else min(deadline, until_expiry)
        held = self._lock.held
        if held:  # others may use the wallet while it waits (each check takes the lock)
            self._lock.release()

        async def check() -> RequestStatus:
            try:
                return await self.check_request(found.id)
            finally:
                self._lock.release()

        try:
            return await request_list.wait_for_payment(
                check, lambda: node.watch_address(found.address), deadline=deadline,
                progress=progress)
        finally:
            if held:
                await self._hold()

    async def cancel_request(self, request: PaymentRequest | int) -> PaymentRequest:
        """Mark a request cancelled (refused once it is paid); its address stays watched."""
        data = await self._hold()
        found = request_list.find(data.requests,
                                  request if isinstance(request, int) else request.id)
        done = request_list.cancelled(found, time.time())
        self._save(replace(data, requests=request_list.updated(data.requests, done)))
        return done

    # -- contacts, labels, messages ------------------------------------------------------------

    def _opened_book(self) -> OpenedKeystore:
        if self._data.watch_only:
            raise WatchOnly("a watch-only wallet has no encrypted key store, so no address "
                            "book or labels")
        if self._keystore is None:
            raise WalletLocked("the address book is encrypted: unlock the wallet to read it")
        return self._keystore

    @property
    def book(self) -> AddressBook:
        """Contacts and labels (unlock first: they live in the encrypted key store)."""
        return self._opened_book().secrets.book

    async def _save_book(self, book: AddressBook) -> AddressBook:
        opened = self._opened_book()
        await self._hold()  # one writer at a time, for the key store too
        opened.rewrite(replace(opened.secrets, book=book))
        return book

    async def add_contact(self, name: str, address: str) -> Contact:
        """Remember `address` (of this wallet's network) as `name`: `send NAME` pays it."""
        canonical = encode_address(decode_address(address.strip(), self.network), self.network)
        book = await self._save_book(self.book.with_contact(name, canonical))
        found = book.contact(name)
        assert found is not None
        return found

    async def remove_contact(self, name: str) -> None:
        await self._save_book(self.book.without_contact(name))

    def resolve_payee(self, text: str) -> str:
        """An address as given, or the address of the contact named `text`."""
        if text.strip().lower().startswith(("fair1", "tfair1")):
            return text.strip()
        found = self.book.contact(text)
        if found is None:
            raise BookError(f"{text!r} is neither an address nor a contact (`contacts list`)")
        return found.address

    def _label_target(self, target: str) -> str:
        text = target.strip()
        if len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower()):
            return text.lower()
        lock = decode_address(text, self.network)
        own = set(self._data.known_locks()) | {policy_lock(t.policy)
                                               for t in self._data.treasuries}
        if lock not in own:
            raise BookError(f"{text} is not one of this wallet's addresses: label your own "
                            "addresses and txs (name others with `contacts add`)")
        return encode_address(lock, self.network)

    async def set_label(self, target: str, text: str) -> str:
        """Label one of this wallet's addresses, or a txid; `history` shows it."""
        key = self._label_target(target)
        await self._save_book(self.book.with_label(key, text))
        return key

    async def remove_label(self, target: str) -> None:
        await self._save_book(self.book.without_label(self._label_target(target)))

    def sign_message(self, address: str, message: str) -> SignedMessage:
        """Sign `message` with the key of `address`, one of this wallet's receive or change
        addresses (docs/WALLET.md: the digest and the format)."""
        lock = decode_address(address.strip(), self.network)
        for chain, _, pub in self._data.keys_ahead():
            if chain != COSIGNER and lock_for_pubkey(pub) == lock:
                key = self._keys([bytes(pub)])[bytes(pub)]
                return sign_message(key, self.network, message)
        raise MessageError(f"{address.strip()} is not one of this wallet's receive or change "
                           "addresses: it holds no key to sign for it")

    # -- governance ----------------------------------------------------------------------------

    @property
    def chain(self) -> ChainIdentity:
        return ChainIdentity(self._data.network, self._data.chain_id, self._data.genesis_hash)

    async def governor_key(self) -> PublicKey:
        """This wallet's governor key (`keys.governor_path`). Derived from the seed, so the
        first call needs the wallet unlocked; the public key is then kept in the wallet file
        (and checked against the seed whenever the wallet is unlocked)."""
        cached = self._data.governor_key
        if cached is not None and self._account is None:
            return cached
        pub = PublicKey(self._governor_private_key().public_key)
        if cached is not None and cached != pub:
            raise WalletFileError("the wallet file's governor key is not this wallet's: the "
                                  "file was edited")
        if cached is None:
            self._save(replace(await self._hold(), governor_key=pub))
        return pub

    def _governor_private_key(self) -> PrivateKey:
        if self._data.watch_only:
            raise WatchOnly("this is a watch-only wallet: it holds no governor key")
        if self._account is None:
            raise WalletLocked("the wallet was opened without its password: unlock it to "
                               "derive its governor key")
        return self._account.governor_key()

    async def name_governor(self, pubkey: PublicKey, name: str) -> None:
        """Remember `name` for the governor `pubkey` (shown beside their signatures)."""
        proposals.check_governor_label(pubkey, name)
        data = await self._hold()
        names = tuple((k, n) for k, n in data.governor_names if k != pubkey)
        self._save(replace(data, governor_names=tuple(sorted((*names, (pubkey, name))))))

    async def governance_view(self, *, offline: bool = False) -> GovernanceView | None:
        """Who governs now: the node's word, or (`offline`) what this wallet followed itself
        at its last `sync` (None if it has followed nothing)."""
        if offline:
            light = self._data.light
            return None if light is None else governors.light_view(light)
        return (await governors.node_governance(await self._checked_node())).view

    async def propose(self, body: ActionBody, reference: Reference, *,
                      nonce: int | None = None) -> Proposed:
        """An unsigned proposal of `body` for this wallet's chain, the nonce from the node
        unless given (then no node is asked)."""
        node = None if nonce is not None else await self._checked_node()
        return await governors.propose(node, body, reference, chain=self.chain, nonce=nonce)

    async def propose_recovery(self, members: Sequence[Validator | str], reference: Reference,
                               *, height: int | None = None,
                               last_block_id: bytes | None = None) -> Proposed:
        """An unsigned recovery for this wallet's chain against the node's last final block
        (or the given one: then no node is asked). A member given as text is `NAME=PUBKEY`,
        or the name or key of a validator the node or this wallet's followed chain knows."""
        given = height is not None and last_block_id is not None
        node = None if given else await self._checked_node()
        return await governors.propose_recovery(
            node, members, reference, chain=self.chain, height=height,
            last_block_id=last_block_id, known=governors.known_validators(self._data.light))

    def describe_proposal(self, proposal: Proposal,
                          view: GovernanceView | None = None) -> ProposalDescription:
        """What a proposal does, who signed (with this wallet's names for them)."""
        return proposals.describe(proposal, view, names=dict(self._data.governor_names),
                                  own=self._data.governor_key)

    async def review_proposal(self, proposal: Proposal, *,
                              offline: bool = False) -> ProposalReview:
        """Every refusal signing would make, made now: another chain (ChainMismatch), a
        signature that no longer matches (ProposalChanged), and, unless `offline`, a wallet
        whose governor key is not a current governor by the node's word (NotAGovernor)."""
        proposals.check_chain(proposal, self._data.chain_id, self._data.network,
                              self._data.genesis_hash)
        proposals.check_signatures(proposal)
        own = await self.governor_key()
        view = await self.governance_view(offline=offline)
        if not offline and view is not None and own not in view.governors:
            raise NotAGovernor(f"this wallet's governor key {own.hex()} is not a current "
                               f"governor ({view.source}): refusing to sign")
        return ProposalReview(proposal, self.describe_proposal(proposal, view), own)

    async def sign_proposal(self, target: Proposal | ProposalReview, *,
                            offline: bool = False) -> SignedProposal:
        """Add this wallet's governor signature (a Proposal is reviewed first)."""
        review = (target if isinstance(target, ProposalReview)
                  else await self.review_proposal(target, offline=offline))
        key = self._governor_private_key()
        if key.public_key != review.governor:
            raise WalletError("internal: the review was made for another governor key")
        signed, added = proposals.sign(review.proposal, key)
        return SignedProposal(signed, added)

    async def submit_proposal(self, proposal: Proposal) -> Submitted:
        """Check it is complete by the node's governors, then POST it to the node."""
        proposals.check_chain(proposal, self._data.chain_id, self._data.network,
                              self._data.genesis_hash)
        return await governors.submit_checked(await self._checked_node(), proposal)

    async def governance_history(self, limit: int = 50) -> list[governors.HistoryEntry]:
        return await governors.history(await self._checked_node(), self._data.network, limit)

    # -- mutual credit (wallet.credit) ---------------------------------------------------------

    def credit_policy(self, treasury: str | None = None) -> SpendPolicy:
        """Whose credit account: this wallet's (its first receive address), or a registered
        treasury's (by name or address)."""
        if treasury is not None:
            return self._data.treasury(treasury).policy
        return SpendPolicy.single(self._data.watch().pubkey(RECEIVE, 0))

    async def credit_status(self, treasury: str | None = None) -> credit.CreditStatus:
        return await credit.status(await self._checked_node(),
                                   policy_lock(self.credit_policy(treasury)), self.network)

    async def credit_history(self, treasury: str | None = None,
                             limit: int = 50) -> list[credit.CreditLine]:
        return await credit.history(await self._checked_node(),
                                    policy_lock(self.credit_policy(treasury)), self.network,
                                    limit)

    async def credit_totals(self) -> credit.CreditTotals:
        return await credit.totals(await self._checked_node())

    async def prepare_credit(self, payees: Sequence[Payee], *, memo: str | bytes = b"",
                             treasury: str | None = None) -> credit.PreparedCredit:
        """The unsigned credit transfer paying `payees` from this wallet's account (or a
        treasury's), once it fits what the account may send (CreditLimitExceeded if not)."""
        return await credit.prepare(await self._checked_node(), chain_id=self._data.chain_id,
                                    network=self.network, policy=self.credit_policy(treasury),
                                    payees=payees, memo=memo)

    async def send_credit(self, prepared: credit.PreparedCredit) -> credit.SentCredit:
        """Sign with this wallet's key, check with the ledger's rules, broadcast."""
        signed = credit.sign(prepared, self._keys(prepared.policy.pubkeys))
        return await credit.send(await self._checked_node(), signed)

    def save_credit_partial(self, prepared: credit.PreparedCredit,
                            path: str | os.PathLike[str]) -> credit_partial.PartialCredit:
        """Write a treasury's transfer as a partial credit file for its members to sign."""
        pc = credit_partial.new_partial(prepared.transfer, prepared.policy, self.network,
                                        self._data.genesis_hash)
        credit_partial.save_partial(path, pc)
        return pc

    def sign_credit_partial(self, pc: credit_partial.PartialCredit
                            ) -> tuple[credit_partial.PartialCredit, int]:
        """Add this wallet's treasury member signatures (the file checked first)."""
        credit_partial.check_chain(pc, self._data.chain_id, self.network,
                                   self._data.genesis_hash)
        allowed = credit_partial.signing_keys(pc, self._data.signer_keys().cosigner)
        return credit_partial.sign(pc, self._keys(allowed), allowed)

    async def broadcast_credit_partial(self, pc: credit_partial.PartialCredit
                                       ) -> credit.SentCredit:
        credit_partial.check_chain(pc, self._data.chain_id, self.network,
                                   self._data.genesis_hash)
        return await credit.send(await self._checked_node(), credit_partial.finalize(pc))


def _tagged(progress: Progress | None, tag: str) -> Callable[[object], None] | None:
    """`progress`, told `tag` first: "header 12", "tx in mempool"."""
    if progress is None:
        return None
    report = progress
    return lambda what: report(f"{tag} {what}")


class Opening:
    """`Wallet.open(...)`: await it for the wallet, or `async with` it to have it closed."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Wallet]]) -> None:
        self._make = make
        self._wallet: Wallet | None = None

    def __await__(self) -> Generator[Any, None, Wallet]:
        return self._make().__await__()

    async def __aenter__(self) -> Wallet:
        self._wallet = await self._make()
        return self._wallet

    async def __aexit__(self, *exc: object) -> None:
        if self._wallet is not None:
            await self._wallet.close()


class SyncWallet:
    """`Wallet`'s calls, blocking: each runs on a private event loop owned by this object."""

    def __init__(self, path: str | os.PathLike[str], password: str | None = None, *,
                 node: str = DEFAULT_NODE_URL, retry: RetryPolicy | None = None,
                 lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._wallet: Wallet = self._run(Wallet.open(path, password, node=node, retry=retry,
                                                         lock_timeout_s=lock_timeout_s))
        except BaseException:
            self._loop.close()
            raise

    def _run(self, call: Awaitable[T]) -> T:
        async def run() -> T:
            return await call

        return self._loop.run_until_complete(run())

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._wallet.close())
            self._loop.close()

    def __enter__(self) -> SyncWallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def wallet(self) -> Wallet:
        """The async wallet underneath (for its properties; call it only through this)."""
        return self._wallet

    def unlock(self, password: str) -> None:
        self._wallet.unlock(password)

    def receive_address(self, *, new: bool = False) -> str:
        return self._run(self._wallet.receive_address(new=new))

    def balance(self) -> Balance:
        return self._run(self._wallet.balance())

    def history(self, limit: int = 50) -> list[HistoryEntry]:
        return self._run(self._wallet.history(limit))

    def sync(self) -> LightState:
        return self._run(self._wallet.sync())

    def prepare_payment(self, payees: Sequence[Payee], *, fee_rate: int | None = None,
                        memo: str | bytes = b"") -> PreparedPayment:
        return self._run(self._wallet.prepare_payment(payees, fee_rate=fee_rate, memo=memo))

    def send(self, prepared: PreparedPayment) -> SentPayment:
        return self._run(self._wallet.send(prepared))

    def pay(self, address: str, amount: int, *, fee_rate: int | None = None,
            memo: str | bytes = b"") -> SentPayment:
        return self._run(self._wallet.pay(address, amount, fee_rate=fee_rate, memo=memo))

    def pay_many(self, payees: Sequence[Payee], *, fee_rate: int | None = None,
                 memo: str | bytes = b"") -> SentPayment:
        return self._run(self._wallet.pay_many(payees, fee_rate=fee_rate, memo=memo))

    def save_unsigned(self, prepared: PreparedPayment,
                      path: str | os.PathLike[str]) -> PartialTx:
        return self._run(self._wallet.save_unsigned(prepared, path))

    def wait_final(self, txid_hex: str, timeout_s: float = 60.0) -> Finality:
        return self._run(self._wallet.wait_final(txid_hex, timeout_s))

    def fetch_receipt(self, txid_hex: str) -> Finality:
        return self._run(self._wallet.fetch_receipt(txid_hex))

    def verify_receipt(self, receipt: Receipt, *,
                       trusted_validators_hash: bytes | None = None) -> VerifiedReceipt:
        return self._wallet.verify_receipt(receipt,
                                           trusted_validators_hash=trusted_validators_hash)

    def new_cosigner_key(self) -> PublicKey:
        return self._run(self._wallet.new_cosigner_key())

    def register_treasury(self, name: str, threshold: int,
                          pubkeys: Sequence[bytes]) -> Treasury:
        return self._run(self._wallet.register_treasury(name, threshold, pubkeys))

    def spend_treasury(self, treasury: str, payees: Sequence[Payee], *,
                       fee_rate: int | None = None, memo: str | bytes = b"") -> PartialTx:
        return self._run(self._wallet.spend_treasury(treasury, payees, fee_rate=fee_rate,
                                                     memo=memo))

    def review_partial(self, ptx: PartialTx, *, own_coins: bool = False,
                       offline: bool = False) -> PartialReview:
        return self._run(self._wallet.review_partial(ptx, own_coins=own_coins, offline=offline))

    def sign_partial(self, target: PartialTx | PartialReview, *, own_coins: bool = False,
                     offline: bool = False) -> SignedPartial:
        return self._run(self._wallet.sign_partial(target, own_coins=own_coins,
                                                   offline=offline))

    def broadcast_partial(self, ptx: PartialTx) -> SentPayment:
        return self._run(self._wallet.broadcast_partial(ptx))

    def campaign(self, campaign_id: str) -> CampaignInfo:
        return self._run(self._wallet.campaign(campaign_id))

    def campaigns(self, *, status: str | None = None, beneficiary: str | None = None,
                  limit: int = 100) -> list[CampaignInfo]:
        return self._run(self._wallet.campaigns(status=status, beneficiary=beneficiary,
                                                limit=limit))

    def prepare_campaign(self, terms: CampaignTerms, *,
                         fee_rate: int | None = None) -> PreparedPayment:
        return self._run(self._wallet.prepare_campaign(terms, fee_rate=fee_rate))

    def prepare_pledge(self, campaign_id: str, amount: int, *, refund: str | None = None,
                       fee_rate: int | None = None, memo: str | bytes = b"") -> PreparedPayment:
        return self._run(self._wallet.prepare_pledge(campaign_id, amount, refund=refund,
                                                     fee_rate=fee_rate, memo=memo))

    def prepare_claims(self, *, campaign: str | None = None, fee_rate: int | None = None,
                       force: bool = False) -> PreparedSweeps:
        return self._run(self._wallet.prepare_claims(campaign=campaign, fee_rate=fee_rate,
                                                     force=force))

    def prepare_refunds(self, *, campaign: str | None = None, fee_rate: int | None = None,
                        force: bool = False) -> PreparedSweeps:
        return self._run(self._wallet.prepare_refunds(campaign=campaign, fee_rate=fee_rate,
                                                      force=force))

    def send_sweeps(self, prepared: PreparedSweeps, *, check: bool = True) -> list[SentPayment]:
        return self._run(self._wallet.send_sweeps(prepared, check=check))

    def prepare_contribution(self, rate: Decimal, period: str, *, to: str | None = None,
                             fee_rate: int | None = None) -> Contribution:
        return self._run(self._wallet.prepare_contribution(rate, period, to=to,
                                                           fee_rate=fee_rate))

    def governor_key(self) -> PublicKey:
        return self._run(self._wallet.governor_key())

    def credit_status(self, treasury: str | None = None) -> credit.CreditStatus:
        return self._run(self._wallet.credit_status(treasury))

    def credit_history(self, treasury: str | None = None,
                       limit: int = 50) -> list[credit.CreditLine]:
        return self._run(self._wallet.credit_history(treasury, limit))

    def prepare_credit(self, payees: Sequence[Payee], *, memo: str | bytes = b"",
                       treasury: str | None = None) -> credit.PreparedCredit:
        return self._run(self._wallet.prepare_credit(payees, memo=memo, treasury=treasury))

    def send_credit(self, prepared: credit.PreparedCredit) -> credit.SentCredit:
        return self._run(self._wallet.send_credit(prepared))

    def name_governor(self, pubkey: PublicKey, name: str) -> None:
        self._run(self._wallet.name_governor(pubkey, name))

    def governance_view(self, *, offline: bool = False) -> GovernanceView | None:
        return self._run(self._wallet.governance_view(offline=offline))

    def propose(self, body: ActionBody, reference: Reference, *,
                nonce: int | None = None) -> Proposed:
        return self._run(self._wallet.propose(body, reference, nonce=nonce))

    def propose_recovery(self, members: Sequence[Validator | str], reference: Reference, *,
                         height: int | None = None,
                         last_block_id: bytes | None = None) -> Proposed:
        return self._run(self._wallet.propose_recovery(members, reference, height=height,
                                                       last_block_id=last_block_id))

    def review_proposal(self, proposal: Proposal, *, offline: bool = False) -> ProposalReview:
        return self._run(self._wallet.review_proposal(proposal, offline=offline))

    def sign_proposal(self, target: Proposal | ProposalReview, *,
                      offline: bool = False) -> SignedProposal:
        return self._run(self._wallet.sign_proposal(target, offline=offline))

    def submit_proposal(self, proposal: Proposal) -> Submitted:
        return self._run(self._wallet.submit_proposal(proposal))

    def governance_history(self, limit: int = 50) -> list[governors.HistoryEntry]:
        return self._run(self._wallet.governance_history(limit))

    def request(self, amount: int | pricing.Asked, *, memo: str = "",
                expires_in_s: float | None = None) -> PaymentRequest:
        return self._run(self._wallet.request(amount, memo=memo, expires_in_s=expires_in_s))

    def check_request(self, request: PaymentRequest | int) -> RequestStatus:
        return self._run(self._wallet.check_request(request))

    def wait_paid(self, request: PaymentRequest | int, *,
                  timeout_s: float | None = None) -> RequestStatus:
        return self._run(self._wallet.wait_paid(request, timeout_s=timeout_s))

    def cancel_request(self, request: PaymentRequest | int) -> PaymentRequest:
        return self._run(self._wallet.cancel_request(request))

    def quote(self, amount: int | pricing.Asked) -> pricing.Converted | None:
        return self._run(self._wallet.quote(amount))

    def sign_message(self, address: str, message: str) -> SignedMessage:
        return self._wallet.sign_message(address, message)
