"""The wallet's files, mutated by hypothesis: a clear error, no traceback, no wrong answer.

Four formats (issue 20, item 6): the wallet file, partial-tx files, proposal files and
finality receipts. Each starts from a valid sample and is mutated three ways: bit flips,
truncation, and edits of one JSON field (another value of another type, a hex string with one
nibble changed, the field removed). Then:

- the library's reader (`WalletData.from_json`, `multisig.from_bytes`, `proposals.from_bytes`,
  `load_receipt`) returns or raises a `WalletError` (or `ReceiptInvalid`/`ChainMismatch` for a
  receipt's check); any other exception is a crash;
- a mutated receipt never verifies to a different answer: if `verify_receipt` accepts it, the
  tx and the verified facts (txid, height, block hash, signers) are the sample's own (a
  mutation that keeps the meaning, such as upper-case hex, may verify);
- the CLI (`receipt verify`, `multisig show`, `gov show`, `address`), for a smaller sample of
  mutations, returns an exit status with a one-line `faircoop-wallet: error:` message when it
  refuses, and never raises (a raise is the CLI's traceback).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.governance import Reference, SetParam
from consensus.params import ChainParams
from consensus.types import COIN, SpendPolicy
from tests.wallet.wallet_cli_harness import Harness
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet import multisig, proposals
from wallet.builder import Coin, Payment, build_transaction, sign_transaction
from wallet.cli import ExitStatus
from wallet.client import NodeClient, RetryPolicy
from wallet.errors import WalletError, WalletFileError
from wallet.keystore import ScryptParams, WalletSecrets
from wallet.receipts import (
    Receipt,
    VerifiedReceipt,
    encode_validator_set,
    fetch_receipt,
    genesis_light_state,
    load_receipt,
    verify_receipt,
)
from wallet.walletfile import WalletData, create_wallet_files, load_wallet

KEY = PrivateKey((11).to_bytes(32, "big"))
POLICY = SpendPolicy.single(KEY.public_key)
LOCK = codec.policy_lock(POLICY)
PAYEE = codec.policy_lock(SpendPolicy.single(PrivateKey((12).to_bytes(32, "big")).public_key))
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
CLI_FUZZ = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Samples:
    """One valid file of each format, and what the receipt verifies to."""

    wallet: bytes
    partial: bytes
    proposal: bytes
    receipt: bytes
    verify_args: dict[str, Any]
    verified: VerifiedReceipt
    validator_set_hex: str


def make_samples(tmp: Path) -> Samples:
    chain = funded_chain([LOCK], [50 * COIN])
    chain.mine()
    coins = [Coin(op, o.amount, POLICY) for op, o in chain.utxos_of(LOCK)]
    unsigned = build_transaction(coins, [Payment(PAYEE, 2 * COIN)], fee_rate=1,
                                 params=ChainParams(), chain_id=chain.genesis.chain_id,
                                 change_policy=POLICY)
    gid = codec.genesis_hash(chain.genesis)
    partial = multisig.to_json(multisig.from_unsigned(unsigned, "test", gid)).encode()
    tx = sign_transaction(unsigned, {KEY.public_key: KEY})
    chain.submit(tx)
    chain.mine()

    async def fetch() -> tuple[Receipt, Any]:
        with serve(FakeNode(chain)) as url:
            async with NodeClient(url, retry=RetryPolicy(attempts=2, base_delay=0.01)) as c:
                receipt, state, _ = await fetch_receipt(
                    c, genesis_light_state(chain.genesis), codec.txid(tx).hex(), "test")
                return receipt, state

    receipt, state = asyncio.run(fetch())
    args = {"chain_id": receipt.chain_id, "network": "test", "genesis_hash": gid,
            "trusted_validators_hash": state.set_hash_at(receipt.height)}
    proposal = proposals.to_json(proposals.new_action(
        "test", gid, chain.genesis.chain_id, 1, SetParam("min_fee_rate", 2),
        Reference("https://coop.example/assembly#7", "Assembly item 7"))).encode()
    path = tmp / "sample-wallet.json"
    create_wallet_files(path, secrets_=WalletSecrets(MNEMONIC), password="pw", network="test",
                        chain_id=chain.genesis.chain_id, genesis_hash=gid,
                        light=genesis_light_state(chain.genesis), kdf=ScryptParams.for_tests())
    return Samples(path.read_bytes(), partial, proposal, receipt.to_json().encode(), args,
                   verify_receipt(receipt, **args),
                   encode_validator_set(receipt.validator_set).hex())


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return make_samples(tmp_path_factory.mktemp("samples"))


# -- mutations ----------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=5)


def edit_field(doc: Any, path: list[int], draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """Change one value somewhere in `doc` (path picks the way down); returns the new doc."""
    if isinstance(doc, dict) and doc:
        key = sorted(doc)[path[0] % len(doc)]
        if len(path) == 1 or not isinstance(doc[key], dict | list) or not doc[key]:
            how = draw(st.sampled_from(["replace", "remove", "nibble"]))
            if how == "remove":
                return {k: v for k, v in doc.items() if k != key}
            return {**doc, key: mutate_value(doc[key], how, draw)}
        return {**doc, key: edit_field(doc[key], path[1:], draw)}
    if isinstance(doc, list) and doc:
        i = path[0] % len(doc)
        item = edit_field(doc[i], path[1:], draw) if len(path) > 1 else \
            mutate_value(doc[i], draw(st.sampled_from(["replace", "nibble"])), draw)
        return [*doc[:i], item, *doc[i + 1:]]
    return mutate_value(doc, "replace", draw)


def mutate_value(value: Any, how: str, draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    if how == "nibble" and isinstance(value, str) and value:
        i = draw(st.integers(0, len(value) - 1))
        return value[:i] + draw(st.sampled_from("0123456789abcdefABCDEF")) + value[i + 1:]
    if how == "nibble" and isinstance(value, int) and not isinstance(value, bool):
        return value + draw(st.sampled_from([-1, 1, 2**32, -value - 1]))
    return draw(JSON_VALUES)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "field", "field", "field"]))
    if kind == "flip":
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "truncate":
        return original[:draw(st.integers(0, len(original) - 1))]
    doc = json.loads(original)
    path = draw(st.lists(st.integers(0, 100), min_size=1, max_size=4))
    return json.dumps(edit_field(doc, path, draw)).encode()


READERS: dict[str, Callable[[bytes], object]] = {
    "partial": multisig.from_bytes,
    "proposal": proposals.from_bytes,
}


def read_or_refuse(read: Callable[[bytes], object], raw: bytes) -> object | None:
    """What `read` makes of `raw`, or None if it refused with a WalletError (anything else
    propagates: the test fails with the crash)."""
    try:
        return read(raw)
    except WalletError:
        return None


# -- the library --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(READERS))
@FUZZ
@given(data=st.data())
def test_mutated_partial_and_proposal_files_are_read_or_refused_with_a_wallet_error(
        samples: Samples, fmt: str, data: st.DataObject) -> None:
    read_or_refuse(READERS[fmt], data.draw(mutated(getattr(samples, fmt))))


@FUZZ
@given(data=st.data())
def test_a_mutated_wallet_file_is_read_or_refused_with_a_wallet_error(
        samples: Samples, data: st.DataObject, tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_bytes(data.draw(mutated(samples.wallet)))
    read_or_refuse(lambda _: load_wallet(path), b"")


def test_a_wallet_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """Found by the fuzzer: load_wallet raised UnicodeDecodeError (a traceback in the CLI)."""
    path = tmp_path / "w.json"
    path.write_bytes(b'\xfb{"format": "faircoop-wallet"}')
    with pytest.raises(WalletFileError, match="not UTF-8"):
        load_wallet(path)
    result = Harness("http://127.0.0.1:9", tmp_path).run("address", "--json", wallet="w")
    assert result.code == ExitStatus.USAGE and "not UTF-8" in result.err


@FUZZ
@given(data=st.data())
def test_a_mutated_receipt_never_verifies_to_another_answer(
        samples: Samples, data: st.DataObject, tmp_path: Path) -> None:
    path = tmp_path / "r.receipt"
    path.write_bytes(data.draw(mutated(samples.receipt)))
    receipt = read_or_refuse(lambda _: load_receipt(path), b"")
    if receipt is None:
        return
    assert isinstance(receipt, Receipt)
    verified = read_or_refuse(lambda _: verify_receipt(receipt, **samples.verify_args), b"")
    if verified is not None:
        assert verified == samples.verified, "a mutated receipt verified to another answer"
        assert receipt.txid == samples.verified.txid


# -- the CLI ------------------------------------------------------------------------------------


def cli_refuses_cleanly(tmp: Path, argv: list[str], wallet: str = "none") -> int:
    """Run the CLI in process; it must return (a raise is a traceback), and a refusal must
    come with one `faircoop-wallet: error:` line."""
    result = Harness("http://127.0.0.1:9", tmp).run(*argv, wallet=wallet, password="pw")
    if result.code != ExitStatus.OK:
        assert "faircoop-wallet: error:" in result.err, result.err
        assert "Traceback" not in result.err + result.out
    return result.code


@CLI_FUZZ
@given(data=st.data())
def test_the_cli_refuses_a_mutated_receipt_with_an_exit_status_and_never_a_wrong_ok(
        samples: Samples, data: st.DataObject, tmp_path: Path) -> None:
    raw = data.draw(mutated(samples.receipt))
    (tmp_path / "r.receipt").write_bytes(raw)
    (tmp_path / "vs.hex").write_text(samples.validator_set_hex)
    code = cli_refuses_cleanly(tmp_path, [
        "receipt", "verify", str(tmp_path / "r.receipt"), "--network", "test",
        "--chain-id", samples.verify_args["chain_id"],
        "--genesis-hash", samples.verify_args["genesis_hash"].hex(),
        "--validator-set", str(tmp_path / "vs.hex"), "--json"])
    if code == ExitStatus.OK:  # then it is the same receipt, read another way
        receipt = load_receipt(tmp_path / "r.receipt")
        assert verify_receipt(receipt, **samples.verify_args) == samples.verified


@pytest.mark.parametrize(("fmt", "argv"), [
    ("partial", ["multisig", "show"]),
    ("proposal", ["gov", "show"]),
])
@CLI_FUZZ
@given(data=st.data())
def test_the_cli_refuses_mutated_partial_and_proposal_files_with_an_exit_status(
        samples: Samples, fmt: str, argv: list[str], data: st.DataObject,
        tmp_path: Path) -> None:
    (tmp_path / "f.json").write_bytes(data.draw(mutated(getattr(samples, fmt))))
    cli_refuses_cleanly(tmp_path, [*argv, str(tmp_path / "f.json")])


@CLI_FUZZ
@given(data=st.data())
def test_the_cli_refuses_a_mutated_wallet_file_with_an_exit_status(
        samples: Samples, data: st.DataObject, tmp_path: Path) -> None:
    (tmp_path / "w.json").write_bytes(data.draw(mutated(samples.wallet)))
    cli_refuses_cleanly(tmp_path, ["address", "--json"], wallet="w")


def test_the_samples_are_valid(samples: Samples, tmp_path: Path) -> None:
    """The unmutated files read, and the CLI takes them (so a refusal above is the mutation's)."""
    assert multisig.from_bytes(samples.partial) and proposals.from_bytes(samples.proposal)
    assert WalletData.from_json(samples.wallet.decode())
    (tmp_path / "w.json").write_bytes(samples.wallet)
    assert cli_refuses_cleanly(tmp_path, ["address", "--json"], wallet="w") == ExitStatus.OK
    (tmp_path / "f.json").write_bytes(samples.partial)
    assert cli_refuses_cleanly(tmp_path, ["multisig", "show", str(tmp_path / "f.json")]) == 0
    (tmp_path / "g.json").write_bytes(samples.proposal)
    assert cli_refuses_cleanly(tmp_path, ["gov", "show", str(tmp_path / "g.json")]) == 0
