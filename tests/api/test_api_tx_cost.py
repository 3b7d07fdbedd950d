"""A tx lookup costs a few key reads and one tx decode, whatever the size of the blocks around it
(issue 12, finding 10).

The costliest lookup was a treasury spend of a block's fee output: the fee was recomputed from
every tx of that block, each input found by decoding its parent's whole block. The store is a
`BaseStore` over a counting key-value backend, so the tests count reads and decodes, not time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest

from consensus import codec
from consensus.types import Block, Tx
from faircoop_node.storage import BaseStore
from faircoop_node.storage.memory import MemoryKV
from tests.api.api_chain import FEE, FeeScene, fee_chain, fee_chain_genesis, serve


class CountingKV:
    """A `KeyValue` that counts what is read through it."""

    def __init__(self) -> None:
        self._kv = MemoryKV()
        self.gets = 0
        self.scanned = 0  # records yielded by range reads

    def get(self, key: bytes) -> bytes | None:
        self.gets += 1
        return self._kv.get(key)

    def items(self, prefix: bytes, *, start: bytes | None = None, stop: bytes | None = None,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        for pair in self._kv.items(prefix, start=start, stop=stop, reverse=reverse):
            self.scanned += 1
            yield pair

    def write(self, writes: Mapping[bytes, bytes | None], *, sync: bool) -> None:
        self._kv.write(writes, sync=sync)

    def is_empty(self) -> bool:
        return self._kv.is_empty()

    def close(self) -> None:
        self._kv.close()


@dataclass
class Counted:
    scene: FeeScene
    kv: CountingKV


def counted_chain(n: int) -> Counted:
    kv = CountingKV()
    store = BaseStore(kv, fee_chain_genesis(), create=True, where="counting store")
    return Counted(fee_chain(n, store), kv)


@dataclass(frozen=True, slots=True)
class Cost:
    gets: int
    scanned: int
    block_decodes: int
    tx_decodes: int


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of codec.decode_block and codec.decode_tx calls made while the test runs."""
    counts = {"block": 0, "tx": 0}
    real_block, real_tx = codec.decode_block, codec.decode_tx

    def decode_block(data: bytes) -> Block:
        counts["block"] += 1
        return real_block(data)

    def decode_tx(data: bytes) -> Tx:
        counts["tx"] += 1
        return real_tx(data)

    monkeypatch.setattr(codec, "decode_block", decode_block)
    monkeypatch.setattr(codec, "decode_tx", decode_tx)
    return counts


async def _cost_of_get(counted: Counted, path: str, decodes: dict[str, int]) -> Cost:
    kv = counted.kv
    async with serve(counted.scene.node) as client:
        kv.gets = kv.scanned = decodes["block"] = decodes["tx"] = 0
        resp = await client.get(path)
        assert resp.status == 200, await resp.text()
        return Cost(kv.gets, kv.scanned, decodes["block"], decodes["tx"])


@pytest.mark.parametrize("suffix", ["", "/status"])
async def test_treasury_spend_lookup_cost_does_not_grow_with_the_fee_block(
        suffix: str, decodes: dict[str, int]) -> None:
    costs = []
    for n in (3, 40):
        counted = counted_chain(n)
        txid = codec.txid(counted.scene.treasury_spend).hex()
        costs.append(await _cost_of_get(counted, f"/api/v1/tx/{txid}{suffix}", decodes))
    small, large = costs
    assert small == large, f"the lookup grew with the fee block: {small} -> {large}"
    assert large.block_decodes == 0 and large.tx_decodes <= 1 and large.scanned == 0
    assert large.gets <= 6


async def test_fee_of_a_spend_of_a_fee_output_is_the_block_total_less_outputs() -> None:
    scene = fee_chain(7)
    async with serve(scene.node) as client:
        body = await (await client.get(
            f"/api/v1/tx/{codec.txid(scene.treasury_spend).hex()}")).json()
    assert body["fee"] == 7 * FEE - (7 * FEE - 1_000)


async def test_lookup_of_a_tx_in_a_large_block_decodes_only_that_tx(
        decodes: dict[str, int]) -> None:
    counted = counted_chain(40)
    block = counted.scene.node.store.get_block(counted.scene.fee_block)
    assert block is not None
    tx = block.txs[17]
    cost = await _cost_of_get(counted, f"/api/v1/tx/{codec.txid(tx).hex()}", decodes)
    assert cost.block_decodes == 0 and cost.tx_decodes <= 1 and cost.gets <= 6
