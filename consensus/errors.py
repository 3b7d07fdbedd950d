"""The error hierarchy users catch.

Every failure caused by bad input in `consensus` raises a subclass of `FaircoopError`, never a
bare `KeyError`, `IndexError` or `TypeError`. Ledger rule failures carry the name of the rule
(`error.rule`) so an API can say exactly which rule a transaction broke.
"""

from __future__ import annotations


class FaircoopError(Exception):
    """Root of every error faircoop raises on purpose."""


class DecodeError(FaircoopError):
    """Bytes that are not the one canonical encoding of a valid object."""


class AddressError(FaircoopError):
    """A malformed address, a bad checksum, or an address of another network."""


class CryptoError(FaircoopError):
    """A malformed key or signature encoding (not a failed verification: that returns False)."""


class ParamsError(FaircoopError):
    """A chain parameter outside its documented range."""


class MerkleError(FaircoopError):
    """A Merkle proof asked for a leaf the tree does not have."""


class ValidationError(FaircoopError):
    """An object that decodes but breaks a ledger or consensus rule.

    `rule` names the rule, a stable snake_case identifier documented in docs/PROTOCOL.md.
    """

    def __init__(self, rule: str, detail: str = "") -> None:
        self._rule = rule
        self._detail = detail
        super().__init__(f"{rule}: {detail}" if detail else rule)

    @property
    def rule(self) -> str:
        return self._rule

    @property
    def detail(self) -> str:
        return self._detail


class InvalidSignature(ValidationError):
    """A missing, malformed, duplicate or failing signature."""


class DoubleSpend(ValidationError):
    """An input that is spent twice, in one tx, in one block, or already spent."""


class InsufficientFee(ValidationError):
    """A fee below `size * min_fee_rate`."""


class WrongChain(ValidationError):
    """An object made for another chain id."""
