"""Merkle roots and inclusion proofs over txids, in the manner of RFC 6962.

Leaves and inner nodes are hashed under different prefixes (0x00, 0x01), and an odd node is
never duplicated, so Bitcoin's duplicate-leaf ambiguity (CVE-2012-2459) can't arise. A tree of n
leaves splits at the largest power of two below n.
"""

from __future__ import annotations

from consensus.crypto import sha256
from consensus.errors import MerkleError
from consensus.types import Hash32

EMPTY_ROOT = Hash32(sha256(b""))


def _leaf(item: bytes) -> bytes:
    return sha256(b"\x00" + item)


def _node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(items: tuple[bytes, ...] | list[bytes]) -> Hash32:
    if not items:
        return EMPTY_ROOT
    level = [_leaf(x) for x in items]
    # Bottom-up pairing gives the same tree as the recursive RFC 6962 split: the left subtree
    # is always full, so an unpaired last node is simply promoted.
    while len(level) > 1:
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return Hash32(level[0])


def merkle_proof(items: tuple[bytes, ...] | list[bytes], index: int) -> tuple[bytes, ...]:
    """The audit path for items[index], from the leaf's sibling up to the root's child."""
    if not isinstance(index, int) or not 0 <= index < len(items):
        raise MerkleError(f"merkle_proof: index {index!r} is not a leaf of {len(items)}")
    path: list[bytes] = []

    def walk(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return _leaf(items[lo])
        mid = lo + _split(hi - lo)
        left, right = walk(lo, mid), walk(mid, hi)
        return _node(left, right)

    def prove(lo: int, hi: int) -> None:
        if hi - lo == 1:
            return
        mid = lo + _split(hi - lo)
        if index < mid:
            prove(lo, mid)
            path.append(walk(mid, hi))
        else:
            prove(mid, hi)
            path.append(walk(lo, mid))

    prove(0, len(items))
    return tuple(path)


def verify_merkle_proof(
    item: bytes, index: int, count: int, proof: tuple[bytes, ...], root: bytes
) -> bool:
    """True iff `proof` shows items[index] == item in a tree of `count` leaves with `root`."""
    if not (isinstance(index, int) and isinstance(count, int)) or not 0 <= index < count:
        return False
    # Recompute which side each step is on by replaying the split from the top.
    sides: list[bool] = []  # True when the sibling is on the right
    lo, hi = 0, count
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            sides.append(True)
            hi = mid
        else:
            sides.append(False)
            lo = mid
    if len(sides) != len(proof):
        return False
    h = _leaf(item)
    for sibling, right in zip(proof, reversed(sides), strict=True):
        if not isinstance(sibling, bytes) or len(sibling) != 32:
            return False
        h = _node(h, sibling) if right else _node(sibling, h)
    return h == root
