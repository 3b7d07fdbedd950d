"""Canonical msgpack encoding: one byte string per object, and strict decoders.

Every object encodes as a msgpack array with a fixed field order; top-level objects open with a
version. Only integers, byte strings (bin), text strings (str) and arrays appear: never maps,
floats, booleans, nil or ext types. msgpack-python always writes the shortest form, so a decoder
re-packs what it read and rejects the input unless the bytes are identical. That one check
rejects non-minimal integers and headers; the typed checks reject everything else. So every hash
has exactly one preimage.

The `expect_*` helpers and `unpack`/`pack` are public so the consensus-layer codecs (votes,
certificates, evidence, governance) decode in exactly the same strict way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgpack

from consensus.crypto import PUBKEY_SIZE, sha256
from consensus.errors import CryptoError, DecodeError, ParamsError
from consensus.params import PARAM_NAMES, ChainParams
from consensus.types import (
    BLOCK_VERSION,
    CAMPAIGN_TX_VERSION,
    CREDIT_VERSION,
    GENESIS_VERSION,
    MAX_AMOUNT,
    MAX_CAMPAIGN_TITLE,
    MAX_CAMPAIGN_URI,
    MAX_CREDIT,
    MAX_CREDIT_PAYMENTS,
    MAX_MEMO,
    NETWORKS,
    POLICY_VERSION,
    TX_VERSION,
    Block,
    BlockHash,
    BlockHeader,
    BlockTx,
    CampaignMode,
    CampaignTerms,
    CreditPayment,
    CreditTransfer,
    Genesis,
    Hash32,
    Lock,
    OutPoint,
    PublicKey,
    SpendPolicy,
    Tx,
    TxId,
    TxIn,
    TxOut,
    Validator,
    Witness,
)

T = TypeVar("T")

MAX_ENCODED = 64 * 1024 * 1024  # nothing faircoop decodes is larger than this
MAX_ARRAY = 200_000
MAX_BIN = 32 * 1024 * 1024
MAX_STR = 1024
MAX_CHAIN_ID = 64
MAX_NAME = 64
U32 = 2**32 - 1
U64 = 2**64 - 1
_CHAIN_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")

Obj = object  # a msgpack value as unpacked: int, bytes, str or tuple of such


# -- the strict primitives -------------------------------------------------------------------


def pack(obj: Obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes, what: str) -> Obj:
    """Unpack one msgpack value, rejecting trailing bytes and oversize values."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > MAX_ENCODED:
        raise DecodeError(f"{what}: {len(data)} bytes is over the {MAX_ENCODED}-byte limit")
    try:
        return msgpack.unpackb(
            data,
            use_list=False,
            raw=False,
            strict_map_key=True,
            max_bin_len=MAX_BIN,
            max_str_len=MAX_STR,
            max_array_len=MAX_ARRAY,
            max_map_len=0,
            max_ext_len=0,
        )
    except msgpack.ExtraData:
        raise DecodeError(f"{what}: trailing bytes after the object") from None
    except UnicodeDecodeError:
        raise DecodeError(f"{what}: a text field is not valid UTF-8") from None
    except (ValueError, msgpack.UnpackException) as exc:
        raise DecodeError(f"{what}: {_unpack_problem(exc)}") from None
    except Exception as exc:  # msgpack raises a few odd types on hostile input
        raise DecodeError(f"{what}: malformed msgpack ({type(exc).__name__})") from None


def _unpack_problem(exc: Exception) -> str:
    """Say in words why msgpack refused the bytes (its own messages can be empty)."""
    text = str(exc)
    if "max_map_len" in text:
        return "maps are not allowed"
    if "max_ext_len" in text:
        return "ext types are not allowed"
    if "exceeds max_" in text:
        return f"oversize value ({text})"
    if isinstance(exc, msgpack.StackError):
        return "malformed msgpack (nested too deeply)"
    if isinstance(exc, msgpack.FormatError):
        return "malformed msgpack (reserved type byte)"
    if "incomplete input" in text:
        return "truncated input"
    return f"malformed msgpack ({text or type(exc).__name__})"


def decode_canonical(data: bytes, what: str, build: Callable[[Obj], T]) -> T:
    """Unpack, build the typed value, and insist `data` was the shortest encoding."""
    obj = unpack(data, what)
    value = build(obj)
    if pack(obj) != bytes(data):
        raise DecodeError(f"{what}: not the canonical encoding")
    return value


def expect_array(obj: Obj, length: int, what: str) -> tuple[Obj, ...]:
    if not isinstance(obj, tuple):
        raise DecodeError(f"{what}: expected an array, got {_kind(obj)}")
    if len(obj) != length:
        problem = "missing" if len(obj) < length else "extra"
        raise DecodeError(f"{what}: {problem} fields ({len(obj)} instead of {length})")
    return obj


def expect_list(obj: Obj, what: str, max_len: int = MAX_ARRAY) -> tuple[Obj, ...]:
    if not isinstance(obj, tuple):
        raise DecodeError(f"{what}: expected an array, got {_kind(obj)}")
    if len(obj) > max_len:
        raise DecodeError(f"{what}: {len(obj)} items is over the limit of {max_len}")
    return obj


def expect_items(
    obj: Obj, what: str, item_from: Callable[[Obj, str], T], max_len: int = MAX_ARRAY
) -> tuple[T, ...]:
    """An array of at most `max_len` items, item i decoded by `item_from(item, "what[i]")`."""
    items = expect_list(obj, what, max_len)
    return tuple(item_from(x, f"{what}[{i}]") for i, x in enumerate(items))


def expect_pubkey(obj: Obj, what: str) -> PublicKey:
    """A compressed public key's bytes (PUBKEY_SIZE); whether it is a curve point is not checked."""
    return PublicKey(expect_bytes(obj, what, size=PUBKEY_SIZE))


def expect_uint(obj: Obj, what: str, hi: int = U64, lo: int = 0) -> int:
    if not isinstance(obj, int) or isinstance(obj, bool):
        raise DecodeError(f"{what}: expected an integer, got {_kind(obj)}")
    if not lo <= obj <= hi:
        raise DecodeError(f"{what}: {obj} is outside [{lo}, {hi}]")
    return obj


def expect_bytes(obj: Obj, what: str, size: int | None = None, max_len: int = MAX_BIN) -> bytes:
    if not isinstance(obj, bytes):
        raise DecodeError(f"{what}: expected bytes, got {_kind(obj)}")
    if size is not None and len(obj) != size:
        raise DecodeError(f"{what}: expected {size} bytes, got {len(obj)}")
    if len(obj) > max_len:
        raise DecodeError(f"{what}: {len(obj)} bytes is over the limit of {max_len}")
    return obj


def expect_str(obj: Obj, what: str, max_len: int = MAX_STR) -> str:
    if not isinstance(obj, str):
        raise DecodeError(f"{what}: expected text, got {_kind(obj)}")
    if not 1 <= len(obj) <= max_len:
        raise DecodeError(f"{what}: length must be 1 to {max_len}")
    return obj


def expect_version(obj: Obj, supported: int, what: str) -> int:
    version = expect_uint(obj, f"{what}.version")
    if version != supported:
        raise DecodeError(f"{what}: unsupported version {version} (this node reads {supported})")
    return version


def expect_hash(obj: Obj, what: str) -> Hash32:
    return Hash32(expect_bytes(obj, what, size=32))


def expect_chain_id(obj: Obj, what: str) -> str:
    chain_id = expect_str(obj, what, MAX_CHAIN_ID)
    if not _CHAIN_ID_RE.match(chain_id):
        raise DecodeError(f"{what}: chain id must be lower-case letters, digits, '.', '_', '-'")
    return chain_id


def expect_network(obj: Obj, what: str) -> str:
    network = expect_str(obj, what, 8)
    if network not in NETWORKS:
        raise DecodeError(f"{what}: must be one of {NETWORKS}")
    return network


def _kind(obj: Obj) -> str:
    if isinstance(obj, bool):
        return "a boolean"
    if isinstance(obj, int):
        return "an integer"
    if isinstance(obj, float):
        return "a float"
    if isinstance(obj, bytes):
        return "bytes"
    if isinstance(obj, str):
        return "text"
    if isinstance(obj, tuple):
        return "an array"
    if isinstance(obj, dict):
        return "a map"
    if obj is None:
        return "nil"
    return type(obj).__name__


def hash_items(items: tuple[bytes, ...]) -> Hash32:
    """SHA-256 of an encoded list of byte strings: the header commitment for evidence/actions."""
    return Hash32(sha256(pack(items)))


# -- spend policies ---------------------------------------------------------------------------


def policy_obj(p: SpendPolicy) -> Obj:
    return (POLICY_VERSION, p.threshold, p.pubkeys)


def policy_from(obj: Obj, what: str = "policy") -> SpendPolicy:
    version, threshold, keys = expect_array(obj, 3, what)
    expect_version(version, POLICY_VERSION, what)
    m = expect_uint(threshold, f"{what}.threshold", hi=255)
    pubkeys = expect_items(keys, f"{what}.pubkeys", expect_pubkey, 255)
    try:
        return SpendPolicy(m, pubkeys)
    except CryptoError as exc:
        raise DecodeError(f"{what}: {exc}") from None


def encode_policy(p: SpendPolicy) -> bytes:
    return pack(policy_obj(p))


def decode_policy(data: bytes) -> SpendPolicy:
    return decode_canonical(data, "policy", policy_from)


def policy_lock(p: SpendPolicy) -> Lock:
    """The 32-byte lock an output names: SHA-256 of the canonical policy encoding."""
    return Lock(sha256(encode_policy(p)))


# -- transactions -----------------------------------------------------------------------------


def _outpoint_from(obj: Obj, what: str) -> OutPoint:
    txid, index = expect_array(obj, 2, what)
    return OutPoint(TxId(expect_bytes(txid, f"{what}.txid", size=32)),
                    expect_uint(index, f"{what}.index", hi=U32))


def _coin_from(obj: Obj, what: str) -> TxOut:
    amount, lock = expect_array(obj, 2, what)
    return TxOut(expect_uint(amount, f"{what}.amount", hi=MAX_AMOUNT, lo=1),
                 Lock(expect_bytes(lock, f"{what}.lock", size=32)))


def _txout_from(obj: Obj, what: str) -> TxOut:
    """A coin `[amount, lock]`, or a pledge `[amount, campaign id, refund lock]`."""
    if not (isinstance(obj, tuple) and len(obj) == 3):
        return _coin_from(obj, what)
    coin = _coin_from(obj[:2], what)
    return TxOut(coin.amount, coin.lock, Lock(expect_bytes(obj[2], f"{what}.refund", size=32)))


def expect_indexed_signatures(
    obj: Obj, what: str, index_name: str, max_index: int, max_len: int
) -> tuple[tuple[int, bytes], ...]:
    """(signer index, 64-byte signature) pairs, indexes strictly ascending and <= max_index:
    a witness's signatures (index into its policy's keys) and a commit certificate's (index
    into the validator set)."""
    pairs: list[tuple[int, bytes]] = []
    last = -1
    for j, pair in enumerate(expect_list(obj, what, max_len)):
        index, sig = expect_array(pair, 2, f"{what}[{j}]")
        i = expect_uint(index, f"{what}[{j}].{index_name}", hi=max_index)
        if i <= last:
            raise DecodeError(f"{what}: {index_name} indexes must be strictly ascending")
        last = i
        pairs.append((i, expect_bytes(sig, f"{what}[{j}].sig", size=64)))
    return tuple(pairs)


def _witness_from(obj: Obj, what: str) -> Witness:
    policy, sigs = expect_array(obj, 2, what)
    p = policy_from(policy, f"{what}.policy")
    return Witness(p, expect_indexed_signatures(sigs, f"{what}.signatures", "key",
                                                len(p.pubkeys) - 1, 255))


def _plain_text(text: str, what: str) -> str:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise DecodeError(f"{what}: control characters are not allowed")
    return text


def terms_obj(t: CampaignTerms) -> Obj:
    return (t.beneficiary, t.goal, t.deadline, int(t.mode), t.title, t.uri)


def terms_from(obj: Obj, what: str = "campaign") -> CampaignTerms:
    """A campaign's terms `[beneficiary, goal, deadline, mode, title, uri]` (see
    consensus.campaign): title and URI are text without control characters."""
    beneficiary, goal, deadline, mode, title, uri = expect_array(obj, 6, what)
    return CampaignTerms(
        beneficiary=Lock(expect_bytes(beneficiary, f"{what}.beneficiary", size=32)),
        goal=expect_uint(goal, f"{what}.goal", hi=MAX_AMOUNT, lo=1),
        deadline=expect_uint(deadline, f"{what}.deadline", hi=U64, lo=1),
        mode=CampaignMode(expect_uint(mode, f"{what}.mode", hi=2, lo=1)),
        title=_plain_text(expect_str(title, f"{what}.title", MAX_CAMPAIGN_TITLE),
                          f"{what}.title"),
        uri=_plain_text(expect_str(uri, f"{what}.uri", MAX_CAMPAIGN_URI), f"{what}.uri"),
    )


def txout_obj(o: TxOut) -> Obj:
    return (o.amount, o.lock) if o.refund is None else (o.amount, o.lock, o.refund)


def _tx_core_obj(tx: Tx) -> tuple[Obj, ...]:
    """Every field but the witnesses (what the txid hashes): a version 2 tx adds its terms."""
    core = (
        tx.version,
        tx.chain_id,
        tuple((i.prevout.txid, i.prevout.index) for i in tx.inputs),
        tuple((o.amount, o.lock) if o.refund is None else (o.amount, o.lock, o.refund)
              for o in tx.outputs),
        tx.memo,
    )
    if tx.campaign is None:
        return core
    return (*core, terms_obj(tx.campaign))


def tx_obj(tx: Tx) -> Obj:
    witnesses = tuple((policy_obj(w.policy), w.signatures) for w in tx.witnesses)
    return (*_tx_core_obj(tx), witnesses)


# Spend policies decoded recently, by (threshold, keys): a member's policy comes back in every
# tx they send, and building one checks its keys. A memo of immutable values, not state.
_POLICY_MEMO_SIZE = 16_384
_policy_memo: dict[tuple[int, tuple[bytes, ...]], SpendPolicy] = {}


def _tx_from_fast(obj: Obj) -> Tx | None:
    """`tx_from` for well-formed input, without composing error texts; None: ask `tx_from`.

    It accepts only what `tx_from` accepts (its type checks are the stricter `type(x) is`), and
    builds the same Tx; anything unusual, valid or not, is left to the strict path, which then
    accepts it or raises the precise DecodeError.
    """
    if type(obj) is not tuple or len(obj) != 6:
        return None
    version, chain_id, ins, outs, memo, wits = obj
    if type(version) is not int or version != TX_VERSION:
        return None
    if type(chain_id) is not str or not 1 <= len(chain_id) <= MAX_CHAIN_ID or \
            not _CHAIN_ID_RE.match(chain_id):
        return None
    if type(ins) is not tuple or type(outs) is not tuple or type(wits) is not tuple or \
            len(ins) > MAX_ARRAY or len(outs) > MAX_ARRAY or len(wits) > MAX_ARRAY:
        return None
    if type(memo) is not bytes or len(memo) > MAX_MEMO:
        return None
    inputs = []
    for x in ins:
        if type(x) is not tuple or len(x) != 2:
            return None
        t, i = x
        if type(t) is not bytes or len(t) != 32 or type(i) is not int or not 0 <= i <= U32:
            return None
        inputs.append(TxIn(OutPoint(TxId(t), i)))
    outputs = []
    for x in outs:
        if type(x) is not tuple or len(x) != 2:
            return None
        amount, lock = x
        if type(amount) is not int or not 1 <= amount <= MAX_AMOUNT or type(lock) is not bytes \
                or len(lock) != 32:
            return None
        outputs.append(TxOut(amount, Lock(lock)))
    witnesses = []
    for x in wits:
        if type(x) is not tuple or len(x) != 2:
            return None
        pol, sigs = x
        if type(pol) is not tuple or len(pol) != 3 or type(sigs) is not tuple or len(sigs) > 255:
            return None
        pv, m, keys = pol
        if type(pv) is not int or pv != POLICY_VERSION or type(m) is not int or \
                not 0 <= m <= 255 or type(keys) is not tuple or len(keys) > 255:
            return None
        for k in keys:
            if type(k) is not bytes or len(k) != 33:
                return None
        policy = _policy_memo.get((m, keys))
        if policy is None:
            try:
                policy = SpendPolicy(m, keys)
            except CryptoError:
                return None
            if len(_policy_memo) >= _POLICY_MEMO_SIZE:
                _policy_memo.clear()
            _policy_memo[(m, keys)] = policy
        pairs = []
        last = -1
        for pair in sigs:
            if type(pair) is not tuple or len(pair) != 2:
                return None
            index, sig = pair
            if type(index) is not int or not last < index < len(keys) or \
                    type(sig) is not bytes or len(sig) != 64:
                return None
            last = index
            pairs.append((index, sig))
        witnesses.append(Witness(policy, tuple(pairs)))
    return Tx(version=TX_VERSION, chain_id=chain_id, inputs=tuple(inputs),
              outputs=tuple(outputs), memo=memo, witnesses=tuple(witnesses))


def tx_from(obj: Obj, what: str = "tx") -> Tx:
    fast = _tx_from_fast(obj)
    if fast is not None:
        return fast
    return _tx_from_strict(obj, what)


def _tx_from_strict(obj: Obj, what: str) -> Tx:
    """Version 1 `[1, chain_id, inputs, outputs, memo, witnesses]`, or version 2 (it creates a
    campaign) `[2, chain_id, inputs, outputs, memo, terms, witnesses]`."""
    items = expect_list(obj, what)
    version = expect_uint(items[0], f"{what}.version") if items else TX_VERSION
    if version not in (TX_VERSION, CAMPAIGN_TX_VERSION):
        raise DecodeError(f"{what}: unsupported version {version} (this node reads 1 and 2)")
    terms = None
    if version == CAMPAIGN_TX_VERSION:
        _, chain_id, ins, outs, memo, raw_terms, wits = expect_array(obj, 7, what)
        terms = terms_from(raw_terms, f"{what}.campaign")
    else:
        _, chain_id, ins, outs, memo, wits = expect_array(obj, 6, what)
    return Tx(
        version=version,
        campaign=terms,
        chain_id=expect_chain_id(chain_id, f"{what}.chain_id"),
        inputs=tuple(
            TxIn(_outpoint_from(x, f"{what}.inputs[{i}]"))
            for i, x in enumerate(expect_list(ins, f"{what}.inputs"))
        ),
        outputs=expect_items(outs, f"{what}.outputs", _txout_from),
        memo=expect_bytes(memo, f"{what}.memo", max_len=MAX_MEMO),
        witnesses=expect_items(wits, f"{what}.witnesses", _witness_from),
    )


_TX_MEMO_SIZE = 32_768
_tx_memo: dict[int, tuple[BlockTx, TxId, bytes]] = {}


def _tx_memo_entry(tx: BlockTx) -> tuple[BlockTx, TxId, bytes]:
    """(tx, txid, full encoding), computed once per Tx object while it stays in the memo.

    Why: on its way from mempool to block a tx is hashed and encoded several times (size,
    signature-cache key, Merkle root, signature digest, storage); a Tx is immutable, so the
    answers can't change. A memo, not state: results are identical with or without it.

    Why it is correct keyed by `id(tx)`: each entry holds the tx itself, so while the entry
    lives the object can't be freed and its id can't be given to another object; and a hit
    counts only if `entry[0] is tx`, so an id reused after the memo was cleared is a miss,
    never a wrong answer. Keying by value instead (a dict or WeakKeyDictionary on the Tx)
    would hash the whole tx, which costs about as much as what is memoized. Eviction is all at
    once (clear at `_TX_MEMO_SIZE`), so a hit stays one dict lookup. Threads (the node's
    `to_thread` calls) may race to fill an entry; both compute the same value, and each dict
    operation is atomic.

    Why not on the object: `Tx` is a frozen, slotted dataclass with no spare slot; a cache
    would have to be a dataclass field (seen by `fields` and `asdict`, set by every Tx
    constructor call, memoized or not), a change to a foundation type for no gain in clarity.
    """
    entry = _tx_memo.get(id(tx))
    if entry is None or entry[0] is not tx:
        if type(tx) is CreditTransfer:
            core, witnesses = credit_core_obj(tx), _credit_witness_obj(tx)
        else:
            assert type(tx) is Tx
            core = _tx_core_obj(tx)
            witnesses = tuple((policy_obj(w.policy), w.signatures) for w in tx.witnesses)
        entry = (tx, TxId(sha256(pack(core))), pack((*core, witnesses)))
        if len(_tx_memo) >= _TX_MEMO_SIZE:
            _tx_memo.clear()
        _tx_memo[id(tx)] = entry
    return entry


def encode_tx(tx: BlockTx) -> bytes:
    """The canonical encoding of a coin tx or a credit transfer (witnesses included)."""
    return _tx_memo_entry(tx)[2]


# Txs decoded recently, keyed by their exact encoding. A node decodes the same tx several times:
# on admission, from each peer that relays it, and in every copy of each proposal that carries it
# (a proposal reaches a validator once per relaying peer). Bytes that decoded once decode to the
# same immutable Tx again, so a hit returns it. A memo, not state: results are identical with or
# without it.
_DECODED_TX_SIZE = 16_384
_decoded_txs: dict[bytes, Tx] = {}


def decode_tx(data: bytes) -> Tx:
    return _decode_memoized(data, _decoded_txs, "tx", tx_from)


TxKind = TypeVar("TxKind", Tx, CreditTransfer)


def _decode_memoized(data: bytes, memo: dict[bytes, TxKind], what: str,
                     build: Callable[[Obj], TxKind]) -> TxKind:
    """`decode_canonical`, through `memo` (bytes that decoded once decode to the same value)."""
    if not isinstance(data, bytes):  # bytearray, memoryview or junk: no memo
        return decode_canonical(data, what, build)
    found = memo.get(data)
    if found is None:
        found = decode_canonical(data, what, build)
        _remember_encoding(found, data)
        if len(memo) >= _DECODED_TX_SIZE:
            memo.clear()
        memo[data] = found
    return found


def _remember_encoding(tx: BlockTx, data: bytes) -> None:
    """Fill `_tx_memo` for a tx just decoded from `data`, its canonical encoding, by slicing.

    Why: every tx a node decodes is then hashed (txid) and its encoding needed again; packing
    it twice more cost about a third of admitting a relayed tx (signature check aside). `data`
    is the array `tx_obj` (or `credit_transfer_obj`) packs to (decode_canonical checked the
    re-pack is identical), whose items but the last (the witnesses) are the core, so the txid's
    preimage is the core's array header followed by those items' bytes, and the full encoding
    is `data` itself.
    """
    plain = type(tx) is Tx and tx.campaign is None
    core_len = 5 if plain else 6  # the fields the id covers: a campaign tx's terms, a credit
    # transfer's sender and sequence, make six
    if data[:1] != _ARRAY_HEADERS[core_len + 1]:
        return
    unpacker = msgpack.Unpacker(max_buffer_size=len(data))
    unpacker.feed(data)
    unpacker.read_array_header()
    for _ in range(core_len):
        unpacker.skip()
    entry = (tx, TxId(sha256(_ARRAY_HEADERS[core_len] + data[1:unpacker.tell()])), data)
    if len(_tx_memo) >= _TX_MEMO_SIZE:
        _tx_memo.clear()
    _tx_memo[id(tx)] = entry


_ARRAY_HEADERS = {n: msgpack.Packer().pack_array_header(n) for n in (5, 6, 7)}


def txid(tx: BlockTx) -> TxId:
    """SHA-256 of the tx (or credit transfer) without its witnesses: signatures can't change
    it."""
    return _tx_memo_entry(tx)[1]


def tx_size(tx: BlockTx) -> int:
    """Bytes of the full encoding, witnesses included: what the fee pays for."""
    return len(encode_tx(tx))


# -- credit transfers (docs/CREDIT.md, PROTOCOL.md 4) ----------------------------------------
#
# A credit transfer is an item of Block.txs like a coin tx; its array opens with CREDIT_VERSION
# (16) where a coin tx's opens with its version (1, or 2 for a campaign tx), so neither can be
# read as the other: whatever does not open with 16 is decoded as a coin tx. Its id hashes the
# first six fields (a 6-array opening with 16), a coin txid the first five (a 5-array) or, for
# a campaign tx, six (a 6-array opening with 2), and a block hash a 13-array: no two kinds share
# a preimage.


def credit_core_obj(t: CreditTransfer) -> tuple[Obj, ...]:
    """The fields its id (and so every signature) covers: all but the witness."""
    return (CREDIT_VERSION, t.chain_id, t.sender, t.sequence,
            tuple((p.amount, p.lock) for p in t.payments), t.memo)


def _credit_witness_obj(t: CreditTransfer) -> Obj:
    w = t.witness
    return () if w is None else ((policy_obj(w.policy), w.signatures),)


def credit_transfer_obj(t: CreditTransfer) -> Obj:
    return (*credit_core_obj(t), _credit_witness_obj(t))


def _payment_from(obj: Obj, what: str) -> CreditPayment:
    amount, lock = expect_array(obj, 2, what)
    return CreditPayment(expect_uint(amount, f"{what}.amount", hi=MAX_CREDIT, lo=1),
                         Lock(expect_bytes(lock, f"{what}.lock", size=32)))


def credit_transfer_from(obj: Obj, what: str = "credit_transfer") -> CreditTransfer:
    version, chain_id, sender, sequence, payments, memo, wits = expect_array(obj, 7, what)
    expect_version(version, CREDIT_VERSION, what)
    witnesses = expect_items(wits, f"{what}.witness", _witness_from, 1)
    return CreditTransfer(
        chain_id=expect_chain_id(chain_id, f"{what}.chain_id"),
        sender=Lock(expect_bytes(sender, f"{what}.sender", size=32)),
        sequence=expect_uint(sequence, f"{what}.sequence"),
        payments=expect_items(payments, f"{what}.payments", _payment_from, MAX_CREDIT_PAYMENTS),
        memo=expect_bytes(memo, f"{what}.memo", max_len=MAX_MEMO),
        witness=witnesses[0] if witnesses else None,
    )


def encode_credit_transfer(t: CreditTransfer) -> bytes:
    return encode_tx(t)


_decoded_credit: dict[bytes, CreditTransfer] = {}  # like `_decoded_txs`, for credit transfers


def decode_credit_transfer(data: bytes) -> CreditTransfer:
    return _decode_memoized(data, _decoded_credit, "credit_transfer", credit_transfer_from)


def block_tx_obj(t: BlockTx) -> Obj:
    return credit_transfer_obj(t) if isinstance(t, CreditTransfer) else tx_obj(t)


def block_tx_from(obj: Obj, what: str = "tx") -> BlockTx:
    """An item of Block.txs: a credit transfer if it opens with CREDIT_VERSION, else a coin tx."""
    if isinstance(obj, tuple) and obj and type(obj[0]) is int and obj[0] == CREDIT_VERSION:
        return credit_transfer_from(obj, what)
    return tx_from(obj, what)


def decode_block_tx(data: bytes) -> BlockTx:
    """A coin tx or a credit transfer, told apart by the number that opens it (the byte after
    a canonical array header: 10 for a credit transfer, a coin tx's version otherwise)."""
    if not isinstance(data, bytes):
        return decode_canonical(data, "tx", block_tx_from)
    if data[1:2] == b"\x10":
        return decode_credit_transfer(data)
    return decode_tx(data)


# -- blocks -----------------------------------------------------------------------------------


def header_obj(h: BlockHeader) -> Obj:
    return (
        h.version, h.chain_id, h.height, h.prev_hash, h.time_ms, h.tx_root, h.validators_hash,
        h.next_validators_hash, h.params_hash, h.last_commit_hash, h.evidence_hash,
        h.actions_hash, h.proposer,
    )


def header_from(obj: Obj, what: str = "header") -> BlockHeader:
    f = expect_array(obj, 13, what)
    expect_version(f[0], BLOCK_VERSION, what)
    return BlockHeader(
        version=BLOCK_VERSION,
        chain_id=expect_chain_id(f[1], f"{what}.chain_id"),
        height=expect_uint(f[2], f"{what}.height"),
        prev_hash=BlockHash(expect_hash(f[3], f"{what}.prev_hash")),
        time_ms=expect_uint(f[4], f"{what}.time_ms"),
        tx_root=expect_hash(f[5], f"{what}.tx_root"),
        validators_hash=expect_hash(f[6], f"{what}.validators_hash"),
        next_validators_hash=expect_hash(f[7], f"{what}.next_validators_hash"),
        params_hash=expect_hash(f[8], f"{what}.params_hash"),
        last_commit_hash=expect_hash(f[9], f"{what}.last_commit_hash"),
        evidence_hash=expect_hash(f[10], f"{what}.evidence_hash"),
        actions_hash=expect_hash(f[11], f"{what}.actions_hash"),
        proposer=expect_pubkey(f[12], f"{what}.proposer"),
    )


def encode_header(h: BlockHeader) -> bytes:
    return pack(header_obj(h))


def decode_header(data: bytes) -> BlockHeader:
    return decode_canonical(data, "header", header_from)


def block_hash(h: BlockHeader) -> BlockHash:
    return BlockHash(sha256(encode_header(h)))


def block_obj(b: Block) -> Obj:
    return (header_obj(b.header), tuple(block_tx_obj(t) for t in b.txs), b.last_commit,
            b.evidence, b.actions)


def block_from(obj: Obj, what: str = "block") -> Block:
    header, txs, last_commit, evidence, actions = expect_array(obj, 5, what)
    return Block(
        header=header_from(header, f"{what}.header"),
        txs=expect_items(txs, f"{what}.txs", block_tx_from),
        last_commit=expect_bytes(last_commit, f"{what}.last_commit"),
        evidence=expect_items(evidence, f"{what}.evidence", expect_bytes),
        actions=expect_items(actions, f"{what}.actions", expect_bytes),
    )


def encode_block(b: Block) -> bytes:
    """pack(block_obj(b)), spliced from the txs' own (memoized) encodings.

    A msgpack array is its header followed by its elements' encodings, so this is byte-for-byte
    the same as packing the nested object, without rebuilding every tx's tuples.
    """
    packer = msgpack.Packer(use_bin_type=True)
    return b"".join((
        packer.pack_array_header(5),
        encode_header(b.header),
        packer.pack_array_header(len(b.txs)),
        *[encode_tx(t) for t in b.txs],
        pack(b.last_commit),
        pack(b.evidence),
        pack(b.actions),
    ))


def decode_block(data: bytes) -> Block:
    block = _decode_block_spliced(data)
    if block is not None:
        return block
    return decode_canonical(data, "block", block_from)


def decode_block_header(data: bytes) -> BlockHeader:
    """The header of an encoded block, without decoding its txs.

    Why: a node checks a proposal's header (height, hash) before it pays for the body, which
    can hold hundreds of thousands of txs. Only the header is checked strictly here; the caller
    still decodes the whole block with `decode_block` before using it.
    """
    if not isinstance(data, bytes) or len(data) > MAX_ENCODED:
        raise DecodeError("block: not bytes, or over the size limit")
    unpacker = msgpack.Unpacker(
        use_list=False, raw=False, strict_map_key=True, max_buffer_size=max(1, len(data)),
        max_bin_len=MAX_BIN, max_str_len=MAX_STR, max_array_len=MAX_ARRAY, max_map_len=0,
        max_ext_len=0,
    )
    unpacker.feed(data)
    try:
        if unpacker.read_array_header() != 5 or unpacker.tell() != 1:
            raise DecodeError("block: not a 5-element array")
        start = unpacker.tell()
        unpacker.skip()
        end = unpacker.tell()
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"block: {type(exc).__name__}") from None
    return decode_header(data[start:end])


def _decode_block_spliced(data: bytes) -> Block | None:
    """The block, decoded piece by piece so each tx goes through `decode_tx` (and its memo).

    The inverse of `encode_block`'s splice: a canonical block is a 5-array header, the header's
    encoding, a tx-array header, each item's canonical encoding (a coin tx or a credit
    transfer, `decode_block_tx`), then three canonical values. Each
    piece is decoded by its own strict decoder, and the array headers must be the shortest, so
    what this accepts is exactly what `decode_canonical(data, "block", block_from)` accepts, with
    the same result. On anything else it returns None and the strict path decides (and says why).
    """
    if not isinstance(data, bytes) or len(data) > MAX_ENCODED:
        return None
    try:
        unpacker = msgpack.Unpacker(
            use_list=False, raw=False, strict_map_key=True, max_buffer_size=max(1, len(data)),
            max_bin_len=MAX_BIN, max_str_len=MAX_STR, max_array_len=MAX_ARRAY, max_map_len=0,
            max_ext_len=0,
        )
        unpacker.feed(data)

        def piece() -> bytes:
            start = unpacker.tell()
            unpacker.skip()
            return data[start:unpacker.tell()]

        if unpacker.read_array_header() != 5 or unpacker.tell() != 1:
            return None
        header = decode_header(piece())
        at = unpacker.tell()
        count = unpacker.read_array_header()
        if data[at:unpacker.tell()] != msgpack.Packer().pack_array_header(count):
            return None
        txs = tuple(decode_block_tx(piece()) for _ in range(count))
        tail = [piece() for _ in range(3)]
        if unpacker.tell() != len(data):
            return None
        values = [unpack(raw, "block") for raw in tail]
        if any(pack(v) != raw for v, raw in zip(values, tail, strict=True)):
            return None
        last_commit, evidence, actions = values
        return Block(
            header=header,
            txs=txs,
            last_commit=expect_bytes(last_commit, "block.last_commit"),
            evidence=tuple(expect_bytes(e, "block.evidence")
                           for e in expect_list(evidence, "block.evidence")),
            actions=tuple(expect_bytes(a, "block.actions")
                          for a in expect_list(actions, "block.actions")),
        )
    except Exception:  # any refusal: the strict path raises the precise DecodeError
        return None


# -- parameters, validators and genesis -------------------------------------------------------

PARAMS_VERSION = 1  # the 13 parameters the chain started with
PARAMS_VERSION_CREDIT = 2  # and the three mutual-credit parameters after them (issue 15)
_V1_COUNT = 13
# What a version 1 encoding means for the parameters it lacks. Part of the encoding: these
# values never change, whatever ChainParams' defaults become.
_V1_IMPLIED = (1, 16, 64)  # credit_sender_min_balance, credit_block_cap, credit_pool_cap


def params_obj(p: ChainParams) -> Obj:
    """Version 1 while the credit parameters are the values it implies, so every chain made
    before them (its genesis, headers and states) keeps its bytes and hashes; else version 2."""
    values = p.as_tuple()
    if values[_V1_COUNT:] == _V1_IMPLIED:
        return (PARAMS_VERSION, *values[:_V1_COUNT])
    return (PARAMS_VERSION_CREDIT, *values)


def params_from(obj: Obj, what: str = "params") -> ChainParams:
    if not isinstance(obj, tuple):
        raise DecodeError(f"{what}: expected an array, got {_kind(obj)}")
    version = expect_uint(obj[0] if obj else None, f"{what}.version")
    if version == PARAMS_VERSION:
        items = expect_array(obj, 1 + _V1_COUNT, what)[1:] + _V1_IMPLIED
    elif version == PARAMS_VERSION_CREDIT:
        items = expect_array(obj, 1 + len(PARAM_NAMES), what)[1:]
        if items[_V1_COUNT:] == _V1_IMPLIED:
            raise DecodeError(f"{what}: not the canonical encoding (version 2 with the credit "
                              "parameters version 1 implies)")
    else:
        raise DecodeError(f"{what}: unsupported version {version} (this node reads "
                          f"{PARAMS_VERSION} and {PARAMS_VERSION_CREDIT})")
    values = {n: expect_uint(v, f"{what}.{n}") for n, v in zip(PARAM_NAMES, items, strict=True)}
    try:
        return ChainParams(**values)
    except ParamsError as exc:
        raise DecodeError(f"{what}: {exc}") from None


def encode_params(p: ChainParams) -> bytes:
    return pack(params_obj(p))


def decode_params(data: bytes) -> ChainParams:
    return decode_canonical(data, "params", params_from)


def params_hash(p: ChainParams) -> Hash32:
    return Hash32(sha256(encode_params(p)))


def validator_obj(v: Validator) -> Obj:
    return (v.name, v.pubkey)


def validator_from(obj: Obj, what: str = "validator") -> Validator:
    name, pubkey = expect_array(obj, 2, what)
    return Validator(expect_str(name, f"{what}.name", MAX_NAME),
                     expect_pubkey(pubkey, f"{what}.pubkey"))


def validators_obj(vs: tuple[Validator, ...]) -> Obj:
    return tuple(validator_obj(v) for v in vs)


def validators_hash(vs: tuple[Validator, ...]) -> Hash32:
    """The commitment a header makes to a validator set (in its canonical, sorted order)."""
    return Hash32(sha256(pack(validators_obj(vs))))


def genesis_obj(g: Genesis) -> Obj:
    return (
        g.version, g.chain_id, g.network, g.time_ms,
        tuple(txout_obj(o) for o in g.allocations),
        validators_obj(g.validators), g.governors, g.governor_threshold,
        params_obj(g.params), g.treasury_lock,
    )


def genesis_from(obj: Obj, what: str = "genesis") -> Genesis:
    f = expect_array(obj, 10, what)
    expect_version(f[0], GENESIS_VERSION, what)
    network = expect_network(f[2], f"{what}.network")
    governors = expect_items(f[6], f"{what}.governors", expect_pubkey, 255)
    allocations = expect_items(f[4], f"{what}.allocations", _coin_from)
    if sum(o.amount for o in allocations) > MAX_AMOUNT:
        # The supply never grows, so this bounds every sum the ledger makes (fees included).
        raise DecodeError(f"{what}.allocations: total supply is over {MAX_AMOUNT}")
    return Genesis(
        version=GENESIS_VERSION,
        chain_id=expect_chain_id(f[1], f"{what}.chain_id"),
        network=network,
        time_ms=expect_uint(f[3], f"{what}.time_ms"),
        allocations=allocations,
        validators=expect_items(f[5], f"{what}.validators", validator_from, 1000),
        governors=governors,
        governor_threshold=expect_uint(f[7], f"{what}.governor_threshold",
                                       hi=max(1, len(governors)), lo=1),
        params=params_from(f[8], f"{what}.params"),
        treasury_lock=Lock(expect_bytes(f[9], f"{what}.treasury_lock", size=32)),
    )


def encode_genesis(g: Genesis) -> bytes:
    return pack(genesis_obj(g))


def decode_genesis(data: bytes) -> Genesis:
    return decode_canonical(data, "genesis", genesis_from)


def genesis_hash(g: Genesis) -> BlockHash:
    return BlockHash(sha256(encode_genesis(g)))
