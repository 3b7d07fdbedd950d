"""Ledger rules: validate a transaction, check a block's body, and compute what a block changes.

These are plain functions over frozen values and a read-only `UtxoView`; they never write. The
caller (the node's storage, or the simulator's in-memory map) applies the returned `UtxoDiff`.
Each rule has a stable name, raised as `ValidationError.rule` and listed in docs/PROTOCOL.md.

Simplifications, said plainly: no scripts (a lock is a policy hash), no time locks, and a tx may
spend an output created earlier in the same block. Crowdfunding campaigns are the one exception
to "a lock is a policy hash": a pledge's lock is its campaign's id, and who may spend it is
decided by `consensus.campaign` (the rules there run only for txs that touch a campaign).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from consensus import crypto
from consensus.campaign import (
    Campaign,
    CampaignView,
    campaign_effect,
    check_campaign_rules,
    check_campaign_shape,
    check_pledge_witnesses,
    touches_campaigns,
)
from consensus.codec import encode_block, encode_tx, hash_items, policy_lock, tx_size, txid
from consensus.crypto import sha256, tagged_hash
from consensus.errors import (
    DoubleSpend,
    InsufficientFee,
    InvalidSignature,
    ValidationError,
    WrongChain,
)
from consensus.merkle import merkle_root
from consensus.params import ChainParams
from consensus.types import (
    MAX_AMOUNT,
    MAX_MEMO,
    Block,
    BlockHash,
    BlockHeader,
    BlockTx,
    CreditTransfer,
    Genesis,
    Hash32,
    Lock,
    OutPoint,
    Tx,
    TxId,
    TxOut,
    Witness,
)

TX_SIG_TAG = "faircoop/tx/v1"


class UtxoView(Protocol):
    """Read access to unspent outputs; storage and the in-memory map both provide it."""

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None: ...


class LedgerView(UtxoView, CampaignView, Protocol):
    """What the ledger rules read: unspent outputs, and the campaigns with the height of the
    block being checked (a node's store answers both; so does `MemoryUtxoSet`)."""


@dataclass(frozen=True, slots=True)
class ValidTx:
    """What validation learned about a tx that passed."""

    txid: TxId
    fee: int
    size: int


@dataclass(frozen=True, slots=True)
class UtxoDiff:
    """What a block does to the UTXO set. Outputs both made and spent in it appear in neither."""

    spent: tuple[OutPoint, ...]  # pre-existing outputs the block consumes
    created: tuple[tuple[OutPoint, TxOut], ...]  # outputs left unspent after the block
    fees: int  # paid to the commons treasury as OutPoint(block hash, 0)
    campaigns: tuple[Campaign, ...] = ()  # records the block created or pledged to, as after it


def tx_sighash(tx: Tx) -> bytes:
    """The digest every input's signers sign: the chain id and the txid, under a domain tag.

    The txid already commits to the chain id; naming it again keeps the domain obvious.
    """
    chain = tx.chain_id.encode()
    return tagged_hash(TX_SIG_TAG, len(chain).to_bytes(1, "big"), chain, txid(tx))


class SignatureCache:
    """A bounded set of (txid, witnesses) already verified, keyed by the full-tx hash.

    A tx checked at mempool admission is not verified again when its block is applied. The key
    covers the witnesses, so a cached tx with different signatures is checked afresh.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(tx: BlockTx) -> bytes:
        return sha256(encode_tx(tx))

    def __contains__(self, key: bytes) -> bool:
        found = key in self._seen
        if found:
            self.hits += 1
            self._seen.move_to_end(key)
        else:
            self.misses += 1
        return found

    def add(self, key: bytes) -> None:
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)


# -- transaction rules ------------------------------------------------------------------------


def check_tx_shape(tx: Tx, params: ChainParams, chain_id: str) -> int:
    """Context-free rules: chain, sizes, amounts, dust, duplicate inputs. Returns the size."""
    if tx.chain_id != chain_id:
        raise WrongChain("wrong_chain", f"tx is for {tx.chain_id!r}, this chain is {chain_id!r}")
    if not tx.inputs:
        raise ValidationError("no_inputs", "a tx spends at least one output")
    if not tx.outputs:
        raise ValidationError("no_outputs", "a tx pays at least one output")
    if len(tx.memo) > MAX_MEMO:
        raise ValidationError("memo_too_long", f"memo is {len(tx.memo)} bytes, max {MAX_MEMO}")
    if tx.version != 1 or tx.campaign is not None:
        check_campaign_shape(tx)
    size = tx_size(tx)
    if size > params.max_tx_size:
        raise ValidationError("oversize_tx", f"{size} bytes > max_tx_size {params.max_tx_size}")
    if len(set(i.prevout for i in tx.inputs)) != len(tx.inputs):
        raise DoubleSpend("duplicate_input", "the tx spends the same output twice")
    total = 0
    for n, out in enumerate(tx.outputs):
        if not 1 <= out.amount <= MAX_AMOUNT:
            raise ValidationError("amount_range", f"output {n} amount {out.amount} out of range")
        if out.amount < params.dust_limit:
            raise ValidationError(
                "dust_output", f"output {n} pays {out.amount} < dust_limit {params.dust_limit}"
            )
        total += out.amount
    if total > MAX_AMOUNT:
        raise ValidationError("amount_overflow", "outputs sum beyond the maximum amount")
    if len(tx.witnesses) != len(tx.inputs):
        raise InvalidSignature(
            "missing_witness", f"{len(tx.witnesses)} witnesses for {len(tx.inputs)} inputs"
        )
    return size


def check_witnesses(tx: Tx, spent: Sequence[TxOut]) -> None:
    """Each witness reveals the policy behind its input's lock and exactly m valid signatures."""
    digest = tx_sighash(tx)
    for n, (witness, prev) in enumerate(zip(tx.witnesses, spent, strict=True)):
        check_witness(witness, prev.lock, digest, f"input {n}")


def check_witness(witness: Witness, lock: Lock, digest: bytes, where: str) -> None:
    """`witness` reveals the policy behind `lock` and exactly m valid signatures of `digest`.

    One rule for every spend policy check: a coin input's, and a credit transfer's sender.
    """
    policy = witness.policy
    if policy_lock(policy) != lock:
        raise ValidationError("policy_mismatch", f"{where}: policy does not match its lock")
    sigs = witness.signatures
    if len(sigs) != policy.threshold:
        few = len(sigs) < policy.threshold
        raise InvalidSignature(
            "insufficient_signatures" if few else "too_many_signatures",
            f"{where}: {len(sigs)} signatures, policy needs exactly {policy.threshold}",
        )
    last = -1
    for key_index, sig in sigs:
        if not last < key_index < len(policy.pubkeys):
            raise InvalidSignature(
                "duplicate_signature", f"{where}: key indexes must ascend and exist"
            )
        last = key_index
        if not crypto.verify(policy.pubkeys[key_index], sig, digest):
            raise InvalidSignature("bad_signature", f"{where}: signature {key_index} fails")


def validate_tx(
    tx: Tx,
    utxo_view: LedgerView,
    params: ChainParams,
    *,
    chain_id: str,
    sig_cache: SignatureCache | None = None,
) -> ValidTx:
    """Every ledger rule for one tx against a UTXO view; raises the first rule broken."""
    size = check_tx_shape(tx, params, chain_id)
    spent: list[TxOut] = []
    for n, txin in enumerate(tx.inputs):
        prev = utxo_view.get_utxo(txin.prevout)
        if prev is None:
            raise DoubleSpend(
                "unknown_input",
                f"input {n} ({txin.prevout.txid.hex()}:{txin.prevout.index}) is unknown or spent",
            )
        spent.append(prev)
    witnessed = spent  # the lock each input's witness must reveal
    if touches_campaigns(tx, spent):
        witnessed = check_campaign_rules(tx, spent, utxo_view)
    value_in = sum(p.amount for p in spent)
    value_out = sum(o.amount for o in tx.outputs)
    if value_out > value_in:
        raise ValidationError(
            "outputs_exceed_inputs", f"outputs {value_out} > inputs {value_in}"
        )
    fee = value_in - value_out
    if fee < size * params.min_fee_rate:
        raise InsufficientFee(
            "fee_too_low", f"fee {fee} < {size} bytes x min_fee_rate {params.min_fee_rate}"
        )
    if witnessed is not spent:
        check_pledge_witnesses(tx, spent, witnessed)
    key = SignatureCache.key(tx) if sig_cache is not None else b""
    if sig_cache is None or key not in sig_cache:
        check_witnesses(tx, witnessed)
        if sig_cache is not None:
            sig_cache.add(key)
    return ValidTx(txid(tx), fee, size)


# -- blocks -----------------------------------------------------------------------------------


class _BlockView:
    """A ledger view layered over the chain's, seeing the block's own earlier outputs and
    campaign records, at the block's height."""

    def __init__(self, base: LedgerView, height: int) -> None:
        self.base = base
        self.height = height
        self.created: dict[OutPoint, TxOut] = {}
        self.spent: dict[OutPoint, None] = {}  # a dict keeps the diff's order deterministic
        self.campaigns: dict[bytes, Campaign] = {}

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        if outpoint in self.spent:
            return None
        made = self.created.get(outpoint)
        return made if made is not None else self.base.get_utxo(outpoint)

    def get_campaign(self, campaign_id: bytes) -> Campaign | None:
        found = self.campaigns.get(campaign_id)
        return found if found is not None else self.base.get_campaign(campaign_id)

    def campaign_height(self) -> int:
        return self.height


def check_block_body(block: Block, params: ChainParams) -> None:
    """The header's commitments match the body, and the block is within its size limits."""
    h = block.header
    if len(block.txs) > params.max_block_txs:
        raise ValidationError(
            "too_many_txs", f"{len(block.txs)} txs > max_block_txs {params.max_block_txs}"
        )
    size = len(encode_block(block))
    if size > params.max_block_size:
        raise ValidationError(
            "oversize_block", f"{size} bytes > max_block_size {params.max_block_size}"
        )
    if h.tx_root != merkle_root([txid(t) for t in block.txs]):
        raise ValidationError("tx_root_mismatch", "header tx_root does not match the txs")
    if h.last_commit_hash != sha256(block.last_commit):
        raise ValidationError("last_commit_mismatch", "header does not commit to last_commit")
    if h.evidence_hash != hash_items(block.evidence):
        raise ValidationError("evidence_hash_mismatch", "header does not commit to the evidence")
    if h.actions_hash != hash_items(block.actions):
        raise ValidationError("actions_hash_mismatch", "header does not commit to the actions")


def apply_block(
    block: Block,
    block_id: BlockHash,
    utxo_view: LedgerView,
    params: ChainParams,
    *,
    treasury_lock: Lock,
    sig_cache: SignatureCache | None = None,
) -> UtxoDiff:
    """Validate every coin tx of a block in order and return its effect; nothing is written.

    A block whose txs spend one output twice is rejected whole (`duplicate_input_in_block`).
    Credit transfers among the txs are judged by `consensus.credit.apply_credit`
    (`consensus.chain.validate_block` runs both).
    """
    check_block_body(block, params)
    chain_id = block.header.chain_id
    view = _BlockView(utxo_view, block.header.height)
    fees = 0
    for position, tx in enumerate(block.txs):
        if isinstance(tx, CreditTransfer):
            continue
        for txin in tx.inputs:
            if txin.prevout in view.spent:
                raise DoubleSpend(
                    "duplicate_input_in_block",
                    f"tx {position} spends an output an earlier tx in the block spent",
                )
        try:
            valid = validate_tx(tx, view, params, chain_id=chain_id, sig_cache=sig_cache)
        except ValidationError as exc:
            raise type(exc)(exc.rule, f"tx {position}: {exc.detail}") from None
        for txin in tx.inputs:
            view.spent[txin.prevout] = None
        for index, out in enumerate(tx.outputs):
            view.created[OutPoint(valid.txid, index)] = out
        for record in campaign_effect(tx, valid.txid, view.height, view):
            view.campaigns[record.id] = record
        fees += valid.fee
    created = [(op, out) for op, out in view.created.items() if op not in view.spent]
    if fees:
        created.append((treasury_outpoint(block_id), TxOut(fees, treasury_lock)))
    spent = tuple(op for op in view.spent if op not in view.created)
    return UtxoDiff(spent=spent, created=tuple(created), fees=fees,
                    campaigns=tuple(view.campaigns.values()))


def assemble_block(
    header_fields: BlockHeader,
    txs: tuple[BlockTx, ...],
    last_commit: bytes = b"",
    evidence: tuple[bytes, ...] = (),
    actions: tuple[bytes, ...] = (),
) -> Block:
    """A block whose header commitments (tx root, commit, evidence, actions) match its body.

    `header_fields` supplies everything else; its commitment fields are overwritten.
    """
    header = replace(
        header_fields,
        tx_root=merkle_root([txid(t) for t in txs]),
        last_commit_hash=Hash32(sha256(last_commit)),
        evidence_hash=hash_items(evidence),
        actions_hash=hash_items(actions),
    )
    return Block(header, txs, last_commit, evidence, actions)


def treasury_outpoint(block_id: BlockHash) -> OutPoint:
    """Where a block's fees land: output 0 of a pseudo-tx whose id is the block hash."""
    return OutPoint(TxId(block_id), 0)


def genesis_diff(genesis: Genesis, genesis_id: BlockHash) -> UtxoDiff:
    """The allocations, spendable as OutPoint(genesis hash, i)."""
    created = tuple(
        (OutPoint(TxId(genesis_id), i), out) for i, out in enumerate(genesis.allocations)
    )
    return UtxoDiff(spent=(), created=created, fees=0)


def total_supply(utxos: Iterable[TxOut]) -> int:
    return sum(o.amount for o in utxos)


class MemoryUtxoSet:
    """A dict-backed ledger view for tests, the simulator and light tools.

    `height` is the height of the block a tx checked against it goes in (the campaign rules
    need it); the caller moves it on.
    """

    def __init__(self, utxos: Mapping[OutPoint, TxOut] | None = None,
                 campaigns: Iterable[Campaign] = (), height: int = 1) -> None:
        self.utxos: dict[OutPoint, TxOut] = dict(utxos or {})
        self.campaigns: dict[bytes, Campaign] = {c.id: c for c in campaigns}
        self.height = height

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        return self.utxos.get(outpoint)

    def get_campaign(self, campaign_id: bytes) -> Campaign | None:
        return self.campaigns.get(campaign_id)

    def campaign_height(self) -> int:
        return self.height

    def apply(self, diff: UtxoDiff) -> None:
        for op in diff.spent:
            del self.utxos[op]
        for op, out in diff.created:
            self.utxos[op] = out
        for record in diff.campaigns:
            self.campaigns[record.id] = record
