"""cocotb: generated ``adder_tree`` Verilog against :class:`sim.blockref.AdderTreeRef`.

Opens with the extreme vectors (all +count_max, all −count_max, alternating), whose sums are
also checked against the closed form ±n_tiles·count_max (no overflow of sum_width), then random
counts with random valid.  Combinational (latency 0, no clock) or pipelined, as configured.
"""

from __future__ import annotations

import cocotb
import numpy as np

from hdl.schedule import Schedule
from sim.blockref import AdderTreeRef
from tb.cosim.blocks.common import Stepper, block_setup, manifest_entry
from tb.cosim.bus import read_fields, write_fields


@cocotb.test()
async def adder_tree_matches_reference(dut):
    cfg, seed = block_setup("adder_tree")
    a = cfg.array
    d, n, cmax = a.head_dim, a.n_tiles, a.count_max
    lat = manifest_entry("adder_tree")["latency_cycles"]
    assert lat == Schedule(cfg).adder_latency
    assert hasattr(dut, "clk") == (lat > 0)
    ref = AdderTreeRef(cfg, lat)
    rng = np.random.default_rng(seed)

    extremes = [np.full(n * d, cmax), np.full(n * d, -cmax),
                np.where(np.arange(n * d) % 2 == 0, cmax, -cmax)]
    # A full-size combinational tree costs Icarus ~0.1 s per cycle.
    cycles = 300 if n * d <= 256 else (40 if lat == 0 else 100)
    counts = rng.integers(-cmax, cmax + 1, size=(cycles, n * d))
    counts[:len(extremes)] = extremes
    valid = rng.random(cycles) < 0.6
    valid[:len(extremes)] = True
    seen_extremes = []

    dut.i_counts.value = 0
    dut.i_valid.value = 0
    st = Stepper(dut, cfg)
    await st.start()
    for c in range(cycles + lat + 1):
        x = counts[c % cycles]
        v = bool(valid[c % cycles]) and c < cycles
        write_fields(dut.i_counts, x, a.count_width)
        dut.i_valid.value = int(v)
        exp = ref.step(x, v)
        await st.settle()
        got = read_fields(dut.o_sums, d, a.sum_width, signed=True)
        assert int(dut.o_valid.value) == exp.valid, c
        assert np.array_equal(got, exp.sums), (c, got, exp.sums)
        if lat <= c < lat + len(extremes):
            seen_extremes.append(got.copy())
        await st.next_cycle()
    # Closed form, no model: ±n·count_max come out exactly `latency` cycles after they went in.
    assert np.all(seen_extremes[0] == n * cmax)
    assert np.all(seen_extremes[1] == -n * cmax)
    if d % 2 == 0:
        assert np.all(seen_extremes[2][0::2] == n * cmax)
        assert np.all(seen_extremes[2][1::2] == -n * cmax)
    dut._log.info("adder_tree: %d cycles, latency %d, d=%d, n_tiles=%d", cycles, lat, d, n)
