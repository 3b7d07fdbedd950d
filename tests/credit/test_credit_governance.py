"""SetCreditLimit through the chain: it needs the assembly's reference, it governs h + 2 (not
h + 1), a later action of the same block wins, a limit under the debt stops sending but not
receiving, and a node's pending limits are what the next block applies."""

from __future__ import annotations

import pytest

from consensus.errors import ValidationError
from consensus.governance import (
    SetCreditLimit,
    check_action,
    credit_limit_changes,
    decode_block_action,
    encode_action,
    make_action,
)
from tests.api.api_chain import VALIDATOR_KEYS, fresh_node
from tests.builders import CHAIN_ID
from tests.credit.credit_chain import REF, UNIT, A, B, a_transfer, b_transfer, limit_action


def test_a_credit_limit_without_the_assemblys_reference_is_refused() -> None:
    node = fresh_node()
    bare = make_action(CHAIN_ID, 0, SetCreditLimit(A, UNIT), (VALIDATOR_KEYS[0],))
    with pytest.raises(ValidationError) as info:
        check_action(bare, CHAIN_ID, node.state.current, 0, ())
    assert info.value.rule == "reference_required"
    with pytest.raises(ValidationError) as info:
        node.commit(actions=(encode_action(bare),))
    assert info.value.rule == "reference_required"
    with_ref = make_action(CHAIN_ID, 0, SetCreditLimit(A, UNIT), (VALIDATOR_KEYS[0],), REF)
    check_action(with_ref, CHAIN_ID, node.state.current, 0, ())


def test_a_limit_included_at_h_is_in_force_at_h_plus_2_not_before() -> None:
    node = fresh_node()
    node.commit(actions=(limit_action(0, A, 10 * UNIT),))  # h = 1
    assert node.store.get_credit_account(A) is None  # applied by the next block
    with pytest.raises(ValidationError) as info:
        node.commit((a_transfer(0, B, UNIT),))  # h + 1: not yet
    assert info.value.rule == "credit_not_admitted"
    node.commit()  # h + 1, empty: it applies the limit, in force from h + 2
    account = node.store.get_credit_account(A)
    assert account is not None and account.limit == 10 * UNIT
    node.commit((a_transfer(0, B, UNIT),))  # h + 2


def test_the_later_of_two_limits_in_one_block_wins() -> None:
    node = fresh_node()
    first, second = limit_action(0, A, 10 * UNIT), limit_action(1, A, 3 * UNIT)
    node.commit(actions=(first, second))
    assert [c.limit for c in credit_limit_changes(node.state.pending_actions)] == \
        [10 * UNIT, 3 * UNIT]
    node.commit()
    account = node.store.get_credit_account(A)
    assert account is not None and account.limit == 3 * UNIT


def test_a_limit_cut_under_the_debt_stops_sending_not_receiving() -> None:
    node = fresh_node()
    node.commit(actions=(limit_action(0, A, 10 * UNIT), limit_action(1, B, 10 * UNIT)))
    node.commit()
    node.commit((a_transfer(0, B, 8 * UNIT),), actions=(limit_action(2, A, 5 * UNIT),))
    node.commit()  # the cut is in force from the next block
    with pytest.raises(ValidationError) as info:
        node.commit((a_transfer(1, B, 1),))
    assert info.value.rule == "credit_limit_exceeded"
    node.commit((b_transfer(0, A, 2 * UNIT),))  # A can still be paid
    account = node.store.get_credit_account(A)
    assert account is not None and (account.balance, account.limit) == (-6 * UNIT, 5 * UNIT)
    with pytest.raises(ValidationError):  # still above its limit: still can't send
        node.commit((a_transfer(1, B, 1),))
    node.commit((b_transfer(1, A, 2 * UNIT),))
    node.commit((a_transfer(1, B, UNIT),))  # back within its limit (-4 of -5): it sends again


def test_credit_limit_changes_reads_only_signed_set_credit_limit_actions() -> None:
    grant = limit_action(0, A, UNIT)
    other = encode_action(make_action(CHAIN_ID, 1, SetCreditLimit(B, 0), (VALIDATOR_KEYS[0],),
                                      REF))
    changes = credit_limit_changes((grant, other))
    assert [(c.lock, c.limit) for c in changes] == [(A, UNIT), (B, 0)]
    assert isinstance(decode_block_action(grant).body, SetCreditLimit)  # type: ignore[union-attr]
