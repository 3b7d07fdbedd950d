"""When this node reached each step of deciding one height.

The commit's log line carries it, so an operator (or a benchmark) can see where a slow block's
time went: waiting at the gate, waiting for the proposal, validating it, or waiting for the
others' votes. Marks are milliseconds from the height's start, on the node's monotonic clock;
a proposal that arrived while the node waited at its gate (and so started the height) is
marked when it arrived, a little before the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class HeightTimeline:
    height: int
    started: float  # monotonic seconds when the engine began this height
    gate_s: float  # how long the gate held the height back after the last block
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, step: str, now: float) -> None:
        """The first time only: a round's later repeats don't move a step."""
        self.marks.setdefault(step, now)

    def as_ms(self, now: float) -> dict[str, int]:
        out = {"gate": round(1000 * self.gate_s)}
        for step, at in self.marks.items():
            out[step] = round(1000 * (at - self.started))
        out["committed"] = round(1000 * (now - self.started))
        return out
