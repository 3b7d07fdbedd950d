"""Watching a devnet while an outsider attacks it: the bounds every outsider test holds the
nodes to, and the window that measures them (memory, API latency, bans, gaps between blocks).

Shared by `test_outsider.py`, `test_outsider_trust.py` and `test_outsider_soak.py`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from faircoop_node.byzantine.campaign import run_attack
from faircoop_node.byzantine.outpeer import validator_keys
from tests.attacks.outsider_net import (
    ApiProbe,
    AttackNet,
    LogMark,
    RssSampler,
    honest_bans,
    max_block_gap_s,
    progress,
    rss_mb,
    run,
    within,
)
from tests.e2e.helpers import height

# Bounds. Devnet blocks come every 100 ms under load and at least every 1 s (heartbeat), so a
# chain that keeps finalizing never waits 3 s for a block; the attacks stalled it for 4 s to
# minutes. A node of these devnets idles at 50-180 MB; each attack grew one by 500 MB to 1 GB,
# and 200 MB leaves room for the frames a node must still read (up to 16 MiB each).
MAX_GAP_S = 3.0
MAX_GROWTH_MB = 200.0
MAX_API_S = 2.0  # the slowest GET /status during an attack
UNWELL_MB = 400.0  # a node this big after a test is restarted before the next


def report(name: str, figures: dict[str, Any]) -> None:
    print("OUTSIDER " + json.dumps({"test": name, **figures}, default=str))


def ensure_well(net: AttackNet, since: LogMark | None) -> None:
    """Restart every node if the last test left them unwell, so tests don't spill over."""
    problems = []
    if not net.alive():
        problems.append("a node exited")
    if since is not None and honest_bans(since, net):
        problems.append("honest nodes banned each other")
    if any(rss_mb(net.pid(n.name)) > UNWELL_MB for n in net.nodes if net.alive()):
        problems.append(f"a node holds over {UNWELL_MB} MB")
    if not problems and within(lambda: all(height(n) >= 0 for n in net.nodes), 5) is None:
        problems.append("an API does not answer")
    if not problems:
        try:
            progress(net.nodes, 2, 10, "the chain moving")
        except AssertionError:
            problems.append("the chain does not move")
    if problems:
        print("restarting the devnet:", ", ".join(problems))
        net.restart()



@dataclass
class Window:
    """What the nodes did while an attack ran: memory, API latency, bans, block gaps."""

    net: AttackNet
    mark: LogMark
    start_height: int
    rss: RssSampler
    probe: ApiProbe
    gap_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)

    def growth_mb(self) -> dict[str, float]:
        return {n: round(self.rss.peak[n] - self.rss.start_mb[n]) for n in self.rss.peak}

    def summary(self) -> dict[str, Any]:
        return {"rss": self.rss.figures(), "max_block_gap_s": self.gap_s,
                "api_worst_s": round(self.probe.worst_s, 2), "api_failures":
                self.probe.failures, "honest_bans": honest_bans(self.mark, self.net),
                **self.figures}

    def settle(self, blocks: int = 2, bound_s: float = 10.0) -> None:
        """Keep watching until every node has `blocks` more final blocks than the highest has
        now (at most `bound_s`: a chain that stalls shows as a gap), so the window takes in
        what an attack that just ended left behind."""
        target = max(height(n) for n in self.net.nodes) + blocks
        within(lambda: all(height(n) >= target for n in self.net.nodes), bound_s)

    def assert_kept_going(self) -> None:
        assert self.gap_s <= MAX_GAP_S, \
            f"the chain stalled {self.gap_s:.1f}s (bound {MAX_GAP_S}s): {self.summary()}"

    def assert_memory_bounded(self) -> None:
        grown = self.growth_mb()
        assert max(grown.values()) <= MAX_GROWTH_MB, \
            f"a node grew by {max(grown.values())} MB (bound {MAX_GROWTH_MB}): {grown}"

    def assert_no_honest_bans(self) -> None:
        bans = honest_bans(self.mark, self.net)
        assert not bans, f"honest nodes banned each other: {bans}"


@contextmanager
def watched(net: AttackNet, probe: str = "coop-1") -> Iterator[Window]:
    mark = LogMark.now(net.nodes)
    first = net.validators[0]
    with RssSampler({n.name: net.pid(n.name) for n in net.nodes}) as rss, \
            ApiProbe(net.node(probe)) as api:
        window = Window(net, mark, height(first), rss, api)
        yield window
        window.gap_s = max_block_gap_s(first, window.start_height)


def attack(net: AttackNet, name: str, victim: str = "coop-1", **args: Any) -> dict[str, Any]:
    """One run of an outsider attack against `victim`, from this process."""
    return attack_each(net, name, [victim], **args)[0]


def attack_each(net: AttackNet, name: str, victims: Sequence[str], **args: Any
                ) -> list[dict[str, Any]]:
    """One run of an outsider attack against each of `victims` at once."""
    async def go() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            validators = await validator_keys(session, net.validators[0].api_url)
            return list(await asyncio.gather(*(
                run_attack(session, name, net.target(v), validators, args) for v in victims)))
    return run(go())
