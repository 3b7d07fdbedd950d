"""The wallet library that pays (`wallet.session.Wallet`), against a fake node: the workflow a
program embedding the wallet calls, without the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consensus.address import encode_address
from consensus.types import COIN
from tests.wallet.wallet_cli_harness import (
    ACCOUNTS,
    FAST,
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
from wallet.errors import (
    ClaimedInputMismatch,
    MemoError,
    NodeUnreachable,
    NotFollowedYet,
    StalePayment,
    WalletBusy,
    WalletLocked,
    WatchOnly,
    WrongPassword,
)
from wallet.keys import CHANGE, RECEIVE
from wallet.payments import Payee
from wallet.receipts import load_receipt, save_receipt
from wallet.session import Opening, SyncWallet, Wallet
from wallet.walletfile import create_watch_only, load_wallet


@dataclass
class World:
    h: Harness
    fake: FakeNode

    def path(self, n: int = 0) -> Path:
        return self.h.tmp / f"w{n}.json"

    def open(self, n: int = 0, password: str | None = PASSWORD,
             lock_timeout_s: float = 5.0) -> Opening:
        return Wallet.open(self.path(n), password, node=self.h.url, retry=FAST,
                           lock_timeout_s=lock_timeout_s)


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    locks = [ACCOUNTS[0].watch().lock(RECEIVE, 0), ACCOUNTS[1].watch().lock(RECEIVE, 0)]
    fake = FakeNode(funded_chain(locks, [20 * COIN, 5 * COIN]))
    with serve(fake) as url:
        h = Harness(url, tmp_path)
        assert h.restore(0).code == 0 and h.restore(1).code == 0
        yield World(h, fake)


async def test_open_pay_wait_final_and_verify_the_receipt(world: World) -> None:
    async with Wallet.open(world.path(), PASSWORD, node=world.h.url, retry=FAST) as wallet:
        payment = await wallet.prepare_payment([Payee(PAYEE, 150_000_000)], memo="rent")
        # what a payer is shown, before anything is signed
        assert payment.payees == (Payee(PAYEE, 150_000_000),) and payment.amount == 150_000_000
        assert payment.fee == payment.size * 1 and payment.memo == b"rent"
        change = payment.change
        assert change is not None and change.amount == 20 * COIN - 150_000_000 - payment.fee
        assert change.address == encode_address(ACCOUNTS[0].watch().lock(CHANGE, 0), "test")
        assert world.fake.chain.height == 0
        sent = await wallet.send(payment)
        assert sent.txid == payment.txid
        final = await wallet.wait_final(sent.txid, timeout_s=10)
        assert final.txid == sent.txid and final.height == 1 and final.verified.signers == 4
        save_receipt(world.h.tmp / "rent.receipt", final.receipt)
        again = wallet.verify_receipt(load_receipt(world.h.tmp / "rent.receipt"))
        assert again == final.verified
    data = load_wallet(world.path())
    assert data.change_index == 1 and data.pending == ()  # change address used; final: forgotten
    assert world.fake.chain.utxos_of(PAYEE_LOCK)[0][1].amount == 150_000_000


async def test_a_payment_prepared_before_another_was_sent_is_stale(world: World) -> None:
    world.fake.chain.auto_mine = False
    async with world.open() as wallet:
        first = await wallet.prepare_payment([Payee(PAYEE, COIN)])
        second = await wallet.prepare_payment([Payee(PAYEE, 2 * COIN)])  # the same only coin
        await wallet.send(first)
        with pytest.raises(StalePayment, match="spends one of its coins"):
            await wallet.send(second)
        with pytest.raises(StalePayment):
            await wallet.save_unsigned(second, world.h.tmp / "u.json")
    assert len(world.fake.chain.mempool) == 1  # nothing conflicting left the wallet


async def test_signing_needs_the_password_and_keys(world: World) -> None:
    data = load_wallet(world.path())
    create_watch_only(world.h.tmp / "wo.json", xpub=data.xpub, network=data.network,
                      chain_id=data.chain_id, genesis_hash=data.genesis_hash, light=None)
    async with Wallet.open(world.h.tmp / "wo.json", PASSWORD, node=world.h.url,
                           retry=FAST) as watch:
        with pytest.raises(WatchOnly):  # it prepares, but holds no keys to sign
            await watch.pay(PAYEE, COIN)
    async with world.open(password=None) as wallet:
        payment = await wallet.prepare_payment([Payee(PAYEE, COIN)])
        with pytest.raises(WalletLocked, match="unlock"):
            await wallet.send(payment)
        with pytest.raises(WrongPassword):
            wallet.unlock("not it")
        wallet.unlock(PASSWORD)
        assert (await wallet.send(payment)).txid == payment.txid
    with pytest.raises(WrongPassword):  # at open, not mid-payment
        await Wallet.open(world.path(), "not it", node=world.h.url)


async def test_the_wallet_lock_is_held_from_prepare_until_close(world: World) -> None:
    first = await world.open()
    second = await world.open(lock_timeout_s=0.2)
    try:
        assert (await first.balance()).confirmed == 20 * COIN  # reading takes no lock
        await first.prepare_payment([Payee(PAYEE, COIN)])
        assert (await second.balance()).confirmed == 20 * COIN
        with pytest.raises(WalletBusy):
            await second.prepare_payment([Payee(PAYEE, COIN)])
        await first.close()
        prepared = await second.prepare_payment([Payee(PAYEE, COIN)])
        assert (await second.send(prepared)).txid == prepared.txid
    finally:
        await first.close()
        await second.close()


async def test_pay_many_and_a_memo_too_long(world: World) -> None:
    others = [encode_address(ACCOUNTS[1].watch().lock(RECEIVE, i), "test") for i in (5, 6)]
    async with world.open() as wallet:
        with pytest.raises(MemoError, match="81 bytes"):
            await wallet.prepare_payment([Payee(PAYEE, COIN)], memo="x" * 81)
        sent = await wallet.pay_many([Payee(others[0], COIN), Payee(others[1], 2 * COIN)],
                                     memo="dividends")
    tx = world.fake.chain.find_tx(bytes.fromhex(sent.txid))
    assert tx is not None and [o.amount for o in tx[0].outputs][:2] == [COIN, 2 * COIN]


async def test_a_receipt_beyond_the_followed_chain_needs_a_sync(world: World) -> None:
    world.fake.chain.mine()
    world.fake.chain.mine()
    async with world.open() as payer:
        final = await payer.wait_final((await payer.pay(PAYEE, COIN)).txid, 10)
    async with world.open(1, password=None) as payee:
        assert final.height == 3
        with pytest.raises(NotFollowedYet, match="height 3"):
            payee.verify_receipt(final.receipt)
        await payee.sync()
        assert payee.verify_receipt(final.receipt) == final.verified


async def test_signing_a_partial_tx_checks_its_claimed_inputs_unless_asked_not_to(
        world: World) -> None:
    unsigned = world.h.tmp / "unsigned.json"
    async with world.open(password=None) as builder:
        await builder.save_unsigned(await builder.prepare_payment([Payee(PAYEE, 3 * COIN)]),
                                    unsigned)
    honest_fee = multisig.load_partial(unsigned).fee
    lie = hide_fee(multisig.load_partial(unsigned), 5 * COIN)
    assert lie.fee == honest_fee  # what the signer would be shown
    async with world.open() as signer:
        with pytest.raises(ClaimedInputMismatch, match="claims"):
            await signer.sign_partial(lie, own_coins=True)
        offline = await signer.sign_partial(lie, own_coins=True, offline=True)  # explicit
        assert not offline.inputs_checked and offline.added == 1
        honest = await signer.sign_partial(multisig.load_partial(unsigned), own_coins=True)
        assert honest.inputs_checked and not any(multisig.remaining(honest.ptx))
        sent = await signer.broadcast_partial(honest.ptx)
    assert world.fake.chain.find_tx(bytes.fromhex(sent.txid)) is not None
    # no node, no silent fallback: the caller must say offline
    async with Wallet.open(world.path(), PASSWORD, node=free_url(), retry=FAST) as away:
        with pytest.raises(NodeUnreachable):
            await away.sign_partial(multisig.load_partial(unsigned), own_coins=True)


def test_a_treasury_spends_through_the_library(world: World) -> None:
    assert world.h.restore(2).code == 0
    wallets = [SyncWallet(world.path(n), PASSWORD, node=world.h.url, retry=FAST)
               for n in range(3)]
    try:
        keys = [w.wallet.data.watch().pubkey(2, 0) for w in wallets]
        for w in wallets:
            assert w.new_cosigner_key() in keys
            w.register_treasury("coop", 2, keys)
        treasury = multisig.treasury_address(multisig.treasury_policy(2, keys), "test")
        funded = wallets[0].pay(treasury, 10 * COIN)
        wallets[0].wait_final(funded.txid)
        proposal = wallets[0].spend_treasury("coop", [Payee(PAYEE, 250_000_000)], memo="roof")
        one = wallets[1].sign_partial(proposal)
        two = wallets[2].sign_partial(proposal, offline=True)
        merged = multisig.combine([one.ptx, two.ptx])
        sent = wallets[0].broadcast_partial(merged)
        assert wallets[0].wait_final(sent.txid).verified.txid.hex() == sent.txid
    finally:
        for w in wallets:
            w.close()
    assert sum(o.amount for _, o in world.fake.chain.utxos_of(PAYEE_LOCK)) == 250_000_000
