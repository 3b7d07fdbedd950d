"""Mutual credit through the node runtime: four real `Node`s on the in-memory network. A limit
submitted as a governance action to one node is carried and in force on every node; credit
transfers submitted to one node (and relayed, as every admitted tx is) are carried in blocks
beside coin txs, and every node ends with the same credit accounts, key for key, and balances
that sum to zero."""

from __future__ import annotations

from consensus import codec
from consensus.credit import new_transfer, sign_credit_transfer
from consensus.governance import Reference, SetCreditLimit, encode_action, make_action
from faircoop_node.storage import schema
from tests.builders import CHAIN_ID, key, single
from tests.node_runtime.harness import VALIDATOR_KEYS, payments, start_cluster, wait_for

UNIT = 10**8
MEMBERS = [key(950 + i) for i in range(3)]
LOCKS = [codec.policy_lock(single(k)) for k in MEMBERS]


def snapshot(store: object) -> dict[bytes, bytes]:
    backend = store.backend  # type: ignore[attr-defined]
    return {k: v for p in (schema.CREDIT_ACCOUNT, schema.CREDIT_HISTORY, schema.CREDIT_TOTALS)
            for k, v in backend.items(p)}


async def test_credit_transfers_are_relayed_carried_and_agree_on_every_node() -> None:
    cluster = await start_cluster(4)
    try:
        nodes = cluster.nodes()
        ref = Reference("https://assembly.example/runtime", "runtime test")
        grant = encode_action(make_action(CHAIN_ID, 0, SetCreditLimit(LOCKS[0], 100 * UNIT),
                                          (VALIDATOR_KEYS[0],), ref))
        assert await nodes[1].submit_action(grant) == "pooled"
        await wait_for(lambda: all((n.store.get_credit_account(LOCKS[0]) or None) is not None
                                   for n in nodes), 20, "the line in force on every node")
        transfers = [sign_credit_transfer(
            new_transfer(CHAIN_ID, LOCKS[0], seq, [(LOCKS[1 + seq % 2], (seq + 1) * UNIT)],
                         b"runtime"), single(MEMBERS[0]), [MEMBERS[0]]) for seq in range(6)]
        coins = payments(cluster.genesis, 3)
        for t in transfers:
            await nodes[0].submit_tx(t)  # relayed from node 0 to the others
        for tx in coins:
            await nodes[2].submit_tx(tx)  # coin txs in the same blocks
        ids = {codec.txid(t) for t in transfers}
        await wait_for(lambda: all(
            n.store.get_tx_location(i) is not None for n in nodes for i in ids), 30,
            "every transfer final on every node")
        height = min(n.store.tip().height for n in nodes)
        await wait_for(lambda: all(n.store.tip().height >= height + 1 for n in nodes), 20,
                       "one more block everywhere")
        first = snapshot(nodes[0].store)
        assert all(snapshot(n.store) == first for n in nodes[1:])
        a = nodes[3].store.get_credit_account(LOCKS[0])
        assert a is not None and (a.balance, a.sequence) == (-21 * UNIT, 6)
        totals = nodes[3].store.get_credit_totals()
        assert totals.positive == totals.outstanding == 21 * UNIT
        assert all(n.store.get_tx_location(codec.txid(tx)) is not None
                   for n in nodes for tx in coins)
    finally:
        await cluster.stop_all()
