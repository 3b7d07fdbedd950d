"""The command line: every command with its description and examples, every option with its
help (the convention of both CLIs: `faircoop_common.clikit`, docs/CLI.md)."""

from __future__ import annotations

import argparse
from typing import Any

from consensus.types import NETWORKS
from faircoop_common.clikit import (
    CliParser,
    Commands,
    Environment,
    Program,
    add_node_option,
    complete_path,
)
from wallet.cli.argtypes import fee_rate_flag, positive_int, txid_arg, wait_flags
from wallet.cli.credit_args import credit_commands
from wallet.cli.funding_args import (
    campaign_commands,
    contribute_command,
    contributions_commands,
    grant_flags,
    share_flags,
)
from wallet.cli.gov_args import Adder, gov_commands
from wallet.cli.pay_args import (
    contact_commands,
    label_commands,
    message_commands,
    request_commands,
)

PROGRAM = Program(
    name="faircoop-wallet",
    description="The faircoop wallet: keys, payments, treasuries and finality receipts. It "
                "checks what it pays and proves payments final itself, trusting no single "
                "node. Exit codes, environment variables and shell completion: docs/CLI.md; "
                "the files and the --json output: docs/WALLET.md.",
    examples=("faircoop-wallet create",
              "faircoop-wallet send tfair1... 1.5 --wait",
              "faircoop-wallet --wallet coop.json --json balance"),
)
DEFAULT_WALLET = "~/.faircoop/wallet.json"
W = "faircoop-wallet"


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name. SUPPRESS: a command's parser
    does not overwrite what the root parser read with its own default."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    complete_path(common.add_argument(
        "--wallet", metavar="FILE",
        help=f"the wallet file (default $FAIRCOOP_WALLET, else {DEFAULT_WALLET})"))
    add_node_option(common)
    common.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout, success or error")
    complete_path(common.add_argument(
        "--password-file", metavar="FILE",
        help="read the wallet password from FILE's first line instead of a prompt"))
    return common


def build_parser(env: Environment) -> CliParser:
    common = _common_options()
    root = PROGRAM.parser(env, parents=[common])
    commands = root.add_commands()

    def add(group: Commands, name: str, **kwargs: Any) -> CliParser:
        return group.add(name, parents=[common], **kwargs)

    _wallet_commands(commands, add)
    _payment_commands(commands, add)
    _multisig_commands(add(
        commands, "multisig", summary="treasuries: m-of-n policies and partial transactions",
        description="A treasury is an m-of-n policy over member keys; spending it takes a "
                    "partial-transaction file that goes from member to member (each may sign "
                    "offline) until m have signed, then anyone broadcasts it.",
        examples=(f"{W} multisig key", f"{W} multisig spend coop tfair1... 2.5 --out p.json",
                  f"{W} multisig sign p.json")).add_commands("multisig_command"), add)
    gov_commands(add(
        commands, "gov", summary="governance: governor keys, proposals, signing, submission",
        description="A governor's key lives in their wallet. An action is proposed as a file, "
                    "each governor reads what it does in words and signs a copy (offline if "
                    "they like), copies combine, and anyone submits it to a node once enough "
                    "governors have signed. Every action names the assembly decision behind "
                    "it. docs/GOVERNANCE.md walks through a session.",
        examples=(f"{W} gov key", f"{W} gov propose add-validator --name 'Coop Five' "
                  "--pubkey 02ab... --ref URI --out p.json", f"{W} gov sign p.json",
                  f"{W} gov submit p.json")).add_commands("gov_command"), add)
    campaign_commands(add(
        commands, "campaign", summary="crowdfunding: create, list, show, pledge, claim, refund",
        description="A campaign is chain state: its beneficiary, goal, deadline height and "
                    "mode. Pledges are locked to it until the deadline; then the ledger lets "
                    "only the beneficiary spend them (succeeded) or only each pledger take "
                    "theirs back (failed). docs/FUNDING.md walks through a campaign.",
        examples=(f"{W} campaign list --status open", f"{W} campaign pledge 5d2a... 2.5",
                  f"{W} campaign claim --yes --wait")).add_commands("campaign_command"), add)
    contribute_command(commands, add)
    contributions_commands(add(
        commands, "contributions", summary="the contributions an address received",
        description="Read the contribution payments (fc-contribution/1 memos) from the chain.",
        examples=(f"{W} contributions report --to tfair1... --csv",)
    ).add_commands("contributions_command"), add)
    credit_commands(add(
        commands, "credit", summary="mutual credit: an account, paying in credit, its history",
        description="Mutual credit: accounts keyed by address, with a limit the assembly "
                    "grants through governance; a debt below 0 is allowed down to -limit, and "
                    "all balances sum to 0. Paying in credit needs no coins and no fee. "
                    "docs/CREDIT.md explains how a coop's assembly runs it.",
        examples=(f"{W} credit status", f"{W} credit send tfair1... 25 --wait",
                  f"{W} credit history")).add_commands("credit_command"), add)
    request_commands(add(
        commands, "request", summary="payment requests: ask to be paid, see when it is final",
        description="A request takes a fresh receive address and gives a faircoop: URI (and "
                    "a QR code) for the payer. It is paid only once payments to its address "
                    "are final and this wallet verified each with a receipt. A watch-only "
                    "wallet (a shop's server) can make and watch requests.",
        examples=(f"{W} request create 2.5 --memo 'order 1042' --expires 1h",
                  f"{W} request wait 1", f"{W} request list")).add_commands("request_command"),
        add)
    contact_commands(add(
        commands, "contacts", summary="the address book: names for payees",
        description="Contacts are kept in the encrypted key store (the password is asked); "
                    "`send NAME AMOUNT` pays one.",
        examples=(f"{W} contacts add Bob tfair1...", f"{W} send Bob 2")).add_commands(
        "contacts_command"), add)
    label_commands(add(
        commands, "label", summary="labels on the wallet's addresses and txs",
        description="Labels are kept in the encrypted key store; `history --labels` shows "
                    "them.",
        examples=(f"{W} label add tfair1... savings", f"{W} history --labels")).add_commands(
        "label_command"), add)
    message_commands(add(
        commands, "message", summary="sign and verify messages with address keys",
        description="A signed message proves who holds an address's key (a coop proving its "
                    "treasury address, say). Its digest can't be taken for a tx, a vote or a "
                    "governance action.",
        examples=(f"{W} message sign tfair1... 'hello'",
                  f"{W} message verify tfair1... SIG 'hello'")).add_commands("message_command"),
        add)
    add(commands, "rates", summary="the assembly's reference prices in force",
        description="Follow the chain to the node's tip, then list the rates in force (one "
                    "coin in each currency) and since which height, as this wallet verified "
                    "them.",
        examples=(f"{W} rates", f"{W} --json rates"))
    _receipt_commands(add(
        commands, "receipt", summary="finality receipts: export one, verify one offline",
        description="A receipt proves a payment final: the tx, its block header, the Merkle "
                    "path and the block's commit certificate. It verifies offline against a "
                    "validator set the verifier trusts.",
        examples=(f"{W} receipt export TXID --out rent.receipt",
                  f"{W} receipt verify rent.receipt")).add_commands("receipt_command"), add)
    return root


def _chain_flags(p: CliParser) -> None:
    p.add_argument("--network", choices=NETWORKS,
                   help="with --chain-id and --genesis-hash: the chain, without asking a node")
    p.add_argument("--chain-id", metavar="ID", help="the chain's id (with --network)")
    p.add_argument("--genesis-hash", metavar="HEX", help="the genesis hash (with --network)")


def _wallet_commands(commands: Commands, add: Adder) -> None:
    p = add(commands, "create", summary="create a new wallet (a new mnemonic)",
            description="Create a wallet: a new mnemonic (shown once: write it down), its "
                        "encrypted key store (FILE.keys beside the wallet file) and the first "
                        "receive address. The chain comes from the node (its status and "
                        "genesis, checked against each other), or offline from --network, "
                        "--chain-id and --genesis-hash. --watch-only makes a wallet that "
                        "watches an account from its extended public key, without its keys.",
            examples=(f"{W} create", f"{W} --wallet coop.json create --words 12",
                      f"{W} --wallet watch.json create --watch-only tpub..."))
    _chain_flags(p)
    p.add_argument("--words", type=int, default=24, choices=(12, 15, 18, 21, 24),
                   help="mnemonic length (default %(default)s)")
    p.add_argument("--watch-only", metavar="XPUB",
                   help="watch the account of this extended public key (no keys, no password)")
    p.add_argument("--no-scan", action="store_true",
                   help="with --watch-only: do not look for the account's used addresses")

    p = add(commands, "restore", summary="restore a wallet from its mnemonic",
            description="Restore a wallet from its mnemonic (asked for, or read from "
                        "--mnemonic-file) under a new password, then look for the addresses "
                        "it has used (gap limit 20) unless --no-scan.",
            examples=(f"{W} restore", f"{W} --wallet old.json restore --mnemonic-file words.txt"))
    _chain_flags(p)
    complete_path(p.add_argument("--mnemonic-file", metavar="FILE",
                                 help="read the mnemonic words from FILE instead of a prompt"))
    p.add_argument("--no-scan", action="store_true", help="do not look for used addresses")

    p = add(commands, "address", summary="show the receive address",
            description="Print the current receive address; --new hands out the next one.",
            examples=(f"{W} address", f"{W} address --new"))
    p.add_argument("--new", action="store_true", help="hand out a fresh address")
    add(commands, "balance", summary="show the balance",
        description="The confirmed balance of every address the wallet has handed out, the "
                    "change pending in the node's mempool, and the number of coins.",
        examples=(f"{W} balance", f"{W} --json balance"))
    add(commands, "sync", summary="follow and verify block headers up to the node's tip",
        description="Follow the header chain from where the wallet left it to the node's tip, "
                    "checking every link, certificate, validator-set change and recovery. "
                    "Receipts are verified against what this follows.",
        examples=(f"{W} sync",))


def _fee_and_memo(p: CliParser) -> None:
    fee_rate_flag(p)
    p.add_argument("--memo", default="", metavar="M", help="a memo, up to 80 bytes of UTF-8")


def _pay_flags(p: CliParser) -> None:
    _fee_and_memo(p)
    p.add_argument("--yes", action="store_true", help="send without asking for confirmation")
    complete_path(p.add_argument(
        "--unsigned", metavar="FILE",
        help="write the unsigned tx as a partial-tx file to sign offline; nothing is sent"))
    wait_flags(p)


def _payment_commands(commands: Commands, add: Adder) -> None:
    p = add(commands, "send", summary="pay an address, a contact or a payment URI",
            description="Pay AMOUNT to ADDRESS, to a contact by name, or what a faircoop: "
                        "payment URI asks (refused once expired, or for another network or "
                        "chain). AMOUNT is coins (1.5) or a currency amount (12.50EUR, "
                        "converted at the assembly's rate in force; both are shown). The "
                        "recipients, amounts, fee and change are shown and confirmed before "
                        "anything is signed (--yes skips the question); the signed tx is "
                        "checked with the ledger's rules before it leaves.",
            examples=(f"{W} send tfair1... 1.5", f"{W} send tfair1... 0.25 --memo rent --yes "
                      "--wait", f"{W} send 'faircoop:tfair1...?amount=2.5&memo=order%201'",
                      f"{W} send Bob 12.50EUR", f"{W} send tfair1... 3 --unsigned pay.json"))
    p.add_argument("address", help="the payee: an address (tfair1... on a test network), a "
                                   "contact's name, or a faircoop: URI")
    p.add_argument("amount", nargs="?",
                   help="coins (1.5) or a currency amount (12.50EUR); a URI's own by default")
    _pay_flags(p)
    p = add(commands, "pay-many", summary="pay every row of a CSV file in one transaction",
            description="Pay every `address,amount` row of FILE.csv (amounts in coins; a "
                        "header row and lines starting with # are skipped) in one transaction; "
                        "or, with --shares and --total, split a total by integer shares "
                        "(the split is shown before confirming).",
            examples=(f"{W} pay-many dividends.csv --memo 'dividends 2026' --wait",
                      f"{W} pay-many --shares shares.csv --total 1200 --memo 'surplus 2026'"))
    complete_path(p.add_argument("csv_file", metavar="FILE.csv", nargs="?",
                                 help="the payments, one `address,amount` per row"))
    share_flags(p)
    _pay_flags(p)
    p = add(commands, "history", summary="list the wallet's transactions",
            description="The wallet's transactions, newest first, with what each moved in or "
                        "out and what it was worth at the assembly's reference rates in force "
                        "at its height (the wallet follows the chain that far first when the "
                        "node keeps any rate); its own not-yet-final payments first. --labels "
                        "also shows the labels (they are encrypted: it asks the password).",
            examples=(f"{W} history", f"{W} history --limit 10 --labels"))
    p.add_argument("--limit", type=positive_int, default=50, metavar="N",
                   help="show at most N (default %(default)s)")
    p.add_argument("--labels", action="store_true",
                   help="show the labels of txs and addresses (asks the password)")
    p.add_argument("--no-values", action="store_true",
                   help="do not follow the chain to value payments at the reference rates")
    p = add(commands, "tx", summary="show one transaction",
            description="What a transaction pays, its fee and size, and whether the node "
                        "reports it final.",
            examples=(f"{W} tx 3f5a...",))
    p.add_argument("txid", type=txid_arg, help="the transaction id (64 hex digits)")


def _multisig_commands(group: Commands, add: Adder) -> None:
    add(group, "key", summary="hand out this wallet's next treasury member key",
        description="Print this wallet's next treasury member key (its own branch, never an "
                    "ordinary address), to give to whoever creates the treasury.",
        examples=(f"{W} multisig key",))
    p = add(group, "create", summary="register an m-of-n treasury",
            description="Register an m-of-n treasury under --name and print its address. Each "
                        "member runs it with the same keys (in any order).",
            examples=(f"{W} multisig create -m 2 --key 02ab... --key 03cd... --key 02ef... "
                      "--name coop",))
    p.add_argument("--threshold", "-m", type=int, required=True, metavar="M",
                   help="how many members must sign")
    p.add_argument("--key", action="append", default=[], metavar="PUBKEY_HEX",
                   help="a member's public key (repeat for each member)")
    p.add_argument("--name", default="treasury",
                   help="the name to refer to the treasury by (default %(default)s)")
    p = add(group, "spend", summary="propose a treasury payment (a partial-tx file)",
            description="Build a treasury payment and write it as a partial-tx file for the "
                        "members to sign. Nothing is signed or sent. A grant names the "
                        "assembly decision (--ref); it may pay a coop, pledge to a campaign "
                        "(AMOUNT --campaign ID), or split a total by shares.",
            examples=(f"{W} multisig spend coop tfair1... 2.5 --memo roof --out p.json",
                      f"{W} multisig spend coop 40 --campaign 5d2a... --ref "
                      "https://coop.example/a/2026-11#4 --out grant.json",
                      f"{W} multisig spend coop --shares coops.csv --total 900 --ref "
                      "assembly-2026-11-item-6 --out p.json"))
    p.add_argument("treasury", help="the treasury's name or address")
    p.add_argument("address", nargs="?",
                   help="the payee's address (with --campaign: the amount)")
    p.add_argument("amount", nargs="?", help="coins, as a decimal string such as 2.5")
    _fee_and_memo(p)
    grant_flags(p)
    share_flags(p)
    complete_path(p.add_argument("--out", metavar="FILE", required=True,
                                 help="the partial-tx file to write"))
    p = add(group, "show", summary="describe a partial transaction",
            description="What a partial tx pays, its fee, and who has signed each input.",
            examples=(f"{W} multisig show p.json",))
    complete_path(p.add_argument("file", help="the partial-tx file"))
    p = add(group, "sign", summary="sign a partial transaction",
            description="Add this wallet's signatures to a partial tx: one treasury's inputs, "
                        "or with --own-coins the wallet's own coins (a tx made with send "
                        "--unsigned). Anything else in the file is refused before you are "
                        "asked; the inputs' claimed amounts are checked against their parent "
                        "transactions when a node answers.",
            examples=(f"{W} multisig sign p.json", f"{W} multisig sign pay.json --own-coins"))
    complete_path(p.add_argument("file", help="the partial-tx file"))
    complete_path(p.add_argument("--out", metavar="FILE",
                                 help="write the signed copy here (default: replace FILE)"))
    p.add_argument("--yes", action="store_true", help="sign without asking for confirmation")
    p.add_argument("--own-coins", action="store_true",
                   help="sign this wallet's own single-key coins (a tx you built with "
                        "send --unsigned) instead of a treasury's")
    p = add(group, "combine", summary="merge signed copies of one partial transaction",
            description="Merge the signatures of copies of one partial tx (each checked).",
            examples=(f"{W} multisig combine alice.json bob.json --out both.json",))
    complete_path(p.add_argument("files", nargs="+", metavar="FILE",
                                 help="the signed copies"))
    complete_path(p.add_argument("--out", metavar="FILE", required=True,
                                 help="the combined file to write"))
    p = add(group, "broadcast", summary="finalize a fully signed partial tx and send it",
            description="Finalize a partial tx that has every signature it needs and "
                        "broadcast it; --wait waits for finality and verifies it.",
            examples=(f"{W} multisig broadcast both.json --wait",))
    complete_path(p.add_argument("file", help="the partial-tx file"))
    wait_flags(p)


def _receipt_commands(group: Commands, add: Adder) -> None:
    p = add(group, "export", summary="fetch, verify and save a receipt",
            description="Fetch the proof that a tx is final, follow headers up to its block, "
                        "verify it all, and save the receipt.",
            examples=(f"{W} receipt export 3f5a... --out rent.receipt",))
    p.add_argument("txid", type=txid_arg, help="the transaction id (64 hex digits)")
    complete_path(p.add_argument("--out", metavar="FILE", required=True,
                                 help="the receipt file to write"))
    p = add(group, "verify", summary="verify a receipt offline",
            description="Verify a receipt without a node: against the wallet's chain and the "
                        "validator set it has followed for the receipt's height, or, without "
                        "a wallet, against --network, --chain-id, --genesis-hash and a "
                        "validator set you trust.",
            examples=(f"{W} receipt verify rent.receipt",
                      f"{W} receipt verify rent.receipt --network test --chain-id coop-net "
                      "--genesis-hash 9c1e... --validator-set validators.hex"))
    complete_path(p.add_argument("file", help="the receipt file"))
    complete_path(p.add_argument(
        "--validator-set", metavar="FILE",
        help="trust this validator set (hex, or the JSON of GET validator-set/HASH) instead "
             "of the one the wallet followed"))
    p.add_argument("--chain-id", metavar="ID", help="the verifier's chain id")
    p.add_argument("--genesis-hash", metavar="HEX", help="the verifier's genesis hash")
    p.add_argument("--network", choices=NETWORKS,
                   help="the verifier's network (default: the wallet's; required without one)")
