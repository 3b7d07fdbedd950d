"""Forged and junk P2P payloads an outside peer can make without any validator key.

Each builder returns the payload bytes a frame carries (the node's own encodings, so they
decode), filled so a node that trusts the wrong field spends memory, CPU or trust on it:

- `forged_vote`: a real validator's key, a random signature;
- `forged_proposal`: a real validator named as proposer, a random signature, any block bytes
  and a block id of our choosing;
- `padded_block`: a block that decodes at once but is as large as asked (one big
  `last_commit` blob), for attacks on memory;
- `junk_block`: a block of up to 200,000 distinct tiny txs that decode but mean nothing, for
  attacks on the CPU of whoever decodes it;
- `double_vote`: well-signed evidence from any key (a fresh one: never a validator);
- `bad_evidence`: evidence that decodes but whose signatures fail;
- `bad_signature_tx`: a tx spending a real coin under its real policy, with random signatures,
  so a node runs the signature check before it refuses it.

Nothing here talks to a node; `outsider.py` sends these.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass

import msgpack

from consensus.codec import encode_header, encode_tx, pack, policy_lock, tx_size
from consensus.crypto import PrivateKey
from consensus.errors import CryptoError
from consensus.evidence import DuplicateVoteEvidence, encode_evidence
from consensus.types import (
    BLOCK_VERSION,
    TX_VERSION,
    BlockHash,
    BlockHeader,
    Hash32,
    Lock,
    OutPoint,
    PublicKey,
    SpendPolicy,
    Tx,
    TxIn,
    TxOut,
    Witness,
)
from consensus.votes import (
    Proposal,
    Vote,
    VoteType,
    encode_proposal,
    encode_vote,
    sign_vote,
)
from faircoop_node.net.envelope import ProposalMessage, encode_proposal_message

JUNK_AMOUNT_BASE = 1 << 16  # tiny-tx amounts from here on encode as 5 bytes (msgpack uint32)
MAX_JUNK_TXS = 200_000  # the codec's array limit: the most txs a block can decode with


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def forged_vote(chain_id: str, validator: PublicKey, height: int, round_: int,
                vote_type: VoteType = VoteType.PREVOTE) -> bytes:
    """A VOTE payload naming `validator` as signer, with a signature nobody made."""
    return encode_vote(Vote(chain_id, vote_type, height, round_,
                            BlockHash(random_bytes(32)), validator, random_bytes(64)))


def header(chain_id: str, height: int, proposer: PublicKey) -> BlockHeader:
    """A header that decodes: every hash random, so every block id is new."""
    def h() -> Hash32:
        return Hash32(random_bytes(32))

    return BlockHeader(BLOCK_VERSION, chain_id, height, BlockHash(random_bytes(32)),
                       int(time.time() * 1000), h(), h(), h(), h(), h(), h(), h(), proposer)


def _block_bytes(head: BlockHeader, tx_count: int, txs: bytes, last_commit: bytes) -> bytes:
    """A block's encoding spliced from parts (see `codec.encode_block`)."""
    packer = msgpack.Packer(use_bin_type=True)
    return b"".join((packer.pack_array_header(5), encode_header(head),
                     packer.pack_array_header(tx_count), txs, pack(last_commit), pack(()),
                     pack(())))


def padded_block(chain_id: str, height: int, proposer: PublicKey, size: int,
                 blob: bytes | None = None) -> bytes:
    """A block of about `size` bytes that decodes in microseconds: no txs, one big blob.

    Pass the same `blob` to many calls to keep the attacker's own memory small.
    """
    padding = blob if blob is not None else bytes(max(0, size - 600))
    return _block_bytes(header(chain_id, height, proposer), 0, b"", padding)


def junk_block(chain_id: str, height: int, proposer: PublicKey, tx_count: int,
               salt: int = 0) -> bytes:
    """A block of `tx_count` distinct tiny txs (no inputs, one output): ~59 bytes each.

    They decode (each a separate `Tx`), so a node that decodes the body pays for all of them,
    but no ledger rule would accept one. `salt` makes the txs of different blocks differ, so a
    decoder's memo of recent txs does not help it.
    """
    return junk_body(chain_id, tx_count, salt).block(height, proposer)


@dataclass(frozen=True, slots=True)
class JunkBody:
    """A junk block's txs, encoded: the costly part (seconds on a busy machine), made before
    the height is known, so a proposal can carry the height of the moment it is sent."""

    chain_id: str
    tx_count: int
    txs: bytes

    def block(self, height: int, proposer: PublicKey) -> bytes:
        return _block_bytes(header(self.chain_id, height, proposer), self.tx_count, self.txs,
                            b"")


def junk_body(chain_id: str, tx_count: int, salt: int = 0) -> JunkBody:
    """The txs of `junk_block`."""
    if not 1 <= tx_count <= MAX_JUNK_TXS:
        raise ValueError(f"tx_count must be 1 to {MAX_JUNK_TXS}")
    template = encode_tx(Tx(TX_VERSION, chain_id, (),
                            (TxOut(JUNK_AMOUNT_BASE, Lock(bytes(32))),), b"", ()))
    marker = b"\xce" + struct.pack(">I", JUNK_AMOUNT_BASE)
    before, after = template.split(marker)
    first = JUNK_AMOUNT_BASE + (salt * MAX_JUNK_TXS) % (2**32 - JUNK_AMOUNT_BASE - MAX_JUNK_TXS)
    txs = b"".join(b"%s\xce%s%s" % (before, struct.pack(">I", first + i), after)
                   for i in range(tx_count))
    return JunkBody(chain_id, tx_count, txs)


def forged_proposal(chain_id: str, proposer: PublicKey, height: int, round_: int,
                    block: bytes, block_id: BlockHash | None = None) -> bytes:
    """A PROPOSAL payload: `proposer` named, a random signature, any block and block id."""
    proposal = Proposal(chain_id, height, round_, -1,
                        block_id if block_id is not None else BlockHash(random_bytes(32)),
                        proposer, random_bytes(64))
    return encode_proposal_message(ProposalMessage(encode_proposal(proposal), block))


def double_vote(key: PrivateKey, chain_id: str, height: int, round_: int = 0,
                vote_type: VoteType = VoteType.PREVOTE) -> DuplicateVoteEvidence:
    """Two votes by `key` for one (height, round, type) naming different blocks: both signed."""
    a, b = (sign_vote(key, chain_id, vote_type, height, round_, BlockHash(random_bytes(32)))
            for _ in range(2))
    return DuplicateVoteEvidence(a, b)


def bad_evidence(chain_id: str, validator: PublicKey, height: int, round_: int = 0) -> bytes:
    """An EVIDENCE payload that decodes (two votes by `validator`), with signatures that fail."""
    a, b = (Vote(chain_id, VoteType.PREVOTE, height, round_, BlockHash(random_bytes(32)),
                 validator, random_bytes(64)) for _ in range(2))
    return encode_evidence(DuplicateVoteEvidence(a, b))


def junk_evidence(key: PrivateKey, chain_id: str, height: int) -> bytes:
    """An EVIDENCE payload of a well-signed double vote (by a key that need not be a validator)."""
    return encode_evidence(double_vote(key, chain_id, height))


def bad_signature_tx(chain_id: str, prevout: OutPoint, amount: int, policy: SpendPolicy,
                     *, fee_rate: int, dust_limit: int, nonce: int) -> bytes | None:
    """A tx spending a real coin (`prevout`, worth `amount`, locked to `policy`) that passes
    every cheap rule (shape, fee, the policy behind the lock, the signature count) and fails
    only at its first signature check. `nonce` (in the memo) makes each one distinct.

    None if the coin is too small to pay the fee and a non-dust output.
    """
    sigs = tuple((i, random_bytes(64)) for i in range(policy.threshold))
    witness = Witness(policy, sigs)
    memo = nonce.to_bytes(8, "big")
    probe = Tx(TX_VERSION, chain_id, (TxIn(prevout),), (TxOut(max(1, dust_limit), Lock(
        random_bytes(32))),), memo, (witness,))
    fee = (tx_size(probe) + 16) * max(1, fee_rate)
    pay = amount - fee
    if pay < max(1, dust_limit):
        return None
    tx = Tx(TX_VERSION, chain_id, (TxIn(prevout),), (TxOut(pay, Lock(random_bytes(32))),),
            memo, (witness,))
    return encode_tx(tx)


def treasury_policy(governors: tuple[PublicKey, ...], threshold: int,
                    treasury_lock: Lock) -> SpendPolicy | None:
    """The governors' multisig, if it is what the treasury lock commits to (the default)."""
    try:
        policy = SpendPolicy.multisig(threshold, governors)
    except CryptoError:
        return None
    return policy if policy_lock(policy) == treasury_lock else None
