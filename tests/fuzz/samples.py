"""Valid encodings of every wire and storage object, for the fuzzers to mutate.

They come from the API tests' small real chain (`tests/api/api_chain.py`: real blocks,
certificates, a governance action and chain states) plus hand-built votes, evidence, a recovery
and every P2P payload, so each decoder is fuzzed from real inputs, not only from noise.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from consensus import codec
from consensus.chainstate import encode_chain_state
from consensus.engine import SignedState, Step
from consensus.evidence import DuplicateVoteEvidence, encode_evidence
from consensus.governance import encode_recovery, make_recovery
from consensus.types import BlockHash, PublicKey
from consensus.votes import (
    VoteType,
    encode_proposal,
    encode_vote,
    sign_proposal,
    sign_vote,
)
from faircoop_node.net.envelope import (
    BlockRange,
    CertifiedBlock,
    GetBlocks,
    Hello,
    MsgType,
    ProposalMessage,
    Status,
    encode_auth,
    encode_block_range,
    encode_envelope,
    encode_get_blocks,
    encode_hello,
    encode_proposal_message,
    encode_reject,
    encode_status,
    encode_txs,
)
from faircoop_node.node.signing import SignedRecord, encode_signed_record
from tests.api.api_chain import VALIDATOR_KEYS, standard_chain
from tests.builders import CHAIN_ID
from tests.credit.credit_chain import credit_chain


@lru_cache(maxsize=1)
def samples() -> dict[str, tuple[bytes, ...]]:
    """Valid encodings by kind (the kind names the decoder in test_decoders.py)."""
    scene = standard_chain()
    store = scene.node.store
    blocks = tuple(store.get_block_bytes(h) or b"" for h in scene.blocks)
    decoded = tuple(codec.decode_block(b) for b in blocks)
    certs = tuple(store.get_certificate(h) or b"" for h in range(1, 4))
    k1, k2 = VALIDATOR_KEYS[0], VALIDATOR_KEYS[1]
    v1 = sign_vote(k1, CHAIN_ID, VoteType.PREVOTE, 5, 1, bytes(range(32)))
    v2 = sign_vote(k1, CHAIN_ID, VoteType.PREVOTE, 5, 1, b"")
    pc = sign_vote(k2, CHAIN_ID, VoteType.PRECOMMIT, 7, 0, bytes(32))
    proposal = sign_proposal(k1, CHAIN_ID, 4, 0, -1, codec.block_hash(decoded[0].header))
    recovery = make_recovery(CHAIN_ID, 3, scene.blocks[2],
                             tuple(scene.node.state.validators), (k1, k2))
    txs = (scene.pay_bob, scene.bob_to_carol, scene.pending)
    hello = Hello(CHAIN_ID, BlockHash(scene.gid), 3, BlockHash(scene.blocks[2]),
                  PublicKey(k1.public_key), True, bytes(32))
    certified = CertifiedBlock(blocks[0], certs[0])
    signed = SignedState(9, 2, Step.PREVOTE)
    return {
        "tx": tuple(codec.encode_tx(t) for t in txs),
        "header": tuple(codec.encode_header(b.header) for b in decoded),
        "block": blocks,
        "policy": (codec.encode_policy(txs[0].witnesses[0].policy),),
        "params": (codec.encode_params(scene.node.state.params),),
        "genesis": (codec.encode_genesis(scene.node.genesis),),
        "vote": (encode_vote(v1), encode_vote(v2), encode_vote(pc)),
        "proposal": (encode_proposal(proposal),),
        "certificate": certs,
        "evidence": (encode_evidence(DuplicateVoteEvidence(v1, v2)),),
        "action": (scene.action, encode_recovery(recovery)),
        "chain_state": (encode_chain_state(scene.node.state),),
        "envelope": (encode_envelope(MsgType.VOTE, encode_vote(v1)),
                     encode_envelope(MsgType.STATUS, b"")),
        "hello": (encode_hello(hello),),
        "auth": (encode_auth(bytes(64)),),
        "reject": (encode_reject("wrong chain"),),
        "status": (encode_status(Status(3, BlockHash(scene.blocks[2]), 1)),),
        "get_blocks": (encode_get_blocks(GetBlocks(1, 100)),),
        "block_range": (encode_block_range(BlockRange(1, (certified,))),),
        "proposal_message": (encode_proposal_message(ProposalMessage(
            encode_proposal(proposal), blocks[0])),),
        "txs": (encode_txs(tuple(codec.encode_tx(t) for t in txs)),),
        "signed_record": (encode_signed_record(SignedRecord(signed)),
                          encode_signed_record(SignedRecord(signed, (v1,)))),
        "validator_set": (codec.pack(codec.validators_obj(scene.node.state.validators)),),
        **_credit_samples(),
    }


def _credit_samples() -> dict[str, tuple[bytes, ...]]:
    """A chain with mutual credit (tests/credit/credit_chain.py): its transfers (one from a
    2-of-3 treasury), a block carrying one, its limit actions, and version 2 params."""
    scene = credit_chain()
    store = scene.node.store
    transfers = (codec.encode_tx(scene.a_to_b), codec.encode_tx(scene.b_to_c))
    blocks = tuple(store.get_block_bytes(store.get_hash_at(h) or b"") or b"" for h in (3, 4))
    credit_params = replace(scene.node.state.params, credit_block_cap=3)
    return {
        "credit_transfer": transfers,
        "block_tx": (*transfers, codec.encode_tx(standard_chain().pay_bob)),
        "credit_block": blocks,
        "credit_action": (scene.grant_a, scene.lower_a),
        "credit_params": (codec.encode_params(credit_params),),
    }

