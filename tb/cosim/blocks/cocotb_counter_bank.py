"""cocotb: generated ``counter_bank`` Verilog against :class:`sim.blockref.CounterBankRef`.

The unit test's episodes (clean tokens with one pulse per channel, sign re-randomised every
cycle, junk outside the window; noisy stretches with random clears), every cycle compared with
the model; after each clean token also with ±min(length, count_max) from the stimulus alone.
"""

from __future__ import annotations

import cocotb
import numpy as np

from sim.blockref import CounterBankRef
from sim.stimuli import counter_episodes
from tb.cosim.blocks.common import Stepper, block_setup, manifest_entry
from tb.cosim.bus import read_fields, write_bits


@cocotb.test()
async def counter_bank_matches_reference(dut):
    cfg, seed = block_setup("counter_bank")
    a = cfg.array
    n, cmax, w = a.n_channels, a.count_max, a.count_width
    ref = CounterBankRef(cfg)
    assert manifest_entry("counter_bank")["latency_cycles"] == ref.latency == 1
    rng = np.random.default_rng(seed)
    tokens = 12 if n >= 256 else 40
    stim = list(counter_episodes(rng, n, cmax, tokens))
    stats = {"checks": 0, "saturated": 0, "negative": 0}

    for sig in (dut.i_pulse, dut.i_sign, dut.i_enable, dut.i_clear):
        sig.value = 0
    st = Stepper(dut, cfg)
    await st.start()
    for c, (pulse, sign, enable, clear, check) in enumerate(stim):
        write_bits(dut.i_pulse, pulse)
        write_bits(dut.i_sign, sign)
        dut.i_enable.value = int(enable)
        dut.i_clear.value = int(clear)
        exp = ref.step(pulse, sign, enable, clear)
        await st.settle()
        got = read_fields(dut.o_counts, n, w, signed=True)
        if not np.array_equal(got, exp):
            bad = np.flatnonzero(got != exp)[:8]
            raise AssertionError(f"cycle {c}: channels {bad}: got {got[bad]}, "
                                 f"expected {exp[bad]}")
        if check is not None:
            assert np.array_equal(got, check), (c, got, check)
            stats["checks"] += 1
        stats["saturated"] += int((np.abs(exp) == cmax).sum())
        stats["negative"] += int((exp < 0).sum())
        await st.next_cycle()
    dut._log.info("counter_bank: %d cycles, %d channels, %s", len(stim), n, stats)
    assert stats["checks"] > 0 and stats["saturated"] > 0 and stats["negative"] > 0, stats
