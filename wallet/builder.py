"""The transaction builder: coins and payments in, an exact-fee unsigned tx out; then signing.

The fee is exactly `signed size x fee rate`. The signed size is known before signing because a
signature is always 64 bytes: the builder encodes the tx with placeholder signatures (one per
required signer of each input's policy) and measures it. The change amount changes the size of
its own integer encoding, so the builder iterates to a fixed point; in the rare case the change
sits on an encoding boundary and no fixed point exists, it takes the larger fee (at most 4 bytes
x rate more) and says so in `UnsignedTx.fee_exact`.

Dust: no payment may be below `params.dust_limit` (`DustOutput`); a change that would be below
it is dropped and added to the fee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from consensus.codec import pack, policy_lock, policy_obj, tx_size
from consensus.crypto import SIGNATURE_SIZE, PrivateKey
from consensus.ledger import tx_sighash
from consensus.params import ChainParams
from consensus.types import (
    CAMPAIGN_TX_VERSION,
    MAX_AMOUNT,
    MAX_MEMO,
    TX_VERSION,
    CampaignTerms,
    Lock,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Witness,
)
from wallet.coinselect import Candidate, Selection, select_coins
from wallet.errors import DustOutput, FeeRateError, InsufficientFunds, WalletError, WatchOnly

PLACEHOLDER_SIG = bytes(SIGNATURE_SIZE)
MAX_FEE_ITERATIONS = 8


@dataclass(frozen=True, slots=True)
class Coin:
    """An unspent output the wallet can spend: where it is, what it holds, and its policy."""

    outpoint: OutPoint
    amount: int
    policy: SpendPolicy

    @property
    def lock(self) -> Lock:
        return policy_lock(self.policy)

    @property
    def output(self) -> TxOut:
        return TxOut(self.amount, self.lock)


@dataclass(frozen=True, slots=True)
class Payment:
    lock: Lock  # for a pledge: the campaign's id
    amount: int  # base units
    refund: Lock | None = None  # a pledge's refund lock (docs/PROTOCOL.md 8.3); None: a coin

    @property
    def output(self) -> TxOut:
        return TxOut(self.amount, self.lock, self.refund)


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    """A tx ready to sign, with what a signer needs to check it."""

    tx: Tx  # witnesses empty
    spent: tuple[TxOut, ...]  # the output each input spends (amount and lock)
    policies: tuple[SpendPolicy, ...]  # the policy behind each input's lock
    fee: int
    signed_size: int  # bytes once signed: fee / signed_size is the fee rate
    change_index: int | None  # which output is change, if any
    fee_exact: bool  # fee == signed_size x rate (False only on an encoding boundary)
    algorithm: str  # which coin-selection branch chose the inputs

    @property
    def value_in(self) -> int:
        return sum(o.amount for o in self.spent)


def placeholder_witness(policy: SpendPolicy) -> Witness:
    return Witness(policy, tuple((i, PLACEHOLDER_SIG) for i in range(policy.threshold)))


def signed_size(tx: Tx, policies: Sequence[SpendPolicy]) -> int:
    """The exact size `tx` will have once every input carries its required signatures."""
    return tx_size(replace(tx, witnesses=tuple(placeholder_witness(p) for p in policies)))


def input_size(outpoint: OutPoint, policy: SpendPolicy) -> int:
    """Bytes one input adds: its outpoint plus its witness (policy and signatures)."""
    w = placeholder_witness(policy)
    return len(pack((outpoint.txid, outpoint.index))) + len(
        pack((policy_obj(policy), w.signatures))
    )


def output_size(amount: int, lock: bytes) -> int:
    return len(pack((amount, lock)))


def check_payments(payments: Sequence[Payment], params: ChainParams,
                   campaign: CampaignTerms | None = None) -> None:
    if not payments and campaign is None:
        raise WalletError("a transaction pays at least one output")
    for n, p in enumerate(payments):
        if not isinstance(p.amount, int) or not 1 <= p.amount <= MAX_AMOUNT:
            raise WalletError(f"payment {n}: amount {p.amount} out of range")
        if p.amount < params.dust_limit:
            raise DustOutput(
                f"payment {n}: {p.amount} base units is below the dust limit "
                f"{params.dust_limit}"
            )
        if len(p.lock) != 32:
            raise WalletError(f"payment {n}: a lock is 32 bytes")


def build_transaction(
    coins: Sequence[Coin],
    payments: Sequence[Payment],
    *,
    fee_rate: int,
    params: ChainParams,
    chain_id: str,
    change_policy: SpendPolicy,
    memo: bytes = b"",
    campaign: CampaignTerms | None = None,
) -> UnsignedTx:
    """Select coins and return the unsigned tx paying `payments` with an exact fee.

    With `campaign` the tx is version 2 and creates it; `payments` may then be empty, and the
    change output is the tx's one output.
    """
    check_payments(payments, params, campaign)
    if fee_rate < params.min_fee_rate:
        raise FeeRateError(
            f"fee rate {fee_rate} is below the chain's min_fee_rate {params.min_fee_rate}"
        )
    if len(memo) > MAX_MEMO:
        raise WalletError(f"memo is {len(memo)} bytes; the maximum is {MAX_MEMO}")
    outputs = tuple(p.output for p in payments)
    pay_total = sum(p.amount for p in payments)
    version = TX_VERSION if campaign is None else CAMPAIGN_TX_VERSION
    base = Tx(version, chain_id, (), outputs, memo, (), campaign)
    by_outpoint = {c.outpoint: c for c in coins}
    candidates = [Candidate(c.outpoint, c.amount, input_size(c.outpoint, c.policy)) for c in coins]
    change_lock = policy_lock(change_policy)
    change_out = output_size(MAX_AMOUNT, change_lock)
    change_in = input_size(OutPoint(TxId(bytes(32)), 0), change_policy)
    extra = 0
    for _ in range(4):
        target = pay_total + fee_rate * tx_size(base) + extra
        selection = select_coins(candidates, target, fee_rate, change_out, change_in,
                                 params.dust_limit, need_change=not outputs)
        chosen = tuple(by_outpoint[c.outpoint] for c in selection.coins)
        built = _finish(chosen, selection, base, fee_rate, params, change_lock)
        if isinstance(built, UnsignedTx):
            return built
        # The additive size estimate missed an array-header step (16+ inputs): ask for more.
        extra += built
    available = sum(c.amount for c in coins)
    raise InsufficientFunds(pay_total + extra, available)


def _finish(
    chosen: tuple[Coin, ...],
    selection: Selection,
    base: Tx,
    fee_rate: int,
    params: ChainParams,
    change_lock: Lock,
) -> UnsignedTx | int:
    """The tx with exact fee, or the number of base units still missing."""
    policies = tuple(c.policy for c in chosen)
    spent = tuple(c.output for c in chosen)
    value_in = sum(c.amount for c in chosen)
    value_out = sum(o.amount for o in base.outputs)
    plain = replace(base, inputs=tuple(TxIn(c.outpoint) for c in chosen))
    size0 = signed_size(plain, policies)
    excess = value_in - value_out - size0 * fee_rate
    if excess < 0:
        return -excess
    if selection.change:
        made = _with_change(plain, policies, value_in, value_out, fee_rate, change_lock)
        if made is not None:
            tx, fee, size, exact = made
            if tx.outputs[-1].amount >= params.dust_limit:
                return UnsignedTx(tx, spent, policies, fee, size, len(tx.outputs) - 1, exact,
                                  selection.algorithm)
    if not plain.outputs:  # a campaign creation needs its change as its one output
        return params.dust_limit
    # No change: whatever is left over (less than a useful change output) goes to the fee.
    fee = value_in - value_out
    return UnsignedTx(plain, spent, policies, fee, size0, None, fee == size0 * fee_rate,
                      selection.algorithm)


def _with_change(
    plain: Tx, policies: tuple[SpendPolicy, ...], value_in: int, value_out: int, fee_rate: int,
    change_lock: Lock,
) -> tuple[Tx, int, int, bool] | None:
    """Add a change output whose amount makes the fee exactly size x rate, if it can."""
    fee = signed_size(plain, policies) * fee_rate
    seen: set[int] = set()
    for _ in range(MAX_FEE_ITERATIONS):
        change = value_in - value_out - fee
        if change <= 0:
            return None
        tx = replace(plain, outputs=(*plain.outputs, TxOut(change, change_lock)))
        size = signed_size(tx, policies)
        needed = size * fee_rate
        if needed == fee:
            return tx, fee, size, True
        if needed in seen:  # oscillating across an integer-encoding boundary
            fee = max(fee, needed)
            change = value_in - value_out - fee
            if change <= 0:
                return None
            tx = replace(plain, outputs=(*plain.outputs, TxOut(change, change_lock)))
            return tx, fee, signed_size(tx, policies), False
        seen.add(fee)
        fee = needed
    return None


def sign_transaction(unsigned: UnsignedTx, keys: Mapping[bytes, PrivateKey]) -> Tx:
    """Sign every input with keys found by public key; each policy gets exactly m signatures."""
    digest = tx_sighash(unsigned.tx)
    witnesses: list[Witness] = []
    for n, policy in enumerate(unsigned.policies):
        sigs: list[tuple[int, bytes]] = []
        for i, pub in enumerate(policy.pubkeys):
            key = keys.get(pub)
            if key is not None:
                sigs.append((i, key.sign(digest)))
            if len(sigs) == policy.threshold:
                break
        if len(sigs) < policy.threshold:
            raise WatchOnly(
                f"input {n}: have keys for {len(sigs)} of the {policy.threshold} required signers"
            )
        witnesses.append(Witness(policy, tuple(sigs)))
    return replace(unsigned.tx, witnesses=tuple(witnesses))


# -- sweeps: spending given outputs (pledges) to one lock ---------------------------------------


@dataclass(frozen=True, slots=True)
class SweepInput:
    """An output to spend as it is on chain (a pledge: its lock is its campaign's id), and the
    policy that may spend it now (the beneficiary's, or the refund lock's)."""

    outpoint: OutPoint
    spent: TxOut
    policy: SpendPolicy


def build_sweep(inputs: Sequence[SweepInput], to: Lock, *, fee_rate: int, params: ChainParams,
                chain_id: str, memo: bytes = b"") -> UnsignedTx:
    """One tx spending every input into one output to `to`, its fee exactly size x rate."""
    if not inputs:
        raise WalletError("nothing to spend")
    if fee_rate < params.min_fee_rate:
        raise FeeRateError(
            f"fee rate {fee_rate} is below the chain's min_fee_rate {params.min_fee_rate}")
    policies = tuple(i.policy for i in inputs)
    value_in = sum(i.spent.amount for i in inputs)
    plain = Tx(TX_VERSION, chain_id, tuple(TxIn(i.outpoint) for i in inputs), (), memo, ())
    made = _with_change(plain, policies, value_in, 0, fee_rate, to)
    if made is None or made[0].outputs[-1].amount < params.dust_limit:
        raise DustOutput(f"{value_in} base units do not cover the fee and a {params.dust_limit}"
                         "-unit output")
    tx, fee, size, exact = made
    return UnsignedTx(tx, tuple(i.spent for i in inputs), policies, fee, size, None, exact,
                      "sweep")


def split_by_size(inputs: Sequence[SweepInput], max_tx_size: int, chain_id: str,
                  memo: bytes = b"") -> list[list[SweepInput]]:
    """The inputs in as few groups as possible, each group's sweep within `max_tx_size`
    (in order: inputs of similar size, so filling each tx in turn is as good as any)."""
    empty = Tx(TX_VERSION, chain_id, (), (TxOut(MAX_AMOUNT, Lock(bytes(32))),), memo, ())
    base = tx_size(empty) + 8  # + the input and witness arrays' longest headers
    groups: list[list[SweepInput]] = []
    size = base
    for item in inputs:
        grows = input_size(item.outpoint, item.policy)
        if base + grows > max_tx_size:
            raise WalletError(f"an input of {grows} bytes does not fit a {max_tx_size}-byte tx")
        if not groups or size + grows > max_tx_size:
            groups.append([])
            size = base
        groups[-1].append(item)
        size += grows
    return groups
