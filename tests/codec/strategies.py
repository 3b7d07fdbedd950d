"""Hypothesis strategies for the codec's types, and for hostile variants of their encodings.

Shared by the codec's property tests and its fast-path tests. Every value drawn is within the
codec's limits (sizes, ranges, sorted keys), so a valid object always encodes.
"""

from __future__ import annotations

from hypothesis import strategies as st

from consensus.params import PARAM_RANGES, ChainParams
from consensus.types import (
    BLOCK_VERSION,
    GENESIS_VERSION,
    MAX_AMOUNT,
    MAX_MEMO,
    MAX_POLICY_KEYS,
    NETWORKS,
    TX_VERSION,
    Block,
    BlockHash,
    BlockHeader,
    CampaignMode,
    CampaignTerms,
    Genesis,
    Hash32,
    Lock,
    OutPoint,
    PublicKey,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Validator,
    Witness,
)
from consensus.types import MAX_CAMPAIGN_TITLE as MAX_TITLE
from consensus.types import MAX_CAMPAIGN_URI as MAX_URI

U32 = 2**32 - 1
U64 = 2**64 - 1

hash32 = st.binary(min_size=32, max_size=32)
pubkey = st.binary(min_size=33, max_size=33)
sig64 = st.binary(min_size=64, max_size=64)
chain_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True)


@st.composite
def policies(draw: st.DrawFn) -> SpendPolicy:
    keys = draw(st.lists(pubkey, min_size=1, max_size=MAX_POLICY_KEYS, unique=True))
    keys.sort()
    threshold = draw(st.integers(1, len(keys)))
    return SpendPolicy(threshold, tuple(PublicKey(k) for k in keys))


@st.composite
def witnesses(draw: st.DrawFn) -> Witness:
    policy = draw(policies())
    indexes = draw(st.lists(st.integers(0, len(policy.pubkeys) - 1), unique=True, max_size=4))
    return Witness(policy, tuple((i, draw(sig64)) for i in sorted(indexes)))


outpoints = st.builds(OutPoint, hash32.map(TxId), st.integers(0, U32))
txouts = st.builds(TxOut, st.integers(1, MAX_AMOUNT), hash32.map(Lock))
pledges = st.builds(TxOut, st.integers(1, MAX_AMOUNT), hash32.map(Lock), hash32.map(Lock))
# campaign text: any characters but the control characters the decoder refuses
plain_text = st.characters(blacklist_categories=("Cc", "Cs"))
campaign_terms = st.builds(
    CampaignTerms, hash32.map(Lock), st.integers(1, MAX_AMOUNT), st.integers(1, U64),
    st.sampled_from(CampaignMode), st.text(plain_text, min_size=1, max_size=MAX_TITLE),
    st.text(plain_text, min_size=1, max_size=MAX_URI))
allocations = st.builds(TxOut, st.integers(1, MAX_AMOUNT // 4), hash32.map(Lock))


@st.composite
def txs(draw: st.DrawFn) -> Tx:
    """Mostly version 1 coin txs; some pay pledges, some are version 2 and create a campaign."""
    terms = draw(st.none() | campaign_terms)
    return Tx(
        version=TX_VERSION if terms is None else 2,
        chain_id=draw(chain_ids),
        inputs=tuple(TxIn(o) for o in draw(st.lists(outpoints, max_size=4))),
        outputs=tuple(draw(st.lists(txouts | pledges, max_size=4))),
        memo=draw(st.binary(max_size=MAX_MEMO)),
        witnesses=tuple(draw(st.lists(witnesses(), max_size=3))),
        campaign=terms,
    )


@st.composite
def headers(draw: st.DrawFn) -> BlockHeader:
    return BlockHeader(
        version=BLOCK_VERSION,
        chain_id=draw(chain_ids),
        height=draw(st.integers(0, U64)),
        prev_hash=BlockHash(draw(hash32)),
        time_ms=draw(st.integers(0, U64)),
        tx_root=Hash32(draw(hash32)),
        validators_hash=Hash32(draw(hash32)),
        next_validators_hash=Hash32(draw(hash32)),
        params_hash=Hash32(draw(hash32)),
        last_commit_hash=Hash32(draw(hash32)),
        evidence_hash=Hash32(draw(hash32)),
        actions_hash=Hash32(draw(hash32)),
        proposer=PublicKey(draw(pubkey)),
    )


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    return Block(
        header=draw(headers()),
        txs=tuple(draw(st.lists(txs(), max_size=3))),
        last_commit=draw(st.binary(max_size=200)),
        evidence=tuple(draw(st.lists(st.binary(max_size=40), max_size=3))),
        actions=tuple(draw(st.lists(st.binary(max_size=40), max_size=3))),
    )


@st.composite
def chain_params(draw: st.DrawFn) -> ChainParams:
    return ChainParams(**{n: draw(st.integers(lo, hi)) for n, (lo, hi) in PARAM_RANGES.items()})


validators = st.builds(Validator, st.text(min_size=1, max_size=64), pubkey.map(PublicKey))


@st.composite
def geneses(draw: st.DrawFn) -> Genesis:
    governors = tuple(PublicKey(k) for k in draw(st.lists(pubkey, max_size=4)))
    return Genesis(
        version=GENESIS_VERSION,
        chain_id=draw(chain_ids),
        network=draw(st.sampled_from(NETWORKS)),
        time_ms=draw(st.integers(0, U64)),
        allocations=tuple(draw(st.lists(allocations, max_size=4))),  # supply <= MAX_AMOUNT
        validators=tuple(draw(st.lists(validators, max_size=4))),
        governors=governors,
        governor_threshold=draw(st.integers(1, max(1, len(governors)))),
        params=draw(chain_params()),
        treasury_lock=Lock(draw(hash32)),
    )


@st.composite
def mutations(draw: st.DrawFn, encoded: bytes) -> bytes:
    """One random edit: bit flip, byte replace, truncation, insertion, deletion or duplication."""
    kind = draw(st.sampled_from(["flip", "replace", "truncate", "insert", "delete", "repeat"]))
    n = len(encoded)
    at = draw(st.integers(0, n - 1))
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        return encoded[:at] + bytes([encoded[at] ^ (1 << bit)]) + encoded[at + 1:]
    if kind == "replace":
        b = draw(st.integers(0, 255).filter(lambda v: v != encoded[at]))
        return encoded[:at] + bytes([b]) + encoded[at + 1:]
    if kind == "truncate":
        return encoded[:at]
    if kind == "insert":
        extra = draw(st.binary(min_size=1, max_size=4))
        return encoded[:at] + extra + encoded[at:]
    if kind == "delete":
        length = draw(st.integers(1, max(1, min(8, n - at))))
        return encoded[:at] + encoded[at + length:]
    return encoded[:at] + encoded[at:at + 4] + encoded[at:]


msgpack_trees = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), U64) | st.floats()
    | st.binary(max_size=40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=14)
    | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), inner, max_size=3),
    max_leaves=40,
)
