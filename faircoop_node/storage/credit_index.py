"""What one block does to the credit keyspaces: accounts, history lines and the totals.

`commit_block` calls `index_credit` inside the block's one atomic batch with the `CreditDiff`
that `consensus.credit.apply_credit` returned; `reindex` calls it with the diff
`replay_credit` recomputes from the stored blocks, so the two can't disagree on a key format.
The totals record is kept by deltas, and a commit that would leave the positive balances
unequal to the debts (balances not summing to zero) is refused: that can only be a bug.
"""

from __future__ import annotations

from consensus.credit import NEW_ACCOUNT, CreditAccount, CreditDiff
from consensus.types import Lock
from faircoop_node.storage import schema
from faircoop_node.storage.errors import InvalidCommit
from faircoop_node.storage.indexes import Getter, Writes


def read_credit_account(get: Getter, lock: bytes) -> tuple[CreditAccount, int] | None:
    """An account record (the account and its count of history lines), if the lock has one."""
    key = schema.credit_account_key(lock)
    raw = get(key)
    if raw is None:
        return None
    balance, limit, sequence, lines = schema.decode_credit_account(raw, key)
    return CreditAccount(balance, limit, sequence), lines


def read_credit_totals(get: Getter) -> tuple[int, int, int, int, int]:
    raw = get(schema.CREDIT_TOTALS)
    return (0, 0, 0, 0, 0) if raw is None else schema.decode_credit_totals(
        raw, schema.CREDIT_TOTALS)


def index_credit(get: Getter, writes: Writes, *, height: int, diff: CreditDiff) -> None:
    """Add the block's credit writes to `writes`; `get` reads the store as it was before."""
    if not diff:
        return
    lines_added: dict[Lock, int] = {}
    for move in diff.moves:
        writes[schema.credit_history_key(move.lock, height, move.position)] = \
            schema.encode_credit_line(move.kind, move.amount, move.balance, move.ref,
                                      move.counterparty, move.memo)
        lines_added[move.lock] = lines_added.get(move.lock, 0) + 1
    accounts, lines, outstanding, granted, positive = read_credit_totals(get)
    for lock, account in diff.accounts:
        found = read_credit_account(get, lock)
        old, count = found if found is not None else (NEW_ACCOUNT, 0)
        accounts += found is None
        lines += (account.limit > 0) - (old.limit > 0)
        outstanding += max(0, -account.balance) - max(0, -old.balance)
        positive += max(0, account.balance) - max(0, old.balance)
        granted += account.limit - old.limit
        writes[schema.credit_account_key(lock)] = schema.encode_credit_account(
            account.balance, account.limit, account.sequence, count + lines_added.get(lock, 0))
    if outstanding != positive:
        raise InvalidCommit(f"block {height} leaves credit balances that do not sum to zero "
                            f"({positive} owed to accounts, {outstanding} owed by them)")
    writes[schema.CREDIT_TOTALS] = schema.encode_credit_totals(
        accounts, lines, outstanding, granted, positive)
