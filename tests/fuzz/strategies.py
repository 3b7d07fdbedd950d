"""Hypothesis strategies for what a hostile peer sends: msgpack trees and mutated encodings.

Shared by the decoder fuzz and the live node's P2P fuzz.
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import strategies as st

# msgpack trees: what a peer can send that at least parses
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64 - 1),
                   st.binary(max_size=40), st.text(max_size=20), st.floats(allow_nan=False))
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.one_of(st.text(max_size=5), st.integers()),
                                                 inner, max_size=4)), max_leaves=25)


def packb(obj: Any) -> bytes:
    """msgpack bytes of `obj`; nil (0xc0) for what msgpack cannot pack (a too-large int)."""
    try:
        return bytes(msgpack.packb(obj, use_bin_type=True))
    except (OverflowError, TypeError, ValueError):
        return b"\xc0"


@st.composite
def mutated(draw: st.DrawFn, valid: tuple[bytes, ...]) -> bytes:
    """One of `valid` with 1-3 bit flips, insertions, deletions, truncations or set bytes."""
    raw = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(("flip", "insert", "delete", "truncate", "set")))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if how == "flip" and raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif how == "delete" and raw:
            del raw[at:at + draw(st.integers(1, 4))]
        elif how == "truncate":
            del raw[at:]
        elif how == "set" and raw:
            raw[at] = draw(st.sampled_from((0x00, 0x7F, 0x80, 0x90, 0xC0, 0xC1, 0xC4, 0xCC,
                                            0xCF, 0xD0, 0xDC, 0xDD, 0xDE, 0xFF)))
    return bytes(raw)
