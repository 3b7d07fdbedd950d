"""Wallet attacks against a live node process, each refused with a clear error.

A single-validator devnet node runs as a process; the devnet's demo wallet (real key store,
real wallet CLI in a subprocess) holds its genesis allocation.

- a tampered key store: the wallet refuses (exit KEYSTORE_TAMPERED, `keystore_tampered`);
  nothing reaches the node;
- a signed tx whose outputs were changed (amount raised, payee swapped): the node refuses
  (HTTP 400, rule `bad_signature`); the untouched tx is then accepted and final;
- a tx signed for another chain: the node refuses (HTTP 400, rule `wrong_chain`);
- a wallet of another chain (same chain id, another genesis) pointed at the node: the wallet
  refuses (exit CHAIN_MISMATCH) before it signs anything;
- a receipt whose certificate is forged (signed by a stranger, for another block, empty, for
  another height): `receipt verify` refuses (exit NOT_FINAL, `not_final`, naming the rule);
  the genuine receipt relabelled for the main network: refused (exit CHAIN_MISMATCH);
- a treasury co-member's proposal spending the victim's personal coin, the output to the
  attacker labelled "change" (issue 12, finding 2): `multisig sign` refuses before asking
  (exit PARTIAL_TX, `partial_tx_inputs`), the attacker can't broadcast, the coin stays.

Covered at unit level already (not repeated here): every flipped key-store byte
(tests/wallet/test_wallet_keystore.py), a partially-signed multisig tx changed after others
signed (tests/wallet/test_wallet_multisig.py, test_signing_refuses_a_tx_changed_after_...),
tampered receipts and forging nodes (tests/wallet/test_wallet_receipts.py), every shape of
hostile partial-tx file (tests/wallet/test_wallet_hostile_partial_tx.py), forged recoveries
(tests/wallet/test_wallet_recovery.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.types import COIN, TX_VERSION, OutPoint, Tx, TxId, TxIn, TxOut
from consensus.votes import CommitCertificate, VoteType, decode_certificate, encode_certificate
from consensus.votes import sign_vote as sign_any_vote
from faircoop_node.devnet import DevnetLayout, DevnetNode, create_devnet, load_devnet
from faircoop_node.genesis_file import load_genesis
from tests.builders import key, make_tx, single
from tests.e2e.helpers import demo_key_and_policy, final_on, free_base_port, wait_for
from tests.fuzz.live import lone_node
from wallet import multisig
from wallet.cli import ExitStatus

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scene:
    layout: DevnetLayout
    node: DevnetNode


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    directory = Path(tmp_path_factory.mktemp("walletattacks")) / "dn"
    with lone_node(directory) as (node, _):
        yield Scene(load_devnet(directory), node)


def wallet(scene: Scene, *args: str, wallet_path: Path | None = None,
           password_path: Path | None = None, stdin: str = "") -> tuple[int, dict[str, Any]]:
    layout = scene.layout
    result = subprocess.run(
        [sys.executable, "-m", "wallet", "--wallet", str(wallet_path or layout.wallet_path),
         "--password-file", str(password_path or layout.password_path),
         "--node", scene.node.api_url, "--json", *args],
        input=stdin, capture_output=True, text=True, timeout=120)
    out = result.stdout.strip().splitlines()
    return result.returncode, (json.loads(out[-1]) if out else {"stderr": result.stderr})


def post(node: DevnetNode, raw: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"{node.api_url}/api/v1/tx", data=raw.hex().encode(),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def mempool_count(node: DevnetNode) -> int:
    with urllib.request.urlopen(f"{node.api_url}/api/v1/mempool", timeout=5) as resp:
        return int(json.loads(resp.read())["count"])


def test_a_tampered_key_store_is_refused_and_nothing_is_sent(scene: Scene,
                                                             tmp_path: Path) -> None:
    copy = tmp_path / "demo.wallet"
    shutil.copy(scene.layout.wallet_path, copy)
    keys = Path(str(scene.layout.wallet_path) + ".keys")
    tampered = Path(str(copy) + ".keys")
    data = bytearray(keys.read_bytes())
    data[-40] ^= 1
    tampered.write_bytes(bytes(data))
    before = mempool_count(scene.node)
    code, doc = wallet(scene, "send", scene.layout.demo_address, "1", "--yes",
                       wallet_path=copy)
    assert code == ExitStatus.KEYSTORE_TAMPERED, doc
    assert doc["error"]["kind"] == "keystore_tampered" and doc["error"]["message"]
    assert mempool_count(scene.node) == before


def test_the_node_refuses_changed_outputs_and_another_chain(scene: Scene) -> None:
    genesis = load_genesis(scene.layout.genesis_path)
    demo, policy = demo_key_and_policy(scene.layout)
    coin = OutPoint(TxId(codec.genesis_hash(genesis)), 0)
    total = genesis.allocations[0].amount
    payee = codec.policy_lock(single(key(77)))
    tx = make_tx([(coin, policy, [demo])],
                 [(payee, 10**8), (codec.policy_lock(policy), total - 4 * 10**8)],
                 chain_id=genesis.chain_id)

    # the signed tx with an output changed afterwards: the signature no longer covers it
    changed = replace(tx, outputs=(TxOut(tx.outputs[0].amount * 2, payee), tx.outputs[1]))
    status, doc = post(scene.node, codec.encode_tx(changed))
    assert status == 400 and doc["rule"] == "bad_signature", doc
    redirected = replace(tx, outputs=(TxOut(tx.outputs[0].amount, codec.policy_lock(
        single(key(78)))), tx.outputs[1]))
    status, doc = post(scene.node, codec.encode_tx(redirected))
    assert status == 400 and doc["rule"] == "bad_signature", doc

    # the same payment signed for another chain
    foreign = make_tx([(coin, policy, [demo])], [(payee, 10**8)], chain_id="other-chain")
    status, doc = post(scene.node, codec.encode_tx(foreign))
    assert status == 400 and doc["rule"] == "wrong_chain", doc
    assert "other-chain" in doc["error"]

    # the untouched tx is fine: the refusals were for the tampering, not the coin
    status, doc = post(scene.node, codec.encode_tx(tx))
    assert status == 200 and doc["txid"] == codec.txid(tx).hex()
    wait_for(lambda: final_on(scene.node, doc["txid"]), 30, "the honest tx final")


def test_a_wallet_of_another_chain_refuses_the_node(scene: Scene, tmp_path: Path) -> None:
    other = create_devnet(tmp_path / "other", validators=1, base_port=free_base_port())
    assert other.chain_id == scene.layout.chain_id  # same name, different genesis
    code, doc = wallet(scene, "send", scene.layout.demo_address, "1", "--yes",
                       wallet_path=other.wallet_path, password_path=other.password_path)
    assert code == ExitStatus.CHAIN_MISMATCH, doc
    assert doc["error"]["kind"] == "chain_mismatch" and "genesis" in doc["error"]["message"]


def _forged_certificates(real: bytes, stranger: PrivateKey) -> dict[str, bytes]:
    cert = decode_certificate(real)
    forged_sig = sign_any_vote(stranger, cert.chain_id, VoteType.PRECOMMIT, cert.height,
                               cert.round, cert.block_id).signature
    other_block = sign_any_vote(stranger, cert.chain_id, VoteType.PRECOMMIT, cert.height,
                                cert.round, bytes(32))
    return {
        "signed_by_a_stranger": encode_certificate(replace(
            cert, signatures=tuple((i, forged_sig) for i, _ in cert.signatures))),
        "for_another_block": encode_certificate(replace(cert, block_id=other_block.block_id)),
        "empty": encode_certificate(CommitCertificate(cert.chain_id, cert.height, cert.round,
                                                      cert.block_id, ())),
        "another_height": encode_certificate(replace(cert, height=cert.height + 1)),
    }


def test_a_receipt_with_a_forged_certificate_is_refused(scene: Scene, tmp_path: Path) -> None:
    code, sent = wallet(scene, "send", scene.layout.demo_address, "2", "--yes", "--wait")
    assert code == 0, sent
    txid = sent["txid"]
    receipt_path = tmp_path / "receipt.json"
    code, doc = wallet(scene, "receipt", "export", txid, "--out", str(receipt_path))
    assert code == 0, doc
    code, doc = wallet(scene, "receipt", "verify", str(receipt_path))
    assert code == 0 and doc["valid"] is True  # the genuine receipt verifies

    genuine = json.loads(receipt_path.read_text())
    forgeries = _forged_certificates(bytes.fromhex(genuine["certificate_hex"]),
                                     PrivateKey.generate())
    for name, cert in forgeries.items():
        forged = tmp_path / f"forged-{name}.json"
        forged.write_text(json.dumps({**genuine, "certificate_hex": cert.hex()}))
        code, doc = wallet(scene, "receipt", "verify", str(forged))
        assert code == ExitStatus.NOT_FINAL, (name, doc)
        assert doc["error"]["kind"] == "not_final", (name, doc)
        assert "not final" in doc["error"]["message"] and "certificate" in \
            doc["error"]["message"], (name, doc)
    relabelled = tmp_path / "relabelled.json"  # the payee shown as a main-network address
    relabelled.write_text(json.dumps({**genuine, "network": "main"}))
    code, doc = wallet(scene, "receipt", "verify", str(relabelled))
    assert code == ExitStatus.CHAIN_MISMATCH and "network" in doc["error"]["message"], doc


def address_coins(node: DevnetNode, address: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{node.api_url}/api/v1/address/{address}/utxo",
                                timeout=5) as resp:
        return list(json.loads(resp.read()))


def test_a_co_member_cannot_take_the_victims_personal_coin(scene: Scene,
                                                           tmp_path: Path) -> None:
    _, policy = demo_key_and_policy(scene.layout)
    victim = scene.layout.demo_address
    wait_for(lambda: bool(address_coins(scene.node, victim)), 30, "a confirmed demo coin")
    coin = max(address_coins(scene.node, victim), key=lambda u: int(u["amount"]))
    amount = int(coin["amount"])
    attacker = codec.policy_lock(single(key(91)))
    payee = codec.policy_lock(single(key(92)))
    tx = Tx(TX_VERSION, scene.layout.chain_id, (TxIn(OutPoint(TxId(bytes.fromhex(
        coin["txid"])), int(coin["index"]))),),
            (TxOut(COIN, payee), TxOut(amount - COIN - 10_000, attacker)), b"", ())
    proposal = multisig.PartialTx("test", tx, (TxOut(amount, codec.policy_lock(policy)),),
                                  (policy,), (1,), ((),))
    path = tmp_path / "proposal.json"
    path.write_text(multisig.to_json(proposal))
    before = sum(int(u["amount"]) for u in address_coins(scene.node, victim))
    code, doc = wallet(scene, "multisig", "sign", str(path), stdin="y\n")
    returned = multisig.from_json(path.read_text())
    if not any(multisig.remaining(returned)):  # the attacker got a complete tx: it sends it
        status, sent = post(scene.node, codec.encode_tx(multisig.finalize(returned)))
        assert status == 200, sent
        wait_for(lambda: final_on(scene.node, sent["txid"]), 30, "the theft final")
    assert sum(int(u["amount"]) for u in address_coins(scene.node, victim)) == before, \
        "the victim's personal coin was taken"
    assert code == ExitStatus.PARTIAL_TX, doc
    assert doc["error"]["kind"] == "partial_tx_inputs", doc
    assert "this wallet's own coin" in doc["error"]["message"]
