"""A small chain for the campaign rules: pledgers A and B, a stranger S, a beneficiary E and a
2-of-3 coop treasury M, each with a coin at genesis; campaigns created and pledged to through
real blocks (`apply_block`), so the records are what the ledger itself builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from consensus.campaign import Campaign, CampaignId, campaign_id, pledge_output
from consensus.codec import block_hash, genesis_hash, txid
from consensus.crypto import PrivateKey
from consensus.ledger import MemoryUtxoSet, apply_block, genesis_diff
from consensus.params import ChainParams
from consensus.types import (
    CAMPAIGN_TX_VERSION,
    CampaignMode,
    CampaignTerms,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxIn,
    TxOut,
)
from tests.builders import (
    CHAIN_ID,
    genesis_outpoint,
    key,
    lock,
    make_block,
    make_genesis,
    multisig,
    sign,
    single,
)

A, B, S, E, M1, M2, M3, T = (key(i) for i in range(40, 48))
PA, PB, PS, PE = (single(k) for k in (A, B, S, E))
PM = multisig(2, [M1, M2, M3])
SIGNERS: dict[SpendPolicy, tuple[PrivateKey, ...]] = {
    PA: (A,), PB: (B,), PS: (S,), PE: (E,), PM: (M1, M3)}
COIN = 100_000_000
PARAMS = ChainParams()
FEE = 20_000
GENESIS = make_genesis([(lock(p), 50 * COIN) for p in (PA, PB, PS, PE, PM)], params=PARAMS,
                       treasury_lock=lock(single(T)))
COINS = {p: genesis_outpoint(GENESIS, i) for i, p in enumerate((PA, PB, PS, PE, PM))}


def terms(goal: int = 5 * COIN, deadline: int = 10,
          mode: CampaignMode = CampaignMode.ALL_OR_NOTHING, beneficiary: Lock | None = None,
          title: str = "A bakery for the coop", uri: str = "https://coop.example/bakery"
          ) -> CampaignTerms:
    return CampaignTerms(beneficiary or lock(PE), goal, deadline, mode, title, uri)


def tx(spends: Sequence[tuple[OutPoint, SpendPolicy]], outputs: Sequence[TxOut], *,
       campaign: CampaignTerms | None = None, memo: bytes = b"",
       signers: Sequence[SpendPolicy] | None = None) -> Tx:
    """A signed tx; input i is signed by `signers[i]`'s keys (default: its own policy's)."""
    unsigned = Tx(CAMPAIGN_TX_VERSION if campaign else 1, CHAIN_ID,
                  tuple(TxIn(op) for op, _ in spends), tuple(outputs), memo, (), campaign)
    by = signers or [p for _, p in spends]
    return sign(unsigned, [(p, SIGNERS[p]) for p in by])


@dataclass
class World:
    """The chain as blocks left it: UTXOs, campaign records, and each party's spare coin."""

    utxos: MemoryUtxoSet = field(default_factory=MemoryUtxoSet)
    coins: dict[SpendPolicy, tuple[OutPoint, int]] = field(default_factory=dict)
    height: int = 0
    prev: bytes = b""
    blocks: list[bytes] = field(default_factory=list)

    @classmethod
    def new(cls) -> World:
        w = cls()
        gid = genesis_hash(GENESIS)
        w.utxos.apply(genesis_diff(GENESIS, gid))
        w.coins = {p: (op, 50 * COIN) for p, op in COINS.items()}
        w.prev = gid
        return w

    def view_at(self, height: int) -> MemoryUtxoSet:
        """The chain's view for a tx in a block at `height` (the same records and coins)."""
        self.utxos.height = height
        return self.utxos

    def commit(self, txs: Sequence[Tx], height: int | None = None) -> None:
        """Apply a block of `txs` at `height` (default: the next), skipping empty heights."""
        h = self.height + 1 if height is None else height
        block = make_block(list(txs), height=h, prev_hash=self.prev)
        bid = block_hash(block.header)
        diff = apply_block(block, bid, self.view_at(h), PARAMS, treasury_lock=lock(single(T)))
        self.utxos.apply(diff)
        self.height, self.prev = h, bid
        for t in txs:
            for index, out in enumerate(t.outputs):
                for p in SIGNERS:
                    if out.refund is None and out.lock == lock(p):
                        self.coins[p] = (OutPoint(txid(t), index), out.amount)

    def pay_from(self, payer: SpendPolicy, outputs: Sequence[TxOut], *,
                 campaign: CampaignTerms | None = None) -> Tx:
        """A tx spending `payer`'s spare coin into `outputs`, change back to `payer`."""
        op, amount = self.coins[payer]
        change = amount - sum(o.amount for o in outputs) - FEE
        return tx([(op, payer)], [*outputs, TxOut(change, lock(payer))], campaign=campaign)

    def create(self, t: CampaignTerms, creator: SpendPolicy = PE) -> Campaign:
        made = self.pay_from(creator, [], campaign=t)
        self.commit([made])
        record = self.utxos.get_campaign(campaign_id(txid(made)))
        assert record is not None
        return record

    def pledge(self, pledger: SpendPolicy, cid: CampaignId, amount: int,
               refund: Lock | None = None) -> OutPoint:
        made = self.pay_from(pledger, [pledge_output(amount, cid, refund or lock(pledger))])
        self.commit([made])
        return OutPoint(txid(made), 0)


def claim(pledges: Sequence[OutPoint], amounts: int, by: SpendPolicy, to: Lock,
          signers: Sequence[SpendPolicy] | None = None) -> Tx:
    """Spend `pledges` (worth `amounts`) with `by`'s policy (or `signers`'), paying `to`."""
    return tx([(op, by) for op in pledges], [TxOut(amounts - FEE, to)], signers=signers)


def with_campaign(t: Tx, **changes: object) -> Tx:
    assert t.campaign is not None
    return replace(t, campaign=replace(t.campaign, **changes))
