"""Recovery: governors install a new voting set after a long stall, bound to the last block."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.chain import make_block, validate_block
from consensus.chainstate import ChainState, install_recovery, state_for_block
from consensus.codec import block_hash
from consensus.errors import ValidationError
from consensus.governance import RecoveryAction, encode_block_action, make_recovery
from consensus.params import ChainParams
from consensus.types import BlockHash
from tests.chainstate.harness import CHAIN_ID, Net, key, validator

WAIT = 10_000
PARAMS = ChainParams(recovery_after_ms=WAIT)


def _stalled() -> Net:
    net = Net.of("ABCD", params=PARAMS)
    net.commit()
    net.commit()
    return net


def _recovery(state: ChainState, members: str = "EFG", signers: tuple[str, ...] = ("G0", "G1"),
              height: int | None = None, last: BlockHash | None = None) -> RecoveryAction:
    return make_recovery(CHAIN_ID, state.height if height is None else height,
                         state.last_block_id if last is None else last,
                         tuple(validator(m) for m in members), tuple(key(s) for s in signers))


def test_recovery_rules() -> None:
    net = _stalled()
    s = net.state
    later = s.last_block_time_ms + WAIT
    cases = [
        ("too early", _recovery(s), later - 1, "recovery_too_early"),
        ("one governor of a 2-of-3", _recovery(s, signers=("G0",)), later, "below_threshold"),
        ("a non-governor signs", _recovery(s, signers=("G0", "X")), later, "not_a_governor"),
        ("made against an older block", _recovery(s, height=1), later, "recovery_not_at_tip"),
        ("made against another block", _recovery(s, last=BlockHash(bytes(32))), later,
         "recovery_not_at_tip"),
        ("another chain", replace(_recovery(s), chain_id="other"), later, "wrong_chain"),
    ]
    for what, action, now, rule in cases:
        with pytest.raises(ValidationError) as info:
            install_recovery(s, action, now)
        assert info.value.rule == rule, what


def test_recovered_chain_resumes_and_a_syncing_node_agrees() -> None:
    net = _stalled()
    old = net.state
    action = _recovery(old)
    net.state = install_recovery(old, action, old.last_block_time_ms + WAIT)
    assert net.voting() == "EFG" and net.next_voting() == "EFG"
    assert net.state.proposer_rotation() == net.state.voting_set()
    net.commit()  # height 3, certified by E, F, G; it carries the recovery first
    first = net.blocks[-1]
    assert first.actions[0] == encode_block_action(action)
    assert first.header.time_ms >= old.last_block_time_ms + WAIT
    net.commit()
    net.commit()
    assert net.voting() == "EFG" and net.state.recovery == b""
    # a node that was not there replays the blocks from genesis and reaches the same state
    syncing = Net(net.genesis)
    for block in net.blocks:
        syncing.commit_block(block, signers=None)
    assert syncing.state == net.state
    # the action is bound to height 2: it can never apply again
    with pytest.raises(ValidationError, match="recovery_not_at_tip"):
        install_recovery(net.state, action, net.state.last_block_time_ms + 10 * WAIT)


def test_recovery_block_must_wait_out_the_stall_in_its_own_time() -> None:
    net = _stalled()
    s = net.state
    action = encode_block_action(_recovery(s))
    early = make_block(s, validator("E").pubkey, s.last_block_time_ms + WAIT,
                       last_commit=net.last_cert, actions=(action,))
    early = replace(early, header=replace(early.header, time_ms=s.last_block_time_ms + WAIT - 1))
    with pytest.raises(ValidationError, match="recovery_too_early"):
        validate_block(s, early, block_hash(early.header), net.utxo)


def test_an_installed_recovery_refuses_the_old_sets_block() -> None:
    """The bound on a concurrent old quorum: a node that installed the recovery won't follow it."""
    net = _stalled()
    old_block = net.build()  # what the old voting set would finalize at height 3
    validate_block(net.state, old_block, block_hash(old_block.header), net.utxo)  # valid alone
    installed = install_recovery(net.state, _recovery(net.state),
                                 net.state.last_block_time_ms + WAIT)
    with pytest.raises(ValidationError, match="recovery_not_carried"):
        state_for_block(installed, old_block)
    with pytest.raises(ValidationError, match="recovery_not_carried"):
        validate_block(installed, old_block, block_hash(old_block.header), net.utxo)


def test_conflicting_recoveries_and_recovery_position() -> None:
    net = _stalled()
    s = net.state
    now = s.last_block_time_ms + WAIT
    installed = install_recovery(s, _recovery(s), now)
    assert install_recovery(installed, _recovery(s), now) is installed  # same one: no change
    with pytest.raises(ValidationError, match="conflicting_recovery"):
        install_recovery(installed, _recovery(s, members="EF", signers=("G1", "G2")), now)
    net.state = installed
    block = net.build()
    second = make_block(installed, block.header.proposer, block.header.time_ms,
                        last_commit=net.last_cert,
                        actions=(block.actions[0], block.actions[0]))
    with pytest.raises(ValidationError, match="recovery_not_first"):
        validate_block(installed, second, block_hash(second.header), net.utxo)
