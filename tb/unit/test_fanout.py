"""hdl.fanout: the split of a bank among control copies, and the fan-out tree's copies equal the
value two cycles late (the head feeds it the timeline one offset early)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hdl.fanout import REPLICA_MARK, copies_for, replicated_tree, slices


@pytest.mark.parametrize(("items", "copies"), [(64, 40), (64, 1), (5, 3), (7, 7), (1024, 8)])
def test_slices_cover_every_item_once_in_order(items, copies):
    parts = slices(items, copies)
    assert len(parts) == copies and all(len(p) >= 1 for p in parts)
    assert [i for p in parts for i in p] == list(range(items))


@pytest.mark.parametrize("copies", [1, 2, 40, copies_for(5120, at_most=64)])
def test_replicated_tree_copies_equal_the_value_two_cycles_late(copies):
    m = Module()
    x = Signal()
    regs = replicated_tree(m, x, copies, "ctl")
    assert [r.name for r in regs] == [f"ctl{REPLICA_MARK}{i}" for i in range(copies)]
    bits = np.random.default_rng(copies).random(60) < 0.5

    async def tb(ctx):
        for c, b in enumerate(bits):
            ctx.set(x, int(b))
            got = {ctx.get(r) for r in regs}
            assert got == {int(bits[c - 2]) if c >= 2 else 0}, c
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
