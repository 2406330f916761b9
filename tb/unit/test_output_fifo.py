"""OutputFifo against a Python deque, cycle by cycle, in the Amaranth simulator.

The writer respects the head's rule (a write only with room for it, counting a read in the same
cycle); reads are random.  Every cycle compares ``r_rdy``, ``r_data`` and ``level`` with the
deque; ``o_overflow`` must stay low.  A second test writes into a full FIFO and checks the
fault flag rises and sticks.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.lib import data
from amaranth.sim import Simulator

from hdl.blocks.output_fifo import OutputFifo
from sim.bits import pack_array, unpack_array

#: (elements, element bits, depth, copies): the head's default (64 sums of 9 bits, depth 4,
#: 40 copies), a depth that is no power of two with an uneven split, one copy, depth 1.
CASES = [(64, 9, 4, 40), (5, 4, 3, 3), (3, 6, 5, 1), (2, 3, 1, 2)]


def _run(dut, n, bits, steps):
    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(steps)
    sim.run()


@pytest.mark.parametrize(("n", "bits", "depth", "copies"), CASES)
def test_output_fifo_matches_a_queue(n, bits, depth, copies):
    dut = OutputFifo(data.ArrayLayout(signed(bits), n), depth, copies=copies)
    rng = np.random.default_rng(n + 10 * depth + copies)
    lim = 1 << (bits - 1)
    q: deque = deque()
    seen = {"reads": 0, "full": 0}

    async def tb(ctx):
        for c in range(400):
            # the writer's rule: room for the write, counting a read in this cycle
            r_en = bool(rng.random() < (0.3 if c < 200 else 0.7))
            popping = r_en and len(q) > 0
            w_en = bool(rng.random() < 0.6) and len(q) - popping < depth
            word = rng.integers(-lim, lim, size=n)
            ctx.set(dut.r_en, r_en)
            ctx.set(dut.w_en, (1 << copies) - 1 if w_en else 0)   # every copy equal
            ctx.set(dut.w_data.as_value(), pack_array(word, bits))
            assert ctx.get(dut.level) == len(q), c
            assert ctx.get(dut.r_rdy) == (len(q) > 0), c
            if q:
                got = unpack_array(ctx.get(dut.r_data.as_value()), bits, n, signed=True)
                assert np.array_equal(got, q[0]), (c, got, q[0])
            seen["full"] += len(q) == depth
            await ctx.tick()
            if popping:
                q.popleft()
                seen["reads"] += 1
            if w_en:
                q.append(word)
            assert ctx.get(dut.o_overflow) == 0, c

    _run(dut, n, bits, tb)
    assert seen["reads"] > 50 and seen["full"] > 5, seen   # both ends exercised


def test_output_fifo_flags_a_write_into_a_full_fifo():
    depth = 3
    dut = OutputFifo(data.ArrayLayout(signed(4), 4), depth, copies=2)

    async def tb(ctx):
        ctx.set(dut.w_en, 0b11)
        for _ in range(depth):
            await ctx.tick()
        assert ctx.get(dut.level) == depth and ctx.get(dut.o_overflow) == 0
        ctx.set(dut.r_en, 1)                 # write and read while full: no fault
        await ctx.tick()
        assert ctx.get(dut.level) == depth and ctx.get(dut.o_overflow) == 0
        ctx.set(dut.r_en, 0)                 # write while full, no read: fault, sticky
        await ctx.tick()
        ctx.set(dut.w_en, 0)
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(dut.o_overflow) == 1

    _run(dut, 4, 4, tb)


@pytest.mark.parametrize(("depth", "copies", "message"), [
    (0, 1, "depth must be at least 1, not 0"),
    (2, 5, "copies must be from 1 to the 4 elements, not 5"),
])
def test_output_fifo_rejects_bad_parameters(depth, copies, message):
    with pytest.raises(ValueError, match=message):
        OutputFifo(data.ArrayLayout(signed(4), 4), depth, copies=copies)
