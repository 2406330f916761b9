"""analog_models.c2p_sets: the ping-pong C2P sets follow integrate → fire → fire, per set."""

from __future__ import annotations

import pytest

from analog_models.c2p_sets import C2PSets


def test_two_sets_hold_two_tokens_in_turn():
    c = C2PSets(2)
    c.integrate(0, "t0")
    c.integrate(1, "t1")                 # set 1 integrates while set 0 still holds t0
    assert c.fire_relu(0) == "t0" and c.holds(0) is None
    c.integrate(0, "t2")                 # set 0's ReLU C2P is free once it fired
    assert c.fire_relu(1) == "t1"
    assert c.fire_signed(0) == "t0" and c.fire_signed(1) == "t1"
    assert c.fire_relu(0) == "t2" and c.fire_signed(0) == "t2"


@pytest.mark.parametrize("steps, message", [
    ([("integrate", 0, "a"), ("integrate", 0, "b")],
     "ReLU C2P set 0 integrates a token while it still holds one that never fired"),
    ([("fire_relu", 1)], "ReLU C2P set 1 fired without a QK read"),
    ([("fire_signed", 0)], "signed C2P set 0 fired with nothing integrated"),
    ([("integrate", 0, "a"), ("fire_relu", 0), ("integrate", 0, "b"), ("fire_relu", 0)],
     "signed C2P set 0 integrates a token while it still holds one that never fired"),
    ([("integrate", 2, "a")], "C2P set 2 does not exist (2 per column)"),
    # one set at the ping-pong interval: the next token's integrate meets the A fire
    ([("integrate", 0, "a"), ("fire_relu", 0), ("integrate", 0, "b", True)],
     "ReLU C2P set 0 integrates a token while it fires the previous one"),
    ([("integrate", 0, "a"), ("fire_relu", 0), ("fire_signed", 0), ("integrate", 0, "b"),
      ("fire_relu", 0, True)],
     "signed C2P set 0 integrates a token while it fires the previous one"),
])
def test_a_phase_the_circuits_cannot_follow_is_refused(steps, message):
    c = C2PSets(2)
    def call(name, *args):
        if name == "integrate" and len(args) == 3:
            return c.integrate(*args[:2], firing=args[2])
        if name == "fire_relu" and len(args) == 2:
            return c.fire_relu(args[0], signed_firing=args[1])
        return getattr(c, name)(*args)

    for step in steps[:-1]:
        call(*step)
    with pytest.raises(AssertionError) as e:
        call(*steps[-1])
    assert str(e.value) == message


def test_one_set_is_the_papers_column():
    c = C2PSets(1)
    c.integrate(0, "t0")
    with pytest.raises(AssertionError, match="still holds"):
        c.integrate(0, "t1")
    with pytest.raises(ValueError, match="at least one C2P set, not 0"):
        C2PSets(0)
