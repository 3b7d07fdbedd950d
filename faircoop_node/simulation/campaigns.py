"""Campaign txs for the simulator, and the check that every node decides them alike.

With `SimConfig(campaigns=True)` the chain has four members with coins at genesis, and each
node's tx pool (`ScriptedPool`: the node's own `Mempool` over its store) offers a fixed script
of txs once their height has come, as wallets would send them:

- member 0 creates `won` (all-or-nothing, goal 10 coins) and `kept` (keep-what-you-raise),
  both deciding at `DEADLINE`, and `lost` (all-or-nothing, goal 50 coins) at `LATE_DEADLINE`;
- members 1 and 2 pledge 6 coins each to `won`, member 3 one coin to `kept`; members 1 and 2
  pledge to `lost` (member 2's refund goes to member 3); member 3 pledges to `won` in the last
  block before its deadline, a race whose outcome the nodes must simply agree on;
- from the deadlines on: member 0 claims `won` and `kept`; the pledgers of `lost` refund;
- two txs no rule may ever accept: member 1 taking back its `won` pledge (locked, then the
  beneficiary's), and member 3 claiming `lost` (a failure: only each pledger's refund policy).

The check (`CampaignLoad.observe`, at every honest commit): every node holds the same campaign
records at every height, so decides each campaign the same way; the height at which a node
first sees a campaign decided is its deadline on every node; and neither refused tx is ever
committed. Violations are reported as the simulator's safety violations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus.campaign import CampaignStatus, campaign_id, encode_campaign, pledge_output
from consensus.codec import policy_lock, txid
from consensus.crypto import PrivateKey, sha256
from consensus.errors import ValidationError
from consensus.ledger import tx_sighash
from consensus.params import ChainParams
from consensus.types import (
    CAMPAIGN_TX_VERSION,
    COIN,
    CampaignMode,
    CampaignTerms,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Witness,
)
from faircoop_node.simulation.loadpool import LoadPool
from faircoop_node.storage import MemoryStore

MEMBERS = 4
COINS_EACH = 4  # genesis coins per member, COIN_VALUE each
COIN_VALUE = 10 * COIN
FEE = 5_000
DEADLINE = 6
LATE_DEADLINE = 8
GOAL_HEIGHT = LATE_DEADLINE + 4  # room for the claims and refunds to be included


def member_key(i: int) -> PrivateKey:
    return PrivateKey(sha256(f"faircoop-sim-member-{i}".encode()))


KEYS = tuple(member_key(i) for i in range(MEMBERS))
POLICIES = tuple(SpendPolicy.single(k.public_key) for k in KEYS)
LOCKS = tuple(policy_lock(p) for p in POLICIES)


def allocations() -> tuple[TxOut, ...]:
    """Coin j of member i is allocation i * COINS_EACH + j."""
    return tuple(TxOut(COIN_VALUE, LOCKS[i]) for i in range(MEMBERS) for _ in range(COINS_EACH))


@dataclass(frozen=True, slots=True)
class Scripted:
    tx: Tx
    txid: TxId
    after: int  # offered to blocks from this height on
    refused: bool = False  # a tx no rule may accept


def _signed(inputs: Sequence[tuple[OutPoint, int]], outputs: Sequence[TxOut], chain_id: str,
            campaign: CampaignTerms | None = None) -> Tx:
    """A tx spending `inputs` (outpoint, signing member), each signed by that member."""
    unsigned = Tx(CAMPAIGN_TX_VERSION if campaign else 1, chain_id,
                  tuple(TxIn(op) for op, _ in inputs), tuple(outputs), b"", (), campaign)
    digest = tx_sighash(unsigned)
    witnesses = tuple(Witness(POLICIES[m], ((0, KEYS[m].sign(digest)),)) for _, m in inputs)
    return Tx(unsigned.version, chain_id, unsigned.inputs, unsigned.outputs, b"", witnesses,
              campaign)


def build_script(genesis_id: bytes, chain_id: str) -> tuple[tuple[Scripted, ...],
                                                          dict[bytes, str]]:
    """The txs, and the campaigns they create by id -> name."""
    def coin(member: int, j: int) -> tuple[OutPoint, int]:
        return OutPoint(TxId(genesis_id), member * COINS_EACH + j), member

    def change(member: int, spent: int) -> TxOut:
        return TxOut(COIN_VALUE - spent - FEE, LOCKS[member])

    def terms(goal: int, deadline: int, mode: CampaignMode, title: str) -> CampaignTerms:
        return CampaignTerms(LOCKS[0], goal, deadline, mode, title, f"https://sim.example/{title}")

    aon, kwyr = CampaignMode.ALL_OR_NOTHING, CampaignMode.KEEP_WHAT_YOU_RAISE
    made = {name: _signed([coin(0, j)], [change(0, 0)], chain_id, terms(goal, deadline, mode,
                                                                        name))
            for j, (name, goal, deadline, mode) in enumerate((
                ("won", 10 * COIN, DEADLINE, aon), ("kept", 100 * COIN, DEADLINE, kwyr),
                ("lost", 50 * COIN, LATE_DEADLINE, aon)))}
    ids = {name: campaign_id(txid(t)) for name, t in made.items()}
    script = [Scripted(t, txid(t), 1) for t in made.values()]

    def pledge(member: int, j: int, name: str, amount: int, refund: int = -1,
               after: int = 2) -> tuple[OutPoint, int]:
        t = _signed([coin(member, j)], [pledge_output(amount, ids[name],
                                                      LOCKS[member if refund < 0 else refund]),
                                        change(member, amount)], chain_id)
        script.append(Scripted(t, txid(t), after))
        return OutPoint(txid(t), 0), amount

    won1, won2 = pledge(1, 0, "won", 6 * COIN), pledge(2, 0, "won", 6 * COIN)
    kept3 = pledge(3, 0, "kept", COIN)
    lost1, lost2 = pledge(1, 1, "lost", COIN), pledge(2, 1, "lost", 2 * COIN, refund=3)
    pledge(3, 1, "won", COIN, after=DEADLINE - 1)  # the race with the deadline

    def spend(pledges: Sequence[tuple[OutPoint, int]], member: int, after: int,
              refused: bool = False) -> None:
        total = sum(a for _, a in pledges)
        t = _signed([(op, member) for op, _ in pledges], [TxOut(total - FEE, LOCKS[member])],
                    chain_id)
        script.append(Scripted(t, txid(t), after, refused))

    spend([won1, won2], 0, DEADLINE)
    spend([kept3], 0, DEADLINE)
    spend([lost1], 1, LATE_DEADLINE)
    spend([lost2], 3, LATE_DEADLINE)
    spend([won1], 1, 2, refused=True)  # taking a pledge back: never
    spend([lost1], 3, LATE_DEADLINE, refused=True)  # a stranger claiming a failure: never
    return tuple(script), {cid: name for name, cid in ids.items()}


class ScriptedPool(LoadPool):
    """A node's tx pool, fed the script's txs from the heights they are due."""

    def __init__(self, script: tuple[Scripted, ...], store: MemoryStore, chain_id: str,
                 params: ChainParams) -> None:
        super().__init__(store, chain_id, params)
        self._script = script

    def offer(self) -> None:
        height = self._store.tip().height + 1
        for entry in self._script:
            if entry.after > height or entry.txid in self.mempool or \
                    self._store.get_tx_location(entry.txid) is not None:
                continue
            with contextlib.suppress(ValidationError):  # not yet, no longer, or never valid
                self.mempool.add(entry.tx, self._store, self._params)


@dataclass
class CampaignLoad:
    """The script, the campaigns it makes, and what the honest nodes have seen of them."""

    script: tuple[Scripted, ...]
    names: dict[bytes, str]  # campaign id -> name
    chain_id: str
    params: ChainParams
    seen: dict[tuple[int, bytes], tuple[bytes, int]] = field(default_factory=dict)
    decided: dict[tuple[int, bytes], int] = field(default_factory=dict)  # (node, id) -> height
    last_seen: dict[int, int] = field(default_factory=dict)  # node -> height last observed

    @classmethod
    def build(cls, genesis_id: bytes, chain_id: str, params: ChainParams) -> CampaignLoad:
        script, names = build_script(genesis_id, chain_id)
        return cls(script, names, chain_id, params)

    def pool(self, store: MemoryStore) -> ScriptedPool:
        return ScriptedPool(self.script, store, self.chain_id, self.params)

    def observe(self, node: int, height: int, store: MemoryStore) -> list[str]:
        """Compare what `node` holds after committing `height` with the first honest node
        that committed it; violations in words."""
        if store.tip().height != height:  # a synced range: the store is past this height
            return []
        problems: list[str] = []
        consecutive = self.last_seen.get(node) == height - 1
        self.last_seen[node] = height
        for cid, name in self.names.items():
            record = store.get_campaign(cid)
            held = b"" if record is None else encode_campaign(record)
            first = self.seen.setdefault((height, cid), (held, node))
            if first[0] != held:
                problems.append(f"height {height}: node {node} holds campaign {name} as "
                                f"{held.hex()[:24]}, node {first[1]} as {first[0].hex()[:24]}")
            if record is not None and (node, cid) not in self.decided and \
                    record.status(height) is not CampaignStatus.OPEN:
                self.decided[(node, cid)] = height
                if consecutive and height != record.terms.deadline:
                    problems.append(f"node {node} first saw campaign {name} decided at height "
                                    f"{height}, its deadline is {record.terms.deadline}")
        for entry in self.script:
            if entry.refused and store.get_tx_location(entry.txid) is not None:
                problems.append(f"node {node} committed tx {entry.txid.hex()[:12]}, which "
                                "spends a pledge no rule lets it spend")
        return problems

    def outcomes(self, store: MemoryStore) -> tuple[tuple[str, str, int], ...]:
        """(name, status at the tip's next height, pledged) of each campaign, on `store`."""
        found = []
        for cid, name in sorted(self.names.items(), key=lambda kv: kv[1]):
            record = store.get_campaign(cid)
            if record is not None:
                found.append((name, record.status(store.tip().height + 1).value, record.pledged))
        return tuple(found)
