"""End to end: `faircoop-wallet`, as real processes, against a devnet of real node processes.

One devnet (4 validators on free loopback ports, with its funded demo wallet) serves the
module. Every wallet command runs as its own `faircoop-wallet` process (the console script in
the venv), with the password in a `--password-file`, and the test asserts on its `--json`
object and exit code:

1. a new wallet is created and receives funds from the demo wallet (`send --yes --wait`);
2. it pays another new wallet, waits for finality, and both see the payment in `history`;
3. its receipt is exported and verified with no node reachable, by the payer and by the payee
   (against the chain it followed itself); every tampered copy fails;
4. a 2-of-3 treasury of three wallets is funded and spends: the partial tx goes between the
   wallets as files (one signs online, one offline), a copy changed after signing is refused,
   one signature is not enough, the combined file is broadcast and final, balances add up;
5. each error path gives its documented exit code, `kind` and a clear message;
6. while the chain is stalled (two of four validators paused), a second payment does not reuse
   the coin a pending one spends, and both are final once the chain moves again;
7. the devnet's demo governors add a validator with `faircoop-wallet gov` (propose with the
   assembly's reference, three governor wallets sign, the action goes into a validator's
   inbox): the wallet follows the set change and proves a later payment final under the new
   set; a verifier still trusting the old set is refused.

Every node process is stopped in the fixture's `finally`, even on failure.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from consensus import codec
from consensus.address import decode_address, encode_address
from consensus.certificate import build_certificate
from consensus.crypto import PrivateKey
from consensus.governance import sorted_validators
from consensus.merkle import merkle_root
from consensus.types import COIN, PublicKey, TxOut, Validator
from consensus.votes import VoteType, encode_certificate, sign_vote
from faircoop_node.genesis_file import load_genesis
from tests.e2e.helpers import final_on, get, height, wait_for
from tests.e2e_wallet.devnet_world import Run, WalletWorld, closed_url, devnet_world
from wallet.cli import ExitStatus
from wallet.receipts import decode_validator_set, encode_validator_set

pytestmark = pytest.mark.slow

BECH32_CHARS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletWorld]:
    yield from devnet_world(tmp_path_factory.mktemp("wallet-e2e"))


# -- 1-3: receive, send, history, receipts ----------------------------------------------------


def test_receive_send_history_and_an_offline_receipt(world: WalletWorld) -> None:
    alice = world.create("alice")
    bob = world.create("bob")

    # 1. funds from the demo wallet
    funding = world.pay("demo", alice, "100")
    assert (alice, 100 * COIN, False) in [(o["address"], o["amount"], o["change"])
                                          for o in funding["outputs"]]
    bal = world.balance("alice")
    assert (bal["confirmed"], bal["pending"], bal["utxo_count"]) == (100 * COIN, 0, 1)

    # 2. pay bob, wait for finality (verified by the wallet), see it in both histories
    paid = world.pay("alice", bob, "12.5", "--memo", "rent, march")
    txid = paid["txid"]
    assert paid["amount"] == 1_250_000_000 and paid["inputs"] == 1
    [change] = [o for o in paid["outputs"] if o["change"]]
    assert change["address"] != alice  # change goes to a fresh address
    assert change["amount"] == paid["change"] == 100 * COIN - 1_250_000_000 - paid["fee"]
    final_height = paid["receipt"]["height"]

    history = world.run(*world.wallet("alice"), "history").ok()["transactions"]
    assert [t["txid"] for t in history] == [txid, funding["txid"]]  # newest first
    sent, received = history
    assert sent["outgoing"] and sent["height"] == final_height
    assert (sent["sent"], sent["fee"], sent["net"]) == (1_250_000_000, paid["fee"],
                                                        -(1_250_000_000 + paid["fee"]))
    assert not received["outgoing"] and received["net"] == received["received"] == 100 * COIN
    [incoming] = world.run(*world.wallet("bob"), "history").ok()["transactions"]
    assert (incoming["txid"], incoming["net"], incoming["outgoing"]) == (txid, 1_250_000_000,
                                                                         False)
    assert world.balance("alice")["confirmed"] == change["amount"]
    assert world.balance("bob")["confirmed"] == 1_250_000_000
    shown = world.run(*world.wallet("bob"), "tx", txid).ok()
    assert shown["final"] and shown["height"] == final_height and shown["fee"] == paid["fee"]

    # 3. export the receipt, verify it with no node reachable
    receipt_file = world.tmp / "rent.receipt"
    exported = world.run(*world.wallet("alice"), "receipt", "export", txid, "--out",
                         str(receipt_file)).ok()
    assert (exported["txid"], exported["height"]) == (txid, final_height)
    assert exported["block_hash"] == paid["receipt"]["block_hash"]
    offline = closed_url()
    verified = world.run(*world.wallet("alice"), "receipt", "verify", str(receipt_file),
                         node=offline).ok()
    assert verified["valid"] and verified["txid"] == txid and verified["height"] == final_height
    assert verified["signers"] >= 3 and verified["validators"] == 4
    assert {"address": bob, "amount": 1_250_000_000} in verified["outputs"]

    # the payee trusts only the chain it followed itself: not yet followed, it says so...
    behind = world.run(*world.wallet("bob"), "receipt", "verify", str(receipt_file),
                       node=offline)
    assert "run `sync` first" in behind.failed(ExitStatus.USAGE, "usage")
    synced = world.run(*world.wallet("bob"), "sync").ok()
    assert synced["height"] >= final_height
    again = world.run(*world.wallet("bob"), "receipt", "verify", str(receipt_file),
                      node=offline).ok()
    assert again["block_hash"] == exported["block_hash"]
    # a third party with no wallet: chain identity and validator set from the genesis file
    # alone (the set is still the genesis set here; the last test changes it)
    genesis = load_genesis(world.layout.genesis_path)
    trusted_set = world.tmp / "genesis-validators.hex"
    trusted_set.write_text(encode_validator_set(sorted_validators(genesis.validators)).hex())
    third = world.run("--wallet", str(world.tmp / "none.wallet"), "receipt", "verify",
                      str(receipt_file), "--chain-id", genesis.chain_id, "--genesis-hash",
                      codec.genesis_hash(genesis).hex(), "--network", genesis.network,
                      "--validator-set", str(trusted_set), node=offline).ok()
    assert (third["txid"], third["height"]) == (txid, final_height)

    # ...and no tampered copy passes
    original = json.loads(receipt_file.read_text())
    for name, tamper, says in TAMPERINGS:
        doc = json.loads(json.dumps(original))
        tamper(doc)
        forged = world.tmp / f"forged-{name}.receipt"
        forged.write_text(json.dumps(doc))
        bad = world.run(*world.wallet("bob"), "receipt", "verify", str(forged), node=offline)
        message = bad.failed(ExitStatus.NOT_FINAL, "not_final")
        assert re.search(says, message), f"{name}: {message}"


def _pay_more(doc: dict[str, Any], *, fix_txid: bool) -> None:
    """Raise the first output's amount; a careful forger also fixes the txid field."""
    tx = codec.decode_tx(bytes.fromhex(doc["tx_hex"]))
    first = tx.outputs[0]
    tx = replace(tx, outputs=(TxOut(first.amount * 100, first.lock), *tx.outputs[1:]))
    doc["tx_hex"] = codec.encode_tx(tx).hex()
    if fix_txid:
        doc["txid"] = codec.txid(tx).hex()


def _forged_validator_set(doc: dict[str, Any]) -> None:
    """Swap in a set of keys an attacker holds (the header still names the real set)."""
    real = decode_validator_set(bytes.fromhex(doc["validator_set_hex"]))
    fake = [Validator(v.name, PublicKey(PrivateKey((1000 + i).to_bytes(32, "big")).public_key))
            for i, v in enumerate(real)]
    doc["validator_set_hex"] = encode_validator_set(sorted_validators(fake)).hex()


def _forged_block(doc: dict[str, Any]) -> None:
    """A whole block forged by keys an attacker holds: header, tx root, validator set and
    certificate all agree with each other; only the verifier's own trusted set exposes it."""
    keys = [PrivateKey((2000 + i).to_bytes(32, "big")) for i in range(4)]
    fake = sorted_validators([Validator(f"fake-{i}", PublicKey(k.public_key))
                              for i, k in enumerate(keys)])
    real = codec.decode_header(bytes.fromhex(doc["header_hex"]))
    tid = bytes.fromhex(doc["txid"])
    header = replace(real, tx_root=merkle_root([tid]), validators_hash=codec.validators_hash(fake))
    block_id = codec.block_hash(header)
    votes = [sign_vote(k, real.chain_id, VoteType.PRECOMMIT, real.height, 0, block_id)
             for k in keys]
    cert = build_certificate(votes, tuple(v.pubkey for v in fake))
    doc.update(header_hex=codec.encode_header(header).hex(), position=0, tx_count=1,
               merkle_proof=[], certificate_hex=encode_certificate(cert).hex(),
               validator_set_hex=encode_validator_set(fake).hex())


def _flip_signature(doc: dict[str, Any]) -> None:
    cert = bytearray(bytes.fromhex(doc["certificate_hex"]))
    cert[-1] ^= 0x01  # the last byte of the last precommit signature
    doc["certificate_hex"] = cert.hex()


TAMPERINGS: tuple[tuple[str, Callable[[dict[str, Any]], None], str], ...] = (
    ("amount", lambda d: _pay_more(d, fix_txid=False), "txid does not match"),
    ("amount-and-txid", lambda d: _pay_more(d, fix_txid=True), "Merkle proof"),
    ("merkle-proof", lambda d: d.update(merkle_proof=["00" * 32, *d["merkle_proof"]]),
     "Merkle proof"),
    ("position", lambda d: d.update(position=d["position"] + 1), "Merkle proof"),
    ("height", lambda d: d.update(height=d["height"] + 1), "height"),
    ("validator-set", _forged_validator_set, "validator set"),
    ("certificate", _flip_signature, "not final"),
    ("forged-block", _forged_block, "but the trusted set is"),
)


# -- 4: a 2-of-3 treasury, the partial tx passed around as files ------------------------------


def test_two_of_three_treasury_spends_with_files_passed_between_wallets(
        world: WalletWorld) -> None:
    members = ["ana", "ben", "cy"]
    receive = {m: world.create(m) for m in members}
    keys = [world.run(*world.wallet(m), "multisig", "key").ok()["pubkey"] for m in members]
    flags = [x for k in keys for x in ("--key", k)]
    made = [world.run(*world.wallet(m), "multisig", "create", "-m", "2", *flags, "--name",
                      "coop").ok() for m in members]
    treasury = made[0]["address"]
    assert all(d["address"] == treasury and d["threshold"] == 2 and d["own_keys"] == 1
               for d in made)
    assert decode_address(treasury, "test")  # a well-formed test-network address

    world.pay("demo", treasury, "50")
    assert world.address_balance(treasury) == 50 * COIN

    # ana proposes paying cy 20 coins; each member gets their own copy of the file
    folders = {m: world.tmp / f"{m}-inbox" for m in members}
    for folder in folders.values():
        folder.mkdir()
    proposal = folders["ana"] / "proposal.json"
    spend = world.run(*world.wallet("ana"), "multisig", "spend", "coop", receive["cy"], "20",
                      "--memo", "equipment", "--out", str(proposal)).ok()
    assert spend["signatures_remaining"] == 2 and not spend["complete"]
    outputs = {(o["address"], o["change"]): o["amount"] for o in spend["outputs"]}
    assert outputs[(receive["cy"], False)] == 20 * COIN
    assert outputs[(treasury, True)] == 30 * COIN - spend["fee"]  # change back to the treasury
    assert spend["fee"] == spend["size"] * world.min_fee_rate and spend["memo"] == "equipment"
    for m in ("ben", "cy"):
        shutil.copy(proposal, folders[m] / "proposal.json")

    # ben looks first: he sees exactly what it pays
    shown = world.run(*world.wallet("ben"), "multisig", "show",
                      str(folders["ben"] / "proposal.json")).ok()
    assert (shown["txid"], shown["outputs"], shown["fee"]) == (spend["txid"], spend["outputs"],
                                                               spend["fee"])

    # ben signs online (the claimed input amounts are checked against the node)...
    ben_signed = folders["ben"] / "signed.json"
    b = world.run(*world.wallet("ben"), "multisig", "sign",
                  str(folders["ben"] / "proposal.json"), "--yes", "--out", str(ben_signed)).ok()
    assert (b["added"], b["inputs_checked"], b["signatures_remaining"]) == (1, True, 1)
    # ...and one signature is not enough to broadcast
    early = world.run(*world.wallet("ben"), "multisig", "broadcast", str(ben_signed))
    assert "signature" in early.failed(ExitStatus.PARTIAL_TX, "partial_tx")

    # a copy whose payment was raised after ben signed: cy refuses to sign it
    forged_doc = json.loads(ben_signed.read_text())
    _pay_more_partial(forged_doc)
    forged = folders["cy"] / "forged.json"
    forged.write_text(json.dumps(forged_doc))
    refused = world.run(*world.wallet("cy"), "multisig", "sign", str(forged), "--yes")
    refused.failed(ExitStatus.PARTIAL_TX, "partial_tx_changed")

    # cy signs her own copy offline (no node reachable: the amounts are not checked)
    cy_signed = folders["cy"] / "signed.json"
    c = world.run(*world.wallet("cy"), "multisig", "sign",
                  str(folders["cy"] / "proposal.json"), "--yes", "--out", str(cy_signed),
                  node=closed_url()).ok()
    assert (c["added"], c["inputs_checked"], c["signatures_remaining"]) == (1, False, 1)

    # the signed copies come back to ana, who combines and broadcasts
    back = [shutil.copy(p, folders["ana"] / f"from-{m}.json")
            for m, p in (("ben", ben_signed), ("cy", cy_signed))]
    complete = folders["ana"] / "complete.json"
    combined = world.run(*world.wallet("ana"), "multisig", "combine", *map(str, back), "--out",
                         str(complete)).ok()
    assert combined["complete"] and combined["signatures_remaining"] == 0
    sent = world.run(*world.wallet("ana"), "multisig", "broadcast", str(complete),
                     "--wait").ok()
    assert sent["txid"] == spend["txid"] and sent["receipt"]["final"]

    assert world.address_balance(treasury) == 30 * COIN - spend["fee"]
    assert world.balance("cy")["confirmed"] == 20 * COIN
    [incoming] = world.run(*world.wallet("cy"), "history").ok()["transactions"]
    assert incoming["txid"] == spend["txid"] and incoming["received"] == 20 * COIN
    # the spent proposal can't go out twice
    twice = world.run(*world.wallet("ben"), "multisig", "broadcast", str(complete))
    assert twice.code == ExitStatus.TX_REJECTED, twice.err


def _pay_more_partial(doc: dict[str, Any]) -> None:
    """Raise the payment in a partial-tx file, keeping the file self-consistent."""
    tx = codec.decode_tx(bytes.fromhex(doc["tx"]))
    pay = next(i for i in range(len(tx.outputs)) if i not in doc["change"])
    outs = list(tx.outputs)
    outs[pay] = TxOut(outs[pay].amount + COIN, outs[pay].lock)
    change = doc["change"][0]
    outs[change] = TxOut(outs[change].amount - COIN, outs[change].lock)
    tx = replace(tx, outputs=tuple(outs))
    doc["tx"] = codec.encode_tx(tx).hex()
    doc["txid"] = codec.txid(tx).hex()


# -- 5: error paths ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payer(world: WalletWorld) -> tuple[str, str, int]:
    """A wallet holding exactly 3 coins at its first address: (name, address, balance)."""
    address = world.create("payer")
    world.pay("demo", address, "3")
    return "payer", address, 3 * COIN


def _typo(address: str) -> str:
    """One character changed in the data part (the checksum catches it)."""
    i = len(address) - 10
    swap = BECH32_CHARS[(BECH32_CHARS.index(address[i]) + 1) % len(BECH32_CHARS)]
    return address[:i] + swap + address[i + 1:]


def _main_net(address: str) -> str:
    return encode_address(decode_address(address, "test"), "main")


def _copy_wallet(world: WalletWorld, name: str, copy: str) -> Path:
    src = world.tmp / f"{name}.wallet"
    for suffix in ("", ".keys"):
        shutil.copy(Path(f"{src}{suffix}"), world.tmp / f"{copy}.wallet{suffix}")
    return world.tmp / f"{copy}.wallet"


def _wrong_password(world: WalletWorld, name: str) -> Run:
    wrong = world.tmp / "wrong-password"
    wrong.write_text("not the password\n")
    return world.run("--wallet", str(world.tmp / f"{name}.wallet"), "--password-file",
                     str(wrong), "send", world.layout.demo_address, "1", "--yes")


def _tampered_key_store(world: WalletWorld, name: str) -> Run:
    copy = _copy_wallet(world, name, "tampered")
    keys = Path(f"{copy}.keys")
    raw = bytearray(keys.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    keys.write_bytes(bytes(raw))
    return world.run(*world.wallet("tampered"), "send", world.layout.demo_address, "1", "--yes")


def _another_chain(world: WalletWorld, name: str) -> Run:
    """A wallet of another chain (made offline), pointed at this devnet."""
    world.run(*world.wallet("elsewhere"), "create", "--network", "test", "--chain-id",
              "faircoop-other", "--genesis-hash", "ab" * 32, node=closed_url()).ok()
    return world.run(*world.wallet("elsewhere"), "balance")


def _send(address: Callable[[str], str], amount: str, *extra: str,
          node: Callable[[], str | None] = lambda: None) -> Callable[[WalletWorld, str], Run]:
    def run(world: WalletWorld, name: str) -> Run:
        return world.run(*world.wallet(name), "send", address(world.layout.demo_address), amount,
                         "--yes", *extra, node=node())
    return run


ERROR_CASES: tuple[tuple[str, ExitStatus, str, str, Callable[[WalletWorld, str], Run]], ...] = (
    # (case, exit status, JSON kind, a phrase the message must hold, the failing run)
    ("wrong password", ExitStatus.WRONG_PASSWORD, "wrong_password", "wrong password",
     _wrong_password),
    ("insufficient funds", ExitStatus.INSUFFICIENT_FUNDS, "insufficient_funds", "short by",
     _send(str, "5")),
    ("unreachable node", ExitStatus.NODE_UNREACHABLE, "node_unreachable",
     "Is the node running? Set --node URL or FAIRCOOP_NODE", _send(str, "1", node=closed_url)),
    ("address typo", ExitStatus.BAD_ADDRESS, "bad_address", "bad checksum",
     _send(_typo, "1")),
    ("main-network address", ExitStatus.BAD_ADDRESS, "bad_address",
     "for the main network, but this is the test network", _send(_main_net, "1")),
    ("fee rate below the minimum", ExitStatus.USAGE, "bad_fee_rate",
     "below the chain's min_fee_rate", _send(str, "1", "--fee-rate", "0")),
    ("bad amount", ExitStatus.USAGE, "bad_amount", "1.123456789", _send(str, "1.123456789")),
    ("tampered key store", ExitStatus.KEYSTORE_TAMPERED, "keystore_tampered", "",
     _tampered_key_store),
    ("another chain's node", ExitStatus.CHAIN_MISMATCH, "chain_mismatch", "faircoop-other",
     _another_chain),
)


@pytest.mark.parametrize(("case", "status", "kind", "phrase", "failing"), ERROR_CASES,
                         ids=[c[0] for c in ERROR_CASES])
def test_error_paths_exit_with_their_code_and_say_why(
        world: WalletWorld, payer: tuple[str, str, int], case: str, status: ExitStatus,
        kind: str, phrase: str, failing: Callable[[WalletWorld, str], Run]) -> None:
    name, address, funds = payer
    run = failing(world, name)
    message = run.failed(status, kind)
    assert phrase in message, message
    if case == "insufficient funds":  # the shortfall is stated exactly
        needed, have, short = map(int, re.findall(r"\d+", message)[:3])
        assert have == funds and short == needed - have and needed > 5 * COIN
    if case == "unreachable node":
        assert re.search(r"node unreachable at http://127\.0\.0\.1:\d+ after 4 attempt",
                         message)
    if case == "address typo":
        assert _typo(world.layout.demo_address) in message
    # nothing left the wallet (asked of the node directly: one process fewer per case)
    after = get(world.node, f"address/{address}")
    assert (after["balance"], after["mempool_balance_delta"]) == (funds, 0)


def _pending_order(world: WalletWorld, name: str, txid: str) -> int:
    pending = json.loads((world.tmp / f"{name}.wallet").read_text())["pending"]
    return [p["txid"] for p in pending].index(txid)


# -- 6: paying twice while the chain is stalled -----------------------------------------------


def test_a_second_payment_while_the_first_is_pending_spends_other_coins(
        world: WalletWorld) -> None:
    carol = world.create("carol")
    world.pay("demo", carol, "2")
    world.pay("demo", carol, "3")
    demo = world.layout.demo_address
    paused = [n for n in world.layout.nodes if n.validator][2:]
    h0 = height(world.node)
    for node in paused:  # two of four: no quorum, so nothing becomes final
        world.net.signal(node.name, signal.SIGSTOP)
    try:
        # two processes at once: the wallet's lock orders them, and the second sees the
        # coin the first spends as pending
        both = [world.start(*world.wallet("carol"), "send", demo, "1", "--yes")
                for _ in range(2)]
        first, second = sorted((world.finish(proc).ok() for proc in both),
                               key=lambda d: _pending_order(world, "carol", d["txid"]))
        changes = {o["address"] for d in (first, second) for o in d["outputs"] if o["change"]}
        assert len(changes) == 2  # each its own fresh change address
        spent = [json.loads((world.tmp / "carol.wallet").read_text())["pending"][i]["spends"]
                 for i in (0, 1)]
        assert not set(map(tuple, spent[0])) & set(map(tuple, spent[1]))  # no coin twice
        # both coins are held now: a third payment is short, and the message says why
        third = world.run(*world.wallet("carol"), "send", demo, "1", "--yes")
        message = third.failed(ExitStatus.INSUFFICIENT_FUNDS, "insufficient_funds")
        assert f"{5 * COIN} more are spent by this wallet's transactions that are not final" \
            in message
        history = world.run(*world.wallet("carol"), "history").ok()["transactions"]
        assert [(t["txid"], t["height"]) for t in history[:2]] == \
            [(second["txid"], None), (first["txid"], None)]  # pending, newest first
        bal = world.balance("carol")
        assert bal["confirmed"] == 5 * COIN
        assert bal["pending"] == -(2 * COIN + first["fee"] + second["fee"])
        assert height(world.node) <= h0 + 1  # the chain really was stalled
    finally:
        for node in paused:
            world.net.signal(node.name, signal.SIGCONT)
    wait_for(lambda: all(final_on(world.node, d["txid"]) for d in (first, second)), 60,
             "both payments final once the chain moves again")
    assert world.balance("carol")["confirmed"] == 3 * COIN - first["fee"] - second["fee"]
    after = world.run(*world.wallet("carol"), "send", demo, "0.5", "--yes", "--wait").ok()
    assert after["receipt"]["final"]
    assert json.loads((world.tmp / "carol.wallet").read_text())["pending"] == []


# -- 7: the light client across a validator-set change ----------------------------------------


def test_the_wallet_follows_a_validator_set_change_and_proves_finality_under_the_new_set(
        world: WalletWorld) -> None:
    """Runs last: it leaves the devnet with five validators, four of them running."""
    dave = world.create("dave")
    world.pay("demo", dave, "2")
    before = world.run(*world.wallet("dave"), "sync").ok()
    assert before["validator_set_changes"] == 0

    # the devnet's demo governors (3 of its 4 governor wallets sign) add a fifth validator
    # with `faircoop-wallet gov`, the assembly's reference in the action; the action goes into
    # a validator's inbox (POST /api/v1/actions is tested by the node's own e2e)
    validators = [n for n in world.layout.nodes if n.validator]
    newcomer = PublicKey(PrivateKey((4_000).to_bytes(32, "big")).public_key)

    def governor(number: int) -> list[str]:
        return ["--wallet", str(world.layout.governor_wallet_path(number)), "--password-file",
                str(world.layout.password_path)]

    proposal = str(world.tmp / "add-coop-5.json")
    made = world.run(*governor(1), "gov", "propose", "add-validator", "--name", "coop-5",
                     "--pubkey", newcomer.hex(), "--ref", "https://assembly.example/e2e#5",
                     "--note", "e2e: admit coop-5", "--out", proposal).ok()
    assert (made["nonce"], made["threshold"], made["governors_checked"]) == (0, 3, True)
    for number in (1, 2, 3):
        signed = world.run(*governor(number), "gov", "sign", proposal, "--yes").ok()
        assert signed["added"] and signed["signatures_remaining"] == 3 - number
    inbox = validators[0].directory / "data" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    sent = world.run(*governor(1), "gov", "submit", proposal, "--inbox", str(inbox)).ok()
    assert sent["complete"] and Path(sent["inbox_file"]).parent == inbox
    wait_for(lambda: get(world.node, "validators")["count"] == 5, 60,
             "the fifth validator in the voting set")

    # a payment after the change is final under the new set, and the wallet proves it by
    # following the change itself (the new set is accepted only as the old set committed it)
    paid = world.run(*world.wallet("dave"), "send", world.layout.demo_address, "0.5", "--yes",
                     "--wait").ok()
    assert paid["receipt"]["validators"] == 5 and paid["receipt"]["signers"] >= 4
    after = world.run(*world.wallet("dave"), "sync").ok()
    assert after["validator_set_changes"] == 1 and after["height"] > before["height"]
    receipt_file = world.tmp / "after-change.receipt"
    world.run(*world.wallet("dave"), "receipt", "export", paid["txid"], "--out",
              str(receipt_file)).ok()
    offline = closed_url()
    verified = world.run(*world.wallet("dave"), "receipt", "verify", str(receipt_file),
                         node=offline).ok()
    assert verified["validators"] == 5 and verified["txid"] == paid["txid"]
    # someone still trusting the genesis set is told the set moved on, not fooled
    genesis = load_genesis(world.layout.genesis_path)
    old_set = world.tmp / "old-set.hex"
    old_set.write_text(encode_validator_set(sorted_validators(genesis.validators)).hex())
    stale = world.run("--wallet", str(world.tmp / "none.wallet"), "receipt", "verify",
                      str(receipt_file), "--chain-id", genesis.chain_id, "--genesis-hash",
                      codec.genesis_hash(genesis).hex(), "--network", genesis.network,
                      "--validator-set", str(old_set), node=offline)
    assert "but the trusted set is" in stale.failed(ExitStatus.NOT_FINAL, "not_final")
