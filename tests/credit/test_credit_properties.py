"""Properties of mutual credit over random sequences of transfers and limit changes.

Hypothesis draws blocks of transfers (mostly plausible: a sender with something available,
its next sequence number; sometimes not) and limit changes, and applies them with
`apply_credit` block by block, as a chain would. Whatever it draws:

- the balances of all accounts sum to zero after every block;
- no accepted transfer takes its sender below minus the limit it had when it sent;
- a refused block changes nothing, an accepted one bumps each sender's sequence once per
  transfer;
- replaying the accepted blocks without checks (`replay_credit`, what reindex does) gives the
  same accounts.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.credit import (
    CreditAccount,
    LimitChange,
    MemoryCreditLedger,
    apply_credit,
    new_transfer,
    replay_credit,
    sign_credit_transfer,
)
from consensus.errors import ValidationError
from consensus.ledger import SignatureCache
from consensus.params import ChainParams
from consensus.types import CreditTransfer, Lock
from tests.builders import CHAIN_ID, key, lock, make_block, single

KEYS = [key(500 + i) for i in range(6)]
POLICIES = [single(k) for k in KEYS]
LOCKS = [lock(p) for p in POLICIES]
PARAMS = ChainParams(credit_block_cap=3)


@st.composite
def a_history(draw: st.DrawFn) -> list[tuple[list[tuple[int, list[tuple[int, int]], int]],
                                          list[tuple[int, int]]]]:
    """Blocks of (sender, [(recipient, amount)], sequence offset) and limit changes."""
    n = len(KEYS)
    blocks = []
    for _ in range(draw(st.integers(1, 8))):
        transfers = []
        for _ in range(draw(st.integers(0, 5))):
            sender = draw(st.integers(0, n - 1))
            others = [i for i in range(n) if i != sender]
            recipients = draw(st.lists(st.sampled_from(others), min_size=1, max_size=3,
                                       unique=True))
            pays = [(r, draw(st.integers(1, 60))) for r in recipients]
            offset = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, -1]))
            transfers.append((sender, pays, offset))
        limits = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 100)),
                               max_size=2))
        blocks.append((transfers, limits))
    return blocks


def _build(ledger: MemoryCreditLedger, spec: list[tuple[int, list[tuple[int, int]], int]],
           ) -> tuple[CreditTransfer, ...]:
    """Sign the block's transfers, numbering each sender's from its current sequence."""
    next_seq: dict[Lock, int] = {}
    out = []
    for sender, pays, offset in spec:
        lk = LOCKS[sender]
        seq = next_seq.get(lk, (ledger.get_credit_account(lk) or CreditAccount()).sequence)
        next_seq[lk] = seq + 1
        t = new_transfer(CHAIN_ID, lk, max(0, seq + offset),
                         [(LOCKS[r], amount) for r, amount in pays])
        out.append(sign_credit_transfer(t, POLICIES[sender], [KEYS[sender]]))
    return tuple(out)


def _position(exc: ValidationError) -> int | None:
    """The transfer a block failed on (`tx p: ...`), if one."""
    head = exc.detail.split(":", 1)[0]
    return int(head[3:]) if head.startswith("tx ") else None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 150), min_size=len(KEYS), max_size=len(KEYS)), a_history())
def test_credit_is_zero_sum_and_never_overdrawn(
        first_limits: list[int],
        history: list[tuple[list[tuple[int, list[tuple[int, int]], int]],
                            list[tuple[int, int]]]]) -> None:
    ledger = MemoryCreditLedger()
    replayed = MemoryCreditLedger()
    cache = SignatureCache()
    # the limits the assembly granted first, applied by an empty block
    pending = tuple(LimitChange(LOCKS[i], limit, bytes(32)) for i, limit in
                    enumerate(first_limits))
    accepted = 0
    for height, (spec, limit_spec) in enumerate(history, start=1):
        while True:  # a proposer leaves out what fails, and tries again
            txs = _build(ledger, spec)
            block = make_block(list(txs), height=height)
            before = dict(ledger.accounts)
            try:
                diff = apply_credit(block, ledger, PARAMS, pending, sig_cache=cache)
                break
            except ValidationError as exc:
                assert ledger.accounts == before  # refused whole, nothing changed
                position = _position(exc)
                assert position is not None, exc
                spec = spec[:position] + spec[position + 1:]
        ledger.apply(diff)
        replayed.apply(replay_credit(block, replayed.get_credit_account, pending))
        accepted += len(txs)
        assert ledger.total() == 0
        for lk, account in ledger.accounts.items():
            prior = before.get(lk, CreditAccount())
            sent_now = sum(1 for t in txs if t.sender == lk)
            assert account.sequence == prior.sequence + sent_now
            if sent_now:  # each send was within the limit in force; receipts only add
                assert account.balance >= -prior.limit
        pending = tuple(LimitChange(LOCKS[i], limit, bytes(32)) for i, limit in limit_spec)
    assert replayed.accounts == ledger.accounts
    assert sum(a.sequence for a in ledger.accounts.values()) == accepted


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 500)),
                min_size=1, max_size=30))
def test_any_accepted_run_of_single_transfers_keeps_every_account_within_its_limit(
        moves: list[tuple[int, int, int]]) -> None:
    """With every limit fixed at 100, one transfer per block: no balance ever goes below -100,
    and the sum stays zero, whichever transfers the rules let through."""
    ledger = MemoryCreditLedger({lk: CreditAccount(0, 100, 0) for lk in LOCKS})
    for height, (a, b, amount) in enumerate(moves, start=1):
        if a == b:
            continue
        seq = (ledger.get_credit_account(LOCKS[a]) or CreditAccount()).sequence
        t = sign_credit_transfer(new_transfer(CHAIN_ID, LOCKS[a], seq, [(LOCKS[b], amount)]),
                                 POLICIES[a], [KEYS[a]])
        try:
            ledger.apply(apply_credit(make_block([t], height=height), ledger, PARAMS))
        except ValidationError as exc:
            assert exc.rule == "credit_limit_exceeded"
            assert (ledger.get_credit_account(LOCKS[a]) or CreditAccount()).balance - amount \
                < -100
        assert ledger.total() == 0
        assert all(acc.balance >= -100 for acc in ledger.accounts.values())
