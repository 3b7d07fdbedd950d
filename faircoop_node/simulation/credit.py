"""Mutual credit in the simulator: a seeded load of credit transfers, and the checks on it.

The governors (the simulated validators) grant every member a credit line at the start, and
lower member 0's below its debt once the chain reaches `LOWER_AT`: from then on its transfers
must be refused, though it still receives. Each member sends a transfer per height (a random
payee, a random amount, its sequence numbers in order), fed to each node's own `Mempool` over
its store as heights come (`CreditPool`); a node takes what its mempool admits, so a crashed or
lagging node, or a lowered limit, makes the mempool refuse what the chain already has or no
longer allows, as on the real network.

Checks, at every honest commit (`CreditLoad.observe`):
- every honest node holds the same credit accounts at every height (their records compared,
  key for key, through a digest of the credit keyspaces; a range of blocks a node syncs is
  stored whole before it is told of each, so those heights are compared where other nodes
  committed them one by one);
- the balances sum to zero (the store's totals, and the accounts themselves);
- no account sends below minus the limit in force (read back from each account's history):
  member 0 can't send once its limit is cut below its debt.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus.codec import policy_lock
from consensus.credit import LIMIT as LIMIT_LINE
from consensus.credit import SENT as SENT_LINE
from consensus.credit import CreditAccount, new_transfer, sign_credit_transfer
from consensus.crypto import PrivateKey, sha256
from consensus.errors import ValidationError
from consensus.governance import (
    Reference,
    SetCreditLimit,
    encode_action,
    make_action,
)
from consensus.params import ChainParams
from consensus.types import BlockTx, CreditTransfer, Lock, SpendPolicy
from faircoop_node.simulation.loadpool import LoadPool
from faircoop_node.storage import MemoryStore, schema

MEMBERS = 5
UNIT = 10**8
LIMIT = 1_000 * UNIT  # far above what the script can send, so only member 0's cut binds
LOWER_AT = 6  # an honest node at this height pools the action lowering member 0's limit
LOWERED = UNIT  # member 0's limit from then on: below its debt by then
FIRST, LAST = 3, 14  # heights whose transfers the script holds (limits in force from 3)
GOAL_HEIGHT = LAST + 4  # what a run with credit must reach
REF = Reference("sim://assembly", "the simulated assembly")


def member_key(i: int) -> PrivateKey:
    return PrivateKey(sha256(f"faircoop-sim-member-{i}".encode()))


def member_policy(i: int) -> SpendPolicy:
    return SpendPolicy.single(member_key(i).public_key)


def member_lock(i: int) -> Lock:
    return policy_lock(member_policy(i))


@dataclass(frozen=True, slots=True)
class Scripted:
    release: int  # offered to a node's mempool once its tip reaches this height
    transfer: CreditTransfer


def build_script(rng: random.Random, chain_id: str) -> tuple[Scripted, ...]:
    """Per height, one transfer per member: consecutive sequence numbers, seeded payees and
    amounts: at most 3 units each, but 5 to 10 for member 0, which so runs into debt (and far
    from anyone's 1,000-unit line)."""
    script = []
    for seq, height in enumerate(range(FIRST, LAST + 1)):
        for i in range(MEMBERS):
            payee = rng.choice([j for j in range(MEMBERS) if j != i])
            t = new_transfer(chain_id, member_lock(i), seq,
                             [(member_lock(payee), rng.randint(5 * UNIT, 10 * UNIT) if i == 0
                               else rng.randint(1, 3 * UNIT))],
                             f"sim {height}".encode())
            script.append(Scripted(height, sign_credit_transfer(t, member_policy(i),
                                                               [member_key(i)])))
    return tuple(script)


def limit_actions(chain_id: str, governors: Sequence[PrivateKey], threshold: int
                  ) -> tuple[tuple[bytes, ...], bytes]:
    """The grants (one per member, nonces 0..) and the action lowering member 0's limit."""
    signers = tuple(governors[:threshold])
    grants = tuple(encode_action(make_action(chain_id, i, SetCreditLimit(member_lock(i), LIMIT),
                                             signers, REF)) for i in range(MEMBERS))
    lower = encode_action(make_action(chain_id, MEMBERS, SetCreditLimit(member_lock(0), LOWERED),
                                      signers, REF))
    return grants, lower


class CreditPool(LoadPool):
    """A node's tx pool, offered the script's transfers as its tip reaches their height."""

    def __init__(self, script: tuple[Scripted, ...], store: MemoryStore, chain_id: str,
                 params: ChainParams) -> None:
        super().__init__(store, chain_id, params)
        self._script = script
        self._next = 0  # the script before this index was offered

    def offer(self) -> None:
        tip = self._store.tip().height
        while self._next < len(self._script) and self._script[self._next].release <= tip:
            with contextlib.suppress(ValidationError):  # committed already, or over a cut limit
                self.mempool.add(self._script[self._next].transfer, self._store, self._params)
            self._next += 1


def credit_digest(store: MemoryStore) -> str:
    """SHA-256 over the credit keyspaces (accounts, history lines, totals), key by key."""
    h = hashlib.sha256()
    for prefix in (schema.CREDIT_ACCOUNT, schema.CREDIT_HISTORY, schema.CREDIT_TOTALS):
        for key, value in store.backend.items(prefix):
            h.update(len(key).to_bytes(2, "big") + key + len(value).to_bytes(2, "big") + value)
    return h.hexdigest()


@dataclass
class CreditLoad:
    script: tuple[Scripted, ...]
    chain_id: str
    params: ChainParams
    grants: tuple[bytes, ...]
    lower: bytes
    digests: dict[int, tuple[str, int]] = field(default_factory=dict)  # height -> (digest, node)
    lowered: bool = False  # the lowering was pooled
    committed: int = 0  # credit transfers the first honest commit of each height carried

    @classmethod
    def build(cls, rng: random.Random, chain_id: str, params: ChainParams,
              governors: Sequence[PrivateKey], threshold: int) -> CreditLoad:
        grants, lower = limit_actions(chain_id, governors, threshold)
        return cls(build_script(rng, chain_id), chain_id, params, grants, lower)

    def pool(self, store: MemoryStore) -> CreditPool:
        return CreditPool(self.script, store, self.chain_id, self.params)

    def actions_due(self, height: int) -> tuple[bytes, ...]:
        """The governance actions a node at `height` pools (the driver drops used ones)."""
        return (*self.grants, *((self.lower,) if self.lowered or height >= LOWER_AT else ()))

    def observe(self, node: int, height: int, store: MemoryStore, txs: Sequence[BlockTx]
                ) -> list[str]:
        """The checks at an honest node's commit of `height`; the violations found."""
        problems = []
        if height >= LOWER_AT:
            self.lowered = True
        accounts = {lk: store.get_credit_account(lk) or CreditAccount()
                    for lk in map(member_lock, range(MEMBERS))}
        totals = store.get_credit_totals()
        if sum(a.balance for a in accounts.values()) != 0 or totals.positive != \
                totals.outstanding:
            problems.append(f"height {height}: node {node}'s credit balances do not sum to 0")
        for i in range(MEMBERS):
            problems += _overdrafts(store, member_lock(i), height, f"node {node} member {i}")
        if store.tip().height != height:  # a synced range, stored whole before this is told
            return problems
        digest = credit_digest(store)
        first = self.digests.get(height)
        if first is None:
            self.digests[height] = (digest, node)
            self.committed += sum(isinstance(t, CreditTransfer) for t in txs)
        elif first[0] != digest:
            problems.append(f"height {height}: node {node}'s credit accounts differ from node "
                            f"{first[1]}'s")
        return problems


def _overdrafts(store: MemoryStore, lock: Lock, height: int, who: str) -> list[str]:
    """From the account's own history: every transfer it sent at `height` left it at or above
    minus the limit in force then (the last limit line of an earlier block)."""
    lines = store.get_credit_history(lock, limit=256)
    limit = next((x.amount for x in lines if x.kind == LIMIT_LINE and x.height < height), 0)
    return [f"height {height}: {who} sent down to {x.balance}, below -{limit}"
            for x in lines if x.height == height and x.kind == SENT_LINE and x.balance < -limit]
