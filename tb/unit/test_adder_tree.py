"""AdderTreeBank against sim.blockref.AdderTreeRef, cycle by cycle, in the Amaranth simulator.

The stimulus opens with the extreme vectors (every input +count_max, every input −count_max,
then alternating): their sums ±n_tiles·count_max are checked against the closed form as well,
which proves sum_width does not overflow.  Then random counts with random valid.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.adder_tree import AdderTreeBank
from hdl.config import HeadConfig
from hdl.schedule import Schedule
from sim.bits import pack_array, unpack_array
from sim.blockref import AdderTreeRef

TINY = ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"]
CONFIGS = {
    "default": [],
    "tiny": TINY,
    "one_tile": ["array.head_dim=2", "array.n_tiles=1"],
    "n5_c6": ["array.head_dim=8", "array.n_tiles=5", "array.count_bits=6"],
    "n7_c1": ["array.head_dim=4", "array.n_tiles=7", "array.q_bits=1", "array.count_bits=1"],
    "n256": ["array.head_dim=1", "array.n_tiles=256"],
}
#: Copies of i_valid (hdl/fanout.py) per config: the head's 40 at defaults, an uneven split.
COPIES = {"default": 40, "n5_c6": 3}
CASES = ([(name, k, True) for name in CONFIGS for k in (0, 1, 2)]
         + [("default", 3, True), ("n256", 3, True)]
         # the paper's ungated trees (registers load every cycle, no operand isolation)
         + [(name, k, False) for name in ("default", "tiny", "n5_c6") for k in (0, 1, 3)])


@pytest.mark.parametrize(("name", "every", "gating"), CASES)
def test_adder_tree_matches_reference(name, every, gating):
    cfg = HeadConfig().with_overrides(CONFIGS[name] + [f"timing.adder_pipeline_every={every}",
                                                       f"timing.clock_gating={gating}"])
    a = cfg.array
    d, n, cmax = a.head_dim, a.n_tiles, a.count_max
    copies = COPIES.get(name, 1)
    dut = AdderTreeBank(cfg, copies=copies)
    assert dut.latency == Schedule(cfg).adder_latency
    ref = AdderTreeRef(cfg, dut.latency)
    rng = np.random.default_rng(7 + 10 * every + len(name))

    extremes = [np.full(n * d, cmax), np.full(n * d, -cmax),
                np.where(np.arange(n * d) % 2 == 0, cmax, -cmax)]
    cycles = 60
    counts = rng.integers(-cmax, cmax + 1, size=(cycles, n * d))
    counts[:len(extremes)] = extremes
    valid = rng.random(cycles) < 0.6
    valid[:len(extremes)] = True
    lat = dut.latency
    seen_extremes = []

    async def tb(ctx):
        for c in range(cycles + lat + 1):
            x = counts[c % cycles]
            v = bool(valid[c % cycles]) and c < cycles
            ctx.set(dut.i_counts.as_value(), pack_array(x, a.count_width))
            ctx.set(dut.i_valid, (1 << copies) - 1 if v else 0)   # every copy equal
            exp = ref.step(x, v)
            got = unpack_array(ctx.get(dut.o_sums.as_value()), a.sum_width, d, signed=True)
            got_valid = ctx.get(dut.o_valid)      # every copy of the valid equal
            assert got_valid == ((1 << copies) - 1 if exp.valid else 0), c
            assert np.array_equal(got, exp.sums), (c, got, exp.sums)
            if lat <= c < lat + len(extremes):
                seen_extremes.append(got.copy())
            if lat:
                await ctx.tick()
            else:
                await ctx.delay(1e-9)   # combinational: the block has no clock domain

    sim = Simulator(dut)
    if lat:
        sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    # Closed form, no model: ±n·count_max fits sum_width (no wrap-around) after `latency` cycles.
    assert np.all(seen_extremes[0] == n * cmax)
    assert np.all(seen_extremes[1] == -n * cmax)
    if d % 2 == 0:
        # Alternating input: element tile*d + e is +cmax iff e is even (d even).
        assert np.all(seen_extremes[2][0::2] == n * cmax)
        assert np.all(seen_extremes[2][1::2] == -n * cmax)
    assert -(1 << (a.sum_width - 1)) <= -n * cmax and n * cmax < (1 << (a.sum_width - 1))


@pytest.mark.parametrize(("n_tiles", "every", "latency"), [
    (16, 0, 0), (16, 1, 4), (16, 2, 2), (16, 3, 1), (16, 4, 1), (16, 5, 0),
    (3, 1, 2), (3, 2, 1), (5, 1, 3), (1, 1, 0), (2, 1, 1), (256, 3, 2),
])
def test_adder_tree_latency_table(n_tiles, every, latency):
    """Hand-computed register counts (ceil(log2 n) levels, one register per k levels) against
    the property and against the delay measured in simulation with a single valid vector."""
    cfg = HeadConfig().with_overrides([f"array.n_tiles={n_tiles}", "array.head_dim=1",
                                       f"timing.adder_pipeline_every={every}"])
    dut = AdderTreeBank(cfg)
    assert dut.latency == latency
    measured = []

    async def tb(ctx):
        ctx.set(dut.i_counts.as_value(), pack_array(np.ones(n_tiles), cfg.array.count_width))
        ctx.set(dut.i_valid, 1)
        for c in range(latency + 3):
            if ctx.get(dut.o_valid):
                assert ctx.get(dut.o_sums[0]) == n_tiles
                measured.append(c)
            if latency:
                await ctx.tick()
                ctx.set(dut.i_valid, 0)
            else:
                await ctx.delay(1e-9)

    sim = Simulator(dut)
    if latency:
        sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    assert measured[0] == latency
    if latency:
        assert measured == [latency]
