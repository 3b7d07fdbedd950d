"""The `gov` commands' parsers: governor keys, proposals, signing, submission, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consensus.types import NETWORKS
from faircoop_common.clikit import CliParser, Commands, complete_path
from wallet.cli.argtypes import nonnegative_int, positive_int

W = "faircoop-wallet"
Adder = Callable[..., CliParser]  # add(group, name, **kwargs), with the common options

PROPOSE_KINDS = ("add-validator", "remove-validator", "rekey-validator", "readmit-validator",
                 "set-param", "set-governors", "set-treasury", "set-credit-limit", "set-rate",
                 "recovery")


def gov_commands(group: Commands, add: Adder) -> None:
    add(group, "key", summary="show this wallet's governor key",
        description="Print this wallet's governor public key (derived from its seed on a path "
                    "of its own: m/17987'/coin'/account'/0'/0'), to give to whoever builds "
                    "the genesis or proposes the governor set. The first time it asks for the "
                    "password; the public key is then kept in the wallet file.",
        examples=(f"{W} gov key", f"{W} --json gov key"))
    p = add(group, "name", summary="name a governor (or list the names this wallet knows)",
            description="Remember NAME for the governor key KEY: `gov show` and `gov sign` then "
                        "name its signature. Without arguments, list the names.",
            examples=(f"{W} gov name 02ab... 'Ana (Coop Bread)'", f"{W} gov name"))
    p.add_argument("key", nargs="?", metavar="KEY", help="the governor's public key (hex)")
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="the name to show for it (1 to 64 characters)")
    _propose_commands(add(
        group, "propose", summary="propose a governance action (writes a proposal file)",
        description="Write a proposal file for the governors to sign: what the action does, "
                    "the assembly decision behind it (--ref, --note), the chain and the nonce "
                    "(both from the node unless given). Nothing is signed or sent.",
        examples=(f"{W} gov propose add-validator --name 'Coop Five' --pubkey 02ab... "
                  "--ref https://coop.example/assembly/7 --out add-five.json",
                  f"{W} gov propose set-param block_interval_ms=500 --ref URI --out p.json"),
    ).add_commands("proposal_kind"), add)
    p = add(group, "show", summary="say what a proposal does and who has signed it",
            description="Describe a proposal file in words: what the action does and from "
                        "when, the assembly decision, who has signed (named, if this wallet "
                        "knows them) and how many signatures are still needed, as the node "
                        "says (or, offline, as this wallet last followed the chain). A file "
                        "whose signatures no longer match it is refused.",
            examples=(f"{W} gov show add-five.json", f"{W} gov show add-five.json --offline"))
    complete_path(p.add_argument("file", help="the proposal file"))
    _offline_flag(p)
    p = add(group, "sign", summary="sign a proposal with this wallet's governor key",
            description="Show what the proposal does, then add this wallet's governor "
                        "signature (--yes skips the question). Refused: a proposal for "
                        "another chain, one changed since others signed it, and (when the "
                        "node answers) a wallet whose key is not a current governor.",
            examples=(f"{W} gov sign add-five.json",
                      f"{W} gov sign add-five.json --out add-five.ana.json --offline"))
    complete_path(p.add_argument("file", help="the proposal file"))
    complete_path(p.add_argument("--out", metavar="FILE",
                                 help="write the signed copy here (default: replace FILE)"))
    p.add_argument("--yes", action="store_true", help="sign without asking for confirmation")
    _offline_flag(p)
    p = add(group, "combine", summary="merge signed copies of one proposal",
            description="Merge the signatures of copies of one proposal (each checked; copies "
                        "of different actions are refused).",
            examples=(f"{W} gov combine ana.json ben.json --out both.json",))
    complete_path(p.add_argument("files", nargs="+", metavar="FILE",
                                 help="the signed copies"))
    complete_path(p.add_argument("--out", metavar="FILE", required=True,
                                 help="the combined file to write"))
    _offline_flag(p)
    p = add(group, "submit", summary="submit a signed proposal to a node",
            description="Check that enough current governors signed, then post the action to "
                        "the node (POST /api/v1/actions), which pools it and passes it on to "
                        "every validator. With --inbox, write it into a node's governance "
                        "inbox directory instead (no node is asked).",
            examples=(f"{W} gov submit both.json",
                      f"{W} gov submit both.json --inbox /srv/faircoop/data/inbox"))
    complete_path(p.add_argument("file", help="the proposal file"))
    complete_path(p.add_argument(
        "--inbox", metavar="DIR",
        help="write the action into this inbox directory (a node's data_dir/inbox) instead "
             "of posting it"), directory=True)
    p = add(group, "history", summary="list the governance actions the chain included",
            description="The chain's governance history as the node serves it, newest first: "
                        "height, what each action did, the assembly decision and who signed.",
            examples=(f"{W} gov history", f"{W} --json gov history --limit 10"))
    p.add_argument("--limit", type=positive_int, default=50, metavar="N",
                   help="show at most N (default %(default)s)")


def _offline_flag(p: CliParser) -> None:
    p.add_argument("--offline", action="store_true",
                   help="ask no node: the governors as this wallet last followed them (sync), "
                        "or unchecked")


def _proposal_flags(p: CliParser, *, nonce: bool = True) -> None:
    p.add_argument("--ref", required=True, metavar="URI",
                   help="where the assembly decision can be read (1 to 200 characters)")
    p.add_argument("--note", metavar="TEXT",
                   help="what the decision says, in short (1 to 200 characters; default: a "
                        "one-line summary of the action)")
    complete_path(p.add_argument("--out", required=True, metavar="FILE",
                                 help="the proposal file to write"))
    if nonce:
        p.add_argument("--nonce", type=nonnegative_int, metavar="N",
                       help="the action's nonce (default: the node's next free one)")
    p.add_argument("--offline", action="store_true",
                   help="ask no node (give the nonce, and the chain unless a wallet names it)")
    p.add_argument("--network", choices=NETWORKS,
                   help="without a wallet, offline: the chain's network (with --chain-id and "
                        "--genesis-hash)")
    p.add_argument("--chain-id", metavar="ID",
                   help="without a wallet, offline: the chain's id")
    p.add_argument("--genesis-hash", metavar="HEX",
                   help="without a wallet, offline: the chain's genesis hash")


def _propose_commands(group: Commands, add: Adder) -> None:
    def kind(name: str, summary: str, description: str, example: str,
             **kwargs: Any) -> CliParser:
        p = add(group, name, summary=summary, description=description,
                examples=(f"{W} gov propose {name} {example}",))
        _proposal_flags(p, **kwargs)
        return p

    tail = "--ref URI --out p.json"
    p = kind("add-validator", "admit a coop to the validators",
             "Propose AddValidator: the coop (its name and the public key its node printed at "
             "`faircoop-node init --validator`) votes from two blocks after inclusion.",
             f"--name 'Coop Five' --pubkey 02ab... {tail}")
    p.add_argument("--name", required=True, help="the coop's name (1 to 64 characters)")
    p.add_argument("--pubkey", required=True, metavar="HEX",
                   help="the coop's validator public key")
    p = kind("remove-validator", "remove a coop from the validators",
             "Propose RemoveValidator: the coop stops voting two blocks after inclusion.",
             f"--pubkey 02ab... {tail}")
    p.add_argument("--pubkey", required=True, metavar="HEX", help="the validator's public key")
    p = kind("rekey-validator", "move a coop to a new validator key",
             "Propose RekeyValidator: the same coop, under the same name, signs with its new "
             "key (start the new node first).",
             f"--old 02ab... --new 03cd... {tail}")
    p.add_argument("--old", required=True, metavar="HEX", help="the key it validates with now")
    p.add_argument("--new", required=True, metavar="HEX", help="its new key")
    p = kind("readmit-validator", "readmit a validator suspended for equivocation",
             "Propose ReadmitValidator: the only way back for a validator the chain suspended.",
             f"--pubkey 02ab... {tail}")
    p.add_argument("--pubkey", required=True, metavar="HEX",
                   help="the suspended validator's public key")
    p = kind("set-param", "change a chain parameter",
             "Propose SetParam: one dynamic parameter (see GET /api/v1/params for the names "
             "and ranges) takes a new value.",
             f"block_interval_ms=500 {tail}")
    p.add_argument("setting", metavar="NAME=VALUE", help="the parameter and its new value")
    p = kind("set-governors", "replace the governors and their threshold",
             "Propose SetGovernors: the keys (each governor's `gov key`) and how many of them "
             "must sign each action from then on.",
             f"02ab... 03cd... 02ef... --threshold 2 {tail}")
    p.add_argument("keys", nargs="+", metavar="KEY", help="a governor public key (hex)")
    p.add_argument("--threshold", type=int, required=True, metavar="T",
                   help="how many governors must sign each action")
    p = kind("set-treasury", "move the commons treasury",
             "Propose SetTreasury: block fees go to ADDRESS (say, the governors' new "
             "multisig treasury) from two blocks after inclusion.",
             f"tfair1... {tail}")
    p.add_argument("address", help="the treasury's new address")
    p = kind("set-credit-limit", "grant (or change) a credit account's limit",
             "Propose SetCreditLimit: the mutual-credit account ADDRESS (a member's credit "
             "address, or a coop treasury's) may owe up to LIMIT units from two blocks after "
             "inclusion; 0 withdraws the line. A limit below the account's debt is allowed: "
             "it then can't send until it is back within it. docs/CREDIT.md.",
             f"tfair1... 100 {tail}")
    p.add_argument("address", help="the credit account's address")
    p.add_argument("limit", help="units of credit, as a decimal string such as 100 (0: none)")
    p = kind("set-rate", "set the assembly's reference price in a currency",
             "Propose SetReferenceRate: one coin is worth PRICE of CURRENCY from two blocks "
             "after inclusion (informational: no ledger rule reads it; wallets convert "
             "amounts like 12.50EUR with it). PRICE 0 withdraws the rate.",
             f"EUR 1.20 {tail}")
    p.add_argument("currency", help="the currency code (3 to 8 upper-case letters and digits)")
    p.add_argument("price", help="what one coin is worth in it, up to 8 decimals (0: withdraw)")
    p = kind("recovery", "install a new voting set on a chain that lost its quorum",
             "Propose a recovery: after the chain has made no block for recovery_after_ms, "
             "t governors install a new voting set against the last final block (its height "
             "and hash, from the node unless --height and --last-block are given). Name each "
             "member with --validator: NAME=PUBKEY, or the name or key of a validator the "
             "node or this wallet knows.",
             f"--validator coop-1 --validator coop-2 --validator 'Coop Six=02ab...' {tail}",
             nonce=False)
    p.add_argument("--validator", action="append", required=True, metavar="SPEC",
                   help="a member of the new voting set (repeat for each)")
    p.add_argument("--height", type=nonnegative_int, metavar="H",
                   help="the last final height (offline; with --last-block)")
    p.add_argument("--last-block", metavar="HASH",
                   help="the last final block's hash (offline; with --height)")
