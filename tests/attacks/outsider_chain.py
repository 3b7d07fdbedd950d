"""Chain history for the outsider tests: big blocks, and txs that are expensive to look up.

`heavy_history` splits the devnet's demo allocation into coins and turns each into a fan-out
tx of many outputs, all submitted at once so they land in one or a few big blocks (~90 KB per
tx of 2,000 outputs). That gives GET_BLOCKS answers worth flooding (finding 4), and parents
for `wide_spend`: one tx whose every input was created in a big block, so a node that decodes
the creating block once per input pays for it on every `GET /tx` (finding 10). `treasury_spend`
spends the fee output of the block holding that tx: looking it up recomputes the fee of each
tx in that block, which decodes their parents' blocks too (the issue's 1.2 s example).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from consensus import codec
from consensus.address import encode_address
from consensus.crypto import PrivateKey
from consensus.ledger import treasury_outpoint
from consensus.types import BlockHash, OutPoint, SpendPolicy, Tx, TxId
from faircoop_node.devnet import DevnetNode, governor_signing_keys
from faircoop_node.genesis_file import load_genesis
from tests.attacks.outsider_net import AttackNet
from tests.builders import key, make_tx, single
from tests.e2e.helpers import demo_key_and_policy, final_on, get, wait_for
from wallet.multisig import treasury_policy

OWNER = key(424_242)  # holds every coin made here
OWNER_POLICY = single(OWNER)
OWNER_LOCK = codec.policy_lock(OWNER_POLICY)
OUTPUT_AMOUNT = 10_000  # each fan-out output: ten times the dust limit


def post_batch(node: DevnetNode, txs: Sequence[Tx]) -> list[str]:
    """Submit txs through `POST /api/v1/txs`, as many per request as fit (1,000 txs, bodies
    under ~1.5 MB); every one must be accepted."""
    out: list[str] = []
    hexes = [codec.encode_tx(t).hex() for t in txs]
    while hexes:
        size, n = 0, 0
        while n < len(hexes) and n < 1_000 and size + len(hexes[n]) < 1_500_000:
            size += len(hexes[n]) + 3
            n += 1
        body = json.dumps(hexes[:max(1, n)]).encode()
        hexes = hexes[max(1, n):]
        req = urllib.request.Request(f"{node.api_url}/api/v1/txs", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            answers = json.loads(resp.read())
        for a in answers:
            assert "txid" in a, f"{node.name} refused a setup tx: {a}"
            out.append(str(a["txid"]))
    return out


def wait_final(nodes: Sequence[DevnetNode], txids: Sequence[str], timeout: float = 90.0) -> None:
    wait_for(lambda: all(final_on(n, t) for n in nodes for t in txids), timeout,
             f"{len(txids)} setup txs final on every node")


@dataclass(frozen=True, slots=True)
class History:
    fan_outs: tuple[Tx, ...]  # each pays `outputs` coins of OUTPUT_AMOUNT to OWNER
    outputs: int
    heights: tuple[int, ...]  # the heights of the blocks holding them
    chain_bytes: int  # bytes of those blocks


def heavy_history(net: AttackNet, txs: int = 40, outputs: int = 2_000) -> History:
    """`txs` fan-out txs of `outputs` outputs each, final on every node."""
    layout = net.layout
    genesis = load_genesis(layout.genesis_path)
    chain_id = genesis.chain_id
    demo, policy = demo_key_and_policy(layout)
    total = genesis.allocations[0].amount
    per_coin = outputs * OUTPUT_AMOUNT + 150_000  # the fan-out's fee: ~45 bytes an output
    split = make_tx([(OutPoint(TxId(codec.genesis_hash(genesis)), 0), policy, [demo])],
                    [*((OWNER_LOCK, per_coin) for _ in range(txs)),
                     (codec.policy_lock(policy), total - txs * per_coin - 100_000)],
                    chain_id=chain_id)
    first = net.validators[0]
    split_id = post_batch(first, [split])
    wait_final(net.nodes, split_id)
    fans = tuple(
        make_tx([(OutPoint(codec.txid(split), i), OWNER_POLICY, [OWNER])],
                [(OWNER_LOCK, OUTPUT_AMOUNT)] * outputs, chain_id=chain_id)
        for i in range(txs))
    fan_ids = post_batch(first, fans)
    wait_final(net.nodes, fan_ids)
    heights = sorted({int(get(first, f"tx/{t}/status")["height"]) for t in fan_ids})
    size = 0
    for h in heights:
        block_hash = get(first, f"block-height/{h}")
        size += len(get(first, f"block/{block_hash}/raw")["hex"]) // 2
    return History(fans, outputs, tuple(heights), size)


def coins(history: History, first: int, count: int) -> list[OutPoint]:
    """Fan-out outputs `first` .. `first + count - 1`, taken round-robin over the fan-out txs
    (so consecutive coins have different parents)."""
    fans = history.fan_outs
    return [OutPoint(codec.txid(fans[i % len(fans)]), i // len(fans))
            for i in range(first, first + count)]


def wide_spend(outpoints: Sequence[OutPoint], chain_id: str) -> Tx:
    """One tx spending every coin in `outpoints` (each in a big block) back to OWNER."""
    fee = len(outpoints) * 160 + 1_000
    return make_tx([(op, OWNER_POLICY, [OWNER]) for op in outpoints],
                   [(OWNER_LOCK, len(outpoints) * OUTPUT_AMOUNT - fee)], chain_id=chain_id)


def payments(outpoints: Sequence[OutPoint], chain_id: str) -> list[Tx]:
    """One small payment per coin: submitted together, they fill a block with txs whose
    parents are all in big blocks."""
    return [make_tx([(op, OWNER_POLICY, [OWNER])], [(OWNER_LOCK, OUTPUT_AMOUNT - 1_000)],
                    chain_id=chain_id) for op in outpoints]


def governors(net: AttackNet) -> tuple[SpendPolicy, list[PrivateKey]]:
    """The treasury's policy (the demo governors' multisig, of their wallets' treasury member
    keys) and enough of those keys to sign."""
    genesis = load_genesis(net.layout.genesis_path)
    members = [member for _, member in governor_signing_keys(net.layout)]
    policy = treasury_policy(genesis.governor_threshold, [k.public_key for k in members])
    assert codec.policy_lock(policy) == genesis.treasury_lock
    by_key = {k.public_key: k for k in members}
    return policy, [by_key[pub] for pub in policy.pubkeys][:genesis.governor_threshold]


def treasury_spend(net: AttackNet, block_hash: str, amount: int) -> Tx:
    """A governors' tx spending the fee output of block `block_hash` (worth `amount`)."""
    policy, keys = governors(net)
    chain_id = load_genesis(net.layout.genesis_path).chain_id
    outpoint = treasury_outpoint(BlockHash(bytes.fromhex(block_hash)))
    return make_tx([(outpoint, policy, keys)], [(OWNER_LOCK, amount - 2_000)],
                   chain_id=chain_id)


def fee_of_block(net: AttackNet, block_hash: str) -> int:
    """The total fee a block paid to the treasury (its fee output's amount, while unspent)."""
    genesis = load_genesis(net.layout.genesis_path)
    address = encode_address(genesis.treasury_lock, genesis.network)
    for coin in get(net.validators[0], f"address/{address}/utxo?limit=10000"):
        if coin["txid"] == block_hash and coin["index"] == 0:
            return int(coin["amount"])
    raise AssertionError(f"block {block_hash} has no unspent fee output")
