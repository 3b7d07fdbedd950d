"""The P2P wire format: an envelope around each frame, and the payloads of the gossip messages.

Every WebSocket binary frame is one canonical msgpack envelope `[version, type, payload]`,
where `payload` is a byte string holding the message's own canonical encoding. The transport
reads only the envelope (and the handshake messages); the node decodes payloads. So a node
that meets a payload it can't decode knows exactly which peer sent it and can punish it.

Payloads of consensus objects are their consensus encodings unchanged (a VOTE payload is
`votes.encode_vote(v)`, an EVIDENCE payload is the evidence encoding). The other payloads
are defined here, each with a strict encode/decode pair built on `consensus.codec`.

Left out: compression, and any notion of message priority; the transport delivers frames from
one peer in order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import IntEnum

from consensus.codec import (
    U32,
    U64,
    Obj,
    decode_canonical,
    expect_array,
    expect_bytes,
    expect_chain_id,
    expect_hash,
    expect_items,
    expect_pubkey,
    expect_str,
    expect_uint,
    expect_version,
    pack,
)
from consensus.errors import DecodeError
from consensus.types import BlockHash, PublicKey

ENVELOPE_VERSION = 1
PAYLOAD_VERSION = 1
NONCE_SIZE = 32
MAX_REASON = 200
MAX_GET_BLOCKS = 1000  # the most blocks one GET_BLOCKS may ask for
MAX_TXS_PER_MESSAGE = 10_000
MAX_ACTIONS_PER_MESSAGE = 64
WIRE_FRAME_BYTES = 64 * 1024  # no WebSocket frame is larger; bigger messages go as PART frames


class MsgType(IntEnum):
    """What a frame carries. Values are wire constants: never renumber, only append."""

    HELLO = 1  # handshake: Hello
    AUTH = 2  # handshake: the signature over the peer's challenge
    REJECT = 3  # a reason, sent just before closing
    TXS = 10  # TxBatch: one or more encoded txs
    PROPOSAL = 11  # ProposalMessage: a signed proposal and the block it names
    VOTE = 12  # votes.encode_vote
    EVIDENCE = 13  # consensus evidence encoding
    BLOCK = 14  # retired: nothing sends it (a peer that does is banned); the value stays taken
    GET_BLOCKS = 15  # GetBlocks: ask for a range of final blocks
    BLOCKS = 16  # BlockRange: the answer, in height order
    STATUS = 17  # Status: a tip (and round) announcement
    PART = 18  # Part: a piece of a message larger than WIRE_FRAME_BYTES (see net/parts.py)
    ACTIONS = 19  # governance actions and recoveries (their block encodings), to pool and relay

    @property
    def is_handshake(self) -> bool:
        return self in _HANDSHAKE_TYPES

    @property
    def is_transport(self) -> bool:
        """Sent and consumed by the transport itself, never handed to the node."""
        return self in _TRANSPORT_TYPES


# looked up on every frame in and out: sets, not comparisons one by one
_HANDSHAKE_TYPES = frozenset({MsgType.HELLO, MsgType.AUTH, MsgType.REJECT})
_TRANSPORT_TYPES = _HANDSHAKE_TYPES | {MsgType.PART}


# -- the envelope -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    msg_type: MsgType
    payload: bytes


def envelope_from(obj: Obj, what: str = "envelope") -> Envelope:
    version, kind, payload = expect_array(obj, 3, what)
    expect_version(version, ENVELOPE_VERSION, what)
    code = expect_uint(kind, f"{what}.type", hi=255)
    try:
        msg_type = MsgType(code)
    except ValueError:
        raise DecodeError(f"{what}.type: unknown message type {code}") from None
    return Envelope(msg_type, expect_bytes(payload, f"{what}.payload"))


def encode_envelope(msg_type: MsgType, payload: bytes) -> bytes:
    return pack((ENVELOPE_VERSION, int(msg_type), bytes(payload)))


def decode_envelope(data: bytes) -> Envelope:
    """The envelope of one frame; DecodeError for anything but its one canonical encoding."""
    return decode_canonical(data, "envelope", envelope_from)


def _payload_fields(obj: Obj, count: int, what: str) -> tuple[Obj, ...]:
    """The `count` fields of a payload after its version number, which must be PAYLOAD_VERSION."""
    fields = expect_array(obj, count + 1, what)
    expect_version(fields[0], PAYLOAD_VERSION, what)
    return fields[1:]


# -- handshake --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """The first frame each side sends: who it is, which chain, how far it is, a challenge."""

    chain_id: str
    genesis_hash: BlockHash
    tip_height: int
    tip_hash: BlockHash
    node_id: PublicKey  # the node key's compressed public key (a validator's signing key)
    is_validator: bool
    nonce: bytes  # NONCE_SIZE random bytes: the challenge the other side signs


def hello_from(obj: Obj, what: str = "hello") -> Hello:
    chain_id, genesis, height, tip, node_id, is_validator, nonce = _payload_fields(obj, 7, what)
    return Hello(
        chain_id=expect_chain_id(chain_id, f"{what}.chain_id"),
        genesis_hash=BlockHash(expect_hash(genesis, f"{what}.genesis_hash")),
        tip_height=expect_uint(height, f"{what}.tip_height"),
        tip_hash=BlockHash(expect_hash(tip, f"{what}.tip_hash")),
        node_id=expect_pubkey(node_id, f"{what}.node_id"),
        is_validator=expect_uint(is_validator, f"{what}.is_validator", hi=1) == 1,
        nonce=expect_bytes(nonce, f"{what}.nonce", size=NONCE_SIZE),
    )


def encode_hello(h: Hello) -> bytes:
    return pack((PAYLOAD_VERSION, h.chain_id, h.genesis_hash, h.tip_height, h.tip_hash,
                 h.node_id, int(h.is_validator), h.nonce))


def decode_hello(data: bytes) -> Hello:
    return decode_canonical(data, "hello", hello_from)


def encode_auth(signature: bytes) -> bytes:
    return pack((PAYLOAD_VERSION, signature))


def decode_auth(data: bytes) -> bytes:
    def build(obj: Obj) -> bytes:
        (sig,) = _payload_fields(obj, 1, "auth")
        return expect_bytes(sig, "auth.signature", size=64)

    return decode_canonical(data, "auth", build)


def encode_reject(reason: str) -> bytes:
    return pack((PAYLOAD_VERSION, reason[:MAX_REASON] or "rejected"))


def decode_reject(data: bytes) -> str:
    def build(obj: Obj) -> str:
        (reason,) = _payload_fields(obj, 1, "reject")
        return expect_str(reason, "reject.reason", MAX_REASON)

    return decode_canonical(data, "reject", build)


# -- gossip and sync payloads -----------------------------------------------------------------


MAX_NEIGHBOR_BYTES = 128  # a bitfield over a voting set of up to 1,024 validators


@dataclass(frozen=True, slots=True)
class Status:
    """A peer's tip, announced on every commit and when its connections change, with its round
    (for diagnostics) and which validators it is directly connected to.

    `neighbors` is a bitfield over the voting set of `height + 1`, in certificate index order
    (bit i is bit i % 8 of byte i // 8): a validator's votes and proposals reach this peer
    first-hand, so nobody relays them to it (see `node/peers.py`). A peer that lies about it
    only goes without relays.
    """

    height: int
    tip_hash: BlockHash
    round: int
    neighbors: bytes = b""


def status_from(obj: Obj, what: str = "status") -> Status:
    height, tip, round_, neighbors = _payload_fields(obj, 4, what)
    return Status(expect_uint(height, f"{what}.height", hi=U64),
                  BlockHash(expect_hash(tip, f"{what}.tip_hash")),
                  expect_uint(round_, f"{what}.round", hi=U32),
                  expect_bytes(neighbors, f"{what}.neighbors", max_len=MAX_NEIGHBOR_BYTES))


def encode_status(s: Status) -> bytes:
    return pack((PAYLOAD_VERSION, s.height, s.tip_hash, s.round, s.neighbors))


def neighbor_bits(voters: tuple[bytes, ...], connected: Collection[bytes]) -> bytes:
    """The `Status.neighbors` bitfield: which of `voters` are in `connected`."""
    bits = bytearray((len(voters) + 7) // 8)
    for i, key in enumerate(voters):
        if key in connected:
            bits[i // 8] |= 1 << (i % 8)
    return bytes(bits)


def neighbors_from_bits(voters: tuple[bytes, ...], bits: bytes) -> frozenset[bytes]:
    """The validators a `Status.neighbors` bitfield names, over `voters`."""
    return frozenset(key for i, key in enumerate(voters)
                     if i // 8 < len(bits) and bits[i // 8] >> (i % 8) & 1)


def decode_status(data: bytes) -> Status:
    return decode_canonical(data, "status", status_from)


@dataclass(frozen=True, slots=True)
class GetBlocks:
    """Ask for `count` final blocks starting at height `start` (1 <= count <= MAX_GET_BLOCKS)."""

    start: int
    count: int


def encode_get_blocks(g: GetBlocks) -> bytes:
    return pack((PAYLOAD_VERSION, g.start, g.count))


def decode_get_blocks(data: bytes) -> GetBlocks:
    def build(obj: Obj) -> GetBlocks:
        start, count = _payload_fields(obj, 2, "get_blocks")
        return GetBlocks(expect_uint(start, "get_blocks.start", lo=1),
                         expect_uint(count, "get_blocks.count", lo=1, hi=MAX_GET_BLOCKS))

    return decode_canonical(data, "get_blocks", build)


@dataclass(frozen=True, slots=True)
class CertifiedBlock:
    """A final block and the commit certificate that makes it final (both as encoded bytes)."""

    block: bytes  # codec.encode_block
    certificate: bytes  # votes.encode_certificate


def _certified_from(obj: Obj, what: str) -> CertifiedBlock:
    block, cert = expect_array(obj, 2, what)
    return CertifiedBlock(expect_bytes(block, f"{what}.block"),
                          expect_bytes(cert, f"{what}.certificate"))


@dataclass(frozen=True, slots=True)
class BlockRange:
    """The answer to GetBlocks: consecutive final blocks from `start`; may be shorter than asked
    (empty when the responder has none of them)."""

    start: int
    blocks: tuple[CertifiedBlock, ...]


def encode_block_range(r: BlockRange) -> bytes:
    return pack((PAYLOAD_VERSION, r.start, tuple((b.block, b.certificate) for b in r.blocks)))


def decode_block_range(data: bytes) -> BlockRange:
    def build(obj: Obj) -> BlockRange:
        start, items = _payload_fields(obj, 2, "blocks")
        return BlockRange(
            expect_uint(start, "blocks.start", lo=1),
            expect_items(items, "blocks", _certified_from, MAX_GET_BLOCKS),
        )

    return decode_canonical(data, "blocks", build)


@dataclass(frozen=True, slots=True)
class ProposalMessage:
    """A signed proposal and the block it proposes, gossiped together."""

    proposal: bytes  # votes.encode_proposal
    block: bytes  # codec.encode_block


def encode_proposal_message(p: ProposalMessage) -> bytes:
    return pack((PAYLOAD_VERSION, p.proposal, p.block))


def decode_proposal_message(data: bytes) -> ProposalMessage:
    def build(obj: Obj) -> ProposalMessage:
        proposal, block = _payload_fields(obj, 2, "proposal_message")
        return ProposalMessage(expect_bytes(proposal, "proposal_message.proposal"),
                               expect_bytes(block, "proposal_message.block"))

    return decode_canonical(data, "proposal_message", build)


def encode_actions(actions: tuple[bytes, ...]) -> bytes:
    """An ACTIONS payload: encoded governance actions or recoveries (`encode_block_action`)."""
    return pack((PAYLOAD_VERSION, tuple(actions)))


def decode_actions(data: bytes) -> tuple[bytes, ...]:
    def build(obj: Obj) -> tuple[bytes, ...]:
        (items,) = _payload_fields(obj, 1, "actions")
        actions = expect_items(items, "actions", expect_bytes, MAX_ACTIONS_PER_MESSAGE)
        if not actions:
            raise DecodeError("actions: an ACTIONS message carries at least one action")
        return actions

    return decode_canonical(data, "actions", build)


def encode_txs(txs: tuple[bytes, ...]) -> bytes:
    """A TXS payload: encoded txs, batched so gossip at thousands of tx/s stays few frames."""
    return pack((PAYLOAD_VERSION, tuple(txs)))


def decode_txs(data: bytes) -> tuple[bytes, ...]:
    def build(obj: Obj) -> tuple[bytes, ...]:
        (items,) = _payload_fields(obj, 1, "txs")
        txs = expect_items(items, "txs", expect_bytes, MAX_TXS_PER_MESSAGE)
        if not txs:
            raise DecodeError("txs: a TXS message carries at least one tx")
        return txs

    return decode_canonical(data, "txs", build)


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a large message: the whole message's envelope is `total` bytes, and the
    pieces, in order and each exactly `PART_PIECE` bytes but the last, concatenate to it."""

    total: int
    piece: bytes


PART_PIECE = WIRE_FRAME_BYTES - 64  # leaves room for the PART envelope around a piece


def encode_part(p: Part) -> bytes:
    return pack((PAYLOAD_VERSION, p.total, p.piece))


def decode_part(data: bytes) -> Part:
    def build(obj: Obj) -> Part:
        total, piece = _payload_fields(obj, 2, "part")
        return Part(expect_uint(total, "part.total", lo=WIRE_FRAME_BYTES + 1, hi=U32),
                    expect_bytes(piece, "part.piece"))

    return decode_canonical(data, "part", build)


__all__ = [
    "ENVELOPE_VERSION", "MAX_GET_BLOCKS", "NONCE_SIZE", "PART_PIECE", "WIRE_FRAME_BYTES",
    "BlockRange", "CertifiedBlock", "Envelope", "GetBlocks", "Hello", "MsgType", "Part",
    "ProposalMessage", "Status", "decode_part", "encode_part",
    "decode_actions", "encode_actions", "decode_auth", "decode_block_range", "decode_envelope",
    "decode_get_blocks", "decode_hello", "decode_proposal_message", "decode_reject",
    "decode_status", "decode_txs", "encode_auth", "encode_block_range",
    "encode_envelope", "encode_get_blocks", "encode_hello", "encode_proposal_message",
    "encode_reject", "encode_status", "encode_txs",
]
