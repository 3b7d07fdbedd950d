"""The ledger's value types: frozen dataclasses holding tuples, never lists.

Glossary:
- *lock*: the 32-byte SHA-256 of a canonically encoded `SpendPolicy`. An output is locked to it.
- *policy*: who may spend: one public key (1-of-1) or m-of-n public keys (a coop treasury).
- *witness*: the policy an input reveals, plus the signatures that satisfy it. Witnesses are not
  part of the txid, so signatures can't be malleated into a new txid.
- *base unit*: amounts are integers; 1 coin = 10^8 base units. No floats anywhere.

Consensus-layer objects (commit certificates, evidence, governance actions) are carried inside a
`Block` as their own canonical encodings (`bytes`); the consensus modules own their types and
their strict decoders. The ledger layer hashes them into the header but does not interpret them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType

from consensus.errors import CryptoError
from consensus.params import ChainParams

Hash32 = NewType("Hash32", bytes)
TxId = NewType("TxId", bytes)
BlockHash = NewType("BlockHash", bytes)
Lock = NewType("Lock", bytes)
PublicKey = NewType("PublicKey", bytes)

COIN = 100_000_000
MAX_AMOUNT = 10**17  # one billion coins: no sum of valid amounts can exceed 2^63
MAX_MEMO = 80
MAX_POLICY_KEYS = 16
TX_VERSION = 1
BLOCK_VERSION = 1
POLICY_VERSION = 1
GENESIS_VERSION = 1
NETWORKS = ("main", "test")
CREDIT_VERSION = 16  # the format number that opens a credit transfer (coin txs: 1..15)
MAX_CREDIT = MAX_AMOUNT  # the greatest credit limit, payment and |balance|, in base units
MAX_CREDIT_PAYMENTS = 64  # recipients of one credit transfer


@dataclass(frozen=True, slots=True)
class SpendPolicy:
    """m-of-n public keys; n = 1 is a plain single-key policy.

    Keys are kept sorted and unique, so one set of keys and threshold has exactly one lock.
    """

    threshold: int  # m: how many signatures a spend needs, 1 <= m <= n
    pubkeys: tuple[PublicKey, ...]  # n compressed 33-byte keys, strictly ascending

    def __post_init__(self) -> None:
        keys = self.pubkeys
        if not isinstance(keys, tuple) or not 1 <= len(keys) <= MAX_POLICY_KEYS:
            raise CryptoError(f"a policy has 1 to {MAX_POLICY_KEYS} keys")
        m = self.threshold
        if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= len(keys):
            raise CryptoError("policy threshold must satisfy 1 <= m <= n")
        for k in keys:
            if not isinstance(k, bytes) or len(k) != 33:
                raise CryptoError("policy keys are 33-byte compressed public keys")
        if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
            raise CryptoError("policy keys must be sorted and unique")

    @classmethod
    def single(cls, pubkey: bytes) -> SpendPolicy:
        return cls(1, (PublicKey(pubkey),))

    @classmethod
    def multisig(cls, threshold: int, pubkeys: tuple[bytes, ...] | list[bytes]) -> SpendPolicy:
        """Build an m-of-n policy from keys in any order (duplicates are an error)."""
        try:
            ordered = tuple(PublicKey(k) for k in sorted(pubkeys))
        except TypeError:  # not a sequence, or keys of mixed types
            raise CryptoError("policy keys are 33-byte compressed public keys") from None
        return cls(threshold, ordered)


@dataclass(frozen=True, slots=True)
class OutPoint:
    """A reference to one output of an earlier transaction (or of the genesis block)."""

    txid: TxId
    index: int


@dataclass(frozen=True, slots=True)
class TxIn:
    prevout: OutPoint


@dataclass(frozen=True, slots=True)
class TxOut:
    amount: int  # base units, 1..MAX_AMOUNT
    lock: Lock  # SHA-256 of the encoded SpendPolicy that may spend it; a pledge's campaign id
    refund: Lock | None = None  # a pledge's refund lock (consensus.campaign); None: a coin


@dataclass(frozen=True, slots=True)
class Witness:
    """The policy an input reveals and exactly `policy.threshold` signatures.

    `signatures` pairs a key's index in `policy.pubkeys` with its 64-byte compact signature, in
    strictly ascending index order, so there is one canonical witness per set of signers.
    """

    policy: SpendPolicy
    signatures: tuple[tuple[int, bytes], ...]


class CampaignMode(enum.IntEnum):
    """What the chain decides at a campaign's deadline (the wire value is the integer)."""

    ALL_OR_NOTHING = 1  # succeeded only if the pledges reach the goal
    KEEP_WHAT_YOU_RAISE = 2  # succeeded if anything was pledged

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


MAX_CAMPAIGN_TITLE = 80  # characters (code points)
MAX_CAMPAIGN_URI = 200  # characters, as a governance reference's URI
CAMPAIGN_TX_VERSION = 2  # a tx that carries campaign terms (consensus.campaign)


@dataclass(frozen=True, slots=True)
class CampaignTerms:
    """What a crowdfunding campaign promises; a version 2 tx carries them (consensus.campaign)."""

    beneficiary: Lock  # who spends the pledges after a success
    goal: int  # base units, 1..MAX_AMOUNT
    deadline: int  # the first height at which the campaign is decided (pledges go below it)
    mode: CampaignMode
    title: str  # 1..MAX_CAMPAIGN_TITLE characters, no control characters
    uri: str  # 1..MAX_CAMPAIGN_URI characters, no control characters: where it is described


@dataclass(frozen=True, slots=True)
class Tx:
    version: int
    chain_id: str  # the chain this tx is for; part of the txid, so of every signature
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    memo: bytes  # at most MAX_MEMO bytes, free text for the payer and payee
    witnesses: tuple[Witness, ...]  # one per input, same order; empty in an unsigned tx
    campaign: CampaignTerms | None = None  # a version 2 tx creates this campaign


@dataclass(frozen=True, slots=True)
class CreditPayment:
    """One recipient of a credit transfer: `amount` base units of credit to the account `lock`."""

    amount: int  # 1..MAX_CREDIT
    lock: Lock  # the recipient's credit account: any lock, a coop's multisig included


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """Mutual credit moved from one account (`sender`, a lock) to others (docs/CREDIT.md).

    It travels in `Block.txs` beside coin txs (its encoding opens with CREDIT_VERSION), shares
    their Merkle root, size limits and tx index, and pays no fee. The witness reveals the
    sender's policy and exactly m signatures, under the same rules as a coin input's.
    """

    chain_id: str  # part of the id, so of every signature
    sender: Lock  # the account debited: its witness's policy must hash to it
    sequence: int  # the sender's next sequence number: no replay, no reordering
    payments: tuple[CreditPayment, ...]  # 1..MAX_CREDIT_PAYMENTS, distinct recipients
    memo: bytes  # at most MAX_MEMO bytes
    witness: Witness | None  # None while unsigned


BlockTx = Tx | CreditTransfer  # an item of Block.txs


@dataclass(frozen=True, slots=True)
class Validator:
    """An approved cooperative: one coop, one vote."""

    name: str  # the coop's name, as the assembly approved it
    pubkey: PublicKey  # the key it signs votes and proposals with


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    chain_id: str
    height: int  # genesis is 0; the first proposed block is 1
    prev_hash: BlockHash
    time_ms: int  # the proposer's clock, within params.max_clock_drift_ms of the parent's
    tx_root: Hash32  # Merkle root of the txids (see consensus.merkle)
    validators_hash: Hash32  # the validator set that must certify this block
    next_validators_hash: Hash32  # the set for height + 1: light clients follow this chain
    params_hash: Hash32  # the dynamic parameters in force at this height
    last_commit_hash: Hash32  # SHA-256 of the previous block's commit certificate bytes
    evidence_hash: Hash32  # SHA-256 of the encoded evidence list
    actions_hash: Hash32  # SHA-256 of the encoded governance action list
    proposer: PublicKey


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[BlockTx, ...]  # coin txs and credit transfers, in block order
    last_commit: bytes  # the previous block's encoded CommitCertificate (empty at height 1)
    evidence: tuple[bytes, ...]  # encoded duplicate-vote evidence
    actions: tuple[bytes, ...]  # encoded governance actions


@dataclass(frozen=True, slots=True)
class Genesis:
    """Height 0: the whole supply, the first validators and governors, the first parameters.

    Allocation i is spendable as OutPoint(genesis_hash, i).
    """

    version: int
    chain_id: str
    network: str  # "main" or "test": picks the address prefix
    time_ms: int
    allocations: tuple[TxOut, ...]
    validators: tuple[Validator, ...]
    governors: tuple[PublicKey, ...]
    governor_threshold: int
    params: ChainParams
    treasury_lock: Lock  # where fees go until governance moves it

