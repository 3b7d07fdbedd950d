"""Dynamic chain parameters and the documented range of each.

Governance may set any parameter to a value inside its range (an action outside it is invalid),
so no signed action can, say, set the fee rate so high that nothing can ever be spent again.
The field order below is the encoding order: append new fields, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from consensus.errors import ParamsError


@dataclass(frozen=True, slots=True)
class ChainParams:
    min_fee_rate: int = 1  # base units per byte of encoded tx (witnesses included)
    dust_limit: int = 1_000  # smallest output amount, in base units
    max_tx_size: int = 100_000  # bytes of one encoded tx
    max_block_txs: int = 10_000
    max_block_size: int = 8_000_000  # bytes of one encoded block
    block_interval_ms: int = 200  # least time between blocks while the mempool has txs
    heartbeat_ms: int = 5_000  # propose an empty block after this long with an empty mempool
    timeout_propose_ms: int = 1_000  # round 0; grows by timeout_delta_ms each round
    timeout_vote_ms: int = 500  # prevote and precommit step timeouts, round 0
    timeout_delta_ms: int = 250
    quarantine_after: int = 3  # k: missed proposals in a row before leaving the rotation
    recovery_after_ms: int = 3_600_000  # no block for this long lets governors recover
    max_clock_drift_ms: int = 10_000  # how far a header's time may be from its parent's
    # Mutual credit needs no coins, so these bound its spam instead of a fee (docs/CREDIT.md):
    credit_sender_min_balance: int = 1  # an account with no limit sends only from this balance
    credit_block_cap: int = 16  # credit transfers one account may send in one block
    credit_pool_cap: int = 64  # credit transfers of one account a node's mempool holds

    def __post_init__(self) -> None:
        for f in fields(self):
            check_param(f.name, getattr(self, f.name))

    def with_value(self, name: str, value: int) -> ChainParams:
        """A copy with one parameter changed; ParamsError if unknown or out of range."""
        check_param(name, value)
        return replace(self, **{name: value})

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


# name -> (least, greatest), inclusive. The reason for each bound is in docs/PROTOCOL.md.
PARAM_RANGES: dict[str, tuple[int, int]] = {
    "min_fee_rate": (0, 1_000_000),
    "dust_limit": (1, 100_000_000),
    "max_tx_size": (4_000, 1_000_000),
    "max_block_txs": (1, 100_000),
    "max_block_size": (100_000, 32_000_000),
    "block_interval_ms": (0, 60_000),
    "heartbeat_ms": (100, 3_600_000),
    "timeout_propose_ms": (50, 600_000),
    "timeout_vote_ms": (20, 600_000),
    "timeout_delta_ms": (0, 600_000),
    "quarantine_after": (1, 10_000),
    "recovery_after_ms": (10_000, 30 * 86_400_000),
    "max_clock_drift_ms": (100, 3_600_000),
    "credit_sender_min_balance": (1, 100_000_000),
    "credit_block_cap": (1, 10_000),
    "credit_pool_cap": (1, 10_000),
}

PARAM_NAMES: tuple[str, ...] = tuple(PARAM_RANGES)


def check_param(name: str, value: object) -> int:
    """The value, if `name` is a parameter and `value` an int inside its range."""
    bounds = PARAM_RANGES.get(name) if isinstance(name, str) else None
    if bounds is None:
        raise ParamsError(f"unknown parameter {name!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParamsError(f"{name} must be an integer")
    lo, hi = bounds
    if not lo <= value <= hi:
        raise ParamsError(f"{name}={value} is outside its range [{lo}, {hi}]")
    return value
