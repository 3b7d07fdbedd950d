"""The validator's double-sign guard on disk: the last-signed state, and how a wiped node rejoins.

The engine never signs at or below its last-signed (height, round, step) and asks the node to
persist each new one (`PersistLastSigned`) before the signed message leaves. The node writes it
with a synced write to the chain store, so a crash between the write and the broadcast can only
lose a message, never sign a second one.

A validator whose data directory was lost (or that runs on a new one) has no such record: it
can't know what it signed at the height the network was deciding when it went down. It
therefore first syncs to the network's tip T, then records `rejoin_floor(T)`, the state
"signed everything up to the last step of height T + 1". The engine then stays silent at
T + 1 (it still follows and commits it) and votes from T + 2 on. A network launch (every
peer at height 0) is the one exception: nothing was signed yet, so nothing is guarded.
"""

from __future__ import annotations

from consensus.codec import (
    U32,
    Obj,
    decode_canonical,
    expect_array,
    expect_uint,
    expect_version,
    pack,
)
from consensus.engine import SignedState, Step

SIGNED_STATE_VERSION = 1
ROUND_MAX = U32  # the floor's round: no real round reaches it


def encode_signed_state(state: SignedState) -> bytes:
    return pack((SIGNED_STATE_VERSION, state.height, state.round, int(state.step)))


def decode_signed_state(data: bytes) -> SignedState:
    """The stored last-signed state; DecodeError if the record is not one."""

    def build(obj: Obj) -> SignedState:
        version, height, round_, step = expect_array(obj, 4, "last_signed")
        expect_version(version, SIGNED_STATE_VERSION, "last_signed")
        return SignedState(expect_uint(height, "last_signed.height"),
                           expect_uint(round_, "last_signed.round", hi=U32),
                           Step(expect_uint(step, "last_signed.step", hi=int(Step.PRECOMMIT))))

    return decode_canonical(data, "last_signed", build)


def rejoin_floor(network_tip: int) -> SignedState:
    """What a validator without a last-signed record treats as signed after syncing to T."""
    return SignedState(network_tip + 1, ROUND_MAX, Step.PRECOMMIT)


def is_rejoin_floor(state: SignedState) -> bool:
    return state.round == ROUND_MAX and state.step == Step.PRECOMMIT
