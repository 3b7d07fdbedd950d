"""Paying, step by step: payees in, a prepared (unsigned, exact-fee) payment out, then signed,
checked with the ledger's rules, and recorded once sent.

Each step is a function of the public wallet data (and a node where it needs one);
`wallet.session.Wallet` runs them in order while it holds the wallet's lock, and saves what
they return. A program may call them directly, but then keeps that order and that lock itself.

- `prepare`: forget pending spends that are final or dropped, fetch the wallet's coins, skip
  those its own pending txs spend (the node lists only confirmed coins and refuses a second
  spend of a pooled one), and build the tx with change to the next fresh change address.
- `check_fresh`: a prepared payment is still sendable as it is: the wallet is the one it was
  prepared by, no payment recorded since spends one of its coins, its change address is unused.
- `sign_payment`: sign, then validate locally with `consensus.ledger.validate_tx` before
  anything leaves the machine.
- `reserve_change` / `record_sent`: the change index moves past the change address used;
  a sent tx's inputs are remembered as pending until it is final (`forget_final`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import wallet.ops as ops
from consensus.address import decode_address, encode_address
from consensus.campaign import Campaign
from consensus.codec import txid
from consensus.crypto import PrivateKey
from consensus.ledger import MemoryUtxoSet, validate_tx
from consensus.params import ChainParams
from consensus.types import MAX_MEMO, CampaignTerms, Lock, OutPoint, SpendPolicy, Tx, TxOut
from wallet.builder import Coin, Payment, UnsignedTx, build_transaction, sign_transaction
from wallet.client import NodeClient
from wallet.errors import InsufficientFunds, MemoError, StalePayment, WalletError
from wallet.keys import CHANGE
from wallet.walletfile import PendingSpend, Treasury, WalletData


@dataclass(frozen=True, slots=True)
class Payee:
    """Who is paid and how much: an address of the wallet's network, in base units.

    With `campaign` (a campaign id, hex) it is a pledge of `amount` to that campaign, and
    `address` is who gets it back if the campaign fails (docs/FUNDING.md).
    """

    address: str
    amount: int
    campaign: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerContext:
    """What the ledger's campaign rules read when the wallet checks a tx before sending it:
    the campaigns it touches (as the node reported them) and the height it is meant for."""

    campaigns: tuple[Campaign, ...] = ()
    height: int = 1

    def view(self, spent: Mapping[OutPoint, TxOut]) -> MemoryUtxoSet:
        """A ledger view holding `spent` (what the tx's inputs spend) and the campaigns."""
        return MemoryUtxoSet(spent, self.campaigns, self.height)


@dataclass(frozen=True, slots=True)
class PreparedPayment:
    """An unsigned payment with all a payer is shown before agreeing to it."""

    unsigned: UnsignedTx
    network: str
    payees: tuple[Payee, ...]  # in output order
    params: ChainParams  # the chain's parameters it was built for (local validation)
    change_index: int | None  # the wallet's change address it pays change to, if any
    context: LedgerContext = LedgerContext()  # campaigns it pledges to or creates

    @property
    def txid(self) -> str:
        return txid(self.unsigned.tx).hex()

    @property
    def amount(self) -> int:
        """What the payees receive (change excluded)."""
        return sum(p.amount for p in self.payees)

    @property
    def fee(self) -> int:
        return self.unsigned.fee

    @property
    def size(self) -> int:
        """Bytes once signed: fee / size is the fee rate."""
        return self.unsigned.signed_size

    @property
    def memo(self) -> bytes:
        return self.unsigned.tx.memo

    @property
    def inputs(self) -> int:
        return len(self.unsigned.tx.inputs)

    @property
    def change(self) -> Payee | None:
        """The change output (back to this wallet), if the payment makes one."""
        i = self.unsigned.change_index
        if i is None:
            return None
        out = self.unsigned.tx.outputs[i]
        return Payee(encode_address(out.lock, self.network), out.amount)


@dataclass(frozen=True, slots=True)
class SentPayment:
    """A tx the node accepted into its pool; final only once `Wallet.wait_final` says so."""

    txid: str
    tx: Tx


def encode_memo(memo: str | bytes) -> bytes:
    raw = memo.encode("utf-8") if isinstance(memo, str) else bytes(memo)
    if len(raw) > MAX_MEMO:
        raise MemoError(f"memo is {len(raw)} bytes; the maximum is {MAX_MEMO}")
    return raw


def to_payments(payees: Sequence[Payee], network: str) -> list[Payment]:
    """Each payee's address decoded for `network` (AddressError names a typo or another
    network's address); a pledge's lock is its campaign's id, its refund lock the address's."""
    return [Payment(decode_address(p.address.strip(), network), p.amount) if p.campaign is None
            else Payment(Lock(campaign_bytes(p.campaign)), p.amount,
                         decode_address(p.address.strip(), network))
            for p in payees]


def campaign_bytes(text: str) -> bytes:
    """A campaign id from its 64 hex digits (WalletError otherwise)."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise WalletError(f"a campaign id is 64 hex digits, not {text[:70]!r}")
    return raw


@contextmanager
def held_coins_noted(held: Sequence[Coin]) -> Iterator[None]:
    """Say so when coins held by the wallet's own pending txs are why funds fall short."""
    try:
        yield
    except InsufficientFunds as exc:
        if not held:
            raise
        raise InsufficientFunds(exc.needed, exc.available,
                                held=sum(c.amount for c in held)) from None


async def prepare(node: NodeClient, data: WalletData, payees: Sequence[Payee], *,
                  fee_rate: int | None = None, memo: str | bytes = b"",
                  campaign: CampaignTerms | None = None,
                  context: LedgerContext = LedgerContext()
                  ) -> tuple[WalletData, PreparedPayment]:
    """The wallet data with settled pending spends (to save), and the prepared payment.

    `fee_rate` defaults to the chain's minimum. With `campaign` the tx creates it (payees may
    then be empty); `context` holds what the local check of pledges and creations reads.
    Raises InsufficientFunds (saying when the wallet's own pending txs hold the coins it
    lacks), DustOutput, FeeRateError, AddressError.
    """
    memo_bytes = encode_memo(memo)
    wanted = to_payments(payees, data.network)
    data = await ops.settle_pending(node, data)
    params = await ops.chain_params(node)
    coins, held = ops.split_held(await ops.fetch_coins(node, data), data)
    change = SpendPolicy.single(data.watch().pubkey(CHANGE, data.change_index))
    with held_coins_noted(held):
        unsigned = build_transaction(
            coins, wanted, fee_rate=params.min_fee_rate if fee_rate is None else fee_rate,
            params=params, chain_id=data.chain_id, change_policy=change, memo=memo_bytes,
            campaign=campaign)
    shown = tuple(Payee(p.address.strip(), p.amount, p.campaign) for p in payees)
    used = None if unsigned.change_index is None else data.change_index
    return data, PreparedPayment(unsigned, data.network, shown, params, used, context)


async def prepare_treasury(node: NodeClient, data: WalletData, treasury: Treasury,
                           payees: Sequence[Payee], *, fee_rate: int | None = None,
                           memo: str | bytes = b"") -> tuple[WalletData, UnsignedTx]:
    """As `prepare`, spending the treasury's coins with change back to the treasury."""
    memo_bytes = encode_memo(memo)
    wanted = to_payments(payees, data.network)
    data = await ops.settle_pending(node, data)
    params = await ops.chain_params(node)
    coins, held = ops.split_held(
        await ops.fetch_policy_coins(node, treasury.policy, data.network), data)
    with held_coins_noted(held):
        unsigned = build_transaction(
            coins, wanted, fee_rate=params.min_fee_rate if fee_rate is None else fee_rate,
            params=params, chain_id=data.chain_id, change_policy=treasury.policy,
            memo=memo_bytes)
    return data, unsigned


def check_fresh(data: WalletData, prepared: PreparedPayment) -> None:
    """StalePayment unless `prepared` can still be sent as it is by the wallet `data`."""
    if prepared.unsigned.tx.chain_id != data.chain_id or prepared.network != data.network:
        raise StalePayment("the payment was prepared for another wallet's chain")
    held = data.held_outpoints()
    if any(i.prevout in held for i in prepared.unsigned.tx.inputs):
        raise StalePayment("a payment sent since this one was prepared spends one of its "
                           "coins: prepare it again")
    if prepared.change_index is not None and prepared.change_index < data.change_index:
        raise StalePayment("a payment made since this one was prepared took its change "
                           "address: prepare it again")


def sign_payment(prepared: PreparedPayment, keys: Mapping[bytes, PrivateKey]) -> Tx:
    """The signed tx, checked with the ledger's own rules against the coins it spends."""
    tx = sign_transaction(prepared.unsigned, keys)
    spent = prepared.unsigned.spent
    view = prepared.context.view({i.prevout: o for i, o in zip(tx.inputs, spent, strict=True)})
    validate_tx(tx, view, prepared.params, chain_id=tx.chain_id)
    return tx


def reserve_change(data: WalletData, change_index: int | None) -> WalletData:
    """Move the change index past the change address a payment uses (once it may leave)."""
    if change_index is None or change_index < data.change_index:
        return data
    return replace(data, change_index=change_index + 1)


def record_sent(data: WalletData, tx: Tx) -> WalletData:
    """Remember a sent tx's inputs, so the next payment does not choose them again."""
    tid = txid(tx)
    if any(p.txid == tid for p in data.pending):
        return data
    spend = PendingSpend(tid, tuple(i.prevout for i in tx.inputs))
    return replace(data, pending=(*data.pending, spend))


def forget_final(data: WalletData, txid_hex: str) -> WalletData:
    """Drop a tx proven final from the pending spends."""
    keep = tuple(p for p in data.pending if p.txid.hex() != txid_hex)
    return data if len(keep) == len(data.pending) else replace(data, pending=keep)
