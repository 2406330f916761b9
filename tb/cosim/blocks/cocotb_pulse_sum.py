"""cocotb: generated ``pulse_sum`` Verilog against :class:`sim.blockref.PulseSumRef`.

The counter bank's episodes (clean tokens, noisy stretches with random clears, signs that change
mid-pulse) with a random valid, every cycle's sums and valid compared with the model.
"""

from __future__ import annotations

import cocotb
import numpy as np

from sim.blockref import PulseSumRef
from sim.stimuli import counter_episodes
from tb.cosim.blocks.common import Stepper, block_setup, manifest_entry
from tb.cosim.bus import read_fields, write_bits


@cocotb.test()
async def pulse_sum_matches_reference(dut):
    cfg, seed = block_setup("pulse_sum")
    a = cfg.array
    ref = PulseSumRef(cfg)
    assert manifest_entry("pulse_sum")["latency_cycles"] == ref.latency == 1
    rng = np.random.default_rng(seed)
    tokens = 12 if a.n_channels >= 256 else 40
    stim = [(p, s, e, c, bool(rng.random() < 0.3))
            for p, s, e, c, _ in counter_episodes(rng, a.n_channels, a.count_max, tokens)]
    stats = {"nonzero": 0, "negative": 0, "valid": 0}

    for sig in (dut.i_pulse, dut.i_sign, dut.i_enable, dut.i_clear, dut.i_valid):
        sig.value = 0
    st = Stepper(dut, cfg)
    await st.start()
    for c, (pulse, sign, enable, clear, valid) in enumerate(stim):
        write_bits(dut.i_pulse, pulse)
        write_bits(dut.i_sign, sign)
        dut.i_enable.value = int(enable)
        dut.i_clear.value = int(clear)
        dut.i_valid.value = int(valid)
        exp = ref.step(pulse, sign, enable, clear, valid)
        await st.settle()
        got = read_fields(dut.o_sums, a.head_dim, a.sum_width, signed=True)
        assert int(dut.o_valid.value) == exp.valid, c
        assert np.array_equal(got, exp.sums), (c, got, exp.sums)
        stats["nonzero"] += int(np.count_nonzero(got))
        stats["negative"] += int((got < 0).sum())
        stats["valid"] += int(exp.valid)
        await st.next_cycle()
    dut._log.info("pulse_sum: %d cycles, %s", len(stim), stats)
    assert all(stats.values()), stats
