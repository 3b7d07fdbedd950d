"""Property: the voting set at every height equals a naive model of the h+2 rule.

The model keeps a list of sets by height and applies each block's accepted actions to the set
two heights after it, checking validity the simple way (add: not already there; remove: there
and not the last). The real chain must accept exactly the blocks the model accepts, and agree
on the voting set after every block.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.chainstate import decode_chain_state, encode_chain_state
from consensus.errors import ValidationError
from consensus.governance import AddValidator, RemoveValidator, encode_action
from tests.chainstate.harness import Net, pub

POOL = "ABCDE"
ops = st.tuples(st.sampled_from(("add", "remove")), st.sampled_from(POOL))


@settings(max_examples=30, deadline=None)
@given(blocks=st.lists(st.lists(ops, max_size=2), min_size=1, max_size=6))
def test_voting_sets_follow_the_h_plus_2_model(blocks: list[list[tuple[str, str]]]) -> None:
    net = Net.of("ABC")
    by_height = {1: set("ABC"), 2: set("ABC")}  # voting set of each height
    for ops_in_block in blocks:
        h = net.state.height + 1  # the height this block will have
        upcoming = set(by_height[h + 1])
        model_ok = True
        encoded = []
        for op, name in ops_in_block:
            if op == "add":
                model_ok &= name not in upcoming
                upcoming.add(name)
                body: AddValidator | RemoveValidator = AddValidator(f"coop-{name}", pub(name))
            else:
                model_ok &= name in upcoming and len(upcoming) > 1
                upcoming.discard(name)
                body = RemoveValidator(pub(name))
            encoded.append(encode_action(net.action(body, ("G0", "G1"))))
        try:
            net.commit(actions=tuple(encoded))
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == model_ok, (ops_in_block, by_height)
        if accepted:
            by_height[h + 2] = upcoming
        tip = net.state.height  # h if accepted, else h - 1: a rejected block changes nothing
        assert net.voting() == "".join(sorted(by_height[tip + 1]))
        assert net.next_voting() == "".join(sorted(by_height[tip + 2]))
        assert decode_chain_state(encode_chain_state(net.state)) == net.state
