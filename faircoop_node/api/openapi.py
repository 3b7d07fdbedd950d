"""The OpenAPI 3.0 document for the API, served at `/api/v1/openapi.json`.

Written out by hand (not generated from the routes), so the tests can check the two against each
other: every route is documented, every documented path is routed, and every JSON response of
the test chain matches its schema here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consensus.params import PARAM_RANGES

Schema = dict[str, Any]

API_VERSION = "1.0.0"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Schema], description: str = "") -> Schema:
    schema: Schema = {"type": "object", "required": sorted(props), "properties": props,
                      "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def _array(items: Schema, description: str = "") -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


INT: Schema = {"type": "integer", "minimum": 0}
AMOUNT: Schema = {"type": "integer", "minimum": 0, "description": "base units (1 coin = 10^8)"}
HEX: Schema = {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
HASH: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
PUBKEY: Schema = {"type": "string", "pattern": "^[0-9a-f]{66}$"}
TEXT: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
# every shape of a governance action (governance.action_json), plus where it stands
ACTION: dict[str, Schema] = {
    "id": {**HASH, "description": "SHA-256 of the action's bytes"},
    "kind": {"type": "string", "enum": [
        "add_validator", "remove_validator", "rekey_validator", "readmit_validator",
        "set_param", "set_governors", "set_treasury", "set_credit_limit", "set_reference_rate",
        "recovery"]},
    "summary": {"type": "string", "description": "what it does, in words"},
    "nonce": _nullable({**INT, "description": "null for a recovery"}),
    "signers": _array(PUBKEY, "the governors who signed, ascending"),
    "reference": _nullable(_obj({"uri": TEXT, "text": TEXT},
                                "the assembly decision (null for a version 1 action)")),
    "hex": {**HEX, "description": "consensus.governance.encode_block_action"},
}

STATUS: Schema = {"type": "string", "enum": ["open", "succeeded", "failed"]}
# a campaign's terms (render.terms_json)
TERMS: dict[str, Schema] = {
    "beneficiary": {**TEXT, "description": "the address that claims the pledges on success"},
    "goal": AMOUNT,
    "deadline": {**INT, "description": "the first height at which the campaign is decided"},
    "mode": {"type": "string", "enum": ["all-or-nothing", "keep-what-you-raise"]},
    "title": TEXT, "uri": TEXT,
}

RATE: dict[str, Schema] = {
    "since": {**INT, "description": "the first height it is in force (inclusion + 2)"},
    "units_per_coin": {**INT, "description": "10^-8 of the currency per coin (0: withdrawn)"},
    "price": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{8}$",
              "description": "the currency per coin, 8 places"},
    "nonce": {**INT, "description": "the nonce of the action that set it"},
}

SCHEMAS: dict[str, Schema] = {
    "Rates": _obj({
        "height": {**INT, "description": "the height the rates are in force at"},
        "tip": INT, "scale": {**INT, "description": "10^8: units_per_coin per currency unit"},
        "rates": _array(_obj({
            "currency": TEXT, **RATE,
            "reference": _nullable(_obj({"uri": TEXT, "text": TEXT},
                                        "the assembly decision behind it")),
        })),
        "unknown": _array(TEXT, "currencies whose kept history starts after this height"),
        "currencies": _array(TEXT, "every currency the chain keeps rates of, withdrawn too"),
    }, "the assembly's reference prices (informational: no ledger rule reads them)"),
    "RateHistory": _obj({
        "currency": TEXT,
        "known_from": {**INT, "description": "heights below this are no longer known (0: all)"},
        "changes": _array(_obj(RATE), "oldest first"),
    }),
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "what is wrong, for a person"},
            "rule": {"type": "string",
                     "description": "the ledger rule broken (e.g. fee_too_low), or decode"},
        },
    },
    "Status": _obj({
        "chain_id": TEXT, "network": {"type": "string", "enum": ["main", "test"]},
        "genesis_hash": HASH, "height": INT, "tip_hash": HASH, "round": INT, "peers": INT,
        "mempool_size": INT, "node_id": TEXT, "validator": BOOL,
    }),
    "Genesis": _obj({"hash": HASH, "hex": HEX}, "hex is codec.encode_genesis"),
    "Block": _obj({
        "hash": HASH, "height": INT, "prev_hash": _nullable(HASH), "time_ms": INT,
        "tx_count": INT, "proposer": _nullable(PUBKEY), "header_hex": _nullable(HEX),
        "certificate_hex": _nullable(HEX),
    }, "height 0 (the genesis) has no prev_hash, proposer, header or certificate"),
    "RawBlock": _obj({"hex": HEX}, "codec.encode_block"),
    "Header": _obj({"height": INT, "hash": HASH, "header_hex": HEX,
                    "certificate_hex": _nullable(HEX)}),
    "ValidatorSet": _obj({
        "hash": HASH, "hex": HEX,
        "validators": _array(_obj({"name": TEXT, "pubkey": PUBKEY})),
    }, "hex is codec.pack(codec.validators_obj(set)); hash is its SHA-256"),
    "TxStatus": _obj({
        "final": BOOL, "in_mempool": BOOL, "height": _nullable(INT),
        "block_hash": _nullable(HASH), "position": _nullable(INT),
        "certificate_hex": _nullable(HEX),
    }, "final once the block holding the tx is committed"),
    "Tx": _obj({
        "txid": HASH, "hex": HEX,
        "inputs": _array(_obj({"txid": HASH, "index": INT})),
        "outputs": _array(_ref("Output")),
        "memo_hex": HEX, "fee": _nullable(AMOUNT), "size": INT, "status": _ref("TxStatus"),
        "campaign": _nullable(_obj({"id": HASH, **TERMS},
                                   "the campaign a version 2 tx creates; null for others")),
    }),
    "Output": _obj({
        "amount": AMOUNT, "address": TEXT, "lock": HASH,
        "campaign": _nullable({**HASH, "description": "a pledge's campaign id (also its lock); "
                                                      "null for a coin"}),
        "refund_address": _nullable({**TEXT, "description": "who gets a pledge back if its "
                                                            "campaign fails; null for a coin"}),
    }, "a coin, or a pledge (docs/PROTOCOL.md 8.3)"),
    "Campaign": _obj({
        "id": HASH, "txid": {**HASH, "description": "the tx that created it"},
        "created_height": INT, **TERMS,
        "pledged": AMOUNT, "pledges": {**INT, "description": "pledge outputs ever made"},
        "pledgers": {**INT, "description": "distinct refund addresses that ever pledged"},
        "percent": {**INT, "description": "pledged * 100 // goal (may exceed 100)"},
        "status": STATUS,
        "blocks_left": {**INT, "description": "blocks that may still take pledges (0 once "
                                              "decided)"},
        "time_left_ms": {**INT, "description": "blocks_left x block_interval_ms: an estimate"},
        "block_interval_ms": {**INT, "description": "observed over the last 100 blocks"},
    }, "status is what the next block applies: open (pledges accepted, nothing spendable), "
       "succeeded (the beneficiary claims), failed (each pledger refunds)"),
    "Campaigns": _obj({
        "tip": INT, "campaigns": _array(_ref("Campaign"), "newest first"),
        "next": _nullable({"type": "string", "pattern": "^[0-9]+[.][0-9a-f]{64}$",
                           "description": "pass as `after` for the next page; null: the last"}),
    }),
    "CampaignPledges": _obj({
        "campaign": HASH,
        "pledges": _array(_obj({"txid": HASH, "index": INT, "amount": AMOUNT, "height": INT,
                                "refund_address": TEXT}), "unspent, by outpoint"),
    }),
    "CampaignPledgers": _obj({
        "campaign": HASH,
        "pledgers": _array(_obj({"address": TEXT, "amount": AMOUNT, "pledges": INT}),
                           "by refund address: everything it ever pledged to the campaign"),
    }),
    "Pledges": _obj({
        "address": TEXT, "tip": INT,
        "pledges": _array(_obj({"txid": HASH, "index": INT, "campaign": HASH, "amount": AMOUNT,
                                "height": INT, "status": {**STATUS, "enum": [
                                    *STATUS["enum"], "unknown"]}}),
                          "unspent pledges refunded to the address if their campaign fails"),
    }),
    "Treasury": _obj({
        "lock": HASH, "address": TEXT, "governors": _array(PUBKEY), "threshold": INT,
        "balance": AMOUNT, "utxo_count": INT,
        "fees_per_day": _array(_obj({"day": {"type": "string", "pattern":
                                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                                     "fees": AMOUNT, "blocks": INT}),
                               "newest first, UTC days of the block times; days without fees "
                               "are absent"),
        "spends": _array(_obj({
            "txid": HASH, "height": INT, "position": INT,
            "memo": _nullable({**TEXT, "description": "the memo as UTF-8 text (null if it is "
                                                      "not); a grant names its assembly "
                                                      "reference here"}),
            "memo_hex": HEX, "paid": {**AMOUNT, "description": "outputs not back to the "
                                                               "treasury"},
            "fee": AMOUNT, "outputs": _array(_ref("Output")),
        }), "newest first"),
        "next": _nullable({"type": "string", "pattern": "^[0-9]+[.][0-9]+$",
                           "description": "pass as `after` for the next page; null: the last"}),
    }, "the treasury in force (the governors' multisig), its fees, and what it spent"),
    "TxProof": _obj({
        "txid": HASH, "height": INT, "block_hash": HASH, "header_hex": HEX, "position": INT,
        "tx_count": INT, "merkle_proof": _array(HASH, "consensus.merkle.merkle_proof"),
        "certificate_hex": _nullable(HEX), "validator_set_hex": _nullable(HEX),
    }, "a finality receipt: check the Merkle path against the header's tx_root, and the "
       "certificate against the validator set whose hash the header names"),
    "TxSubmitted": _obj({"txid": HASH}),
    "Address": _obj({
        "address": TEXT, "lock": HASH, "balance": AMOUNT, "utxo_count": INT, "tx_count": INT,
        "mempool_balance_delta": {"type": "integer",
                                  "description": "what pooled txs add (or remove, if < 0)"},
    }),
    "Utxo": _obj({"txid": HASH, "index": INT, "amount": AMOUNT, "height": INT}),
    "HistoryEntry": _obj({"txid": HASH, "height": INT, "position": INT},
                         "genesis allocations and fee outputs use the block hash as txid"),
    "Validators": _obj({
        "height": INT, "validators_hash": HASH, "count": INT, "quorum": INT,
        "validators": _array(_obj({
            "index": INT, "name": TEXT, "pubkey": PUBKEY, "in_rotation": BOOL,
            "quarantined": BOOL, "suspended": BOOL, "blocks_proposed": INT,
            "rounds_voted": INT, "proposals_missed": INT, "missed_in_row": INT,
        })),
    }, "the voting set for the next height, with the participation ledger"),
    "Params": _obj({
        "hash": HASH, "hex": HEX,
        "params": _obj({name: INT for name in PARAM_RANGES}),
        "ranges": _obj({name: _obj({"min": INT, "max": INT}) for name in PARAM_RANGES}),
    }, "the dynamic parameters (hex is codec.encode_params, hash its SHA-256: the header's "
       "params_hash), and the range governance may set each within"),
    "Governance": _obj({
        "chain_id": TEXT, "network": {"type": "string", "enum": ["main", "test"]},
        "genesis_hash": HASH, "governors": _array(PUBKEY), "threshold": INT,
        "treasury_lock": HASH, "treasury_address": TEXT,
        "next_nonce": {**INT, "description": "the lowest nonce neither the chain nor a pooled "
                                             "action has used: a new proposal's"},
        "last_final": _obj({"height": INT, "hash": HASH, "time_ms": INT},
                           "the last final block, which a recovery is made against"),
        "pending": _array(_obj({**ACTION, "included_height": INT, "effective_height": INT}),
                          "included in the last block, in force two heights later"),
        "pooled": _array(_obj(ACTION), "actions this node holds for a block to carry"),
        "recoveries": _array(_obj({**ACTION, "last_final_height": INT}),
                             "recoveries this node holds until their wait is over"),
    }, "governors, threshold and treasury in force at the next height; what is on its way"),
    "GovernanceHistory": _obj({
        "actions": _array(_obj({**ACTION, "height": INT, "position": INT,
                                "effective_height": INT}),
                          "newest first; position is among the block's actions"),
        "next": _nullable({"type": "string", "pattern": "^[0-9]+[.][0-9]+$",
                           "description": "pass as `after` for the next page; null: the last"}),
    }),
    "ActionSubmitted": _obj({
        "status": {"type": "string", "enum": ["pooled", "already_pooled"]},
        "id": {**HASH, "description": "SHA-256 of the action's bytes"},
    }),
    "Mempool": _obj({"count": INT, "bytes": INT, "txids": _array(HASH)}),
    # -- mutual credit (docs/CREDIT.md) --
    "CreditTransfer": _obj({
        "kind": {"type": "string", "enum": ["credit_transfer"]}, "txid": HASH, "hex": HEX,
        "sender": TEXT, "sender_lock": HASH, "sequence": INT,
        "payments": _array(_obj({"amount": AMOUNT, "address": TEXT, "lock": HASH})),
        "total": AMOUNT, "memo_hex": HEX, "size": INT, "status": _ref("TxStatus"),
    }, "a credit transfer (PROTOCOL.md 4): units of credit from the sender's account to each "
       "payment's; no fee"),
    "CreditAccount": _obj({
        "address": TEXT, "lock": HASH,
        "balance": {"type": "integer", "description": "signed base units; all sum to 0"},
        "limit": {**AMOUNT, "description": "how far below 0 the balance may go"},
        "available": {**AMOUNT, "description": "balance + limit, never below 0"},
        "sequence": {**INT, "description": "what the account's next final transfer names"},
        "history_count": INT,
        "mempool_pending": {**INT, "description": "its transfers this node's mempool holds"},
        "mempool_debit": {**AMOUNT, "description": "what they take from the balance"},
        "next_sequence": {**INT, "description": "what a new transfer must name: sequence + "
                                                "mempool_pending"},
        "pending_limits": _array(_obj({"limit": AMOUNT, "effective_height": INT}),
                                 "limits the last block's governance set, not yet in force"),
    }, "an account nobody has touched is balance 0, limit 0, sequence 0"),
    "CreditLine": _obj({
        "height": INT, "position": INT,
        "kind": {"type": "string", "enum": ["sent", "received", "limit"]},
        "amount": {**AMOUNT, "description": "sent, received, or the new limit"},
        "balance": {"type": "integer", "description": "the balance after it"},
        "txid": _nullable(HASH), "action_id": _nullable(HASH),
        "counterparty": _nullable({**TEXT, "description": "the payer, or the first payee"}),
        "memo_hex": HEX,
    }, "one transfer sent or received, or a limit set by governance (action_id)"),
    "CreditTotals": _obj({
        "accounts": INT, "credit_lines": {**INT, "description": "accounts with a limit > 0"},
        "outstanding": {**AMOUNT, "description": "the sum of negative balances"},
        "granted": {**AMOUNT, "description": "the sum of all limits"},
        "positive": {**AMOUNT, "description": "the sum of positive balances"},
        "balance_sum": {"type": "integer", "description": "positive - outstanding: always 0"},
        "sender_min_balance": INT, "block_cap": INT, "pool_cap": INT,
    }, "the whole credit system, and the spam bounds in force"),
}


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"text/plain": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


def _path_param(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


def _query(name: str, schema: Schema, description: str, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


HASH_PARAM = _path_param("hash", {"type": "string"}, "block hash, 64 hex characters")
TXID_PARAM = _path_param("txid", {"type": "string"}, "txid, 64 hex characters")
ADDRESS_PARAM = _path_param("address", {"type": "string"},
                            "bech32m address of this node's network (fair... / tfair...)")
CAMPAIGN_PARAM = _path_param("id", {"type": "string"}, "campaign id, 64 hex characters")
PLEDGE_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 10_000},
                      "at most this many (default 100)")
LIMIT_PARAM = _query("limit", {"type": "integer", "minimum": 1, "maximum": 10_000},
                     "at most this many entries (default 1000)")
BAD = _error("malformed parameter or body")
MISSING = _error("no such object")
UNAVAILABLE: Schema = {
    **_error("the node serves as many of these requests (or connections, or streams) as it "
             "allows, or its store failed; retry after the Retry-After seconds"),
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1},
                                "description": "seconds to wait before retrying"}},
}


def _get(summary: str, ok: Schema, *, params: tuple[Schema, ...] = (),
         errors: tuple[str, ...] = ()) -> Schema:
    responses: Schema = {"200": ok}
    if "400" in errors:
        responses["400"] = BAD
    if "404" in errors:
        responses["404"] = MISSING
    op: Schema = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = list(params)
    return {"get": op}


def build_document() -> Schema:
    """The whole OpenAPI 3.0.3 document (paths are the full paths, servers is "/")."""
    v1 = "/api/v1"
    metrics = _get("Prometheus metrics (text exposition format 0.0.4)",
                   _text({"type": "string"}, "metrics"))
    paths: dict[str, Schema] = {
        f"{v1}/status": _get("Node and chain status", _json(_ref("Status"))),
        f"{v1}/genesis": _get("The genesis, encoded", _json(_ref("Genesis"))),
        f"{v1}/blocks/tip/height": _get("Height of the last committed block",
                                        _text({"type": "string", "pattern": "^[0-9]+$"},
                                              "decimal height")),
        f"{v1}/blocks/tip/hash": _get("Hash of the last committed block",
                                      _text(HASH, "block hash, hex")),
        f"{v1}/block-height/{{height}}": _get(
            "Hash of the block at a height (0 is the genesis)", _text(HASH, "block hash, hex"),
            params=(_path_param("height", {"type": "integer", "minimum": 0}, "block height"),),
            errors=("400", "404")),
        f"{v1}/block/{{hash}}": _get("A block's summary, header and certificate",
                                     _json(_ref("Block")), params=(HASH_PARAM,),
                                     errors=("400", "404")),
        f"{v1}/block/{{hash}}/txids": _get("The txids of a block, in order",
                                           _json(_array(HASH)), params=(HASH_PARAM,),
                                           errors=("400", "404")),
        f"{v1}/block/{{hash}}/raw": _get("A block's canonical encoding",
                                         _json(_ref("RawBlock")), params=(HASH_PARAM,),
                                         errors=("400", "404")),
        f"{v1}/headers": _get(
            "Consecutive headers with their commit certificates (for light clients)",
            _json(_array(_ref("Header"))),
            params=(_query("from", {"type": "integer", "minimum": 1}, "first height",
                           required=True),
                    _query("count", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "how many (default 100); fewer past the tip")),
            errors=("400",)),
        f"{v1}/validator-set/{{hash}}": _get(
            "A validator set by the hash a header commits to", _json(_ref("ValidatorSet")),
            params=(_path_param("hash", {"type": "string"}, "validators hash, 64 hex"),),
            errors=("400", "404")),
        f"{v1}/tx/{{txid}}": _get("A committed or pooled tx, or credit transfer",
                                  _json({"oneOf": [_ref("Tx"), _ref("CreditTransfer")]}),
                                  params=(TXID_PARAM,), errors=("400", "404")),
        f"{v1}/tx/{{txid}}/status": _get("Whether a tx is final, with its certificate",
                                         _json(_ref("TxStatus")), params=(TXID_PARAM,),
                                         errors=("400", "404")),
        f"{v1}/tx/{{txid}}/proof": _get("A finality receipt for a committed tx",
                                        _json(_ref("TxProof")), params=(TXID_PARAM,),
                                        errors=("400", "404")),
        f"{v1}/tx": {"post": {
            "summary": "Submit a tx or a credit transfer",
            "requestBody": {"required": True, "content": {
                "text/plain": {"schema": {"type": "string",
                                          "description": "hex of codec.encode_tx"}},
                "application/json": {"schema": _obj({"hex": {"type": "string"}})},
            }},
            "responses": {
                "200": _json(_ref("TxSubmitted"), "admitted to the mempool"),
                "400": _error("refused: rule names the ledger rule broken, or decode"),
                "413": _error("body over the size limit"),
            },
        }},
        f"{v1}/txs": {"post": {
            "summary": "Submit up to 1,000 txs in one request, admitted in order",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _array(
                    {"type": "string", "description": "hex of codec.encode_tx"})},
            }},
            "responses": {
                "200": _json(_array({"oneOf": [_ref("TxSubmitted"), _ref("Error")]}),
                             "one entry per tx, in order: its txid, or why it was refused"),
                "400": _error("the body is not a JSON array of 1 to 1,000 hex strings"),
                "413": _error("body over the size limit"),
            },
        }},
        f"{v1}/address/{{address}}": _get("Balance and counts of an address",
                                          _json(_ref("Address")), params=(ADDRESS_PARAM,),
                                          errors=("400",)),
        f"{v1}/address/{{address}}/utxo": _get("Unspent outputs of an address",
                                               _json(_array(_ref("Utxo"))),
                                               params=(ADDRESS_PARAM, LIMIT_PARAM),
                                               errors=("400",)),
        f"{v1}/address/{{address}}/txs": _get(
            "History of an address, newest first", _json(_array(_ref("HistoryEntry"))),
            params=(ADDRESS_PARAM, LIMIT_PARAM,
                    _query("before_height", INT, "page after this entry (with before_position)"),
                    _query("before_position", INT, "page after this entry (with before_height)")),
            errors=("400",)),
        f"{v1}/credit/{{address}}": _get("A credit account", _json(_ref("CreditAccount")),
                                         params=(ADDRESS_PARAM,), errors=("400",)),
        f"{v1}/credit/{{address}}/history": _get(
            "A credit account's transfers and limit changes, newest first",
            _json(_array(_ref("CreditLine"))),
            params=(ADDRESS_PARAM, LIMIT_PARAM,
                    _query("before_height", INT, "page after this entry (with before_position)"),
                    _query("before_position", INT, "page after this entry (with before_height)")),
            errors=("400",)),
        f"{v1}/credit": _get("The credit system's totals", _json(_ref("CreditTotals"))),
        f"{v1}/validators": _get("Validators and the participation ledger",
                                 _json(_ref("Validators"))),
        f"{v1}/params": _get("Dynamic chain parameters and their ranges", _json(_ref("Params"))),
        f"{v1}/governance": _get(
            "Governors, threshold, treasury, next nonce, last final block; the actions pending, "
            "pooled and the recoveries held", _json(_ref("Governance"))),
        f"{v1}/governance/history": _get(
            "Every governance action the chain included, newest first",
            _json(_ref("GovernanceHistory")),
            params=(_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "at most this many (default 100); a page also ends after 1 MiB of "
                           "action bytes"),
                    _query("after", {"type": "string"}, "the `next` of the previous page")),
            errors=("400",)),
        f"{v1}/actions": {"post": {
            "summary": "Submit a signed governance action or recovery: checked against the tip, "
                       "pooled and gossiped",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _obj({
                "action": {"type": "string", "description":
                           "hex of consensus.governance.encode_block_action, at most 64 KiB"}})}}},
            "responses": {
                "200": _json(_ref("ActionSubmitted"), "pooled now, or held already"),
                "400": _error("refused: rule is decode, or the governance rule broken"),
                "409": _error("replayed_action: its nonce is used (the chain included it)"),
                "413": _error("oversize: the body or the action over its bound"),
                "503": {**UNAVAILABLE, "description": "pool_full: the node holds as many "
                        "actions as it keeps (or one of its limits, as for any request); "
                        "retry after the Retry-After seconds"},
            },
        }},
        f"{v1}/campaigns": _get(
            "Crowdfunding campaigns, newest first", _json(_ref("Campaigns")),
            params=(_query("status", STATUS, "only campaigns with this status"),
                    _query("beneficiary", {"type": "string"}, "only this beneficiary's"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "at most this many (default 100); a page also ends after 5,000 "
                           "campaigns read"),
                    _query("after", {"type": "string"}, "the `next` of the previous page")),
            errors=("400",)),
        f"{v1}/campaign/{{id}}": _get(
            "A campaign: terms, pledged, pledgers, status and time left", _json(_ref("Campaign")),
            params=(CAMPAIGN_PARAM,), errors=("400", "404")),
        f"{v1}/campaign/{{id}}/pledges": _get(
            "A campaign's unspent pledges (what a claim spends)", _json(_ref("CampaignPledges")),
            params=(CAMPAIGN_PARAM, PLEDGE_LIMIT), errors=("400", "404")),
        f"{v1}/campaign/{{id}}/pledgers": _get(
            "Who pledged to a campaign, and how much in all", _json(_ref("CampaignPledgers")),
            params=(CAMPAIGN_PARAM, PLEDGE_LIMIT), errors=("400", "404")),
        f"{v1}/pledges/{{address}}": _get(
            "Unspent pledges refunded to an address if their campaigns fail",
            _json(_ref("Pledges")), params=(ADDRESS_PARAM, PLEDGE_LIMIT), errors=("400",)),
        f"{v1}/treasury": _get(
            "The commons treasury: balance, fees per day, spends with their memos",
            _json(_ref("Treasury")),
            params=(_query("days", {"type": "integer", "minimum": 1, "maximum": 366},
                           "at most this many days of fees (default 30)"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                           "at most this many spends (default 20); a page also ends after "
                           "2,000 history entries read"),
                    _query("after", {"type": "string"}, "the `next` of the previous page")),
            errors=("400",)),
        f"{v1}/mempool": _get("Mempool summary", _json(_ref("Mempool"))),
        f"{v1}/rates": _get(
            "The assembly's reference prices in force at a height, each since when and on "
            "whose decision", _json(_ref("Rates")),
            params=(_query("height", INT, "default: the next block's (tip + 1); at most "
                                          "tip + 2"),),
            errors=("400",)),
        f"{v1}/rates/{{currency}}": _get(
            "One currency's kept rate changes", _json(_ref("RateHistory")),
            params=(_path_param("currency", {"type": "string"},
                                "a currency code such as EUR"),),
            errors=("400", "404")),
        f"{v1}/address/{{address}}/stream": _get(
            "Server-Sent Events for payments to one address: `event: mempool` with data "
            '{"address","txid","amount"} when a tx paying it enters this node\'s mempool, '
            '`event: final` with {"address","txid","amount","height","block_hash","position"} '
            "when a block holding one is committed (fetch tx/{txid}/proof to verify it). The "
            'stream opens with ": watching ADDRESS at height N"; ": keep-alive" comments '
            "between. Counts against the same stream cap as blocks/stream: 503 with "
            "Retry-After past it", {"description": "event stream",
                                    "content": {"text/event-stream": {"schema": {
                                        "type": "string"}}}},
            params=(ADDRESS_PARAM,), errors=("400",)),
        f"{v1}/blocks/stream": _get(
            "Server-Sent Events: one `block` event per committed block, data "
            '{"height","hash","tx_count","time_ms"}; ": keep-alive" comments between. '
            "503 when the node has as many streams open as it serves; a client that stops "
            "reading is dropped",
            {"description": "event stream",
             "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
        "/metrics": metrics,
        f"{v1}/metrics": metrics,
        f"{v1}/openapi.json": _get("This document", _json({"type": "object"})),
    }
    for ops in paths.values():  # the connection cap can refuse any request
        for op in ops.values():
            op["responses"].setdefault("503", UNAVAILABLE)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "faircoop node API",
            "version": API_VERSION,
            "description": (
                "Esplora-shaped REST API of a faircoop node. Amounts are integer base units; "
                "hashes and bytes are lower-case hex. Every error is a 4xx with an Error body, "
                "or a 503 with Retry-After when the node is at one of its limits."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }


DOCUMENT = build_document()

routes = web.RouteTableDef()


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
