"""`faircoop:` payment URIs: what a shop shows (as text or a QR code) and a payer's wallet pays.

    faircoop:tfair1q...?amount=2.5&memo=order%201042&expires=1767225600&network=test&chain=coop-net

The grammar (ABNF, RFC 5234; docs/WALLET.md gives it with the rules a reader applies):

    faircoop-uri = scheme ":" address [ "?" param *( "&" param ) ]
    scheme       = "faircoop"                       ; any case
    address      = 1*( ALPHA / DIGIT )              ; bech32m, all lower or all upper case
    param        = key "=" value
    key          = 1*( ALPHA / DIGIT / "-" / "_" / "." )
    value        = *( unreserved / pct-encoded / "!" / "$" / "'" / "(" / ")" / "*" / "+"
                      / "," / ";" / ":" / "@" / "/" / "?" )

Known keys, each at most once: `amount` (coins, `1*DIGIT ["." 1*8DIGIT]`, > 0), `memo`
(percent-encoded UTF-8, at most 80 bytes once decoded), `expires` (Unix seconds), `network`
(`main` or `test`, and the address's own), `chain` (a chain id). As in BIP 21, an unknown key
starting with `req-` is required and so refused; any other unknown key is ignored. A key twice,
a malformed value, a fragment or a stray character is refused (`BadUri`). A percent escape
must be two hex digits and decode to UTF-8; `+` is a plus sign, never a space.

Parsing says what a URI says; whether it may be paid (network, chain, expiry) is the payer's
check (`check_payable`).
"""

from __future__ import annotations

import re
import string
import time
from dataclasses import dataclass

from consensus.address import decode_address, encode_address
from consensus.types import MAX_AMOUNT, MAX_MEMO, NETWORKS
from wallet.amounts import parse_coins
from wallet.errors import AmountError, BadUri, ChainMismatch, RequestExpired

SCHEME = "faircoop"
MAX_URI = 2048  # characters: far above any URI this grammar allows with an 80-byte memo
MAX_EXPIRES = 10**12  # Unix seconds (year 33658): a bound, not a calendar
KNOWN = ("amount", "memo", "expires", "network", "chain")
_KEY = re.compile(r"[A-Za-z0-9._-]+\Z")
_RAW = frozenset(string.ascii_letters + string.digits + "-._~!$'()*+,;:@/?")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_HEX = frozenset(string.hexdigits)
_CHAIN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
_PREFIXES = {"fair1": "main", "tfair1": "test"}


@dataclass(frozen=True, slots=True)
class PaymentUri:
    """What a payment URI asks for."""

    address: str  # lower case, as `encode_address` writes it
    amount: int | None = None  # base units; None: the payer chooses
    memo: str = ""
    expires: int | None = None  # Unix seconds; None: never
    network: str | None = None  # None: not stated (the address's prefix still says it)
    chain_id: str | None = None

    @property
    def address_network(self) -> str:
        """The network the address is written for (its prefix)."""
        return network_of(self.address)

    def expired(self, now_s: float | None = None) -> bool:
        return self.expires is not None and (time.time() if now_s is None else now_s) >= \
            self.expires


def network_of(address: str) -> str:
    lower = address.lower()
    for prefix, network in _PREFIXES.items():
        if lower.startswith(prefix):
            return network
    raise BadUri(f"{address[:20]!r} is not a faircoop address (fair1... or tfair1...)")


def is_uri(text: str) -> bool:
    """Whether `text` is meant as a payment URI (it names the scheme)."""
    return text.strip()[:len(SCHEME) + 1].lower() == SCHEME + ":"


def decode_component(text: str, what: str) -> str:
    """A percent-encoded value: every escape two hex digits, the bytes UTF-8."""
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            pair = text[i + 1:i + 3]
            if len(pair) != 2 or not _HEX.issuperset(pair):
                raise BadUri(f"{what}: '%' must be followed by two hex digits")
            raw.append(int(pair, 16))
            i += 3
            continue
        if ch not in _RAW:
            raise BadUri(f"{what}: {ch!r} must be percent-encoded")
        raw.append(ord(ch))
        i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadUri(f"{what}: the decoded bytes are not UTF-8") from None


def encode_component(text: str) -> str:
    """Percent-encode everything but the unreserved characters (RFC 3986)."""
    return "".join(ch if ch in _UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode())
                   for ch in text)


def format_amount(units: int) -> str:
    """150000000 -> '1.5': coins with no trailing zeros (what people type)."""
    whole, frac = divmod(units, 10**8)
    return f"{whole}.{frac:08d}".rstrip("0").rstrip(".")


def parse_uri(text: str) -> PaymentUri:
    """The payment URI `text` says; BadUri (or AddressError, AmountError) if it breaks the
    grammar."""
    if not isinstance(text, str) or len(text) > MAX_URI:
        raise BadUri(f"a payment URI is text of at most {MAX_URI} characters")
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() != SCHEME:
        raise BadUri(f"a payment URI starts with {SCHEME}:")
    if "#" in rest:
        raise BadUri("a payment URI has no fragment ('#')")
    address, question, query = rest.partition("?")
    if address.startswith("//"):
        raise BadUri(f"write {SCHEME}:ADDRESS, without '//'")
    lock = decode_address(address, network_of(address))  # AddressError: a typo
    uri_address = encode_address(lock, network_of(address))
    fields = _params(query) if question else {}
    network = fields.get("network")
    if network is not None:
        if network not in NETWORKS:
            raise BadUri(f"network={network!r}: main or test")
        if network != network_of(address):
            raise BadUri(f"network={network} but the address is for the "
                         f"{network_of(address)} network")
    chain_id = fields.get("chain")
    if chain_id is not None and not _CHAIN.match(chain_id):
        raise BadUri(f"chain={chain_id[:70]!r} is not a chain id")
    memo = fields.get("memo", "")
    if len(memo.encode("utf-8")) > MAX_MEMO:
        raise BadUri(f"memo is over {MAX_MEMO} bytes")
    return PaymentUri(uri_address, _amount(fields.get("amount")), memo,
                      _expires(fields.get("expires")), network, chain_id)


def _params(query: str) -> dict[str, str]:
    found: dict[str, str] = {}
    seen: set[str] = set()
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not eq or not _KEY.match(key):
            raise BadUri(f"{part[:40]!r} is not KEY=VALUE")
        if key in seen:
            raise BadUri(f"{key} is given twice")
        seen.add(key)
        decoded = decode_component(value, key)
        if key in KNOWN:
            if not decoded and key != "memo":
                raise BadUri(f"{key} is empty")
            found[key] = decoded
        elif key.startswith("req-"):
            raise BadUri(f"{key} is a requirement this wallet does not know: refusing to pay")
    return found


def _amount(text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,8})?", text):
        raise BadUri(f"amount={text[:30]!r}: coins as digits with at most 8 decimals")
    try:
        return parse_coins(text)
    except AmountError as exc:
        raise BadUri(f"amount={text[:30]}: {exc}") from None


def _expires(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_EXPIRES:
        raise BadUri(f"expires={text[:30]!r}: Unix seconds, digits only")
    return int(text)


def format_uri(uri: PaymentUri) -> str:
    """The canonical text of `uri`: lower-case address, parameters in grammar order."""
    params = []
    if uri.amount is not None:
        if not 1 <= uri.amount <= MAX_AMOUNT:
            raise BadUri("an amount is 1 to MAX_AMOUNT base units")
        params.append(f"amount={format_amount(uri.amount)}")
    if uri.memo:
        params.append(f"memo={encode_component(uri.memo)}")
    if uri.expires is not None:
        params.append(f"expires={uri.expires}")
    if uri.network is not None:
        params.append(f"network={uri.network}")
    if uri.chain_id is not None:
        params.append(f"chain={encode_component(uri.chain_id)}")
    text = f"{SCHEME}:{uri.address}" + ("?" + "&".join(params) if params else "")
    return text


def check_payable(uri: PaymentUri, *, network: str, chain_id: str,
                  now_s: float | None = None) -> None:
    """ChainMismatch for another network or chain, RequestExpired past its expiry."""
    if uri.address_network != network:
        raise ChainMismatch(f"the payment URI is for the {uri.address_network} network; this "
                            f"wallet is on {network}")
    if uri.chain_id is not None and uri.chain_id != chain_id:
        raise ChainMismatch(f"the payment URI is for chain {uri.chain_id!r}; this wallet is on "
                            f"{chain_id!r}")
    if uri.expired(now_s):
        assert uri.expires is not None
        raise RequestExpired(f"the payment request expired at {_when(uri.expires)}: ask the "
                             "payee for a new one")


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
