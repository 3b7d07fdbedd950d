"""The validator's double-sign guard on disk: the last-signed state, with this height's votes.

The engine never signs at or below its last-signed (height, round, step) and asks the node to
persist each new one (`PersistLastSigned`) before the signed message leaves. The node writes it
with a synced write to the chain store, so a crash between the write and the broadcast can only
lose a message, never sign a second one.

The record also keeps the votes this validator signed at that height (the last two rounds),
written in the same synced write as the state they advance to. A restarted engine resumes at
the round it last signed in and may not sign those steps again; without its earlier votes, a
quorum that restarts together mid-height could never complete that round. The node feeds them
back to the engine and re-sends them (the same signed bytes, never a new signature).

And it keeps the proposal and block of its last non-nil precommit (`Locked`). The engine does
not persist its lock; if a quorum precommitted block X and restarted before committing it,
their re-sent precommits still make X final, but only a node holding X can commit it: without
X they would move to the next round, forget they were locked, and could finalize another
block at a height where some node had already committed X. With X kept and fed back, they
commit X.

A validator whose data directory was lost (or that runs on a new one) has no record at all: it
can't know what it signed at the height the network was deciding when it went down. It
therefore first syncs to the network's tip T, then records `rejoin_floor(T)`, the state
"signed everything up to the last step of height T + 1". The engine then stays silent at
T + 1 (it still follows and commits it) and votes from T + 2 on. A network launch (every
peer at height 0) is the one exception: nothing was signed yet, so nothing is guarded.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.codec import (
    U32,
    Obj,
    decode_canonical,
    expect_array,
    expect_bytes,
    expect_list,
    expect_uint,
    expect_version,
    pack,
)
from consensus.engine import SignedState, Step
from consensus.errors import DecodeError
from consensus.votes import Vote, decode_vote, encode_vote

SIGNED_STATE_VERSION = 1
ROUND_MAX = U32  # the floor's round: no real round reaches it
MAX_KEPT_VOTES = 64  # a record never holds more (two rounds hold at most four)


@dataclass(frozen=True, slots=True)
class Locked:
    """The proposal (and its block) this validator precommitted at the record's height.

    Kept so that after a restart the engine, which forgets its lock, still holds the block a
    quorum may have precommitted, and commits it rather than a different one (see the notes).
    """

    proposal: bytes  # votes.encode_proposal
    block: bytes  # codec.encode_block


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """The last-signed state, the votes signed at its height (oldest first), and the lock."""

    state: SignedState
    votes: tuple[Vote, ...] = ()
    locked: Locked | None = None


def encode_signed_record(record: SignedRecord) -> bytes:
    s = record.state
    locked = () if record.locked is None else (record.locked.proposal, record.locked.block)
    return pack((SIGNED_STATE_VERSION, s.height, s.round, int(s.step),
                 tuple(encode_vote(v) for v in record.votes), locked))


def decode_signed_record(data: bytes) -> SignedRecord:
    """The stored record; DecodeError if it is not one."""

    def build(obj: Obj) -> SignedRecord:
        version, height, round_, step, votes, locked = expect_array(obj, 6, "last_signed")
        expect_version(version, SIGNED_STATE_VERSION, "last_signed")
        state = SignedState(expect_uint(height, "last_signed.height"),
                            expect_uint(round_, "last_signed.round", hi=U32),
                            Step(expect_uint(step, "last_signed.step", hi=int(Step.PRECOMMIT))))
        kept = tuple(decode_vote(expect_bytes(v, f"last_signed.votes[{i}]"))
                     for i, v in enumerate(expect_list(votes, "last_signed.votes",
                                                       MAX_KEPT_VOTES)))
        pair = expect_list(locked, "last_signed.locked", 2)
        if len(pair) not in (0, 2):
            raise DecodeError("last_signed.locked: empty, or [proposal, block]")
        lock = Locked(expect_bytes(pair[0], "last_signed.locked.proposal"),
                      expect_bytes(pair[1], "last_signed.locked.block")) if pair else None
        return SignedRecord(state, kept, lock)

    return decode_canonical(data, "last_signed", build)


def encode_signed_state(state: SignedState) -> bytes:
    return encode_signed_record(SignedRecord(state))


def decode_signed_state(data: bytes) -> SignedState:
    return decode_signed_record(data).state


def record_after(previous: SignedRecord | None, state: SignedState, vote: Vote | None,
                 locked: Locked | None = None) -> SignedRecord:
    """The record to write before `vote` (signed at `state`) is sent: this height's votes of
    the last two rounds plus the new one, and the latest lock at this height (`locked`, when
    `vote` precommits a block, replaces an earlier one)."""
    same = previous is not None and previous.state.height == state.height
    kept = () if previous is None else tuple(
        v for v in previous.votes if v.height == state.height and v.round >= state.round - 1)
    if vote is not None:
        kept = (*kept, vote)
    if locked is None and same and previous is not None:
        locked = previous.locked
    return SignedRecord(state, kept[-MAX_KEPT_VOTES:], locked)


def rejoin_floor(network_tip: int) -> SignedState:
    """What a validator without a last-signed record treats as signed after syncing to T."""
    return SignedState(network_tip + 1, ROUND_MAX, Step.PRECOMMIT)


def is_rejoin_floor(state: SignedState) -> bool:
    return state.round == ROUND_MAX and state.step == Step.PRECOMMIT
