"""One handler per command: call the library, render what it returns."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import wallet.cli.payouts as payouts
import wallet.cli.render as render
from consensus.address import decode_address
from consensus.codec import validators_hash
from consensus.errors import AddressError, FaircoopError
from wallet import multisig, ops
from wallet.amounts import format_coins, parse_coins
from wallet.cli.env import Cli, UsageError
from wallet.cli.pay_render import converted_line, when
from wallet.credit import SentCredit
from wallet.errors import AmountError, ChainMismatch, NodeUnreachable, WalletFileError
from wallet.keys import RECEIVE, generate_mnemonic, normalize_mnemonic
from wallet.keystore import WalletSecrets
from wallet.lightclient import LightState, decode_validator_set
from wallet.multisig import PartialTx
from wallet.payments import Payee, SentPayment
from wallet.pricing import Asked, Converted, parse_amount
from wallet.receipts import Receipt, load_receipt, save_receipt, verify_receipt
from wallet.session import Wallet
from wallet.shares import Split
from wallet.uri import PaymentUri, check_payable, format_uri, is_uri, parse_uri
from wallet.walletfile import WalletData, create_wallet_files, create_watch_only, save_wallet

Handler = Callable[[Cli], Coroutine[Any, Any, None]]


# -- create / restore -------------------------------------------------------------------------


async def _chain_for_new_wallet(cli: Cli) -> tuple[str, str, bytes, LightState | None]:
    """network, chain id, genesis hash, light state: from flags (offline) or the node."""
    a = cli.args
    if a.network and a.chain_id and a.genesis_hash:
        return a.network, a.chain_id, _genesis_hash_arg(a.genesis_hash), None
    if a.network or a.chain_id or a.genesis_hash:
        raise UsageError("give all of --network, --chain-id and --genesis-hash, or none "
                         "(then they come from the node)")
    async with cli.client() as node:
        info, light = await ops.chain_to_join(node)
    return info.network, info.chain_id, info.genesis_hash, light


def _genesis_hash_arg(text: str) -> bytes:
    try:
        gh = bytes.fromhex(text)
    except ValueError:
        raise UsageError("--genesis-hash must be hex") from None
    if len(gh) != 32:
        raise UsageError("--genesis-hash is 32 bytes of hex")
    return gh


async def _scan(cli: Cli, data: WalletData) -> WalletData:
    """Advance the new wallet's address counters past its used addresses (gap 20)."""
    async with cli.client() as node:
        data = await ops.scan_used(node, data)
    save_wallet(cli.wallet_path, data)
    return data


async def cmd_create(cli: Cli) -> None:
    network, chain_id, gh, light = await _chain_for_new_wallet(cli)
    path = cli.wallet_path
    if cli.args.watch_only:
        data = create_watch_only(path, xpub=cli.args.watch_only, network=network,
                                 chain_id=chain_id, genesis_hash=gh, light=light)
        # An xpub usually belongs to a wallet already in use: find its used addresses, or its
        # balance and history would miss every coin past the first address.
        scanned = light is not None and not cli.args.no_scan
        if scanned:
            data = await _scan(cli, data)
        address = data.address(RECEIVE, data.receive_index)
        cli.out(f"watch-only wallet created at {path}\nreceive address: {address}")
        cli.emit({"command": "create", "wallet": str(path), "network": network,
                  "chain_id": chain_id, "watch_only": True, "address": address,
                  "scanned": scanned, "receive_index": data.receive_index,
                  "change_index": data.change_index})
        return
    if path.exists():
        raise WalletFileError(f"{path} already exists; refusing to overwrite a wallet")
    password = cli.password(confirm=True)
    mnemonic = generate_mnemonic(cli.args.words)
    data, hd = create_wallet_files(path, secrets_=WalletSecrets(mnemonic), password=password,
                                   network=network, chain_id=chain_id, genesis_hash=gh,
                                   light=light, kdf=cli.env.kdf)
    cli.out(f"wallet created at {path} ({network} network, chain {chain_id})\n"
            f"Write down these {len(mnemonic.split())} words; they are the only backup:\n\n"
            f"  {mnemonic}\n\nreceive address: {data.address(RECEIVE, 0)}")
    cli.emit({"command": "create", "wallet": str(path), "network": network, "chain_id": chain_id,
              "watch_only": False, "mnemonic": mnemonic, "xpub": hd.xpub,
              "address": data.address(RECEIVE, 0)})


async def cmd_restore(cli: Cli) -> None:
    network, chain_id, gh, light = await _chain_for_new_wallet(cli)
    words = (cli.read_text(cli.args.mnemonic_file, "mnemonic file") if cli.args.mnemonic_file
             else cli.env.prompt_secret("Mnemonic words: "))
    mnemonic = normalize_mnemonic(words)
    if cli.wallet_path.exists():
        raise WalletFileError(f"{cli.wallet_path} already exists; refusing to overwrite")
    password = cli.password(confirm=True)
    data, _ = create_wallet_files(cli.wallet_path, secrets_=WalletSecrets(mnemonic),
                                  password=password, network=network, chain_id=chain_id,
                                  genesis_hash=gh, light=light, kdf=cli.env.kdf)
    scanned = not cli.args.no_scan and light is not None
    if scanned:
        data = await _scan(cli, data)
    cli.out(f"wallet restored at {cli.wallet_path}; receive address "
            f"{data.address(RECEIVE, data.receive_index)}")
    cli.emit({"command": "restore", "wallet": str(cli.wallet_path), "network": network,
              "chain_id": chain_id, "scanned": scanned, "receive_index": data.receive_index,
              "change_index": data.change_index,
              "address": data.address(RECEIVE, data.receive_index)})


# -- address / balance / sync / history / tx --------------------------------------------------


async def cmd_address(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        addr = await wallet.receive_address(new=cli.args.new)
        index = wallet.data.receive_index
    cli.out(addr)
    cli.emit({"command": "address", "address": addr, "index": index,
              "path": f"{RECEIVE}/{index}"})


async def cmd_balance(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        bal = await wallet.balance()
    cli.out(f"balance: {format_coins(bal.confirmed)} "
            f"(pending {format_coins(bal.pending_delta)}) in {bal.utxo_count} coin(s)")
    cli.emit({"command": "balance", "confirmed": bal.confirmed, "pending": bal.pending_delta,
              "utxo_count": bal.utxo_count, "addresses": bal.addresses})


async def cmd_sync(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        light = await wallet.sync(progress=cli.progress)
    cli.progress_done()
    cli.out(f"followed and verified headers up to height {light.height}")
    for h in light.recoveries:
        cli.out(f"  height {h}: the governors replaced the validator set (a recovery)")
    cli.emit({"command": "sync", "height": light.height, "header_hash": light.header_hash.hex(),
              "validator_set_changes": len(light.epochs) - 1,
              "recoveries": list(light.recoveries)})


async def cmd_history(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        if cli.args.labels:
            cli.unlock(wallet)
        entries = await wallet.history(cli.args.limit, valued=not cli.args.no_values)
    for e in entries:
        cli.out(render.history_line(e))
    if not entries:
        cli.out("no transactions yet")
    cli.emit({"command": "history", "transactions": render.history_json(entries)})


async def cmd_tx(cli: Cli) -> None:
    async with cli.client() as node:
        t = await ops.tx_view(node, cli.args.txid)
    cli.out(f"tx {t.txid}  {'final' if t.final else 'not final'}"
            + (f" at height {t.height}" if t.final else ""))
    for address, amount in t.outputs:
        cli.out(f"  {format_coins(amount):>20}  to {address}")
    cli.out(f"  fee {'unknown' if t.fee is None else format_coins(t.fee)}, {t.size} bytes")
    cli.emit({"command": "tx", "txid": t.txid, "final": t.final, "height": t.height,
              "outputs": [{"address": a, "amount": m} for a, m in t.outputs], "fee": t.fee,
              "size": t.size})


# -- paying -----------------------------------------------------------------------------------


def _read_payees(cli: Cli, path: str, network: str) -> list[Payee]:
    """The rows `address,amount` of a CSV file (a header row and `#` lines skipped)."""
    text = cli.read_text(path)
    rows: list[Payee] = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if n == 1 and cells[0].lower() == "address":
            continue  # header row
        if len(cells) < 2:
            raise UsageError(f"{path}:{n}: expected address,amount")
        try:
            decode_address(cells[0], network)
            rows.append(Payee(cells[0], parse_coins(cells[1])))
        except (AddressError, AmountError) as exc:
            raise type(exc)(f"{path}:{n}: {exc}") from None
    if not rows:
        raise UsageError(f"{path}: no payments")
    return rows


def _payee(cli: Cli, network: str) -> Payee:
    """ADDRESS AMOUNT from the command line (the address checked before the amount)."""
    address = cli.args.address.strip()
    decode_address(address, network)
    return Payee(address, parse_coins(cli.args.amount))


@dataclass(frozen=True, slots=True)
class SendTarget:
    """What `send` pays, from its arguments: an address, a contact or a payment URI."""

    payee: Payee
    memo: str
    quote: Converted | None  # an amount in a currency, converted
    uri: PaymentUri | None


async def _send_target(cli: Cli, wallet: Wallet) -> SendTarget:
    a = cli.args
    text, amount_text, memo = a.address.strip(), a.amount, a.memo
    uri = None
    if is_uri(text):
        uri = parse_uri(text)
        check_payable(uri, network=wallet.network, chain_id=wallet.data.chain_id)
        if uri.amount is not None and amount_text is not None and \
                parse_amount(amount_text) != Asked(base_units=uri.amount):
            raise UsageError("the payment URI names its amount: leave AMOUNT out")
        if uri.memo and memo and memo != uri.memo:
            raise UsageError("the payment URI names its memo: leave --memo out")
        address, memo = uri.address, uri.memo or memo
        if uri.amount is not None and amount_text is None:
            amount_text = format_coins(uri.amount)
    elif text.lower().startswith(("fair1", "tfair1")):
        address = text
        decode_address(address, wallet.network)
    else:
        cli.unlock(wallet)  # contacts are in the encrypted key store
        address = wallet.resolve_payee(text)
    if amount_text is None:
        raise UsageError("give AMOUNT (coins, or a currency amount such as 12.50EUR)")
    asked = parse_amount(amount_text)
    quote = await wallet.quote(asked)
    base = quote.base_units if quote is not None else asked.base_units
    assert base is not None
    return SendTarget(Payee(address, base), memo, quote, uri)


async def _pay(cli: Cli, wallet: Wallet, payees: list[Payee], *, memo: str | None = None,
               quote: Converted | None = None, uri: PaymentUri | None = None,
               shares: Split | None = None) -> None:
    prepared = await wallet.prepare_payment(payees, fee_rate=cli.args.fee_rate,
                                            memo=cli.args.memo if memo is None else memo)
    summary = render.payment_summary(prepared)
    if shares is not None:  # the split shown before confirming
        summary = payouts.split_lines(shares) + "\n" + summary
    if quote is not None:
        summary += "\n" + converted_line(quote)
    if uri is not None and uri.expires is not None:
        summary += f"\n  request expires {when(uri.expires)}"
    extra: dict[str, Any] = {"quote": None if quote is None else quote.as_json(),
                             "uri": None if uri is None else format_uri(uri)}
    if shares is not None:
        extra.update(payouts.split_json(shares))
    if cli.args.unsigned:
        await wallet.save_unsigned(prepared, cli.args.unsigned)
        cli.out(summary + f"\nunsigned transaction written to {cli.args.unsigned}")
        cli.emit({"command": cli.args.command, "unsigned": cli.args.unsigned,
                  **render.payment_json(prepared), **extra})
        return
    cli.confirm(summary)
    cli.unlock(wallet)
    sent = await wallet.send(prepared)
    await report_sent(cli, wallet, sent, {"command": cli.args.command,
                                          **render.payment_json(prepared), **extra})


async def report_sent(cli: Cli, wallet: Wallet, sent: SentPayment | SentCredit,
                      result: dict[str, Any]) -> None:
    """Say it was sent (a payment, a campaign tx or a credit transfer); with --wait, wait for
    finality and prove it."""
    cli.out(f"sent: txid {sent.txid}")
    result["txid"] = sent.txid
    if cli.args.wait:
        final = await wallet.wait_final(sent.txid, cli.args.timeout, progress=cli.progress)
        cli.progress_done()
        cli.out(render.verified_line(final.verified) + ", verified by this wallet")
        result["receipt"] = {"final": True, **render.verified_json(final.verified)}
    cli.emit(result)


async def cmd_send(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        target = await _send_target(cli, wallet)
        await _pay(cli, wallet, [target.payee], memo=target.memo, quote=target.quote,
                   uri=target.uri)


async def cmd_pay_many(cli: Cli) -> None:
    a = cli.args
    if bool(a.csv_file) == bool(a.shares):
        raise UsageError("give FILE.csv (address,amount rows), or --shares FILE --total AMOUNT")
    async with cli.open_wallet() as wallet:
        if a.csv_file:
            await _pay(cli, wallet, _read_payees(cli, a.csv_file, wallet.network))
            return
        params = await ops.chain_params(wallet.node)
        payees, shares = payouts.share_payees(cli, wallet.network, params.dust_limit)
        await _pay(cli, wallet, payees, shares=shares)


# -- multisig ---------------------------------------------------------------------------------


async def cmd_multisig_key(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        pub = await wallet.new_cosigner_key()
        index = wallet.data.cosigner_index - 1
    cli.out(pub.hex())
    cli.emit({"command": "multisig key", "pubkey": pub.hex(), "index": index})


async def cmd_multisig_create(cli: Cli) -> None:
    keys: list[bytes] = []
    for k in cli.args.key:
        try:
            keys.append(bytes.fromhex(k))
        except ValueError:
            raise UsageError(f"--key {k[:16]}...: not hex") from None
    name = cli.args.name
    async with cli.open_wallet() as wallet:
        if any(t.name == name for t in wallet.data.treasuries):
            raise UsageError(f"a treasury named {name!r} already exists")
        treasury = await wallet.register_treasury(name, cli.args.threshold, keys)
        mine = {bytes(pub) for _, _, pub in wallet.data.known_keys()}
        address = multisig.treasury_address(treasury.policy, wallet.network)
    policy = treasury.policy
    members = [k for k in policy.pubkeys if k in mine]
    cli.out(f"treasury {name}: {policy.threshold}-of-{len(policy.pubkeys)}\n"
            f"address: {address}\nthis wallet holds {len(members)} of its keys")
    cli.emit({"command": "multisig create", "name": name, "address": address,
              "threshold": policy.threshold, "pubkeys": [k.hex() for k in policy.pubkeys],
              "own_keys": len(members)})


async def cmd_multisig_spend(cli: Cli) -> None:
    memo = payouts.grant_memo_arg(cli)
    async with cli.open_wallet() as wallet:
        params = await ops.chain_params(wallet.node)
        payees, shares = payouts.spend_payees(cli, wallet, params.dust_limit)
        ptx = await wallet.spend_treasury(cli.args.treasury, payees,
                                          fee_rate=cli.args.fee_rate, memo=memo)
        multisig.save_partial(cli.args.out, ptx)
        d = wallet.describe_partial(ptx)
    preface = "" if shares is None else payouts.split_lines(shares) + "\n"
    cli.out(preface + render.partial_summary(d) + f"\nproposal written to {cli.args.out}")
    cli.emit({"command": "multisig spend", "file": cli.args.out, **d.as_json(),
              **({} if shares is None else payouts.split_json(shares))})


def _partial(cli: Cli, path: str, data: WalletData | None) -> PartialTx:
    """A partial-tx file, checked to be for the wallet's chain if there is a wallet."""
    ptx = cli.read(path, multisig.load_partial)
    if data is not None:
        try:
            multisig.check_chain(ptx, data.chain_id, data.network, data.genesis_hash)
        except ChainMismatch as exc:
            raise ChainMismatch(f"{path}: {exc}") from None
    return ptx


async def cmd_multisig_show(cli: Cli) -> None:
    data = cli.wallet_data()
    ptx = _partial(cli, cli.args.file, data)
    own = data.signer_keys().personal_locks if data else frozenset()
    d = multisig.describe(ptx, own_locks=own)
    own_pubs = [bytes(p) for _, _, p in data.known_keys()] if data else []
    cli.out(render.partial_summary(d, own_pubs))
    cli.emit({"command": "multisig show", **d.as_json()})


async def cmd_multisig_sign(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        ptx = _partial(cli, cli.args.file, wallet.data)
        multisig.check_signatures(ptx)  # refuse before showing or asking anything
        try:
            review = await wallet.review_partial(ptx, own_coins=cli.args.own_coins)
        except NodeUnreachable:  # signing offline: the summary says the inputs are unchecked
            review = await wallet.review_partial(ptx, own_coins=cli.args.own_coins,
                                                 offline=True)
        own = wallet.data.signer_keys()
        cli.confirm(render.partial_summary(review.description,
                                           [bytes(k) for k in own.personal | own.cosigner],
                                           review.scope.label)
                    + "\n  " + render.inputs_note(review.inputs_checked))
        cli.unlock(wallet)
        signed = await wallet.sign_partial(review)
    out = cli.args.out or cli.args.file
    multisig.save_partial(out, signed.ptx)
    d = multisig.describe(signed.ptx, review.scope.spender_locks, own.personal_locks)
    cli.out(f"added {signed.added} signature(s); {d.remaining} still needed; written to {out}")
    cli.emit({"command": "multisig sign", "file": out, "added": signed.added,
              "inputs_checked": signed.inputs_checked, "spending": review.scope.label,
              "own_coins": review.scope.own_coins, **d.as_json()})


async def cmd_multisig_combine(cli: Cli) -> None:
    data = cli.wallet_data()
    merged = multisig.combine([_partial(cli, f, data) for f in cli.args.files])
    multisig.save_partial(cli.args.out, merged)
    d = multisig.describe(merged)
    cli.out(render.partial_summary(d) + f"\ncombined into {cli.args.out}")
    cli.emit({"command": "multisig combine", "file": cli.args.out, **d.as_json()})


async def cmd_multisig_broadcast(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        ptx = _partial(cli, cli.args.file, wallet.data)
        sent = await wallet.broadcast_partial(ptx)
        await report_sent(cli, wallet, sent, {"command": "multisig broadcast"})


# -- receipts ---------------------------------------------------------------------------------


async def cmd_receipt_export(cli: Cli) -> None:
    async with cli.open_wallet() as wallet:
        final = await wallet.fetch_receipt(cli.args.txid, progress=cli.progress)
    cli.progress_done()
    save_receipt(cli.args.out, final.receipt)
    v = final.verified
    cli.out(f"receipt for {cli.args.txid} written to {cli.args.out}: final at height "
            f"{v.height}, {v.signers}/{v.set_size} validators")
    cli.emit({"command": "receipt export", "file": cli.args.out, "txid": v.txid.hex(),
              **render.verified_json(v)})


def _trusted_set_hash(cli: Cli, path: str) -> bytes:
    text = cli.read_text(path).strip()
    try:
        raw = json.loads(text)["hex"] if text.startswith("{") else text
        vs = decode_validator_set(bytes.fromhex(raw))
    except (ValueError, KeyError, TypeError, FaircoopError):
        raise UsageError(f"{path}: not a validator set (hex, or the JSON of validator-set/)")\
            from None
    return validators_hash(vs)


async def cmd_receipt_verify(cli: Cli) -> None:
    receipt: Receipt = cli.read(cli.args.file, load_receipt)
    data = cli.wallet_data()
    chain_id = cli.args.chain_id or (data.chain_id if data else None)
    gh_hex = cli.args.genesis_hash or (data.genesis_hash.hex() if data else None)
    network = cli.args.network or (data.network if data else None)
    if chain_id is None or gh_hex is None or network is None:
        raise UsageError("no wallet: give --network, --chain-id and --genesis-hash (a receipt's "
                         "own word for its chain is not evidence)")
    if cli.args.validator_set:
        trusted = _trusted_set_hash(cli, cli.args.validator_set)
    else:
        found = data.light.set_hash_at(receipt.height) if data and data.light else None
        if found is None:
            raise UsageError(
                f"the wallet has not followed the chain to height {receipt.height}: run "
                "`sync` first, or pass --validator-set FILE")
        trusted = found
    verified = verify_receipt(receipt, chain_id=chain_id, network=network,
                              genesis_hash=_genesis_hash_arg(gh_hex),
                              trusted_validators_hash=trusted)
    paid = render.receipt_outputs(receipt)
    sender = render.receipt_credit_sender(receipt)
    cli.out(f"valid: tx {verified.txid.hex()} is " + render.verified_line(verified))
    if sender is not None:
        cli.out(f"  credit transfer from {sender}")
    for addr, amount in paid:
        cli.out(f"  {format_coins(amount):>20}  to {addr}")
    cli.emit({"command": "receipt verify", "valid": True, "txid": verified.txid.hex(),
              **render.verified_json(verified), "network": receipt.network,
              "network_checked": True, "credit_sender": sender,
              "outputs": [{"address": a, "amount": m} for a, m in paid]})


HANDLERS: dict[str, Handler] = {
    "create": cmd_create,
    "restore": cmd_restore,
    "address": cmd_address,
    "balance": cmd_balance,
    "sync": cmd_sync,
    "send": cmd_send,
    "pay_many": cmd_pay_many,
    "history": cmd_history,
    "tx": cmd_tx,
    "multisig_key": cmd_multisig_key,
    "multisig_create": cmd_multisig_create,
    "multisig_spend": cmd_multisig_spend,
    "multisig_show": cmd_multisig_show,
    "multisig_sign": cmd_multisig_sign,
    "multisig_combine": cmd_multisig_combine,
    "multisig_broadcast": cmd_multisig_broadcast,
    "receipt_export": cmd_receipt_export,
    "receipt_verify": cmd_receipt_verify,
}
