"""Commit certificates: final, or a precise reason why not."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.certificate import (
    InvalidCertificate,
    build_certificate,
    is_final,
    quorum_size,
    verify_certificate,
    with_late_precommit,
)
from consensus.crypto import PrivateKey, sha256
from consensus.errors import ValidationError
from consensus.types import BlockHash, PublicKey
from consensus.votes import (
    CommitCertificate,
    Vote,
    VoteType,
    decode_certificate,
    encode_certificate,
    sign_vote,
)

CHAIN = "faircoop-test"
HEIGHT = 7
ROUND = 2
BLOCK = BlockHash(sha256(b"block 7"))
OTHER = BlockHash(sha256(b"another block"))
KEYS = sorted((PrivateKey(sha256(b"cert-key-%d" % i)) for i in range(7)),
              key=lambda k: k.public_key)
VALIDATORS = tuple(PublicKey(k.public_key) for k in KEYS)


def precommit(i: int, block: bytes = BLOCK, height: int = HEIGHT, round_: int = ROUND,
              chain: str = CHAIN) -> Vote:
    return sign_vote(KEYS[i], chain, VoteType.PRECOMMIT, height, round_, block)


def cert_of(signers: range | list[int] | tuple[int, ...]) -> CommitCertificate:
    return build_certificate([precommit(i) for i in signers], VALIDATORS)


GOOD = cert_of(range(5))  # quorum of 7 is 5


def test_good_certificate_is_final_as_value_and_as_bytes() -> None:
    assert quorum_size(7) == 5
    verify_certificate(GOOD, BLOCK, VALIDATORS, CHAIN, HEIGHT)
    data = encode_certificate(GOOD)
    assert decode_certificate(data) == GOOD
    assert is_final(data, BLOCK, VALIDATORS, CHAIN, HEIGHT)
    assert [i for i, _ in GOOD.signatures] == [0, 1, 2, 3, 4]


def _bad_sig(c: CommitCertificate) -> CommitCertificate:
    sigs = list(c.signatures)
    i, sig = sigs[2]
    sigs[2] = (i, precommit(i, OTHER).signature)  # a real signature, of another message
    return replace(c, signatures=tuple(sigs))


CASES = [
    ("certificate_wrong_chain", GOOD, {"chain_id": "other-chain"}),
    ("certificate_wrong_height", GOOD, {"height": HEIGHT + 1}),
    ("certificate_wrong_block", GOOD, {"block_id": OTHER}),
    ("certificate_below_quorum", cert_of(range(5)), {"validators": VALIDATORS + VALIDATORS[:3]}),
    ("certificate_unknown_signer",
     replace(GOOD, signatures=(*GOOD.signatures, (7, GOOD.signatures[0][1]))), {}),
    ("certificate_duplicate_signer",
     replace(GOOD, signatures=(*GOOD.signatures[:4], GOOD.signatures[3])), {}),
    ("certificate_bad_signature", _bad_sig(GOOD), {}),
    ("certificate_below_quorum", replace(GOOD, signatures=GOOD.signatures[:4]), {}),
    ("certificate_bad_signature", replace(GOOD, round=ROUND + 1), {}),
    ("certificate_malformed", encode_certificate(GOOD)[:-3], {}),
]


@pytest.mark.parametrize(("rule", "cert", "overrides"), CASES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_each_defect_has_its_reason(rule: str, cert: CommitCertificate | bytes,
                                    overrides: dict[str, object]) -> None:
    args: dict[str, object] = {"block_id": BLOCK, "validators": VALIDATORS, "chain_id": CHAIN,
                               "height": HEIGHT}
    args.update(overrides)
    with pytest.raises(InvalidCertificate) as info:
        verify_certificate(cert, **args)  # type: ignore[arg-type]
    assert info.value.rule == rule
    assert isinstance(info.value, ValidationError)
    assert not is_final(cert, **args)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=6), min_size=1))
def test_final_iff_a_quorum_of_validators_signed(signers: set[int]) -> None:
    votes = [precommit(i) for i in sorted(signers)]
    if len(signers) < 5:
        with pytest.raises(InvalidCertificate) as info:
            build_certificate(votes, VALIDATORS)
        assert info.value.rule == "certificate_below_quorum"
        forged = CommitCertificate(CHAIN, HEIGHT, ROUND, BLOCK,
                                   tuple((VALIDATORS.index(v.validator), v.signature)
                                         for v in votes))
        assert not is_final(forged, BLOCK, VALIDATORS, CHAIN, HEIGHT)
    else:
        cert = build_certificate(list(reversed(votes)), VALIDATORS)
        assert is_final(cert, BLOCK, VALIDATORS, CHAIN, HEIGHT)


@pytest.mark.parametrize(
    ("votes", "rule"),
    [
        ([], "certificate_below_quorum"),
        ([precommit(0), precommit(1, OTHER)], "certificate_wrong_block"),
        ([precommit(0), precommit(1, round_=ROUND + 1)], "certificate_wrong_block"),
        ([precommit(0), precommit(0), precommit(1), precommit(2), precommit(3)],
         "certificate_duplicate_signer"),
        ([sign_vote(KEYS[0], CHAIN, VoteType.PREVOTE, HEIGHT, ROUND, BLOCK)],
         "certificate_wrong_block"),
        ([precommit(0, b"")], "certificate_wrong_block"),
        ([sign_vote(PrivateKey(sha256(b"outsider")), CHAIN, VoteType.PRECOMMIT, HEIGHT, ROUND,
                    BLOCK)], "certificate_unknown_signer"),
    ],
)
def test_builder_refuses_what_would_not_verify(votes: list[Vote], rule: str) -> None:
    with pytest.raises(InvalidCertificate) as info:
        build_certificate(votes, VALIDATORS)
    assert info.value.rule == rule


def _five() -> CommitCertificate:
    return build_certificate([precommit(i) for i in range(5)], VALIDATORS)


LATE = [
    ("the sixth validator's precommit", lambda: precommit(5), 6),
    ("one already in", lambda: precommit(0), None),
    ("another block", lambda: precommit(5, block=OTHER), None),
    ("another round", lambda: precommit(5, round_=ROUND + 1), None),
    ("another height", lambda: precommit(5, height=HEIGHT + 1), None),
    ("a prevote", lambda: sign_vote(KEYS[5], CHAIN, VoteType.PREVOTE, HEIGHT, ROUND, BLOCK), None),
    ("a stranger", lambda: sign_vote(PrivateKey(sha256(b"stranger")), CHAIN, VoteType.PRECOMMIT,
                                     HEIGHT, ROUND, BLOCK), None),
    ("a forged signature", lambda: replace(precommit(5), signature=bytes(64)), None),
    ("another chain", lambda: sign_vote(KEYS[5], "other-chain", VoteType.PRECOMMIT, HEIGHT,
                                        ROUND, BLOCK), None),
]


@pytest.mark.parametrize("make,signers", [c[1:] for c in LATE], ids=[c[0] for c in LATE])
def test_a_late_precommit_joins_the_certificate_only_if_it_adds_a_signer(make, signers) -> None:
    cert = _five()
    more = with_late_precommit(cert, make(), VALIDATORS)
    if signers is None:
        assert more is None
        return
    assert more is not None and len(more.signatures) == signers
    assert [i for i, _ in more.signatures] == sorted(i for i, _ in more.signatures)
    verify_certificate(encode_certificate(more), BLOCK, VALIDATORS, CHAIN, HEIGHT)
