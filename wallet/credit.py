"""Mutual credit from the wallet: an account's status and history, and paying in credit.

A wallet's own credit account is its first receive address (`m/44'/coin'/account'/0/0`): it
never changes, a watch-only wallet derives it too, and it is what a member gives the assembly to
be granted a limit. A coop's treasury registered in the wallet (`multisig create`) has the
credit account of its m-of-n lock, and pays through a partial file its members sign in turn
(`wallet.credit_partial`).

Paying, step by step (`wallet.session.Wallet` runs them in order):

- `prepare`: read the sender's account from the node (balance, limit, and the transfers of its
  this node's mempool holds, so the next sequence number), refuse what the ledger would refuse
  (`CreditLimitExceeded` when the amount is over what is left to send), and build the unsigned
  transfer;
- `sign`: sign with the sender's keys, then validate with `consensus.credit.validate_transfer`
  against the account as the node reported it, before anything leaves the machine;
- `send`: POST it; a node's refusal for `credit_limit_exceeded` is `CreditLimitExceeded` too.

Credit counts in the same base units as coins (1 unit = 10^8), so amounts are written alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from consensus.address import decode_address, encode_address
from consensus.codec import encode_tx, policy_lock, txid
from consensus.credit import (
    CreditAccount,
    MemoryCreditLedger,
    new_transfer,
    sign_credit_transfer,
    validate_transfer,
)
from consensus.crypto import PrivateKey
from consensus.errors import ValidationError
from consensus.params import ChainParams
from consensus.types import MAX_CREDIT_PAYMENTS, CreditTransfer, Lock, SpendPolicy
from wallet import ops
from wallet.amounts import format_coins
from wallet.client import NodeClient
from wallet.errors import CreditLimitExceeded, NodeError, TxRejected, WalletError
from wallet.payments import Payee, encode_memo


@dataclass(frozen=True, slots=True)
class CreditStatus:
    """A credit account as a node reports it (GET /credit/{address})."""

    address: str
    lock: Lock
    balance: int  # signed base units
    limit: int
    available: int  # balance + limit, never below 0
    sequence: int  # what its next final transfer names
    mempool_pending: int  # its transfers the node's mempool holds
    mempool_debit: int  # what they take
    pending_limits: tuple[tuple[int, int], ...]  # (limit, effective height) set, not in force
    history_count: int

    @property
    def next_sequence(self) -> int:
        return self.sequence + self.mempool_pending

    @property
    def spendable(self) -> int:
        """What a new transfer may take: what is available, less what pooled ones take."""
        return max(0, self.available - self.mempool_debit)

    def as_account(self) -> CreditAccount:
        """The account a new transfer is checked against: the pooled transfers applied."""
        return CreditAccount(self.balance - self.mempool_debit, self.limit, self.next_sequence)


@dataclass(frozen=True, slots=True)
class CreditLine:
    """One line of an account's history (GET /credit/{address}/history)."""

    height: int
    kind: str  # "sent", "received" or "limit"
    amount: int
    balance: int  # after it
    txid: str | None  # the transfer (None for a limit)
    action_id: str | None  # the governance action (for a limit)
    counterparty: str | None  # who paid, or the first payee
    memo: bytes


@dataclass(frozen=True, slots=True)
class CreditTotals:
    accounts: int
    credit_lines: int
    outstanding: int  # the sum of debts
    granted: int  # the sum of limits
    positive: int  # the sum of what accounts are owed
    balance_sum: int  # always 0


@dataclass(frozen=True, slots=True)
class PreparedCredit:
    """An unsigned credit transfer with all the payer is shown before agreeing to it."""

    transfer: CreditTransfer
    network: str
    sender: str  # the account debited (an address)
    policy: SpendPolicy  # the sender's: who must sign
    payees: tuple[Payee, ...]
    status: CreditStatus  # the sender's account as the node reported it
    params: ChainParams

    @property
    def txid(self) -> str:
        return txid(self.transfer).hex()

    @property
    def amount(self) -> int:
        return sum(p.amount for p in self.payees)

    @property
    def balance_after(self) -> int:
        """The sender's balance once this and its pooled transfers are final."""
        return self.status.balance - self.status.mempool_debit - self.amount


@dataclass(frozen=True, slots=True)
class SentCredit:
    txid: str
    transfer: CreditTransfer


# -- reading ----------------------------------------------------------------------------------


def _int(doc: Mapping[str, object], key: str, *, signed: bool = False) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and not signed):
        raise NodeError(200, f"credit: {key} is not an integer")
    return value


def _str(doc: Mapping[str, object], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise NodeError(200, f"credit: {key} is not text")
    return value


async def status(client: NodeClient, lock: Lock, network: str) -> CreditStatus:
    address = encode_address(lock, network)
    doc = await client.credit(address)
    if not isinstance(doc, dict) or doc.get("lock") != lock.hex():
        raise NodeError(200, "credit: the node answered for another account")
    pending = doc.get("pending_limits")
    if not isinstance(pending, list) or not all(isinstance(p, dict) for p in pending):
        raise NodeError(200, "credit: pending_limits is not a list")
    return CreditStatus(
        address=address, lock=lock, balance=_int(doc, "balance", signed=True),
        limit=_int(doc, "limit"), available=_int(doc, "available"),
        sequence=_int(doc, "sequence"), mempool_pending=_int(doc, "mempool_pending"),
        mempool_debit=_int(doc, "mempool_debit"),
        pending_limits=tuple((_int(p, "limit"), _int(p, "effective_height")) for p in pending),
        history_count=_int(doc, "history_count"))


async def history(client: NodeClient, lock: Lock, network: str, limit: int = 50
                  ) -> list[CreditLine]:
    doc = await client.credit_history(encode_address(lock, network), limit)
    if not isinstance(doc, list) or not all(isinstance(x, dict) for x in doc):
        raise NodeError(200, "credit history: malformed answer")
    lines = []
    for x in doc:
        kind = _str(x, "kind")
        if kind not in ("sent", "received", "limit"):
            raise NodeError(200, "credit history: unknown kind")
        try:
            memo = bytes.fromhex(_str(x, "memo_hex") or "")
        except ValueError:
            raise NodeError(200, "credit history: memo_hex is not hex") from None
        lines.append(CreditLine(_int(x, "height"), kind, _int(x, "amount"),
                                _int(x, "balance", signed=True), _str(x, "txid"),
                                _str(x, "action_id"), _str(x, "counterparty"), memo))
    return lines


async def totals(client: NodeClient) -> CreditTotals:
    doc = await client.credit_totals()
    if not isinstance(doc, dict):
        raise NodeError(200, "credit totals: malformed answer")
    return CreditTotals(_int(doc, "accounts"), _int(doc, "credit_lines"),
                        _int(doc, "outstanding"), _int(doc, "granted"), _int(doc, "positive"),
                        _int(doc, "balance_sum", signed=True))


# -- paying -----------------------------------------------------------------------------------


def check_within(account: CreditStatus, amount: int) -> None:
    """CreditLimitExceeded if `amount` is over what the account may still send."""
    if amount > account.spendable:
        pooled = (f" ({format_coins(account.mempool_debit)} of it taken by transfers waiting "
                  "in the mempool)" if account.mempool_debit else "")
        below = (" its balance is below its limit, so it can't send until others pay it"
                 if account.balance < -account.limit else "")
        raise CreditLimitExceeded(
            f"sending {format_coins(amount)} units is over what {account.address} may send: "
            f"{format_coins(account.spendable)} (balance {format_coins(account.balance)}, "
            f"limit {format_coins(account.limit)}){pooled}.{below}")


async def prepare(client: NodeClient, *, chain_id: str, network: str, policy: SpendPolicy,
                  payees: Sequence[Payee], memo: str | bytes = b"") -> PreparedCredit:
    """The unsigned transfer from `policy`'s account paying `payees`, once it fits the limit."""
    if not payees:
        raise WalletError("a credit transfer pays at least one account")
    if len(payees) > MAX_CREDIT_PAYMENTS:
        raise WalletError(f"a credit transfer pays at most {MAX_CREDIT_PAYMENTS} accounts")
    memo_bytes = encode_memo(memo)
    sender = policy_lock(policy)
    locks = [decode_address(p.address.strip(), network) for p in payees]
    if sender in locks:
        raise WalletError("a credit transfer can't pay its own sender")
    if len(set(locks)) != len(locks):
        raise WalletError("a credit transfer pays each account once: merge the amounts")
    account = await status(client, sender, network)
    check_within(account, sum(p.amount for p in payees))
    params = await ops.chain_params(client)
    transfer = new_transfer(chain_id, sender, account.next_sequence,
                            [(lk, p.amount) for lk, p in zip(locks, payees, strict=True)],
                            memo_bytes)
    shown = tuple(Payee(p.address.strip(), p.amount) for p in payees)
    return PreparedCredit(transfer, network, account.address, policy, shown, account, params)


def check_signed(prepared: PreparedCredit, signed: CreditTransfer) -> CreditTransfer:
    """`signed` if every ledger rule passes against the sender's account as the node reported
    it (with its pooled transfers applied); the rule's error otherwise."""
    view = MemoryCreditLedger({prepared.status.lock: prepared.status.as_account()})
    try:
        validate_transfer(signed, view, prepared.params, chain_id=signed.chain_id)
    except ValidationError as exc:
        if exc.rule == CreditLimitExceeded.rule:
            raise CreditLimitExceeded(str(exc)) from None
        raise
    return signed


def sign(prepared: PreparedCredit, keys: Mapping[bytes, PrivateKey]) -> CreditTransfer:
    """Signed with the sender's keys (a single-key account), and checked."""
    signers = [keys[pk] for pk in prepared.policy.pubkeys if pk in keys]
    if len(signers) < prepared.policy.threshold:
        raise WalletError("this wallet holds too few of the sender's keys to sign")
    signed = sign_credit_transfer(prepared.transfer, prepared.policy,
                                  signers[:prepared.policy.threshold])
    return check_signed(prepared, signed)


async def send(client: NodeClient, transfer: CreditTransfer) -> SentCredit:
    """POST the signed transfer; CreditLimitExceeded, or TxRejected with its rule, if refused."""
    try:
        sent = await client.broadcast(encode_tx(transfer).hex())
    except TxRejected as exc:
        if exc.rule == CreditLimitExceeded.rule:
            raise CreditLimitExceeded(f"the node refused the transfer: {exc}") from None
        raise
    if sent != txid(transfer).hex():
        raise NodeError(200, "the node reported another txid than the one sent")
    return SentCredit(sent, transfer)
