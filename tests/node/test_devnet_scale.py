"""`faircoop-node devnet --validators N [--governors K]` lays out any size from 1 to 100: the
governors (default min(N, 5)) and the treasury (their multisig) stay valid, every node has its
own ports, and each node's peer limit leaves room for the full mesh."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.codec import policy_lock
from faircoop_node.config import load_config
from faircoop_node.devnet import P2P_OFFSET, DevnetError, create_devnet
from faircoop_node.genesis_file import load_genesis
from wallet.walletfile import load_wallet

# (validators, governors asked for, governors expected)
SIZES = [(1, None, 1), (4, None, 4), (16, None, 5), (50, None, 5), (100, None, 5),
         (25, 16, 16), (7, 1, 1)]


@pytest.mark.parametrize(("n", "asked", "expected"), SIZES,
                         ids=[f"n{n}-g{asked}" for n, asked, _ in SIZES])
def test_a_devnet_of_any_size_has_valid_governors_treasury_ports_and_room_for_its_mesh(
        tmp_path: Path, n: int, asked: int | None, expected: int) -> None:
    layout = create_devnet(tmp_path / "net", n, 20_000, governors=asked)
    genesis = load_genesis(layout.genesis_path)
    assert len(genesis.validators) == n
    assert len(genesis.governors) == expected
    assert genesis.governor_threshold == expected // 2 + 1
    assert [layout.nodes[i].p2p_port - layout.nodes[i].api_port for i in range(n)] == \
        [P2P_OFFSET] * n
    ports = [p for node in layout.nodes for p in (node.api_port, node.p2p_port)]
    assert len(ports) == len(set(ports)), "two nodes share a port"
    for node in layout.nodes:
        config = load_config(node.config_path)
        assert config.limits.max_peers >= 2 * n, (node.name, config.limits.max_peers)
        assert len(config.p2p.peers) == n - (1 if node.validator else 0)
    # the treasury every governor's wallet registers is the genesis treasury: a K-key multisig
    treasuries = {load_wallet(layout.governor_wallet_path(i)).treasuries[0].policy
                  for i in range(1, expected + 1)}
    assert len(treasuries) == 1
    (treasury,) = treasuries
    assert policy_lock(treasury) == genesis.treasury_lock
    assert len(treasury.pubkeys) == expected and treasury.threshold == expected // 2 + 1


@pytest.mark.parametrize(("n", "governors"), [(0, None), (101, None), (20, 17), (4, 0)])
def test_a_size_out_of_range_is_refused_with_the_reason(tmp_path: Path, n: int,
                                                         governors: int | None) -> None:
    with pytest.raises(DevnetError) as err:
        create_devnet(tmp_path / "net", n, 20_000, governors=governors)
    assert str(err.value)
    assert not (tmp_path / "net" / "genesis.json").exists()
