"""Honest load for the outsider soak: pre-signed payments at a steady rate, and the record of
what each API accepted, so the soak can check that nothing accepted was lost.

One thread per node posts batches (`POST /api/v1/txs`) paced to its share of the rate; a
thread that falls behind (a slow or stalled node) sends what is due, up to a cap, when it can.
Each tx spends its own coin. An entry answered with a txid is *accepted*; a request that fails
or times out leaves its txs *uncertain* (the node may or may not have them), and those are
left out of the check.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus import codec
from consensus.types import Tx
from faircoop_node.devnet import DevnetNode
from tests.e2e.helpers import get

MAX_BATCH = 500  # txs in one POST at most (a thread that fell behind catches up in these)


@dataclass
class SteadyLoad:
    nodes: Sequence[DevnetNode]
    rate_per_s: float
    queue: list[tuple[str, str]]  # (txid hex, tx hex), taken from the end
    accepted: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)
    posts: int = 0
    slow_posts: int = 0  # POSTs that took over a second
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def of(cls, nodes: Sequence[DevnetNode], rate_per_s: float, txs: Sequence[Tx]
           ) -> SteadyLoad:
        queue = [(codec.txid(t).hex(), codec.encode_tx(t).hex()) for t in reversed(txs)]
        return cls(nodes, rate_per_s, queue)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True,
                                          name=f"load-{n.name}") for n in self.nodes]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _take(self, n: int) -> list[tuple[str, str]]:
        with self._lock:
            taken = self.queue[-n:] if n else []
            del self.queue[len(self.queue) - len(taken):]
        return taken

    def _run(self, node: DevnetNode) -> None:
        share = self.rate_per_s / len(self.nodes)
        started = time.monotonic()
        sent = 0
        while not self._stop.wait(0.1):
            due = min(int((time.monotonic() - started) * share) - sent, MAX_BATCH)
            batch = self._take(max(0, due))
            if not batch:
                continue
            sent += len(batch)
            self._post(node, batch)

    def _post(self, node: DevnetNode, batch: list[tuple[str, str]]) -> None:
        body = json.dumps([h for _, h in batch]).encode()
        req = urllib.request.Request(f"{node.api_url}/api/v1/txs", data=body, method="POST")
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                answers = json.loads(resp.read())
        except (OSError, ValueError, urllib.error.HTTPError) as exc:
            with self._lock:
                self.uncertain.update(t for t, _ in batch)
                self.refused[f"request: {type(exc).__name__}"] += len(batch)
            return
        finally:
            self.posts += 1
            self.slow_posts += time.monotonic() - t0 > 1.0
        with self._lock:
            for (txid, _), answer in zip(batch, answers, strict=False):
                if "txid" in answer:
                    self.accepted.add(txid)
                else:
                    self.refused[str(answer.get("rule", "?"))] += 1

    def figures(self) -> dict[str, object]:
        return {"accepted": len(self.accepted), "uncertain": len(self.uncertain),
                "refused": dict(self.refused), "posts": self.posts,
                "slow_posts": self.slow_posts, "left": len(self.queue)}


def final_txids(node: DevnetNode, since: int, until: int) -> set[str]:
    """Every txid in the final blocks `since`..`until` of `node`."""
    out: set[str] = set()
    height = max(1, since)
    while height <= until:
        page = get(node, f"headers?from={height}&count=1000", timeout=30)
        if not page:
            break
        for item in page:
            if item["height"] > until:
                break
            out.update(get(node, f"block/{item['hash']}/txids", timeout=30))
        height += len(page)
    return out
