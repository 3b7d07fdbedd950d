"""Wallet operations against a node: coins, balance, history, chain checks, waiting for finality.

Each function takes a `NodeClient` and the public `WalletData`; none needs the password. The
CLI composes them; a program embedding the wallet can too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from consensus.address import encode_address
from consensus.codec import (
    decode_genesis,
    decode_params,
    decode_tx,
    genesis_hash,
    policy_lock,
    txid,
)
from consensus.errors import DecodeError, ParamsError
from consensus.params import PARAM_NAMES, ChainParams
from consensus.types import Genesis, Lock, OutPoint, SpendPolicy, TxId, TxOut
from wallet.builder import Coin
from wallet.client import MAX_PAGE, NodeClient
from wallet.errors import ChainMismatch, ClaimedInputMismatch, NodeError, NotFound, ReceiptInvalid
from wallet.pricing import Converted
from wallet.receipts import LightState, genesis_light_state
from wallet.walletfile import PendingSpend, WalletData


@dataclass(frozen=True, slots=True)
class ChainInfo:
    chain_id: str
    network: str
    genesis_hash: bytes
    height: int


async def chain_info(client: NodeClient) -> ChainInfo:
    s = await client.status()
    try:
        return ChainInfo(str(s["chain_id"]), str(s["network"]), bytes.fromhex(s["genesis_hash"]),
                         int(s["height"]))
    except (KeyError, TypeError, ValueError):
        raise NodeError(200, "status: malformed answer") from None


async def fetch_genesis(client: NodeClient, expected_hash: bytes | None = None) -> Genesis:
    """The genesis from the node, accepted only if it hashes to what we expect."""
    doc = await client.genesis()
    try:
        genesis = decode_genesis(bytes.fromhex(doc["hex"]))
    except (KeyError, TypeError, ValueError, DecodeError):
        raise NodeError(200, "genesis: malformed answer") from None
    gid = genesis_hash(genesis)
    if expected_hash is not None and gid != expected_hash:
        raise ChainMismatch("the node's genesis does not hash to the wallet's genesis hash")
    return genesis


async def check_chain(client: NodeClient, data: WalletData) -> ChainInfo:
    """The node must serve the wallet's chain; ChainMismatch otherwise."""
    info = await chain_info(client)
    if info.chain_id != data.chain_id or info.genesis_hash != data.genesis_hash:
        raise ChainMismatch(
            f"the node serves chain {info.chain_id!r} (genesis {info.genesis_hash.hex()[:16]}), "
            f"the wallet is for {data.chain_id!r} (genesis {data.genesis_hash.hex()[:16]})"
        )
    return info


async def chain_to_join(client: NodeClient) -> tuple[ChainInfo, LightState]:
    """The node's chain, for a new wallet: its status and its genesis must agree, and the
    followed state starts at that genesis."""
    info = await chain_info(client)
    genesis = await fetch_genesis(client, info.genesis_hash)
    if genesis.network != info.network or genesis.chain_id != info.chain_id:
        raise ChainMismatch("the node's status and genesis disagree")
    return info, genesis_light_state(genesis)


async def ensure_light(client: NodeClient, data: WalletData) -> LightState:
    """The wallet's followed state, starting it from the (checked) genesis if it has none."""
    if data.light is not None:
        return data.light
    genesis = await fetch_genesis(client, data.genesis_hash)
    return genesis_light_state(genesis)


async def spent_outputs(client: NodeClient, outpoints: Sequence[OutPoint],
                        genesis_id: bytes) -> dict[OutPoint, TxOut]:
    """The outputs `outpoints` spend, read from their parent txs.

    Each parent is accepted only if it hashes to the txid the outpoint names (a genesis
    allocation: only if the genesis hashes to `genesis_id`), so the node can withhold a parent
    but cannot forge its amounts or locks. A parent the node does not know is
    `ClaimedInputMismatch`: the coin is not on this node's chain.
    """
    async def outputs_of(parent: bytes) -> tuple[TxOut, ...]:
        if parent == genesis_id:
            return (await fetch_genesis(client, genesis_id)).allocations
        try:
            doc = await client.tx(parent.hex())
        except NotFound:
            raise ClaimedInputMismatch(
                f"the node knows no transaction {parent.hex()}: an input spends a coin that is "
                "not on this chain (another chain or genesis?), refusing to sign") from None
        try:
            tx = decode_tx(bytes.fromhex(doc["hex"]))
        except (KeyError, TypeError, ValueError, DecodeError):
            raise NodeError(200, f"tx {parent.hex()[:16]}: malformed answer") from None
        if txid(tx) != parent:
            raise NodeError(200, f"the node sent a tx that does not hash to {parent.hex()[:16]}")
        return tx.outputs

    parents = sorted({bytes(op.txid) for op in outpoints})
    found = dict(zip(parents, await _gather([outputs_of(t) for t in parents]), strict=True))
    return {op: found[op.txid][op.index] for op in outpoints
            if op.index < len(found[op.txid])}


async def chain_params(client: NodeClient) -> ChainParams:
    doc = await client.params()
    try:
        if isinstance(doc, dict) and isinstance(doc.get("hex"), str):
            return decode_params(bytes.fromhex(doc["hex"]))
        if isinstance(doc, dict):
            source = doc.get("params", doc)
            return ChainParams(**{k: int(source[k]) for k in PARAM_NAMES if k in source})
    except (TypeError, ValueError, DecodeError, ParamsError):
        pass
    raise NodeError(200, "params: malformed answer")


async def _gather(calls: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*calls))


async def settle_pending(client: NodeClient, data: WalletData) -> WalletData:
    """Forget pending spends that are final, or that the node no longer knows (dropped from
    its pool, e.g. by a restart: their coins are spendable again)."""
    async def still_pending(p: PendingSpend) -> bool:
        try:
            status = await client.tx_status(p.txid.hex())
        except NotFound:
            return False
        return not (isinstance(status, dict) and status.get("final"))

    alive = await _gather([still_pending(p) for p in data.pending])
    keep = tuple(p for p, a in zip(data.pending, alive, strict=True) if a)
    return data if len(keep) == len(data.pending) else replace(data, pending=keep)


def split_held(coins: list[Coin], data: WalletData) -> tuple[list[Coin], list[Coin]]:
    """(spendable, held): held coins are spent by the wallet's own pending txs."""
    held = data.held_outpoints()
    return ([c for c in coins if c.outpoint not in held],
            [c for c in coins if c.outpoint in held])


async def fetch_coins(client: NodeClient, data: WalletData) -> list[Coin]:
    """Every confirmed unspent output paid to an address the wallet has handed out
    (including those its pending txs spend: see `split_held`)."""
    owners = data.known_locks()
    addrs = [(encode_address(lock, data.network), pub) for lock, (_, _, pub) in owners.items()]
    answers = await _gather([client.address_utxo(a) for a, _ in addrs])
    coins: list[Coin] = []
    for (_, pub), utxos in zip(addrs, answers, strict=True):
        coins.extend(_coins_from(utxos, SpendPolicy.single(pub)))
    return coins


async def fetch_policy_coins(client: NodeClient, policy: SpendPolicy, network: str) -> list[Coin]:
    utxos = await client.address_utxo(encode_address(policy_lock(policy), network))
    return _coins_from(utxos, policy)


def _coins_from(utxos: object, policy: SpendPolicy) -> list[Coin]:
    if not isinstance(utxos, list):
        raise NodeError(200, "address utxo: malformed answer")
    out: list[Coin] = []
    try:
        for u in utxos:
            out.append(Coin(OutPoint(TxId(bytes.fromhex(u["txid"])), int(u["index"])),
                            int(u["amount"]), policy))
    except (KeyError, TypeError, ValueError):
        raise NodeError(200, "address utxo: malformed entry") from None
    return out


@dataclass(frozen=True, slots=True)
class Balance:
    confirmed: int
    pending_delta: int
    utxo_count: int
    addresses: int


async def balance(client: NodeClient, data: WalletData) -> Balance:
    locks = list(data.known_locks())
    docs = await _gather([client.address(encode_address(lk, data.network)) for lk in locks])
    try:
        return Balance(
            confirmed=sum(int(d["balance"]) for d in docs),
            pending_delta=sum(int(d.get("mempool_balance_delta", 0)) for d in docs),
            utxo_count=sum(int(d.get("utxo_count", 0)) for d in docs),
            addresses=len(locks),
        )
    except (KeyError, TypeError, ValueError):
        raise NodeError(200, "address: malformed answer") from None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    txid: str
    height: int | None
    position: int | None
    received: int  # paid to this wallet's addresses by the tx
    sent: int  # paid by the tx to addresses outside the wallet (0 unless it spends ours)
    fee: int | None  # the fee if the wallet paid it (else 0); None: the node can't tell
    outgoing: bool  # the tx spends the wallet's coins
    own_addresses: tuple[str, ...] = ()  # the wallet's addresses the tx pays
    values: tuple[Converted, ...] = ()  # its value at the rates in force at its height
    label: str | None = None  # the tx's label, else a label of an address it pays
    request: int | None = None  # the payment request whose address it pays

    @property
    def amount(self) -> int:
        """What moved: received for an incoming tx, paid out (fee excluded) for an outgoing."""
        return self.sent if self.outgoing else self.received

    @property
    def net(self) -> int | None:
        """The change in the wallet's balance, assuming a tx spends all-ours or none-ours;
        None for an outgoing tx whose fee the node can't tell."""
        if not self.outgoing:
            return self.received
        return None if self.fee is None else -(self.sent + self.fee)


def fee_of(doc: object) -> int | None:
    """The `fee` of a `GET tx` answer. The node answers `"fee": null` when it can't trace an
    input's amount (its store keeps no undo data), so None means unknown, not zero."""
    if not isinstance(doc, dict):
        raise NodeError(200, "tx: malformed answer")
    fee = doc.get("fee")
    if fee is None:
        return None
    if isinstance(fee, bool) or not isinstance(fee, int) or fee < 0:
        raise NodeError(200, f"tx: malformed fee {fee!r}")
    return fee


@dataclass(frozen=True, slots=True)
class TxView:
    """One tx as the node reports it (not verified: `fetch_receipt` proves finality)."""

    txid: str
    final: bool
    height: int | None
    outputs: tuple[tuple[str, int], ...]  # (address, amount)
    fee: int | None  # None: the node can't trace an input's amount
    size: int | None


async def tx_view(client: NodeClient, txid_hex: str) -> TxView:
    doc = await client.tx(txid_hex)
    status = await client.tx_status(txid_hex)
    fee = fee_of(doc)
    try:
        outputs = tuple((str(o.get("address")), int(o["amount"])) for o in doc.get("outputs", []))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise NodeError(200, "tx: malformed outputs") from None
    final = isinstance(status, dict) and bool(status.get("final"))
    height = status.get("height") if isinstance(status, dict) else None
    size = doc.get("size")
    return TxView(str(doc.get("txid")), final, height if isinstance(height, int) else None,
                  outputs, fee, size if isinstance(size, int) else None)


async def history(client: NodeClient, data: WalletData, limit: int = 50) -> list[HistoryEntry]:
    """The wallet's transactions, newest first, with what each moved in or out.

    The node indexes committed txs only; the wallet's own pending txs (which it remembers)
    come first, with no height, unless the node no longer knows them.
    """
    owners = data.known_locks()
    ours = {lk.hex() for lk in owners}
    # each address's newest `limit` suffice for the newest `limit` overall
    page = max(1, min(limit, MAX_PAGE))
    lists = await _gather([client.address_txs(encode_address(lk, data.network), page)
                           for lk in owners])
    seen: dict[str, tuple[int | None, int | None]] = {}
    for entries in lists:
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("txid"), str):
                seen[e["txid"]] = (e.get("height"), e.get("position"))
    # newest first: the sort below is stable, so pending txs keep this order
    pending = [t for t in (p.txid.hex() for p in reversed(data.pending)) if t not in seen]
    seen.update((t, (None, None)) for t in pending)
    ordered = sorted(seen.items(), key=lambda kv: (-(kv[1][0] or 10**18), -(kv[1][1] or 0)))
    ordered = ordered[:limit]

    async def fetch(t: str) -> object:
        try:
            return await client.tx(t)
        except NotFound:
            if t in pending:
                return None  # dropped from the node's pool
            raise

    docs = await _gather([fetch(t) for t, _ in ordered])
    out: list[HistoryEntry] = []
    for (t, (height, position)), doc in zip(ordered, docs, strict=True):
        if doc is None:
            continue
        fee = fee_of(doc)
        try:
            outputs = [(int(o["amount"]), o.get("lock")) for o in doc.get("outputs", [])]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise NodeError(200, f"tx {t[:16]}: malformed outputs") from None
        received = sum(amount for amount, lock in outputs if lock in ours)
        external = sum(amount for amount, lock in outputs if lock not in ours)
        spends_ours = _spends_ours(doc, ours)
        own = tuple(dict.fromkeys(encode_address(Lock(bytes.fromhex(lock)), data.network)
                                  for _, lock in outputs if lock in ours))
        out.append(HistoryEntry(t, height, position, received, external if spends_ours else 0,
                                fee if spends_ours else 0, spends_ours, own))
    return out


def _spends_ours(doc: object, ours: set[str]) -> bool:
    """Whether any input is the wallet's: its witness reveals a policy whose lock is ours."""
    if not isinstance(doc, dict) or not isinstance(doc.get("hex"), str):
        return False
    try:
        tx = decode_tx(bytes.fromhex(doc["hex"]))
    except (ValueError, DecodeError):
        return False
    return any(policy_lock(w.policy).hex() in ours for w in tx.witnesses)


async def wait_final(client: NodeClient, txid_hex: str, timeout_s: float = 60.0,
                     poll_s: float = 0.25,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Poll tx status until the node reports it final; ReceiptInvalid on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = await client.tx_status(txid_hex)
        except NodeError as exc:
            if exc.status != 404:
                raise
            status = {"final": False, "in_mempool": False}
        if isinstance(status, dict) and status.get("final"):
            return status
        if progress is not None:
            progress("in mempool" if isinstance(status, dict) and status.get("in_mempool")
                     else "waiting")
        if time.monotonic() >= deadline:
            raise ReceiptInvalid(f"tx {txid_hex[:16]} not final after {timeout_s:.0f} s")
        await asyncio.sleep(poll_s)


async def keeps_rates(client: NodeClient) -> bool:
    """Whether the node says its chain keeps any reference rate (`GET rates`): a hint of
    whether following the chain would find any (the rates themselves come from the blocks).
    A node without the endpoint keeps none."""
    try:
        doc = await client.rates()
    except (NotFound, NodeError):
        return False
    return isinstance(doc, dict) and bool(doc.get("currencies") or doc.get("rates"))


async def scan_used(client: NodeClient, data: WalletData, gap: int = 20) -> WalletData:
    """After a restore: advance the address counters past every address with history."""
    from wallet.keys import CHANGE, RECEIVE

    w = data.watch()
    found: dict[int, int] = {RECEIVE: -1, CHANGE: -1}
    for chain in (RECEIVE, CHANGE):
        index, unused = 0, 0
        while unused < gap:
            batch = list(range(index, index + gap))
            docs = await _gather([client.address(encode_address(w.lock(chain, i), data.network))
                                  for i in batch])
            for i, d in zip(batch, docs, strict=True):
                if isinstance(d, dict) and int(d.get("tx_count", 0)) > 0:
                    found[chain] = i
                    unused = 0
                else:
                    unused += 1
            index += gap
    return replace(data, receive_index=found[RECEIVE] + 1, change_index=found[CHANGE] + 1)
