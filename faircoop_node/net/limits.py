"""Per-peer budgets and bans, and the reconnect backoff: small pure pieces with injected clocks.

Nothing here does IO or reads the wall clock itself, so the tests drive time by hand.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


class TokenBucket:
    """`rate` tokens per second, holding at most `burst`. A message costs one token.

    A peer starts with a full bucket, so a node catching up may burst; a steady flood above
    `rate` empties it and `take` starts returning False.
    """

    __slots__ = ("_burst", "_clock", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = float(rate)
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self, cost: float = 1.0) -> bool:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    @property
    def tokens(self) -> float:
        return self._tokens


@dataclass(frozen=True, slots=True)
class Ban:
    key: str  # "id:<node id hex>" or "ip:<address>"
    until: float  # clock time the ban ends
    reason: str


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class BanList:
    """Banned node ids and addresses, each until a clock time.

    Node ids are banned only once proven (after the handshake signature checks out), so nobody
    can get another node banned by claiming its id. Addresses are banned by host (IP), not
    host:port, since an inbound peer's port changes on every connection. `address_exempt`
    keeps some hosts from address bans: by default loopback, where every devnet node shares one
    address; their node ids are still banned.
    """

    def __init__(self, clock: Clock, address_exempt: Callable[[str], bool] = is_loopback,
                 capacity: int = 65_536) -> None:
        self._clock = clock
        self._exempt = address_exempt
        self._capacity = capacity  # bans kept (about 200 bytes each); see `_add`
        self._bans: dict[str, Ban] = {}

    @staticmethod
    def node_key(node_id: bytes) -> str:
        return "id:" + node_id.hex()

    @staticmethod
    def address_key(host: str) -> str:
        return "ip:" + host

    def ban_node(self, node_id: bytes, seconds: float, reason: str) -> None:
        self._add(self.node_key(node_id), seconds, reason)

    def ban_address(self, host: str, seconds: float, reason: str) -> bool:
        """Ban a host; False (and no ban) if it is exempt."""
        if not host or self._exempt(host):
            return False
        self._add(self.address_key(host), seconds, reason)
        return True

    def _add(self, key: str, seconds: float, reason: str) -> None:
        """Keep a ban; at capacity, expired bans go first, then the one ending soonest (so
        an attacker minting identities can't grow the table without end)."""
        until = self._clock() + seconds
        old = self._bans.get(key)
        if old is None and len(self._bans) >= self._capacity:
            self.active()
            if len(self._bans) >= self._capacity:
                del self._bans[min(self._bans.values(), key=lambda b: b.until).key]
        if old is None or old.until < until:
            self._bans[key] = Ban(key, until, reason)

    def node_ban(self, node_id: bytes) -> Ban | None:
        return self._active(self.node_key(node_id))

    def address_ban(self, host: str) -> Ban | None:
        return self._active(self.address_key(host))

    def _active(self, key: str) -> Ban | None:
        ban = self._bans.get(key)
        if ban is None:
            return None
        if ban.until <= self._clock():
            del self._bans[key]
            return None
        return ban

    def active(self) -> tuple[Ban, ...]:
        now = self._clock()
        for key in [k for k, b in self._bans.items() if b.until <= now]:
            del self._bans[key]
        return tuple(self._bans.values())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before reconnect attempt `attempt` (0-based): exponential, capped, with
    "equal jitter" (half fixed, half uniform random) so peers that lost the same node don't
    all redial it in the same instant."""
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))
