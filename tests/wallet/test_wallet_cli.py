"""faircoop-wallet, in process, against a fake node: stdout, JSON schemas and exit codes."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.types import COIN, SpendPolicy
from tests.wallet.wallet_cli_harness import (
    ACCOUNTS,
    PASSWORD,
    PAYEE,
    PAYEE_LOCK,
    Harness,
    free_url,
    hide_fee,
)
from tests.wallet.wallet_fakechain import funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet import multisig
from wallet.cli import ExitStatus
from wallet.errors import WalletBusy
from wallet.fileio import FileLock
from wallet.keys import RECEIVE


@pytest.fixture()
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    locks = [ACCOUNTS[0].watch().lock(RECEIVE, 0), ACCOUNTS[1].watch().lock(RECEIVE, 0)]
    chain = funded_chain(locks, [20 * COIN, 5 * COIN])
    fake = FakeNode(chain)
    with serve(fake) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0
        yield h, fake


def test_create_shows_the_mnemonic_once_and_writes_private_files(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("create", "--words", "12", "--json", wallet="fresh")
    assert r.code == 0, r.err
    doc = r.doc
    assert doc["ok"] and doc["network"] == "test" and doc["chain_id"] == "faircoop-test"
    assert len(doc["mnemonic"].split()) == 12 and doc["address"].startswith("tfair1")
    wallet_file = h.tmp / "fresh.json"
    for f in (wallet_file, h.tmp / "fresh.json.keys"):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    text = wallet_file.read_text()
    assert doc["mnemonic"].split()[0] not in text.split() and PASSWORD not in text
    assert json.loads(text)["light_client"]["genesis_hash"] == fake.chain.genesis_id.hex()
    again = h.run("create", "--json", wallet="fresh")
    assert again.code == ExitStatus.USAGE and "already exists" in again.doc["error"]["message"]


def test_offline_create_from_flags_needs_all_three(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("create", "--network", "test", "--chain-id", "faircoop-test", "--genesis-hash",
              fake.chain.genesis_id.hex(), "--json", wallet="off", url=free_url())
    assert r.code == 0 and r.doc["network"] == "test"
    r = h.run("create", "--network", "test", "--json", wallet="off2")
    assert r.code == ExitStatus.USAGE


def test_a_file_the_wallet_cannot_write_is_an_error_not_a_traceback(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    blocker = h.tmp / "a-file"
    blocker.write_text("not a directory\n")
    r = h.run("create", "--network", "test", "--chain-id", "faircoop-test", "--genesis-hash",
              fake.chain.genesis_id.hex(), "--password-file", str(h.tmp / "pw"), "--json",
              wallet="a-file/w", url=free_url())
    assert r.code == ExitStatus.ERROR and r.doc["error"]["kind"] == "error"
    assert "a-file" in r.doc["error"]["message"] and "Traceback" not in r.err


def test_restore_finds_funds_and_balance_reports_base_units(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    r = h.run("balance", "--json")
    assert r.code == 0 and r.doc == {"ok": True, "command": "balance", "confirmed": 20 * COIN,
                                     "pending": 0, "utxo_count": 1, "addresses": 2}
    text = h.run("balance")
    assert text.out.startswith("balance: 20.00000000")


def test_watch_only_create_finds_the_xpubs_used_addresses(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    xpub = ACCOUNTS[0].xpub  # w0's account: its receive address 0 holds 20 coins
    r = h.run("create", "--watch-only", xpub, "--json", wallet="wo", password=None)
    assert r.code == 0, r.err
    assert r.doc["watch_only"] and r.doc["scanned"] and r.doc["receive_index"] == 1
    assert r.doc["address"] == encode_address(ACCOUNTS[0].watch().lock(RECEIVE, 1), "test")
    bal = h.run("balance", "--json", wallet="wo", password=None).doc
    assert bal["confirmed"] == 20 * COIN
    # it builds an unsigned tx for offline signing, but can't sign one itself
    unsigned = h.tmp / "wo-unsigned.json"
    u = h.run("send", PAYEE, "1", "--unsigned", str(unsigned), "--json", wallet="wo",
              password=None)
    assert u.code == 0 and u.doc["unsigned"] == str(unsigned)
    signed = h.run("multisig", "sign", str(unsigned), "--own-coins", "--yes", "--json",
                   wallet="wo")
    assert signed.code == ExitStatus.ERROR and signed.doc["error"]["kind"] == "watch_only"
    paid = h.run("send", PAYEE, "1", "--yes", "--json", wallet="wo")
    assert paid.code == ExitStatus.ERROR and paid.doc["error"]["kind"] == "watch_only"
    # --no-scan: only the first address, as before
    bare = h.run("create", "--watch-only", xpub, "--no-scan", "--json", wallet="wo2",
                 password=None)
    assert bare.code == 0 and not bare.doc["scanned"] and bare.doc["receive_index"] == 0


def test_a_fee_rate_below_the_chains_minimum_is_a_usage_error(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("send", PAYEE, "1", "--yes", "--fee-rate", "0", "--json")
    assert r.code == ExitStatus.USAGE and r.doc["error"]["kind"] == "bad_fee_rate"
    assert "below the chain's min_fee_rate 1" in r.doc["error"]["message"]
    assert fake.chain.height == 0


def test_address_and_address_new(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    first = h.run("address", "--json").doc  # restore moved past the used address 0
    assert first["index"] == 1
    assert first["address"] == encode_address(ACCOUNTS[0].watch().lock(RECEIVE, 1), "test")
    new = h.run("address", "--new", "--json").doc
    assert new["index"] == 2 and new["address"] != first["address"]
    assert h.run("address").out.strip() == new["address"]


def test_send_yes_json_pays_with_exact_fee_and_fresh_change(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("send", PAYEE, "1.5", "--memo", "hello", "--yes", "--json")
    assert r.code == 0, r.err
    doc = r.doc
    assert doc["amount"] == 150_000_000 and doc["fee"] == doc["size"] * 1
    assert doc["change"] == 20 * COIN - 150_000_000 - doc["fee"]
    tx, height, _ = fake.chain.find_tx(bytes.fromhex(doc["txid"]))
    assert height == 1 and tx.memo == b"hello"
    change_out = [o for o in doc["outputs"] if o["change"]][0]
    assert change_out["address"] == encode_address(ACCOUNTS[0].watch().lock(1, 0), "test")
    assert fake.chain.utxos_of(PAYEE_LOCK)[0][1].amount == 150_000_000
    assert h.run("balance", "--json").doc["confirmed"] == doc["change"]
    # the next payment's change goes to another fresh address
    second = h.run("send", PAYEE, "0.1", "--yes", "--json").doc
    change2 = [o for o in second["outputs"] if o["change"]][0]["address"]
    assert change2 == encode_address(ACCOUNTS[0].watch().lock(1, 1), "test")


def test_confirmation_summary_then_no_sends_nothing(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("send", PAYEE, "2", stdin="n\n")
    assert r.code == ExitStatus.ABORTED
    assert "to " + PAYEE in r.err and "fee" in r.err and "change" in r.err
    assert "2.00000000" in r.err and fake.chain.height == 0
    r = h.run("send", PAYEE, "2", stdin="y\n")
    assert r.code == 0 and "sent: txid" in r.out and fake.chain.height == 1


@pytest.mark.parametrize("argv,code,kind", [
    (["send", PAYEE, "500", "--yes"], ExitStatus.INSUFFICIENT_FUNDS, "insufficient_funds"),
    (["send", PAYEE[:-1] + ("q" if PAYEE[-1] != "q" else "p"), "1", "--yes"],
     ExitStatus.BAD_ADDRESS, "bad_address"),
    (["send", encode_address(PAYEE_LOCK, "main"), "1", "--yes"], ExitStatus.BAD_ADDRESS,
     "bad_address"),
    (["send", PAYEE, "1.123456789", "--yes"], ExitStatus.USAGE, "bad_amount"),
    (["send", PAYEE, "1e3", "--yes"], ExitStatus.USAGE, "bad_amount"),
    (["send", PAYEE, "0.00000001", "--yes"], ExitStatus.USAGE, "dust"),
    (["send", PAYEE, "1", "--password", "x"], ExitStatus.USAGE, "usage"),
    (["frobnicate"], ExitStatus.USAGE, "usage"),
    (["send", PAYEE, "1", "--yes", "--fee-rate", "0"], ExitStatus.USAGE, "bad_fee_rate"),
    (["history", "--limit", "-3"], ExitStatus.USAGE, "usage"),
    (["history", "--limit", "0"], ExitStatus.USAGE, "usage"),
    (["tx", "nothex"], ExitStatus.USAGE, "usage"),
    (["receipt", "export", "ab" * 31, "--out", "r.json"], ExitStatus.USAGE, "usage"),
    (["balance", "--node", "notaurl"], ExitStatus.USAGE, "usage"),
    (["send", PAYEE, "1", "--yes", "--node", "ftp://127.0.0.1:1"], ExitStatus.USAGE, "usage"),
])
def test_error_paths_have_distinct_exit_codes(env, argv, code, kind) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run(*argv, "--json")
    assert r.code == code, r.err
    assert r.doc["ok"] is False and r.doc["error"]["kind"] == kind
    assert r.doc["error"]["code"] == int(code)
    # one error line, last; a usage error prints the command's usage line before it
    *before, last = r.err.splitlines()
    assert last == "faircoop-wallet: error: " + r.doc["error"]["message"]
    assert all(ln.startswith(("usage: faircoop-wallet", " ")) for ln in before), r.err
    assert fake.chain.height == 0


def test_insufficient_funds_message_states_the_shortfall(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    r = h.run("send", PAYEE, "25", "--yes")
    assert r.code == ExitStatus.INSUFFICIENT_FUNDS
    assert "short by" in r.err


def test_wrong_password(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    r = h.run("send", PAYEE, "1", "--yes", "--json", password="not it")
    assert r.code == ExitStatus.WRONG_PASSWORD and r.doc["error"]["kind"] == "wrong_password"
    assert "not it" not in r.out + r.err and fake.chain.height == 0


def test_unreachable_node(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    url = free_url()
    r = h.run("balance", "--json", url=url)
    assert r.code == ExitStatus.NODE_UNREACHABLE and url in r.doc["error"]["message"]


def test_rejected_tx(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    fake.reject_rule = "fee_too_low"
    r = h.run("send", PAYEE, "1", "--yes", "--json")
    assert r.code == ExitStatus.TX_REJECTED and "fee_too_low" in r.doc["error"]["message"]


def test_tampered_keystore(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    ks = h.tmp / "w0.json.keys"
    data = bytearray(ks.read_bytes())
    data[-40] ^= 1
    ks.write_bytes(bytes(data))
    r = h.run("send", PAYEE, "1", "--yes", "--json")
    assert r.code == ExitStatus.KEYSTORE_TAMPERED


def test_unsigned_writes_a_partial_tx_without_asking_a_password(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    out = h.tmp / "unsigned.json"
    r = h.run("send", PAYEE, "3", "--unsigned", str(out), "--json", password=None)
    assert r.code == 0 and r.doc["unsigned"] == str(out)
    assert fake.chain.height == 0
    # sign it offline (node unreachable), then broadcast
    s = h.run("multisig", "sign", str(out), "--own-coins", "--yes", "--json", url=free_url())
    assert s.code == 0 and s.doc["complete"] is True and s.doc["inputs_checked"] is False
    b = h.run("multisig", "broadcast", str(out), "--json")
    assert b.code == 0 and fake.chain.height == 1


def _disk_full_after(limit: int) -> None:
    """In the child: a write past `limit` bytes of any file fails (EFBIG), like a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_signing_in_place_on_a_full_disk_leaves_the_file_as_it_was(env) -> None:  # type: ignore[no-untyped-def]
    # `multisig sign FILE` overwrites FILE: a write that fails halfway (disk full, a crash)
    # must leave the old file, not a torn one the other members can no longer read.
    h, _ = env
    out = h.tmp / "unsigned.json"
    assert h.run("send", PAYEE, "3", "--unsigned", str(out), password=None).code == 0
    before = out.read_bytes()
    argv = [sys.executable, "-m", "wallet", "--wallet", str(h.tmp / "w0.json"), "--node",
            free_url(), "--password-file", str(h.tmp / "pw"), "multisig", "sign", str(out),
            "--own-coins", "--yes", "--json"]
    full = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: _disk_full_after(len(before) + 40))
    assert full.returncode == ExitStatus.ERROR, full.stdout + full.stderr
    assert "File too large" in full.stderr
    assert out.read_bytes() == before  # the partial tx is intact
    assert sorted(p.name for p in h.tmp.iterdir() if p.name.startswith(".unsigned")) == []
    signed = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["complete"] is True


def test_online_signer_refuses_a_file_that_understates_input_amounts(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    out = h.tmp / "unsigned.json"
    assert h.run("send", PAYEE, "3", "--unsigned", str(out), password=None).code == 0
    honest = h.run("multisig", "show", str(out), "--json").doc
    lie = h.tmp / "lie.json"  # hides a 5-coin fee from the signer
    lie.write_text(multisig.to_json(hide_fee(multisig.load_partial(out), 5 * COIN)))
    assert h.run("multisig", "show", str(lie), "--json").doc["fee"] == honest["fee"]
    r = h.run("multisig", "sign", str(lie), "--own-coins", "--yes", "--json")
    assert r.code == ExitStatus.PARTIAL_TX and r.doc["error"]["kind"] == "partial_tx_claims"
    assert "its parent transaction says" in r.doc["error"]["message"]
    ok = h.run("multisig", "sign", str(out), "--own-coins", "--yes", "--json")
    assert ok.code == 0 and ok.doc["inputs_checked"] is True and ok.doc["fee"] == honest["fee"]
    assert fake.chain.height == 0


def test_pay_many_from_csv(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    others = [encode_address(codec.policy_lock(SpendPolicy.single(
        PrivateKey((500 + i).to_bytes(32, "big")).public_key)), "test") for i in range(3)]
    csv_file = h.tmp / "shares.csv"
    csv_file.write_text("address,amount\n" + "".join(
        f"{a},{i + 1}.25\n" for i, a in enumerate(others)) + "# done\n")
    r = h.run("pay-many", str(csv_file), "--memo", "dividends", "--yes", "--json")
    assert r.code == 0, r.err
    paid = [(o["address"], o["amount"]) for o in r.doc["outputs"] if not o["change"]]
    assert paid == [(others[0], 125_000_000), (others[1], 225_000_000),
                    (others[2], 325_000_000)]
    bad = h.tmp / "bad.csv"
    bad.write_text(f"{others[0]},1\nnot-an-address,2\n")
    r = h.run("pay-many", str(bad), "--yes", "--json")
    assert r.code == ExitStatus.BAD_ADDRESS and "bad.csv:2" in r.doc["error"]["message"]
    assert fake.chain.height == 1


def test_wait_history_tx_and_offline_receipt(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    fake.chain.mine()
    r = h.run("send", PAYEE, "4", "--yes", "--wait", "--json")
    assert r.code == 0, r.err
    receipt = r.doc["receipt"]
    assert receipt["final"] and receipt["signers"] == 4 and receipt["height"] == 2
    tid = r.doc["txid"]
    hist = h.run("history", "--json").doc["transactions"]
    assert hist[0]["txid"] == tid and hist[0]["height"] == 2
    assert hist[0]["net"] == -(400_000_000 + r.doc["fee"])
    shown = h.run("tx", tid, "--json").doc
    assert shown["final"] and shown["height"] == 2
    out = h.tmp / "receipt.json"
    e = h.run("receipt", "export", tid, "--out", str(out), "--json")
    assert e.code == 0 and e.doc["height"] == 2
    offline = free_url()
    v = h.run("receipt", "verify", str(out), "--json", url=offline)
    assert v.code == 0 and v.doc["valid"] and v.doc["txid"] == tid
    assert (PAYEE, 400_000_000) in [(o["address"], o["amount"]) for o in v.doc["outputs"]]
    # without a wallet: given the chain id, genesis hash and a trusted validator set file
    vs_file = h.tmp / "vs.hex"
    vs_file.write_text(json.loads(out.read_text())["validator_set_hex"])
    # ...and the network: the receipt's own word for it is never taken (it was once shown,
    # marked unchecked)
    v2 = h.run("receipt", "verify", str(out), "--validator-set", str(vs_file), "--chain-id",
               "faircoop-test", "--genesis-hash", fake.chain.genesis_id.hex(), "--json",
               wallet="nowallet", url=offline)
    assert v2.code == ExitStatus.USAGE and "--network" in v2.doc["error"]["message"]
    v3 = h.run("receipt", "verify", str(out), "--validator-set", str(vs_file), "--chain-id",
               "faircoop-test", "--genesis-hash", fake.chain.genesis_id.hex(), "--network",
               "test", "--json", wallet="nowallet", url=offline)
    assert v3.code == 0 and v3.doc["network_checked"] is True
    # the same receipt relabelled for the main network (its payee shown as fair1...): refused
    doc = json.loads(out.read_text())
    relabelled = h.tmp / "relabelled.json"
    relabelled.write_text(json.dumps({**doc, "network": "main"}))
    for extra in ([], ["--validator-set", str(vs_file), "--chain-id", "faircoop-test",
                       "--genesis-hash", fake.chain.genesis_id.hex(), "--network", "test"]):
        r = h.run("receipt", "verify", str(relabelled), *extra, "--json", url=offline)
        assert r.code == ExitStatus.CHAIN_MISMATCH, r.out
        assert "network" in r.doc["error"]["message"]
    doc["merkle_proof"] = ["00" * 32] + doc["merkle_proof"]
    out.write_text(json.dumps(doc))
    bad = h.run("receipt", "verify", str(out), "--json", url=offline)
    assert bad.code == ExitStatus.NOT_FINAL


def test_history_and_tx_when_the_node_cannot_tell_a_fee(env) -> None:  # type: ignore[no-untyped-def]
    # The node answers "fee": null when it can't trace an input; that is unknown, not 0 and
    # not a crash.
    h, fake = env
    assert h.restore(1).code == 0
    other = h.run("address", "--json", wallet="w1").doc["address"]
    fake.chain.mine()
    paid = h.run("send", other, "4", "--yes", "--json")
    assert paid.code == 0, paid.err
    fake.chain.mine()
    fake.unknown_fee = True
    r = h.run("history", "--json")
    assert r.code == 0, r.err
    [out] = r.doc["transactions"]
    assert out["txid"] == paid.doc["txid"] and out["outgoing"]
    assert out["fee"] is None and out["net"] is None and out["sent"] == 400_000_000
    [incoming] = h.run("history", "--json", wallet="w1").doc["transactions"]
    assert incoming["txid"] == paid.doc["txid"] and not incoming["outgoing"]
    assert incoming["fee"] == 0 and incoming["net"] == incoming["received"] == 400_000_000
    text = h.run("history")
    assert text.code == 0 and "unknown fee" in text.out
    t = h.run("tx", paid.doc["txid"], "--json")
    assert t.code == 0 and t.doc["fee"] is None
    assert h.run("tx", paid.doc["txid"]).out.count("fee unknown") == 1


def test_a_second_payment_does_not_reuse_coins_a_pending_tx_spends(env) -> None:  # type: ignore[no-untyped-def]
    # The node lists confirmed coins only; reusing one a pooled tx spends would be refused.
    h, fake = env
    fake.chain.auto_mine = False
    first = h.run("send", PAYEE, "1", "--yes", "--json")
    assert first.code == 0, first.err
    pending = json.loads((h.tmp / "w0.json").read_text())["pending"]
    assert [p["txid"] for p in pending] == [first.doc["txid"]]
    # history shows it already, not yet in a block
    [shown] = h.run("history", "--json").doc["transactions"]
    assert (shown["txid"], shown["height"], shown["outgoing"]) == (first.doc["txid"], None, True)
    assert shown["net"] == -(COIN + first.doc["fee"])
    assert "mempool" in h.run("history").out
    # the only coin is held by the pending tx: short of funds, and the message says why
    second = h.run("send", PAYEE, "1", "--yes", "--json")
    assert second.code == ExitStatus.INSUFFICIENT_FUNDS, second.err
    message = second.doc["error"]["message"]
    assert f"{20 * COIN} more are spent by this wallet's transactions that are not final" \
        in message
    assert len(fake.chain.mempool) == 1  # nothing conflicting was sent
    fake.chain.mine()
    third = h.run("send", PAYEE, "1", "--yes", "--json")  # spends the first tx's change
    assert third.code == 0, third.err
    pending = json.loads((h.tmp / "w0.json").read_text())["pending"]
    assert [p["txid"] for p in pending] == [third.doc["txid"]]  # the final one is forgotten
    # a tx the node dropped from its pool frees its coins again (and leaves the history)
    fake.chain.mempool.clear()
    assert third.doc["txid"] not in [t["txid"] for t in
                                     h.run("history", "--json").doc["transactions"]]
    fourth = h.run("send", PAYEE, "1", "--yes", "--json")
    assert fourth.code == 0, fourth.err
    assert fourth.doc["inputs"] == third.doc["inputs"] == 1
    fake.chain.mine()
    assert h.run("balance", "--json").doc["confirmed"] == \
        20 * COIN - 2 * COIN - first.doc["fee"] - fourth.doc["fee"]
    # a wallet file written before "pending" existed still loads
    doc = json.loads((h.tmp / "w0.json").read_text())
    del doc["pending"]
    (h.tmp / "w0.json").write_text(json.dumps(doc))
    assert h.run("send", PAYEE, "1", "--yes", "--json").code == 0


def test_a_wallet_another_process_is_using_waits_then_says_so(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    with FileLock(h.tmp / "w0.json.lock"):  # as another faircoop-wallet would hold it
        busy = h.run("send", PAYEE, "1", "--yes", "--json", lock_timeout_s=0.2)
        assert busy.code == ExitStatus.ERROR and busy.doc["error"]["kind"] == "wallet_busy"
        assert "another faircoop-wallet" in busy.doc["error"]["message"]
        assert fake.chain.height == 0  # nothing was sent
        assert h.run("balance", "--json").code == 0  # readers take no lock
    assert h.run("send", PAYEE, "1", "--yes", "--json", lock_timeout_s=0.2).code == 0


def test_file_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    path = tmp_path / "w.lock"
    first = FileLock(path, timeout_s=0.1)
    with first:
        assert first.held
        with pytest.raises(WalletBusy):
            FileLock(path, timeout_s=0.1).acquire()
    assert not first.held
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with FileLock(path, timeout_s=0.1) as again:
        assert again.held


def test_sync_progress_only_on_a_tty(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    for _ in range(3):
        fake.chain.mine()
    quiet = h.run("sync", "--json")
    assert quiet.code == 0 and quiet.doc["height"] == 3 and quiet.err == ""
    fake.chain.mine()
    loud = h.run("sync", tty=True)
    assert loud.code == 0 and "header 4" in loud.err


def test_two_of_three_treasury_across_three_wallets(env) -> None:  # type: ignore[no-untyped-def]
    h, fake = env
    assert h.restore(1).code == 0 and h.restore(2).code == 0
    keys = [h.run("multisig", "key", "--json", wallet=f"w{i}").doc["pubkey"] for i in range(3)]
    flags = [x for k in keys for x in ("--key", k)]
    made = [h.run("multisig", "create", "-m", "2", *flags, "--name", "coop", "--json",
                  wallet=f"w{i}").doc for i in range(3)]
    assert len({m["address"] for m in made}) == 1 and all(m["own_keys"] == 1 for m in made)
    treasury = made[0]["address"]
    assert h.run("send", treasury, "10", "--yes", "--json").code == 0
    p = h.tmp / "proposal.json"
    spend = h.run("multisig", "spend", "coop", PAYEE, "2.5", "--memo", "roof", "--out", str(p),
                  "--json", password=None)
    assert spend.code == 0 and spend.doc["paid"] == 250_000_000
    assert spend.doc["signatures_remaining"] == 2
    copies = []
    for i in (1, 2):
        out = h.tmp / f"signed{i}.json"
        r = h.run("multisig", "sign", str(p), "--out", str(out), "--yes", "--json",
                  wallet=f"w{i}", url=free_url())  # offline
        assert r.code == 0 and r.doc["added"] == 1 and r.doc["signatures_remaining"] == 1
        copies.append(str(out))
    shown = h.run("multisig", "show", copies[0], "--json").doc
    assert [i["remaining"] for i in shown["inputs"]] == [1]
    # A changed copy is refused by the next signer.
    doc = json.loads(Path(copies[0]).read_text())
    tampered = h.tmp / "tampered.json"
    from consensus.codec import decode_tx, encode_tx, txid
    from consensus.types import TxOut

    tx = decode_tx(bytes.fromhex(doc["tx"]))
    evil = tx.__class__(tx.version, tx.chain_id, tx.inputs,
                        (TxOut(tx.outputs[0].amount, tx.outputs[1].lock), *tx.outputs[1:]),
                        tx.memo, ())
    doc["tx"], doc["txid"] = encode_tx(evil).hex(), txid(evil).hex()
    tampered.write_text(json.dumps(doc))
    refused = h.run("multisig", "sign", str(tampered), "--yes", "--json", wallet="w0")
    assert refused.code == ExitStatus.PARTIAL_TX
    assert refused.doc["error"]["kind"] == "partial_tx_changed"
    combined = h.tmp / "combined.json"
    c = h.run("multisig", "combine", *copies, "--out", str(combined), "--json")
    assert c.code == 0 and c.doc["complete"] is True
    b = h.run("multisig", "broadcast", str(combined), "--wait", "--json")
    assert b.code == 0, b.err
    assert b.doc["receipt"]["final"]
    assert sum(o.amount for _, o in fake.chain.utxos_of(PAYEE_LOCK)) == 250_000_000


def test_json_flag_position_does_not_matter(env) -> None:  # type: ignore[no-untyped-def]
    h, _ = env
    assert h.run("--json", "balance").doc["confirmed"] == 20 * COIN
