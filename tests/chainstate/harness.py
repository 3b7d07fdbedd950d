"""A chain driven block by block, with real keys, real certificates and the real rules.

`Net` holds named validator keys ("A", "B", ...) and governor keys ("G0", "G1", ...), a chain
state and an in-memory UTXO set. `Net.commit(...)` builds the block a state accepts
(`consensus.chain.make_block`), checks it with `validate_block`, and makes its commit
certificate from precommits signed by the named signers in a chosen round, exactly as the engine
would. A rejected block leaves the net unchanged and raises the ValidationError.

Everything is built from explicit arguments; keys come from their names, so every run is
reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from consensus.certificate import build_certificate
from consensus.chain import make_block, proposal_time, validate_block
from consensus.chainstate import ChainState, genesis_state, state_for_block
from consensus.codec import block_hash
from consensus.crypto import PrivateKey, sha256
from consensus.governance import ActionBody, SignedAction, make_action
from consensus.ledger import MemoryUtxoSet
from consensus.params import ChainParams
from consensus.types import GENESIS_VERSION, Block, BlockHash, Genesis, Lock, PublicKey, Validator
from consensus.votes import Vote, VoteType, encode_certificate, sign_vote

CHAIN_ID = "chainstate-test"
GENESIS_TIME = 1_700_000_000_000


@lru_cache(maxsize=512)
def key(name: str) -> PrivateKey:
    """A deterministic key per name."""
    return PrivateKey(sha256(b"faircoop-chainstate-test/" + name.encode()))


_NAMES: dict[bytes, str] = {}


def pub(name: str) -> PublicKey:
    """The public key of a name (and remember the name, for readable expectations)."""
    pk = PublicKey(key(name).public_key)
    _NAMES[pk] = name
    return pk


def name_of(pk: bytes) -> str:
    return _NAMES[pk]


def register(*names: str) -> None:
    for n in names:
        _NAMES[pub(n)] = n


def names(keys: Iterable[bytes]) -> str:
    """Keys as a sorted string of their one-letter names, for readable table expectations."""
    return "".join(sorted(name_of(k) for k in keys))


def validator(name: str) -> Validator:
    return Validator(f"coop-{name}", pub(name))


def make_genesis(
    validators: str, governors: tuple[str, ...], threshold: int,
    params: ChainParams | None = None, chain_id: str = CHAIN_ID,
) -> Genesis:
    register(*validators, *governors)
    return Genesis(
        version=GENESIS_VERSION, chain_id=chain_id, network="test", time_ms=GENESIS_TIME,
        allocations=(), validators=tuple(validator(v) for v in validators),
        governors=tuple(pub(g) for g in governors), governor_threshold=threshold,
        params=params or ChainParams(), treasury_lock=Lock(sha256(b"treasury")),
    )


@dataclass
class Net:
    """One chain, advanced by `commit`. Mutable on purpose: it is a test driver."""

    genesis: Genesis
    state: ChainState = field(init=False)
    utxo: MemoryUtxoSet = field(init=False)
    last_cert: bytes = field(init=False, default=b"")
    blocks: list[Block] = field(init=False, default_factory=list)
    nonce: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.state = genesis_state(self.genesis)
        self.utxo = MemoryUtxoSet()

    @classmethod
    def of(cls, validators: str = "ABC", governors: tuple[str, ...] = ("G0", "G1", "G2"),
           threshold: int = 2, params: ChainParams | None = None) -> Net:
        return cls(make_genesis(validators, governors, threshold, params))

    @property
    def chain_id(self) -> str:
        return self.state.chain_id

    def action(self, body: ActionBody, signers: Iterable[str], nonce: int | None = None
               ) -> SignedAction:
        """An action signed by the named governors; nonces count up unless given."""
        if nonce is None:
            nonce, self.nonce = self.nonce, self.nonce + 1
        return make_action(self.chain_id, nonce, body, tuple(key(s) for s in signers))

    def build(self, *, round_: int = 0, actions: tuple[bytes, ...] = (),
              evidence: tuple[bytes, ...] = (), time_ms: int | None = None,
              proposer: bytes | None = None) -> Block:
        st = self.state
        when = proposal_time(st, st.last_block_time_ms + 1_000) if time_ms is None else time_ms
        chosen = PublicKey(proposer) if proposer else st.proposer(st.height + 1, round_)
        return make_block(st, chosen, when, last_commit=self.last_cert, evidence=evidence,
                          actions=actions)

    def commit_block(self, block: Block, *, round_: int = 0,
                     signers: str | None = None) -> ChainState:
        """Validate `block`, then certify it by `signers` (default: the whole voting set)."""
        block_id = block_hash(block.header)
        base = state_for_block(self.state, block)
        result = validate_block(self.state, block, block_id, self.utxo)
        voters = base.voting_set()
        chosen = voters if signers is None else tuple(pub(s) for s in signers)
        precommits = [self.precommit(name_of(pk), block.header.height, round_, block_id)
                      for pk in chosen]
        self.last_cert = encode_certificate(build_certificate(precommits, voters))
        self.utxo.apply(result.diff)
        self.state = result.state
        self.blocks.append(block)
        return self.state

    def commit(self, *, round_: int = 0, signers: str | None = None,
               actions: tuple[bytes, ...] = (), evidence: tuple[bytes, ...] = (),
               time_ms: int | None = None) -> ChainState:
        block = self.build(round_=round_, actions=actions, evidence=evidence, time_ms=time_ms)
        return self.commit_block(block, round_=round_, signers=signers)

    def precommit(self, name: str, height: int, round_: int, block_id: bytes) -> Vote:
        return sign_vote(key(name), self.chain_id, VoteType.PRECOMMIT, height, round_, block_id)

    def vote(self, name: str, height: int, round_: int, block_id: bytes,
             kind: VoteType = VoteType.PREVOTE) -> Vote:
        return sign_vote(key(name), self.chain_id, kind, height, round_, block_id)

    def voting(self) -> str:
        return names(self.state.voting_set())

    def next_voting(self) -> str:
        return names(self.state.upcoming.validator_keys())


def fake_block_id(label: str) -> BlockHash:
    return BlockHash(sha256(label.encode()))
