"""The outsider's payloads are what they claim: each decodes with the node's own decoders (an
attack that sends undecodable bytes would test the decoder, not the finding), and fails only
where it is meant to (a signature). Fast: no node runs here."""

from __future__ import annotations

import struct

import pytest

from consensus.codec import decode_block, decode_tx, policy_lock
from consensus.crypto import PrivateKey, verify
from consensus.errors import InvalidSignature
from consensus.evidence import check_duplicate_vote, decode_evidence
from consensus.ledger import validate_tx
from consensus.params import ChainParams
from consensus.types import OutPoint, PublicKey, TxId, TxOut
from consensus.votes import decode_proposal, decode_vote, proposal_digest, vote_digest
from faircoop_node.byzantine import forge, rawsock
from faircoop_node.net.envelope import decode_proposal_message
from tests.builders import key, multisig

CHAIN = "faircoop-devnet"
VALIDATOR = PublicKey(key(1).public_key)


def test_forged_vote_names_the_validator_and_does_not_verify() -> None:
    vote = decode_vote(forge.forged_vote(CHAIN, VALIDATOR, 7, 10**9))
    assert (vote.validator, vote.height, vote.round) == (VALIDATOR, 7, 10**9)
    digest = vote_digest(vote.chain_id, vote.vote_type, vote.height, vote.round,
                         vote.block_id, vote.validator)
    assert not verify(vote.validator, vote.signature, digest)


@pytest.mark.parametrize("size", [100_000, 15_000_000])
def test_forged_proposal_carries_a_padded_block_of_the_size_asked(size: int) -> None:
    block = forge.padded_block(CHAIN, 9, VALIDATOR, size)
    msg = decode_proposal_message(forge.forged_proposal(CHAIN, VALIDATOR, 9, 0, block))
    proposal = decode_proposal(msg.proposal)
    assert proposal.proposer == VALIDATOR and proposal.height == 9
    assert not verify(proposal.proposer, proposal.signature, proposal_digest(
        proposal.chain_id, proposal.height, proposal.round, proposal.pol_round,
        proposal.block_id, proposal.proposer))
    assert size - 1_000 <= len(msg.block) <= size
    assert decode_block(msg.block).header.height == 9


def test_junk_block_decodes_to_distinct_tiny_txs() -> None:
    raw = forge.junk_block(CHAIN, 5, VALIDATOR, 2_000, salt=3)
    txs = decode_block(raw).txs
    assert len(txs) == 2_000 and len(set(txs)) == 2_000
    assert all(not t.inputs and len(t.outputs) == 1 for t in txs)
    other = decode_block(forge.junk_block(CHAIN, 5, VALIDATOR, 2_000, salt=4)).txs
    assert not set(txs) & set(other), "another salt must give other txs"
    with pytest.raises(ValueError):
        forge.junk_block(CHAIN, 5, VALIDATOR, forge.MAX_JUNK_TXS + 1)


def test_junk_evidence_is_well_signed_and_bad_evidence_is_not() -> None:
    stranger = PrivateKey.generate()
    good = decode_evidence(forge.junk_evidence(stranger, CHAIN, 10**15))
    check_duplicate_vote(good, CHAIN)  # proves an equivocation, by a key that votes nowhere
    assert good.offender == PublicKey(stranger.public_key)
    bad = decode_evidence(forge.bad_evidence(CHAIN, VALIDATOR, 12))
    with pytest.raises(InvalidSignature):
        check_duplicate_vote(bad, CHAIN)


class _Coins:
    def __init__(self, outpoint: OutPoint, out: TxOut) -> None:
        self.coins = {outpoint: out}

    def get_utxo(self, outpoint: OutPoint) -> TxOut | None:
        return self.coins.get(outpoint)


def test_bad_signature_tx_fails_only_at_the_signature_check() -> None:
    policy = multisig(2, [key(1), key(2), key(3)])
    coin = OutPoint(TxId(bytes(32)), 0)
    params = ChainParams()
    view = _Coins(coin, TxOut(500_000, policy_lock(policy)))
    raw = forge.bad_signature_tx(CHAIN, coin, 500_000, policy, fee_rate=params.min_fee_rate,
                                 dust_limit=params.dust_limit, nonce=1)
    assert raw is not None
    with pytest.raises(InvalidSignature) as info:
        validate_tx(decode_tx(raw), view, params, chain_id=CHAIN)
    assert info.value.rule == "bad_signature"
    assert forge.bad_signature_tx(CHAIN, coin, 1_200, policy, fee_rate=1, dust_limit=1_000,
                                  nonce=1) is None, "a coin too small to pay must give None"


def test_treasury_policy_is_found_only_when_it_is_the_lock() -> None:
    govs = (VALIDATOR, PublicKey(key(2).public_key))
    policy = multisig(2, [key(1), key(2)])
    assert forge.treasury_policy(govs, 2, policy_lock(policy)) == policy
    assert forge.treasury_policy(govs, 1, policy_lock(policy)) is None


@pytest.mark.parametrize("length", [0, 125, 126, 65_535, 65_536, 16 * 1024 * 1024])
def test_frame_header_encodes_the_length_with_a_zero_mask(length: int) -> None:
    head = rawsock.frame_header(length)
    assert head[0] == 0x82 and head[1] & 0x80 and head[-4:] == bytes(4)
    code = head[1] & 0x7F
    decoded = code if code < 126 else struct.unpack(">H" if code == 126 else ">Q",
                                                    head[2:-4])[0]
    assert decoded == length
