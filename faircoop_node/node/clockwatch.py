"""Telling the operator that our wall clock and the chain's disagree by more than the drift bound.

A validator whose clock is off by more than `max_clock_drift_ms` loses its say with nothing
else wrong: a slow clock makes it refuse every proposal (`time_in_future`), a fast one gets its
proposals refused by the others. Its operator needs its own log to say why, so the driver
reports two signs here (`clock_skew`), at most once a minute:

- a proposal stamped more than the drift ahead of our clock (our clock is behind, or the
  proposer's is ahead);
- blocks other validators stamped, that became final here more than the drift after their
  time by our clock, three in a row (our clock is ahead, or their clocks are behind). One such
  block is not enough: a height decided after an outage may carry a block locked and stamped
  before it. A block stamped at parent + drift is left out: that is the clamp a proposer
  applies after a stall, not its clock.

The skew is signed: positive means our clock is ahead of the block's time.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import BlockHeader

REPORT_EVERY_S = 60.0
AHEAD_IN_A_ROW = 3  # final blocks, each stamped more than the drift before our clock


@dataclass
class ClockWatch:
    """When `clock_skew` was last logged (monotonic seconds), so a skewed clock is said once a
    minute, not once a block; and how many final blocks in a row say our clock is ahead."""

    every_s: float = REPORT_EVERY_S
    last_mono: float | None = None
    ahead_in_a_row: int = 0

    def refused_future(self, header: BlockHeader, max_drift_ms: int, now_ms: int,
                       mono: float) -> int | None:
        """The skew to log now that a proposal was refused as `time_in_future`, or None."""
        skew = now_ms - header.time_ms
        return skew if -skew > max_drift_ms and self._due(mono) else None

    def final_block(self, header: BlockHeader, parent_time_ms: int, max_drift_ms: int,
                    now_ms: int, mono: float) -> int | None:
        """The skew to log now that a block another validator stamped is final, or None."""
        if header.time_ms >= parent_time_ms + max_drift_ms:
            return None  # clamped after a stall: says nothing about clocks
        skew = now_ms - header.time_ms
        self.ahead_in_a_row = self.ahead_in_a_row + 1 if skew > max_drift_ms else 0
        return skew if self.ahead_in_a_row >= AHEAD_IN_A_ROW and self._due(mono) else None

    def _due(self, mono: float) -> bool:
        if self.last_mono is not None and mono - self.last_mono < self.every_s:
            return False
        self.last_mono = mono
        return True


def skew_advice(skew_ms: int) -> str:
    if skew_ms > 0:
        return ("our clock is ahead of a block another validator stamped, by more than "
                "max_clock_drift_ms: ours runs fast (or its runs slow); our proposals will be "
                "refused; check NTP")
    return ("a proposal is stamped ahead of our clock by more than max_clock_drift_ms: our "
            "clock runs slow (or the proposer's fast); we refuse such proposals; check NTP")
