"""The wallet's errors: each failure a user can meet has its own class and exit code.

All derive from `consensus.errors.FaircoopError`, so a caller embedding the library catches one
root. Messages never contain secrets (passwords, mnemonics, private keys): they name files,
amounts, addresses and rules only.
"""

from __future__ import annotations

from consensus.errors import FaircoopError


class WalletError(FaircoopError):
    """Root of every error the wallet raises on purpose."""


class WrongPassword(WalletError):
    """The password does not open the key store (its key-check value does not match)."""

    def __init__(self, path: str = "") -> None:
        where = f" for {path}" if path else ""
        super().__init__(f"wrong password{where}")


class TamperedKeystore(WalletError):
    """The key-store file is corrupt or was modified: its checksum or AEAD tag fails."""


class KeystoreFormatError(WalletError):
    """A file that is not a key store this version reads (bad magic, version or parameters)."""


class KeyDerivationError(WalletError):
    """A bad mnemonic, extended key, derivation path or index."""


class WatchOnly(WalletError):
    """A signing operation on a wallet that holds no private keys."""


class WalletFileError(WalletError):
    """A wallet data file that is missing, unreadable or malformed."""


class WalletBusy(WalletError):
    """Another process holds the wallet's lock for longer than we wait."""


class WalletLocked(WalletError):
    """A signing call on a wallet opened without its password (see `Wallet.unlock`)."""


class StalePayment(WalletError):
    """A prepared payment the wallet can no longer send as it is: since it was prepared,
    another payment spent one of its coins or took its change address. Prepare it again."""


class AmountError(WalletError):
    """An amount that is not a positive decimal of at most 8 places."""


class InsufficientFunds(WalletError):
    """The spendable coins do not cover the payments plus the fee."""

    def __init__(self, needed: int, available: int, held: int = 0) -> None:
        self._needed = needed
        self._available = available
        note = (f"; {held} more are spent by this wallet's transactions that are not final "
                "yet (their change returns once they are: wait, e.g. with `send --wait`)"
                if held else "")
        super().__init__(
            f"insufficient funds: need {needed} base units (payments + fee), "
            f"have {available}, short by {needed - available}{note}"
        )

    @property
    def needed(self) -> int:
        return self._needed

    @property
    def available(self) -> int:
        return self._available

    @property
    def shortfall(self) -> int:
        return self._needed - self._available


class MemoError(WalletError):
    """A memo longer than a transaction carries (80 bytes of UTF-8)."""


class DustOutput(WalletError):
    """A payment below the chain's dust limit."""


class FeeRateError(WalletError):
    """A fee rate below the chain's minimum: the node would refuse the tx, so it is not built."""


class NodeUnreachable(WalletError):
    """No answer from the node after every retry."""

    def __init__(self, url: str, detail: str, attempts: int) -> None:
        self._url = url
        super().__init__(
            f"node unreachable at {url} after {attempts} attempt(s): {detail}. "
            "Is the node running? Set --node URL or FAIRCOOP_NODE."
        )

    @property
    def url(self) -> str:
        return self._url


class BadNodeUrl(WalletError):
    """A node URL that is not http(s)://host[:port][/path] (from --node or FAIRCOOP_NODE)."""


class NodeError(WalletError):
    """The node answered with an error (4xx, or a malformed answer)."""

    def __init__(self, status: int, message: str, rule: str = "") -> None:
        self._status = status
        self._message = message
        self._rule = rule
        suffix = f" (rule {rule})" if rule else ""
        super().__init__(f"node error {status}: {message}{suffix}")

    @property
    def status(self) -> int:
        return self._status

    @property
    def message(self) -> str:
        return self._message

    @property
    def rule(self) -> str:
        return self._rule


class AnswerTooLarge(NodeError):
    """The node's answer is larger than the client reads for that request (`limit` bytes)."""

    def __init__(self, path: str, limit: int) -> None:
        self._limit = limit
        super().__init__(200, f"{path}: the answer is larger than {limit} bytes, the most "
                              "this wallet reads for it")

    @property
    def limit(self) -> int:
        return self._limit


class NotFound(NodeError):
    """The node does not know the object (404)."""


class TxRejected(NodeError):
    """The node refused a transaction; `rule` names the ledger rule it broke."""


class PartialTxError(WalletError):
    """A partial-transaction file that is malformed, inconsistent, or incomplete."""


class PartialTxChanged(PartialTxError):
    """A signature in a partial tx no longer matches its transaction: it was changed."""


class UnexpectedInput(PartialTxError):
    """A partial tx spends coins the signer did not agree to sign for: the wallet's own
    personal coins in a treasury proposal, another policy's coins, or one coin twice."""


class ClaimedInputMismatch(PartialTxError):
    """A partial tx claims an amount or lock for a spent output that its parent transaction
    (checked against its txid) contradicts, or spends an output no parent has."""


class ActionRejected(NodeError):
    """The node refused a governance action (`POST actions`); `rule` names the rule it broke
    (`replayed_action`, `below_threshold`, `not_a_governor`, `wrong_chain`, ...)."""

    def __init__(self, status: int, message: str, rule: str = "") -> None:
        super().__init__(status, message, rule)
        suffix = f" (rule {rule})" if rule else ""
        self.args = (f"the node refused the action (HTTP {status}): {message}{suffix}",)


class BadAction(WalletError):
    """A governance action that can't be proposed as asked: an invalid key, an unknown
    parameter or a value outside its range, a threshold the governors can't meet."""


class BadReference(BadAction):
    """An assembly reference outside the consensus bounds (URI and text: 1 to 200
    characters each), or holding control characters."""


class ProposalError(WalletError):
    """A governance proposal file that is malformed, inconsistent, or not for this use."""


class ProposalChanged(ProposalError):
    """A signature in a proposal no longer matches its action: the action (or its reference)
    was changed after that governor signed, or the signature is forged."""


class NotAGovernor(ProposalError):
    """A signature (or a would-be signer) whose key is not among the chain's current
    governors: the node would refuse the action."""


class ProposalIncomplete(ProposalError):
    """A proposal with fewer governor signatures than the threshold asks for."""


class NotFollowedYet(WalletError):
    """The wallet has not followed the chain to the height asked about: sync it first."""


class ReceiptInvalid(WalletError):
    """A finality receipt (or a followed header) that fails verification; says why."""


class ChainMismatch(WalletError):
    """The node serves another chain (chain id or genesis) than the wallet's."""


class BadCampaign(WalletError):
    """Campaign terms or a campaign id the chain would refuse: out of bounds, a deadline not in
    the future, a malformed id."""


class CampaignError(WalletError):
    """A campaign whose state forbids what was asked: pledging after it closed, claiming or
    refunding before it is decided, claiming a campaign this wallet is not the beneficiary of,
    or nothing to claim or refund."""


class SharesError(WalletError):
    """A shares file that can't be split: malformed rows, an address twice, no shares, or a
    total too small to pay anyone above the dust limit."""


class CreditLimitExceeded(WalletError):
    """A credit transfer over what its sender may send: its balance plus its limit, less what
    its transfers waiting in the node's mempool take (refused by the wallet before anything is
    signed, or by the node: rule `credit_limit_exceeded`)."""

    rule = "credit_limit_exceeded"


class BadUri(WalletError):
    """A `faircoop:` payment URI that does not follow the grammar (docs/WALLET.md)."""


class RequestExpired(WalletError):
    """A payment request (or its URI) whose expiry has passed: paying it now is refused."""


class NoRate(WalletError):
    """An amount in a currency the assembly has set no rate for (or withdrew), or at a height
    the followed chain no longer keeps."""


class BookError(WalletError):
    """A contact or label the wallet refuses: a bad name or text, an unknown name, a full
    book, or an address that is not the wallet's own."""


class BadMessageSignature(WalletError):
    """A signed message that does not verify for the address it names."""


class MessageError(WalletError):
    """A message the wallet won't sign: too long, or for an address it holds no key of."""
