"""Hostile partial-tx files: each is refused with a clear error, or shown truthfully.

The scene: a victim wallet (personal coin of 20 at its receive address, a 2-of-2 treasury
"coop" with the attacker holding 3 + 7 coins), the attacker's wallet, and a stranger's coin,
all on a fake chain served by a fake node (real ledger rules, real signatures). Every hostile
file is written by the attacker with the library, as an attacker would, never by the CLI.

Each case runs through the library as a program embedding it calls it (`load_partial`, then
`Wallet.review_partial` and `Wallet.sign_partial`, or `sign_partial` alone), and through the
CLI (`multisig sign`, in process); the first attack also runs through the installed
`faircoop-wallet` script.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.ledger import tx_sighash
from consensus.types import (
    COIN,
    TX_VERSION,
    OutPoint,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Witness,
)
from tests.wallet.wallet_cli_harness import (
    ACCOUNTS,
    FAST,
    PASSWORD,
    PAYEE_LOCK,
    Harness,
    Result,
    free_url,
)
from tests.wallet.wallet_fakechain import CHAIN_ID, FakeChain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet import multisig
from wallet.amounts import format_coins
from wallet.cli import ExitStatus
from wallet.errors import (
    ChainMismatch,
    ClaimedInputMismatch,
    PartialTxChanged,
    PartialTxError,
    UnexpectedInput,
)
from wallet.keys import COSIGNER, RECEIVE
from wallet.session import Wallet

VICTIM, ATTACKER = ACCOUNTS[0], ACCOUNTS[1]
VICTIM_POLICY = SpendPolicy.single(VICTIM.watch().pubkey(RECEIVE, 0))
ATTACKER_LOCK = ATTACKER.watch().lock(RECEIVE, 0)
ATTACKER_ADDRESS = encode_address(ATTACKER_LOCK, "test")
STRANGER = PrivateKey((4243).to_bytes(32, "big"))
STRANGER_POLICY = SpendPolicy.single(STRANGER.public_key)
TREASURY = multisig.treasury_policy(2, [VICTIM.watch().pubkey(COSIGNER, 0),
                                        ATTACKER.watch().pubkey(COSIGNER, 0)])
TREASURY_LOCK = codec.policy_lock(TREASURY)
TREASURY_ADDRESS = encode_address(TREASURY_LOCK, "test")
FEE = 2_000  # enough for any of these small txs at the fake chain's minimum rate

# the genesis allocations, by index: (policy, amount)
ALLOCATIONS = [(VICTIM_POLICY, 20 * COIN), (STRANGER_POLICY, 5 * COIN), (TREASURY, 3 * COIN),
               (TREASURY, 7 * COIN), (SpendPolicy.single(ATTACKER.watch().pubkey(RECEIVE, 0)),
                                      5 * COIN)]
PERSONAL, STRANGERS, TREASURY_3, TREASURY_7 = 0, 1, 2, 3


@dataclass
class Scene:
    h: Harness
    fake: FakeNode

    @property
    def chain(self) -> FakeChain:
        return self.fake.chain

    def coin(self, allocation: int) -> tuple[OutPoint, TxOut, SpendPolicy]:
        policy, amount = ALLOCATIONS[allocation]
        return (OutPoint(TxId(self.chain.genesis_id), allocation),
                TxOut(amount, codec.policy_lock(policy)), policy)

    def balance(self, lock: bytes) -> int:
        return sum(o.amount for _, o in self.chain.utxos_of(lock))

    def write(self, name: str, text: str) -> Path:
        path = self.h.tmp / name
        path.write_text(text)
        return path

    def sign(self, path: Path, *flags: str, stdin: str = "", url: str | None = None) -> Result:
        return self.h.run("multisig", "sign", str(path), *flags, stdin=stdin, url=url)


@pytest.fixture()
def scene(tmp_path: Path) -> Iterator[Scene]:
    chain = FakeChain(tuple(TxOut(a, codec.policy_lock(p)) for p, a in ALLOCATIONS))
    fake = FakeNode(chain)
    with serve(fake) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0 and h.restore(1).code == 0
        for w, other in (("w0", ATTACKER), ("w1", VICTIM)):
            mine = h.run("multisig", "key", "--json", wallet=w).doc["pubkey"]
            made = h.run("multisig", "create", "-m", "2", "--key", mine, "--key",
                         other.watch().pubkey(COSIGNER, 0).hex(), "--name", "coop", "--json",
                         wallet=w)
            assert made.code == 0 and made.doc["address"] == TREASURY_ADDRESS
        yield Scene(h, fake)


def crafted(coins: list[tuple[OutPoint, TxOut, SpendPolicy]], outputs: list[TxOut],
            change: list[int], *, chain_id: str = CHAIN_ID,
            memo: bytes = b"") -> multisig.PartialTx:
    """A partial tx exactly as a hostile proposer would write it."""
    tx = Tx(TX_VERSION, chain_id, tuple(TxIn(op) for op, _, _ in coins), tuple(outputs), memo,
            ())
    return multisig.PartialTx("test", tx, tuple(o for _, o, _ in coins),
                              tuple(p for _, _, p in coins), tuple(change),
                              tuple(() for _ in coins))


def attacker_cosigns(path: Path) -> None:
    """The attacker adds its own treasury signature wherever it can (its own tooling)."""
    ptx = multisig.from_json(path.read_text())
    key = ATTACKER.private_key(COSIGNER, 0)
    digest = tx_sighash(ptx.tx)
    sigs = tuple(tuple(sorted({**dict(have), **{i: key.sign(digest) for i, k in
                                                enumerate(policy.pubkeys)
                                                if k == key.public_key}}.items()))
                 for policy, have in zip(ptx.policies, ptx.signatures, strict=True))
    path.write_text(multisig.to_json(replace(ptx, signatures=sigs)))


# -- the reported attack (issue 12, finding 2) ------------------------------------------------


def _drain_personal_coin(s: Scene) -> multisig.PartialTx:
    """Spend the victim's personal coin: 1 coin to a payee, the rest to the attacker, which
    the file labels "change"."""
    op, out, policy = s.coin(PERSONAL)
    return crafted([(op, out, policy)],
                   [TxOut(COIN, PAYEE_LOCK), TxOut(out.amount - COIN - FEE, ATTACKER_LOCK)], [1])


def _treasury_plus_personal_coin(s: Scene) -> multisig.PartialTx:
    """A real-looking treasury payment that also spends the victim's personal coin."""
    t = s.coin(TREASURY_3)
    p = s.coin(PERSONAL)
    return crafted([t, p], [TxOut(COIN, PAYEE_LOCK),
                            TxOut(t[1].amount + p[1].amount - COIN - FEE, ATTACKER_LOCK)], [1])


@pytest.mark.parametrize("attack", [_drain_personal_coin, _treasury_plus_personal_coin])
def test_a_co_member_cannot_take_the_victims_personal_coin(
        scene: Scene, attack: Callable[[Scene], multisig.PartialTx]) -> None:
    path = scene.write("proposal.json", multisig.to_json(attack(scene)))
    victim_lock = codec.policy_lock(VICTIM_POLICY)
    # the victim is asked, reads the summary, and types y (as in the report); then the
    # attacker finalizes whatever came back and broadcasts it
    r = scene.sign(path, "--json", stdin="y\n")
    attacker_cosigns(path)
    broadcast = scene.h.run("multisig", "broadcast", str(path), "--json", wallet="w1")
    assert scene.balance(victim_lock) == 20 * COIN, "the victim's personal coin was taken"
    assert broadcast.code == ExitStatus.PARTIAL_TX and scene.chain.height == 0
    assert r.code == ExitStatus.PARTIAL_TX, r.out + r.err
    assert r.doc["error"]["kind"] == "partial_tx_inputs"
    assert "this wallet's own coin" in r.doc["error"]["message"]
    assert "Proceed?" not in r.err  # refused before asking anything


def test_the_installed_script_refuses_the_attack_too(scene: Scene) -> None:
    script = shutil.which("faircoop-wallet", path=str(Path(sys.executable).parent))
    assert script, "the faircoop-wallet console script is not installed in this venv"
    path = scene.write("proposal.json", multisig.to_json(_drain_personal_coin(scene)))
    done = subprocess.run(
        [script, "--wallet", str(scene.h.tmp / "w0.json"), "--node", scene.h.url,
         "--password-file", str(scene.h.tmp / "pw"), "multisig", "sign", str(path)],
        input="y\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == ExitStatus.PARTIAL_TX, done.stderr
    assert "this wallet's own coin" in done.stderr and "--own-coins" in done.stderr
    assert json.loads(path.read_text())["signatures"] == [{}]


# -- every hostile shape: refused with a clear error, through the library and the CLI ---------


def _doc(ptx: multisig.PartialTx) -> dict[str, Any]:
    return json.loads(multisig.to_json(ptx))  # type: ignore[no-any-return]


def _payment(s: Scene, *, fee: int = FEE, change: list[int] | None = None,
             chain_id: str = CHAIN_ID) -> multisig.PartialTx:
    """An honest-looking treasury payment: 1 coin to the payee, the rest back to the treasury."""
    a, b = s.coin(TREASURY_3), s.coin(TREASURY_7)
    return crafted([a, b], [TxOut(COIN, PAYEE_LOCK), TxOut(9 * COIN - fee, TREASURY_LOCK)],
                   [1] if change is None else change, chain_id=chain_id)


def _claims(s: Scene, edit: Callable[[list[dict[str, Any]]], None], fee: int = FEE) -> bytes:
    doc = _doc(_payment(s, fee=fee))
    edit(doc["inputs"])
    return json.dumps(doc).encode()


def _swap_amounts(inputs: list[dict[str, Any]]) -> None:
    inputs[0]["amount"], inputs[1]["amount"] = inputs[1]["amount"], inputs[0]["amount"]


def _lock_lie(s: Scene) -> bytes:
    """Input 1 claims to spend a treasury coin; it really spends the victim's personal coin."""
    a = s.coin(TREASURY_3)
    op, _, _ = s.coin(PERSONAL)
    lie = (op, TxOut(7 * COIN, TREASURY_LOCK), TREASURY)
    return multisig.to_json(crafted([a, lie], [TxOut(COIN, PAYEE_LOCK),
                                               TxOut(9 * COIN - FEE, ATTACKER_LOCK)],
                                    [1])).encode()


def _changed_after_signing(s: Scene) -> bytes:
    path = s.write("signed-by-attacker.json", multisig.to_json(_payment(s)))
    attacker_cosigns(path)
    signed = multisig.from_json(path.read_text())
    more = (TxOut(5 * COIN, ATTACKER_LOCK), TxOut(4 * COIN - FEE, TREASURY_LOCK))
    return multisig.to_json(replace(signed, tx=replace(signed.tx, outputs=more))).encode()


def _other_genesis_coins(s: Scene) -> bytes:
    other = TxId(bytes([0x11]) * 32)
    coins = [(OutPoint(other, 0), TxOut(10 * COIN, TREASURY_LOCK), TREASURY)]
    return multisig.to_json(crafted(coins, [TxOut(COIN, PAYEE_LOCK),
                                            TxOut(9 * COIN - FEE, TREASURY_LOCK)], [1])).encode()


def _edited(edit: Callable[[dict[str, Any]], None]) -> Callable[[Scene], bytes]:
    def build(s: Scene) -> bytes:
        doc = _doc(_payment(s))
        edit(doc)
        return json.dumps(doc).encode()
    return build


def _text(ptx_of: Callable[[Scene], multisig.PartialTx]) -> Callable[[Scene], bytes]:
    return lambda s: multisig.to_json(ptx_of(s)).encode()


@dataclass(frozen=True)
class Refused:
    name: str
    build: Callable[[Scene], bytes]
    error: type[Exception]
    code: ExitStatus
    kind: str
    says: str  # a fragment of the message, in the library's and the CLI's error alike
    flags: tuple[str, ...] = ()


def _stranger(s: Scene) -> multisig.PartialTx:
    op, out, policy = s.coin(STRANGERS)
    return crafted([(op, out, policy)], [TxOut(out.amount - FEE, ATTACKER_LOCK)], [0])


def _foreign_mixed_in(s: Scene) -> multisig.PartialTx:
    t, x = s.coin(TREASURY_3), s.coin(STRANGERS)
    return crafted([t, x], [TxOut(8 * COIN - FEE, ATTACKER_LOCK)], [0])


def _duplicate_input(s: Scene) -> bytes:
    t = s.coin(TREASURY_7)
    tx = Tx(TX_VERSION, CHAIN_ID, (TxIn(t[0]), TxIn(t[0])),
            (TxOut(14 * COIN - FEE, ATTACKER_LOCK),), b"", ())
    doc = _doc(crafted([t], [TxOut(COIN, ATTACKER_LOCK)], [0]))
    doc["tx"], doc["txid"] = codec.encode_tx(tx).hex(), codec.txid(tx).hex()
    doc["inputs"] *= 2
    doc["signatures"] *= 2
    return json.dumps(doc).encode()


def _treasury_with_own_coins_flag(s: Scene) -> multisig.PartialTx:
    return _payment(s)


REFUSED = [
    Refused("the victim's personal coin", _text(_drain_personal_coin), UnexpectedInput,
            ExitStatus.PARTIAL_TX, "partial_tx_inputs", "this wallet's own coin"),
    Refused("a treasury payment with the victim's personal coin mixed in",
            _text(_treasury_plus_personal_coin), UnexpectedInput, ExitStatus.PARTIAL_TX,
            "partial_tx_inputs", "this wallet's own coin"),
    Refused("a stranger's coin mixed into a treasury payment", _text(_foreign_mixed_in),
            UnexpectedInput, ExitStatus.PARTIAL_TX, "partial_tx_inputs", "another policy"),
    Refused("only a stranger's coin", _text(_stranger), PartialTxError, ExitStatus.PARTIAL_TX,
            "partial_tx", "none of the keys"),
    Refused("treasury coins signed as the wallet's own (--own-coins)",
            _text(_treasury_with_own_coins_flag), UnexpectedInput, ExitStatus.PARTIAL_TX,
            "partial_tx_inputs", "not one of this wallet's own addresses",
            flags=("--own-coins",)),
    Refused("swapped input amounts", lambda s: _claims(s, _swap_amounts), ClaimedInputMismatch,
            ExitStatus.PARTIAL_TX, "partial_tx_claims", "claims"),
    Refused("an understated input (hides a 5-coin fee)",
            lambda s: _claims(s, lambda i: i[1].update(amount=2 * COIN), fee=5 * COIN + FEE),
            ClaimedInputMismatch,
            ExitStatus.PARTIAL_TX, "partial_tx_claims", "claims 200000000"),
    Refused("an overstated input",
            lambda s: _claims(s, lambda i: i[0].update(amount=30 * COIN)), ClaimedInputMismatch,
            ExitStatus.PARTIAL_TX, "partial_tx_claims", "claims 3000000000"),
    Refused("an input that lies about the coin it spends", _lock_lie, ClaimedInputMismatch,
            ExitStatus.PARTIAL_TX, "partial_tx_claims", "parent transaction says"),
    Refused("another chain id", _text(lambda s: _payment(s, chain_id="other-chain")),
            ChainMismatch, ExitStatus.CHAIN_MISMATCH, "chain_mismatch", "other-chain"),
    Refused("another network", _edited(lambda d: d.update(network="main")), ChainMismatch,
            ExitStatus.CHAIN_MISMATCH, "chain_mismatch", "(main)"),
    Refused("another genesis, named", _edited(lambda d: d.update(genesis_hash="11" * 32)),
            ChainMismatch, ExitStatus.CHAIN_MISMATCH, "chain_mismatch", "another chain"),
    Refused("another genesis's coins, unnamed", _other_genesis_coins, ClaimedInputMismatch,
            ExitStatus.PARTIAL_TX, "partial_tx_claims", "not on this chain"),
    Refused("a body changed after the attacker signed", _changed_after_signing,
            PartialTxChanged, ExitStatus.PARTIAL_TX, "partial_tx_changed", "changed after"),
    Refused("one coin spent twice", _duplicate_input, UnexpectedInput, ExitStatus.PARTIAL_TX,
            "partial_tx_inputs", "same output as input 0"),
    Refused("outputs above the claimed inputs",
            lambda s: _claims(s, lambda i: i[1].update(amount=COIN)), PartialTxError,
            ExitStatus.PARTIAL_TX, "partial_tx", "more than the inputs"),
    Refused("a file version from the future", _edited(lambda d: d.update(version=2)),
            PartialTxError, ExitStatus.PARTIAL_TX, "partial_tx", "version 2"),
    Refused("a txid field for another tx", _edited(lambda d: d.update(txid="00" * 32)),
            PartialTxError, ExitStatus.PARTIAL_TX, "partial_tx", "txid does not match"),
    Refused("malformed JSON", lambda s: b'{"format": "faircoop-partial-tx", ', PartialTxError,
            ExitStatus.PARTIAL_TX, "partial_tx", "invalid JSON"),
    Refused("JSON nested 100,000 deep", lambda s: b"[" * 100_000, PartialTxError,
            ExitStatus.PARTIAL_TX, "partial_tx", "invalid JSON"),
    Refused("not UTF-8", lambda s: b"\xff\xfe{}", PartialTxError, ExitStatus.PARTIAL_TX,
            "partial_tx", "UTF-8"),
    Refused("not a partial tx", lambda s: b'{"format": "faircoop-receipt"}', PartialTxError,
            ExitStatus.PARTIAL_TX, "partial_tx", "not a faircoop partial"),
]


def library_verdict(s: Scene, raw: bytes, own_coins: bool) -> multisig.Description:
    """What the library decides, called as a program embedding the wallet calls it: the file
    read with `load_partial`, then `Wallet.review_partial` and `Wallet.sign_partial` online
    (the claimed inputs checked against their parents, inside the signing call itself)."""
    path = s.write("hostile-lib.json", "")
    path.write_bytes(raw)

    async def verdict() -> multisig.Description:
        async with Wallet.open(s.h.tmp / "w0.json", PASSWORD, node=s.h.url,
                               retry=FAST) as wallet:
            ptx = multisig.load_partial(path)
            review = await wallet.review_partial(ptx, own_coins=own_coins)
            signed = await wallet.sign_partial(review)
            assert signed.inputs_checked and signed.added >= 1
            return review.description

    return asyncio.run(verdict())


def signed_in_one_call(s: Scene, raw: bytes, own_coins: bool) -> multisig.SignedPartial:
    """`Wallet.sign_partial` given the file's tx straight away: no review step to forget."""
    async def sign() -> multisig.SignedPartial:
        async with Wallet.open(s.h.tmp / "w0.json", PASSWORD, node=s.h.url,
                               retry=FAST) as wallet:
            return await wallet.sign_partial(multisig.from_bytes(raw), own_coins=own_coins)

    return asyncio.run(sign())


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_a_hostile_file_is_refused_by_the_library(scene: Scene, case: Refused) -> None:
    with pytest.raises(case.error, match=re.escape(case.says)):
        library_verdict(scene, case.build(scene), "--own-coins" in case.flags)
    with pytest.raises(case.error, match=re.escape(case.says)):
        signed_in_one_call(scene, case.build(scene), "--own-coins" in case.flags)


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_a_hostile_file_is_refused_by_the_cli(scene: Scene, case: Refused) -> None:
    raw = case.build(scene)
    path = scene.h.tmp / "hostile.json"
    path.write_bytes(raw)
    r = scene.sign(path, *case.flags, "--json", stdin="y\n")
    assert r.code == case.code, r.out + r.err
    assert r.doc["error"]["kind"] == case.kind and case.says in r.doc["error"]["message"]
    assert "Proceed?" not in r.err and path.read_bytes() == raw  # nothing asked, nothing signed
    assert scene.chain.height == 0


# -- shapes that are not refused, but shown as they are ----------------------------------------


@dataclass(frozen=True)
class Shown:
    name: str
    build: Callable[[Scene], multisig.PartialTx]
    outputs: tuple[tuple[str, int, bool, bool], ...]  # (address, amount, change, mine)
    fee: int
    warnings: int  # how many "labelled change but is not" warnings
    flags: tuple[str, ...] = ()


VICTIM_CHANGE_LOCK = VICTIM.watch().lock(1, 3)  # a change address the wallet has not used yet
VICTIM_ADDRESS = encode_address(codec.policy_lock(VICTIM_POLICY), "test")


def _own_coins_change_to_attacker(s: Scene) -> multisig.PartialTx:
    op, out, policy = s.coin(PERSONAL)
    return crafted([(op, out, policy)],
                   [TxOut(COIN, PAYEE_LOCK), TxOut(out.amount - COIN - FEE, ATTACKER_LOCK)], [1])


def _own_coins_honest(s: Scene) -> multisig.PartialTx:
    op, out, policy = s.coin(PERSONAL)
    return crafted([(op, out, policy)],
                   [TxOut(COIN, PAYEE_LOCK), TxOut(out.amount - COIN - FEE, VICTIM_CHANGE_LOCK)],
                   [1])


def _to_the_victim(s: Scene) -> multisig.PartialTx:
    a, b = s.coin(TREASURY_3), s.coin(TREASURY_7)
    return crafted([a, b], [TxOut(COIN, codec.policy_lock(VICTIM_POLICY)),
                            TxOut(9 * COIN - FEE, TREASURY_LOCK)], [0, 1])


PAYEE_ADDRESS = encode_address(PAYEE_LOCK, "test")
SHOWN = [
    Shown("the attacker's output labelled change", lambda s: _payment(s, change=[0, 1]),
          ((PAYEE_ADDRESS, COIN, False, False), (TREASURY_ADDRESS, 9 * COIN - FEE, True, False)),
          FEE, 1),
    Shown("change to the attacker, labelled change",
          lambda s: crafted([s.coin(TREASURY_3), s.coin(TREASURY_7)],
                            [TxOut(COIN, PAYEE_LOCK), TxOut(9 * COIN - FEE, ATTACKER_LOCK)], [1]),
          ((PAYEE_ADDRESS, COIN, False, False), (ATTACKER_ADDRESS, 9 * COIN - FEE, False, False)),
          FEE, 1),
    Shown("the real change left unlabelled", lambda s: _payment(s, change=[]),
          ((PAYEE_ADDRESS, COIN, False, False), (TREASURY_ADDRESS, 9 * COIN - FEE, True, False)),
          FEE, 0),
    Shown("an inflated fee", lambda s: _payment(s, fee=5 * COIN),
          ((PAYEE_ADDRESS, COIN, False, False), (TREASURY_ADDRESS, 4 * COIN, True, False)),
          5 * COIN, 0),
    Shown("a treasury payment to the signer's own address, labelled change", _to_the_victim,
          ((VICTIM_ADDRESS, COIN, False, True), (TREASURY_ADDRESS, 9 * COIN - FEE, True, False)),
          FEE, 1),
    Shown("own coins (--own-coins), change to a fresh change address", _own_coins_honest,
          ((PAYEE_ADDRESS, COIN, False, False),
           (encode_address(VICTIM_CHANGE_LOCK, "test"), 19 * COIN - FEE, True, True)),
          FEE, 0, flags=("--own-coins",)),
    Shown("own coins (--own-coins), 'change' to the attacker", _own_coins_change_to_attacker,
          ((PAYEE_ADDRESS, COIN, False, False), (ATTACKER_ADDRESS, 19 * COIN - FEE, False, False)),
          FEE, 1, flags=("--own-coins",)),
]


def _shown_outputs(outputs: list[dict[str, Any]]) -> tuple[tuple[str, int, bool, bool], ...]:
    return tuple((o["address"], o["amount"], o["change"], o["mine"]) for o in outputs)


@pytest.mark.parametrize("case", SHOWN, ids=[c.name for c in SHOWN])
def test_a_misleading_file_is_shown_as_it_is_by_the_library(scene: Scene, case: Shown) -> None:
    raw = multisig.to_json(case.build(scene)).encode()
    d = library_verdict(scene, raw, "--own-coins" in case.flags)
    assert _shown_outputs(d.as_json()["outputs"]) == case.outputs  # type: ignore[arg-type]
    assert d.fee == case.fee and len(d.warnings) == case.warnings
    assert d.paid == sum(amount for _, amount, change, _ in case.outputs if not change)


@pytest.mark.parametrize("case", SHOWN, ids=[c.name for c in SHOWN])
def test_a_misleading_file_is_shown_as_it_is_by_the_cli(scene: Scene, case: Shown) -> None:
    path = scene.write("proposal.json", multisig.to_json(case.build(scene)))
    r = scene.sign(path, *case.flags, "--json", stdin="y\n")
    assert r.code == 0, r.out + r.err
    assert _shown_outputs(r.doc["outputs"]) == case.outputs and r.doc["fee"] == case.fee
    assert len(r.doc["warnings"]) == case.warnings and r.doc["inputs_checked"] is True
    summary = r.err  # what the member read before typing y
    for address, amount, change, _ in case.outputs:
        tag = "change " if change else "pay    "
        assert re.search(rf"{tag}\s+{re.escape(format_coins(amount))}\s+to {address}", summary)
    assert re.search(rf"fee\s+{re.escape(format_coins(case.fee))}\s+\(", summary)
    assert summary.count("WARNING") == case.warnings
    assert ("this wallet's own coins" if case.flags else "treasury 'coop'") in summary


def test_offline_the_summary_says_the_claims_are_unchecked(scene: Scene) -> None:
    path = scene.write("proposal.json", _claims(scene, _swap_amounts).decode())
    r = scene.sign(path, "--json", stdin="y\n", url=free_url())
    assert r.code == 0 and r.doc["inputs_checked"] is False
    assert "NOT checked" in r.err
    assert r.doc["fee"] == FEE  # swapped claims keep the total: the fee shown is still true


def test_a_lie_about_the_spent_coin_cannot_turn_a_treasury_signature_into_a_personal_spend(
        scene: Scene) -> None:
    """Offline the lie is not caught, but the member signs with treasury keys only, and a
    treasury key's signature can't unlock the personal coin."""
    path = scene.write("proposal.json", _lock_lie(scene).decode())
    r = scene.sign(path, "--yes", "--json", url=free_url())
    assert r.code == 0 and r.doc["inputs_checked"] is False
    attacker_cosigns(path)
    sent = scene.h.run("multisig", "broadcast", str(path), "--json", wallet="w1")
    assert sent.code == ExitStatus.TX_REJECTED, sent.out + sent.err
    assert scene.balance(codec.policy_lock(VICTIM_POLICY)) == 20 * COIN


def test_a_node_lying_about_input_amounts_cannot_vouch_for_a_file(scene: Scene) -> None:
    """The file understates a treasury coin by 3 coins (hiding a 3-coin fee) and the node
    backs the lie in every answer; the parent tx it sends no longer hashes to the txid the
    input names, so the signer refuses."""
    op, out, policy = scene.coin(4)  # the attacker's own coin funds the treasury by a tx
    key = ATTACKER.private_key(RECEIVE, 0)
    funding = Tx(TX_VERSION, CHAIN_ID, (TxIn(op),), (TxOut(out.amount - FEE, TREASURY_LOCK),),
                 b"", ())
    digest = tx_sighash(funding)
    scene.chain.submit(replace(funding, witnesses=(Witness(policy, ((0, key.sign(digest)),)),)))
    coin = (OutPoint(TxId(codec.txid(funding)), 0), TxOut(out.amount - FEE, TREASURY_LOCK),
            TREASURY)
    real = coin[1].amount
    lie = 3 * COIN
    claimed = (coin[0], TxOut(real - lie, TREASURY_LOCK), TREASURY)
    ptx = crafted([claimed], [TxOut(COIN, ATTACKER_LOCK),
                              TxOut(real - lie - COIN - FEE, TREASURY_LOCK)], [1])
    path = scene.write("proposal.json", multisig.to_json(ptx))
    scene.fake.understate = lie
    r = scene.sign(path, "--json", stdin="y\n")
    assert r.code == ExitStatus.ERROR and r.doc["error"]["kind"] == "node_error", r.out + r.err
    assert "does not hash" in r.doc["error"]["message"]
    assert json.loads(path.read_text())["signatures"] == [{}]
    scene.fake.understate = 0  # an honest node: the parent tells the real amount
    r = scene.sign(path, "--json", stdin="y\n")
    assert r.code == ExitStatus.PARTIAL_TX and r.doc["error"]["kind"] == "partial_tx_claims"
