"""Mutual credit ("fair credit"): accounts keyed by lock, limits the assembly grants, transfers.

Glossary:
- *credit account*: a signed balance, a limit >= 0 and a sequence number, keyed by a lock, so
  any address (a member's key, a coop's m-of-n treasury) can hold one. An account nobody has
  touched is balance 0, limit 0, sequence 0.
- *limit*: how far below zero the balance may go. Only governance sets it (`SetCreditLimit`,
  with the assembly's reference), and it takes effect two heights after the action's block.
- *credit transfer*: units moved from one account (the sender, whose spend policy signs it) to
  one or more others. It names the sender's next sequence number, so it can't be replayed or
  reordered, and it pays no fee: credit must work for a member with no coins at all.
- *available*: balance + limit, what the account may still send (never below 0 when shown).

Invariants: every transfer debits exactly what it credits, so the balances of all accounts sum
to zero after every block (`apply_credit` checks the block's sum too); no transfer takes its
sender below -limit; a lowered limit never moves a balance, it only stops the account sending
until it is back within its limit.

Spam, without fees (the bounds are dynamic parameters, PROTOCOL.md 9): only an account with a
limit > 0, or with a balance of at least `credit_sender_min_balance`, may send; one account
sends at most `credit_block_cap` transfers per block; a node's mempool holds at most
`credit_pool_cap` of one account's transfers. So the assembly's grants bound who can make the
chain carry anything, and how much.

Simplifications, said plainly: one sender per transfer; no interest, no expiry, no
demurrage; the chain records default (a debt never repaid) but does nothing about it: that is
the assembly's business (docs/CREDIT.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from consensus.codec import tx_size, txid
from consensus.crypto import PrivateKey, tagged_hash
from consensus.errors import InvalidSignature, ValidationError, WrongChain
from consensus.ledger import LedgerView, SignatureCache, check_witness
from consensus.params import ChainParams
from consensus.types import (
    MAX_CREDIT,
    MAX_CREDIT_PAYMENTS,
    MAX_MEMO,
    Block,
    CreditPayment,
    CreditTransfer,
    Lock,
    SpendPolicy,
    TxId,
    Witness,
)

CREDIT_SIG_TAG = "faircoop/credit/v1"
ZERO_LOCK = Lock(bytes(32))

# The kinds of a line in an account's history (`CreditMove.kind`).
SENT, RECEIVED, LIMIT = 1, 2, 3


@dataclass(frozen=True, slots=True)
class CreditAccount:
    balance: int = 0  # signed base units; -MAX_CREDIT..MAX_CREDIT
    limit: int = 0  # 0..MAX_CREDIT: the balance may go down to -limit
    sequence: int = 0  # what the account's next transfer must name

    @property
    def available(self) -> int:
        """What it may still send: balance + limit, and 0 when a lowered limit is below its
        debt."""
        return max(0, self.balance + self.limit)


NEW_ACCOUNT = CreditAccount()


class CreditView(Protocol):
    """Read access to credit accounts: the store and the in-memory ledger provide it."""

    def get_credit_account(self, lock: Lock) -> CreditAccount | None: ...


class ChainView(LedgerView, CreditView, Protocol):
    """Both ledgers a block touches: coins (UTXOs and the campaign records that lock some of
    them) and credit accounts."""


@dataclass(frozen=True, slots=True)
class LimitChange:
    """A `SetCreditLimit` a block's governance carried: `lock`'s limit becomes `limit`."""

    lock: Lock
    limit: int
    ref: bytes  # SHA-256 of the governance action's bytes, to find it again


@dataclass(frozen=True, slots=True)
class CreditMove:
    """One line of an account's history: what one transfer or limit change did to it."""

    lock: Lock
    position: int  # its transfer's index in Block.txs; len(txs) + i for the block's i-th limit
    kind: int  # SENT, RECEIVED or LIMIT
    amount: int  # units sent (the total) or received, or the new limit
    balance: int  # the account's balance after it
    ref: bytes  # the transfer's id, or the governance action's hash (LimitChange.ref)
    counterparty: Lock  # who paid (RECEIVED), the first recipient (SENT), ZERO_LOCK (LIMIT)
    memo: bytes  # the transfer's memo (b"" for a limit)


@dataclass(frozen=True, slots=True)
class CreditDiff:
    """What a block does to the credit accounts; storage writes it in the block's batch."""

    accounts: tuple[tuple[Lock, CreditAccount], ...]  # each touched account's new record
    moves: tuple[CreditMove, ...]  # per account, per transfer or limit: its history lines

    def __bool__(self) -> bool:
        return bool(self.accounts)


EMPTY_CREDIT_DIFF = CreditDiff((), ())


@dataclass(frozen=True, slots=True)
class ValidTransfer:
    txid: TxId
    size: int
    total: int  # the sum of its payments: what the sender is debited


# -- signing ----------------------------------------------------------------------------------


def credit_sighash(t: CreditTransfer) -> bytes:
    """The digest the sender's signers sign: the chain id and the transfer's id, under a tag of
    its own (a coin tx's digest is under `faircoop/tx/v1`)."""
    chain = t.chain_id.encode()
    return tagged_hash(CREDIT_SIG_TAG, len(chain).to_bytes(1, "big"), chain, txid(t))


def sign_credit_transfer(
    t: CreditTransfer, policy: SpendPolicy, keys: Iterable[PrivateKey]
) -> CreditTransfer:
    """`t` with a witness of `policy` signed by `keys` (exactly m of its keys, any order)."""
    digest = credit_sighash(t)
    by_key = {k.public_key: k for k in keys}
    sigs = tuple((i, by_key[pk].sign(digest)) for i, pk in enumerate(policy.pubkeys)
                 if pk in by_key)
    return replace(t, witness=Witness(policy, sigs))


# -- the rules --------------------------------------------------------------------------------


def check_transfer_shape(t: CreditTransfer, params: ChainParams, chain_id: str) -> int:
    """Context-free rules: chain, payments, memo, size, amounts, witness. Returns the total."""
    if t.chain_id != chain_id:
        raise WrongChain("wrong_chain", f"transfer is for {t.chain_id!r}, this chain is "
                                        f"{chain_id!r}")
    if not t.payments:
        raise ValidationError("credit_no_payments", "a credit transfer pays at least one account")
    if len(t.payments) > MAX_CREDIT_PAYMENTS:
        raise ValidationError("credit_too_many_payments",
                              f"{len(t.payments)} payments, at most {MAX_CREDIT_PAYMENTS}")
    if len(t.memo) > MAX_MEMO:
        raise ValidationError("memo_too_long", f"memo is {len(t.memo)} bytes, max {MAX_MEMO}")
    size = tx_size(t)
    if size > params.max_tx_size:
        raise ValidationError("oversize_tx", f"{size} bytes > max_tx_size {params.max_tx_size}")
    seen: set[Lock] = set()
    total = 0
    for n, p in enumerate(t.payments):
        if not 1 <= p.amount <= MAX_CREDIT:
            raise ValidationError("amount_range", f"payment {n} amount {p.amount} out of range")
        if p.lock == t.sender:
            raise ValidationError("credit_self_payment", f"payment {n} pays the sender")
        if p.lock in seen:
            raise ValidationError("credit_duplicate_recipient",
                                  f"payment {n} pays an account an earlier payment pays")
        seen.add(p.lock)
        total += p.amount
    if total > MAX_CREDIT:
        raise ValidationError("amount_overflow", "payments sum beyond the maximum amount")
    if t.witness is None:
        raise InvalidSignature("missing_witness", "a credit transfer carries its sender's witness")
    return total


def check_sender(t: CreditTransfer, sender: CreditAccount, total: int,
                 params: ChainParams) -> None:
    """May `sender` (its record now) send `t`, which debits `total`?"""
    if sender.limit == 0 and sender.balance < params.credit_sender_min_balance:
        raise ValidationError(
            "credit_not_admitted",
            f"the sender has no credit limit and a balance of {sender.balance}, below "
            f"credit_sender_min_balance {params.credit_sender_min_balance}")
    if t.sequence != sender.sequence:
        raise ValidationError("credit_sequence",
                              f"sequence {t.sequence}, the sender's next is {sender.sequence}")
    if sender.balance - total < -sender.limit:
        raise ValidationError(
            "credit_limit_exceeded",
            f"sending {total} takes the balance {sender.balance} below -{sender.limit} "
            f"(available {sender.available})")


def check_recipient(n: int, recipient: CreditAccount, amount: int) -> None:
    if recipient.balance + amount > MAX_CREDIT:
        raise ValidationError("credit_balance_overflow",
                              f"payment {n} takes its recipient's balance over {MAX_CREDIT}")


def validate_transfer(
    t: CreditTransfer, view: CreditView, params: ChainParams, *, chain_id: str,
    sig_cache: SignatureCache | None = None,
) -> ValidTransfer:
    """Every rule for one transfer against the accounts in `view`; raises the first broken."""
    total = check_transfer_shape(t, params, chain_id)
    check_sender(t, view.get_credit_account(t.sender) or NEW_ACCOUNT, total, params)
    for n, p in enumerate(t.payments):
        check_recipient(n, view.get_credit_account(p.lock) or NEW_ACCOUNT, p.amount)
    check_transfer_witness(t, sig_cache)
    return ValidTransfer(txid(t), tx_size(t), total)


def check_transfer_witness(t: CreditTransfer, sig_cache: SignatureCache | None = None) -> None:
    """The witness reveals the sender's policy and exactly m valid signatures (the coin rules);
    a transfer whose exact bytes passed before (`sig_cache`) is not checked again."""
    key = SignatureCache.key(t) if sig_cache is not None else b""
    if sig_cache is not None and key in sig_cache:
        return
    if t.witness is None:
        raise InvalidSignature("missing_witness", "a credit transfer carries its sender's witness")
    check_witness(t.witness, t.sender, credit_sighash(t), "sender")
    if sig_cache is not None:
        sig_cache.add(key)


# -- blocks -----------------------------------------------------------------------------------


class _Accounts:
    """The accounts as a block changes them: its own changes over a read-only view."""

    def __init__(self, base: Callable[[Lock], CreditAccount | None]) -> None:
        self._base = base
        self.before: dict[Lock, CreditAccount] = {}
        self.now: dict[Lock, CreditAccount] = {}  # first-touch order

    def get_credit_account(self, lock: Lock) -> CreditAccount:
        found = self.now.get(lock)
        if found is None:
            found = self._base(lock) or NEW_ACCOUNT
            self.before[lock] = found
            self.now[lock] = found
        return found

    def set(self, lock: Lock, account: CreditAccount) -> None:
        self.now[lock] = account


def _transfer_effect(accounts: _Accounts, t: CreditTransfer, position: int, tid: bytes,
                     total: int, moves: list[CreditMove]) -> None:
    """Debit the sender, credit each recipient, bump the sequence; record the history lines."""
    sender = accounts.get_credit_account(t.sender)
    sender = replace(sender, balance=sender.balance - total, sequence=sender.sequence + 1)
    accounts.set(t.sender, sender)
    moves.append(CreditMove(t.sender, position, SENT, total, sender.balance, tid,
                            t.payments[0].lock, t.memo))
    for p in t.payments:
        got = accounts.get_credit_account(p.lock)
        got = replace(got, balance=got.balance + p.amount)
        accounts.set(p.lock, got)
        moves.append(CreditMove(p.lock, position, RECEIVED, p.amount, got.balance, tid,
                                t.sender, t.memo))


def _limit_effect(accounts: _Accounts, changes: tuple[LimitChange, ...], first: int,
                  moves: list[CreditMove]) -> None:
    """The limits the governance of two blocks back set, in force from the next block on."""
    for i, change in enumerate(changes):
        account = replace(accounts.get_credit_account(change.lock), limit=change.limit)
        accounts.set(change.lock, account)
        moves.append(CreditMove(change.lock, first + i, LIMIT, change.limit, account.balance,
                                change.ref, ZERO_LOCK, b""))


def _diff(accounts: _Accounts, moves: list[CreditMove]) -> CreditDiff:
    """The block's diff, once its balance changes are checked to sum to zero."""
    drift = sum(a.balance - accounts.before[lock].balance for lock, a in accounts.now.items())
    if drift:
        raise ValidationError("credit_not_zero_sum",
                              f"the block's credit balance changes sum to {drift}, not 0")
    return CreditDiff(tuple(accounts.now.items()), tuple(moves))


def apply_credit(
    block: Block, view: CreditView, params: ChainParams,
    limits: tuple[LimitChange, ...] = (), *, sig_cache: SignatureCache | None = None,
) -> CreditDiff:
    """Validate every credit transfer of a block in order and return the block's effect.

    Rules beyond each transfer's (`validate_transfer`, against the accounts as the block's
    earlier transfers left them): at most `credit_block_cap` transfers per sender
    (`credit_block_cap`), and the balance changes sum to zero (`credit_not_zero_sum`). Then
    `limits` (the SetCreditLimit actions the block before this one carried) are applied, so
    they are in force from the next block on: an action included at h governs h + 2. Nothing
    is written. A failure names its transfer: `tx p: ...`.
    """
    if not limits and not any(isinstance(t, CreditTransfer) for t in block.txs):
        return EMPTY_CREDIT_DIFF
    chain_id = block.header.chain_id
    accounts = _Accounts(view.get_credit_account)
    sent: dict[Lock, int] = {}
    moves: list[CreditMove] = []
    for position, t in enumerate(block.txs):
        if not isinstance(t, CreditTransfer):
            continue
        try:
            count = sent.get(t.sender, 0) + 1
            if count > params.credit_block_cap:
                raise ValidationError("credit_block_cap",
                                      f"the sender's transfer number {count} in this block; "
                                      f"credit_block_cap is {params.credit_block_cap}")
            sent[t.sender] = count
            valid = validate_transfer(t, accounts, params, chain_id=chain_id,
                                      sig_cache=sig_cache)
        except ValidationError as exc:
            raise type(exc)(exc.rule, f"tx {position}: {exc.detail}") from None
        _transfer_effect(accounts, t, position, valid.txid, valid.total, moves)
    _limit_effect(accounts, limits, len(block.txs), moves)
    return _diff(accounts, moves)


def replay_credit(
    block: Block, get: Callable[[Lock], CreditAccount | None],
    limits: tuple[LimitChange, ...] = (),
) -> CreditDiff:
    """The credit effect of a block already validated, without checking it again (reindex)."""
    accounts = _Accounts(get)
    moves: list[CreditMove] = []
    for position, t in enumerate(block.txs):
        if isinstance(t, CreditTransfer):
            total = sum(p.amount for p in t.payments)
            _transfer_effect(accounts, t, position, txid(t), total, moves)
    _limit_effect(accounts, limits, len(block.txs), moves)
    return _diff(accounts, moves)


# -- in memory --------------------------------------------------------------------------------


class MemoryCreditLedger:
    """A dict of credit accounts for tests, the simulator and light tools."""

    def __init__(self, accounts: Mapping[Lock, CreditAccount] | None = None) -> None:
        self.accounts: dict[Lock, CreditAccount] = dict(accounts or {})

    def get_credit_account(self, lock: Lock) -> CreditAccount | None:
        return self.accounts.get(lock)

    def apply(self, diff: CreditDiff) -> None:
        self.accounts.update(diff.accounts)

    def total(self) -> int:
        """The sum of every balance: always 0."""
        return sum(a.balance for a in self.accounts.values())


def new_transfer(chain_id: str, sender: Lock, sequence: int,
                 payments: Iterable[tuple[Lock, int]], memo: bytes = b"") -> CreditTransfer:
    """An unsigned transfer paying (lock, amount) pairs, in the order given."""
    return CreditTransfer(chain_id, sender, sequence,
                          tuple(CreditPayment(amount, lock) for lock, amount in payments),
                          memo, None)
