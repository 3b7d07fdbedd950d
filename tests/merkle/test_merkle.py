"""Merkle roots and proofs: every tree size 1..70, every leaf, and proofs that must fail."""

from __future__ import annotations

import pytest

from consensus.crypto import sha256
from consensus.errors import FaircoopError, MerkleError
from consensus.merkle import EMPTY_ROOT, merkle_proof, merkle_root, verify_merkle_proof

SIZES = range(1, 71)


def _items(n: int, salt: bytes = b"") -> list[bytes]:
    return [sha256(salt + i.to_bytes(4, "big")) for i in range(n)]


def _reference_root(items: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written recursively and independently of the module."""
    if len(items) == 1:
        return sha256(b"\x00" + items[0])
    k = 1
    while k * 2 < len(items):
        k *= 2
    return sha256(b"\x01" + _reference_root(items[:k]) + _reference_root(items[k:]))


def _path(index: int, count: int) -> list[str]:
    """The left/right turns from the root to leaf `index` in a tree of `count` leaves."""
    turns = []
    lo, hi = 0, count
    while hi - lo > 1:
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        if index < lo + k:
            turns.append("L")
            hi = lo + k
        else:
            turns.append("R")
            lo = lo + k
    return turns


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert merkle_root([]) == EMPTY_ROOT == sha256(b"")


@pytest.mark.parametrize("n", SIZES)
def test_root_matches_the_recursive_rfc6962_definition(n: int) -> None:
    items = _items(n)
    assert merkle_root(items) == _reference_root(items)
    assert merkle_root(tuple(items)) == merkle_root(items)


def test_small_trees_by_hand() -> None:
    a, b, c = _items(3)
    leaf = [sha256(b"\x00" + x) for x in (a, b, c)]
    ab = sha256(b"\x01" + leaf[0] + leaf[1])
    assert merkle_root([a]) == leaf[0]
    assert merkle_root([a, b]) == ab
    assert merkle_root([a, b, c]) == sha256(b"\x01" + ab + leaf[2])  # c is promoted, not doubled


@pytest.mark.parametrize("n", SIZES)
def test_every_proof_round_trips_and_fails_elsewhere(n: int) -> None:
    items = _items(n)
    root = merkle_root(items)
    stranger = sha256(b"not a leaf")
    for i in range(n):
        proof = merkle_proof(items, i)
        assert len(proof) == len(_path(i, n)) <= (n - 1).bit_length()
        assert verify_merkle_proof(items[i], i, n, proof, root)
        # The wrong item, index, count, root or path never verifies.
        assert not verify_merkle_proof(stranger, i, n, proof, root)
        if n > 1:
            assert not verify_merkle_proof(items[(i + 1) % n], i, n, proof, root)
            assert not verify_merkle_proof(items[i], (i + 1) % n, n, proof, root)
        for other in range(1, n + 6):
            if other != n:
                # The root does not commit to the count (RFC 6962 neither): another count is
                # accepted exactly when it gives leaf i the same path, i.e. the same statement.
                same = i < other and _path(i, other) == _path(i, n)
                assert verify_merkle_proof(items[i], i, other, proof, root) == same
        assert not verify_merkle_proof(items[i], i, n, proof, sha256(root))
        assert not verify_merkle_proof(items[i], i, n, (*proof, root), root)
        if proof:
            assert not verify_merkle_proof(items[i], i, n, proof[:-1], root)
            flipped = bytes([proof[0][0] ^ 1]) + proof[0][1:]
            assert not verify_merkle_proof(items[i], i, n, (flipped, *proof[1:]), root)


def test_leaf_and_inner_hashes_cannot_be_confused() -> None:
    """An inner node presented as a leaf (the second-preimage trick) does not verify."""
    items = _items(4)
    root = merkle_root(items)
    left_pair = sha256(b"\x01" + sha256(b"\x00" + items[0]) + sha256(b"\x00" + items[1]))
    right_pair = sha256(b"\x01" + sha256(b"\x00" + items[2]) + sha256(b"\x00" + items[3]))
    assert sha256(b"\x01" + left_pair + right_pair) == root
    assert not verify_merkle_proof(left_pair, 0, 2, (right_pair,), root)


def test_root_depends_on_order_and_count() -> None:
    items = _items(5)
    assert merkle_root(items) != merkle_root(items[::-1])
    assert merkle_root(items) != merkle_root([*items, items[-1]])  # no duplicate-leaf ambiguity


@pytest.mark.parametrize("index", [-1, 3, 100, "0", None, 1.0], ids=str)
def test_proof_for_a_missing_leaf_raises_merkle_error(index: object) -> None:
    with pytest.raises(MerkleError):
        merkle_proof(_items(3), index)  # type: ignore[arg-type]
    assert issubclass(MerkleError, FaircoopError)


def test_proof_of_an_empty_tree_raises_merkle_error() -> None:
    with pytest.raises(MerkleError):
        merkle_proof([], 0)


@pytest.mark.parametrize(
    ("index", "count", "proof"),
    [
        (-1, 3, ()),
        (3, 3, ()),
        (0, 0, ()),
        ("0", 3, ()),
        (0, None, ()),
        (0, 2, (b"\x00" * 31,)),
        (0, 2, ("00" * 32,)),
        (0, 2, (None,)),
        (0, 2**64, ()),
    ],
    ids=["negative", "past_end", "empty", "str_index", "none_count", "short_sibling",
         "str_sibling", "none_sibling", "huge_count"],
)
def test_verify_returns_false_on_hostile_input(index: object, count: object,
                                               proof: tuple[object, ...]) -> None:
    items = _items(3)
    assert verify_merkle_proof(items[0], index, count, proof, merkle_root(items)) is False  # type: ignore[arg-type]
