"""A small real chain with mutual credit, on the API tests' `FakeNode` (real blocks, checked by
`validate_block`, certified, committed with their credit diffs):

- height 1: the governors grant coop A (a single key, no coins at all) 100 units and coop B (a
  2-of-3 treasury) 50 units, with the assembly's reference;
- height 2: an empty block (the limits are in force from height 3: h + 2);
- height 3: A pays B 30 units (`a_to_b`);
- height 4: B pays C (a member with no limit) 10 units (`b_to_c`), and the governors lower A's
  limit to 20, below its debt of 30 (in force from height 6);
- heights 5, 6: empty.

Then A owes 30 with a limit of 20 (it can't send, it can receive), B holds 20, C holds 10.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import codec
from consensus.credit import new_transfer, sign_credit_transfer
from consensus.governance import Reference, SetCreditLimit, encode_action, make_action
from consensus.types import COIN, CreditTransfer, Lock, SpendPolicy
from faircoop_node.storage import BaseStore
from tests.api.api_chain import VALIDATOR_KEYS, FakeNode, fresh_node, make_chain_genesis
from tests.builders import CHAIN_ID, key, multisig, single

UNIT = COIN  # credit counts in the same base units: 1 unit = 10^8
A_KEY = key(301)
B_KEYS = (key(302), key(303), key(304))
C_KEY = key(305)
A_POLICY: SpendPolicy = single(A_KEY)
B_POLICY: SpendPolicy = multisig(2, B_KEYS)
C_POLICY: SpendPolicy = single(C_KEY)
A, B, C = (codec.policy_lock(p) for p in (A_POLICY, B_POLICY, C_POLICY))
REF = Reference("https://coop.example/assembly/2026-12#4", "Assembly of 2026-12-04, item 4")


def limit_action(nonce: int, lock: Lock, limit: int) -> bytes:
    return encode_action(make_action(CHAIN_ID, nonce, SetCreditLimit(lock, limit),
                                     (VALIDATOR_KEYS[0],), REF))


def a_transfer(sequence: int, to: Lock, amount: int, memo: bytes = b"") -> CreditTransfer:
    return sign_credit_transfer(new_transfer(CHAIN_ID, A, sequence, [(to, amount)], memo),
                                A_POLICY, [A_KEY])


def b_transfer(sequence: int, to: Lock, amount: int, memo: bytes = b"") -> CreditTransfer:
    return sign_credit_transfer(new_transfer(CHAIN_ID, B, sequence, [(to, amount)], memo),
                                B_POLICY, [B_KEYS[0], B_KEYS[2]])


@dataclass(frozen=True, slots=True)
class CreditScene:
    node: FakeNode
    grant_a: bytes
    grant_b: bytes
    lower_a: bytes
    a_to_b: CreditTransfer
    b_to_c: CreditTransfer


def credit_chain(store: BaseStore | None = None) -> CreditScene:
    """The scene, on `store` if given (it must be at the standard API genesis)."""
    node = fresh_node(genesis=make_chain_genesis() if store is not None else None, store=store)
    grant_a, grant_b = limit_action(0, A, 100 * UNIT), limit_action(1, B, 50 * UNIT)
    node.commit(actions=(grant_a, grant_b))
    node.commit()
    a_to_b = a_transfer(0, B, 30 * UNIT, b"bread, November")
    node.commit((a_to_b,))
    b_to_c = b_transfer(0, C, 10 * UNIT, b"wages")
    lower_a = limit_action(2, A, 20 * UNIT)
    node.commit((b_to_c,), actions=(lower_a,))
    node.commit()
    node.commit()
    return CreditScene(node, grant_a, grant_b, lower_a, a_to_b, b_to_c)
