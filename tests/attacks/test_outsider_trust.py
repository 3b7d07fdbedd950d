"""Outsider attacks on what a node trusts from its peers (issue 12, findings 5 and 6), on a
4-validator devnet: a peer lying about its tip must not stop a lagging node from syncing, and
junk evidence must not keep a real equivocator in the voting set.

The devnet (`net4`, module-scoped): 4 validators and an observer whose links to the validators
run through a proxy (`ProxyHub`), so the test can cut it off and make it fall behind while a
liar stays connected to it. The lying-tip test runs first: the evidence test ends with coop-4
suspended (3 voters left), after which a wiped validator could not rejoin a live quorum.

Before the fixes both failed (two runs): the observer stayed at height 4 and coop-3 at 3-5,
without rejoining, for 40 s while the chain went on (to 47 and 87), each catching up at once
when its liar left; with the evidence pools full of junk coop-4's equivocation was logged
three times and it stayed in the voting set (without the junk it was suspended at once).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest

from faircoop_node.byzantine import outsider
from faircoop_node.byzantine.outpeer import validator_keys
from faircoop_node.keys import load_node_key
from tests.attacks.outsider_net import AttackNet, LogMark, attack_net, run, within
from tests.attacks.outsider_watch import ensure_well, report
from tests.e2e.helpers import get, height

pytestmark = pytest.mark.slow

CATCH_UP_S = 40.0  # a node cut off for 8 s redials (with backoff) and syncs within it


@pytest.fixture(scope="module")
def net4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackNet]:
    with attack_net(tmp_path_factory.mktemp("outsider4"), validators=4) as net:
        yield net


@pytest.fixture
def well4(net4: AttackNet) -> Iterator[AttackNet]:
    ensure_well(net4, None)
    yield net4


# -- (6) a lying tip ----------------------------------------------------------------------------


def test_lying_peer_does_not_stop_sync(well4: AttackNet) -> None:
    """A peer claims a tip of 10^9 (HELLO, STATUS, far-ahead votes) and never answers
    GET_BLOCKS. The observer, with the liar connected, is cut off from the validators for 8 s
    and falls behind; coop-3 restarts with an empty data dir with a liar connected. Both must
    catch up (coop-3 also rejoin voting) while the liars stay."""
    net = well4
    stop = threading.Event()
    mark = LogMark.now(net.nodes)

    def liar(victim: str) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            async with aiohttp.ClientSession() as session:
                validators = await validator_keys(session, net.node("coop-1").api_url)
                return await outsider.lying_tip(session, net.target(victim), validators,
                                                duration_s=120.0, until=stop.is_set)
        return run(go())

    others = [n for n in net.validators if n.name != "coop-3"]
    with ThreadPoolExecutor(2) as pool:
        observer_liar = pool.submit(liar, "observer")
        time.sleep(2.0)
        net.net.hub.set_mode(net.net.observer_links(), "cut")
        behind_at = height(net.node("observer"))
        net.wipe("coop-3")
        net.net.start(net.node("coop-3"))
        validator_liar = pool.submit(liar, "coop-3")
        time.sleep(8.0)
        net.net.hub.heal()
        tip = max(height(n) for n in others)
        observer_s, rejoined_s = both_within(
            lambda: height(net.node("observer")) >= tip + 2,
            lambda: bool(mark.events(net.node("coop-3"), "rejoin_done")) and
            height(net.node("coop-3")) >= tip, CATCH_UP_S)
        stuck = {n.name: height(n) for n in net.nodes}
        stop.set()
        liars = {"observer": observer_liar.result(timeout=30),
                 "coop-3": validator_liar.result(timeout=30)}
    report("lying_tip", {"observer_behind_at": behind_at, "tip_at_heal": tip,
                         "observer_caught_up_s": observer_s, "coop3_rejoined_s": rejoined_s,
                         "heights_at_end": stuck, "liars": liars})
    for victim, lie in liars.items():
        assert lie["statuses"] > 10, f"the liar at {victim} never struck: {lie}"
    assert observer_s is not None, (
        f"the observer stayed at {stuck['observer']} for {CATCH_UP_S}s while the chain "
        f"reached {max(stuck.values())} (a liar connected)")
    assert rejoined_s is not None, (
        f"coop-3, restarted empty, stayed at {stuck['coop-3']} without rejoining for "
        f"{CATCH_UP_S}s while the chain reached {max(stuck.values())} (a liar connected)")


def both_within(a: Callable[[], bool], b: Callable[[], bool], bound_s: float
                ) -> tuple[float | None, float | None]:
    """Seconds until each of `a` and `b` first held (None: not within `bound_s`)."""
    start = time.monotonic()
    seen: list[float | None] = [None, None]
    while time.monotonic() - start < bound_s and None in seen:
        for i, check in enumerate((a, b)):
            if seen[i] is None and check():
                seen[i] = round(time.monotonic() - start, 1)
        time.sleep(0.25)
    return seen[0], seen[1]


# -- (5) evidence junk --------------------------------------------------------------------------


def test_evidence_junk_does_not_shield_an_equivocator(well4: AttackNet) -> None:
    """1,200 well-signed double votes by fresh keys (never validators), mostly for heights
    ~10^15, to every validator: they fill the 1,000-item evidence pool. Then coop-4's key (held
    by the test) signs two prevotes for one round: coop-4 must still be suspended."""
    net = well4
    key = load_node_key(net.node("coop-4").directory / "node.key")
    offender = bytes(key.public_key).hex()
    mark = LogMark.now(net.nodes)

    async def go() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            junk = await asyncio.gather(*(
                outsider.evidence_junk(session, net.target(n.name), count=1_200)
                for n in net.validators))
            await asyncio.sleep(2.0)
            real = await outsider.equivocation(session, net.target("coop-1"), key, heights=3)
            return list(junk), real

    junk, real = run(go())

    def suspended() -> bool:
        doc = get(net.node("coop-1"), "validators")
        mine = [v for v in doc["validators"] if v["pubkey"] == offender]
        return not mine or bool(mine[0]["suspended"])

    suspended_s = within(suspended, 30.0)
    seen = len(mark.events(net.node("coop-1"), "equivocation"))
    report("evidence_junk", {"junk_sent": [j["sent"] for j in junk], "equivocation": real,
                             "equivocations_logged": seen, "suspended_after_s": suspended_s})
    assert all(j["sent"] >= 100 for j in junk), f"the junk did not strike: {junk}"
    assert len(real["heights"]) == 3, f"the equivocation was not sent: {real}"
    assert suspended_s is not None, \
        f"coop-4 equivocated at heights {real['heights']} and is still in the voting set"
