"""CounterBank against sim.blockref.CounterBankRef, cycle by cycle, in the Amaranth simulator.

Two kinds of episode alternate, every cycle compared with the model:

* clean tokens: clear, then a count window in which each channel fires one pulse of random
  start and length (often longer than count_max), with the sign input re-randomised every cycle
  (only its value at the pulse start may matter) and junk pulses outside the window.  At the
  end the counts are also checked against ±min(length, count_max) computed from the stimulus,
  without the model;
* noisy stretches: random pulse, sign, enable and clear bits every cycle (clears land in the
  middle of pulses and windows).
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.counter_bank import CounterBank
from hdl.config import HeadConfig
from sim.bits import pack_array, unpack_array
from sim.blockref import CounterBankRef
from sim.stimuli import counter_episodes

CONFIGS = {
    "default": [],
    "tiny": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"],
    "c2": ["array.head_dim=8", "array.n_tiles=5", "array.q_bits=2", "array.count_bits=2"],
    "c6": ["array.head_dim=2", "array.n_tiles=7", "array.q_bits=3", "array.count_bits=6"],
    "c1": ["array.head_dim=1", "array.n_tiles=1", "array.q_bits=1", "array.count_bits=1"],
    # the paper's ungated bank (clock gating changes no output: same reference)
    "tiny_ungated": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4",
                     "timing.clock_gating=false"],
    "c2_ungated": ["array.head_dim=8", "array.n_tiles=5", "array.q_bits=2", "array.count_bits=2",
                   "timing.clock_gating=false"],
}


#: Copies of i_enable / i_clear (hdl/fanout.py) per config: the head's 40 at defaults, an
#: uneven split.
COPIES = {"default": 40, "c2": 3}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_counter_bank_matches_reference(name):
    cfg = HeadConfig().with_overrides(CONFIGS[name])
    a = cfg.array
    n, cmax, w = a.n_channels, a.count_max, a.count_width
    copies = COPIES.get(name, 1)
    dut = CounterBank(cfg, copies=copies)
    ref = CounterBankRef(cfg)
    assert dut.latency == ref.latency == 1
    assert w == a.count_bits + 1
    rng = np.random.default_rng(99 + len(name))
    tokens = 12 if n >= 256 else 40
    stim = list(counter_episodes(rng, n, cmax, tokens))
    stats = {"checks": 0, "saturated": 0, "negative": 0}

    async def tb(ctx):
        for c, (pulse, sign, enable, clear, check) in enumerate(stim):
            ctx.set(dut.i_pulse, pack_array(pulse, 1))
            ctx.set(dut.i_sign, pack_array(sign, 1))
            ctx.set(dut.i_enable, (1 << copies) - 1 if enable else 0)   # every copy equal
            ctx.set(dut.i_clear, (1 << copies) - 1 if clear else 0)
            exp = ref.step(pulse, sign, enable, clear)
            got = unpack_array(ctx.get(dut.o_counts.as_value()), w, n, signed=True)
            if not np.array_equal(got, exp):
                bad = np.flatnonzero(got != exp)[:8]
                raise AssertionError(f"cycle {c}: channels {bad}: got {got[bad]}, "
                                     f"expected {exp[bad]}")
            if check is not None:
                assert np.array_equal(got, check), (c, got, check)
                stats["checks"] += 1
            stats["saturated"] += int((np.abs(exp) == cmax).sum())
            stats["negative"] += int((exp < 0).sum())
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    assert stats["checks"] > 0 and stats["saturated"] > 0 and stats["negative"] > 0


def test_counter_bank_directed():
    """Hand-written single channel: sign latched at the first pulse cycle since the clear, held
    through window gaps and later pulses; saturation; clear priority."""
    cfg = HeadConfig().with_overrides(["array.head_dim=1", "array.n_tiles=1"])
    cmax = cfg.array.count_max
    dut = CounterBank(cfg)

    async def tb(ctx):
        async def cycle(pulse, sign, enable=1, clear=0):
            ctx.set(dut.i_pulse, pulse)
            ctx.set(dut.i_sign, sign)
            ctx.set(dut.i_enable, enable)
            ctx.set(dut.i_clear, clear)
            await ctx.tick()
            return ctx.get(dut.o_counts[0])

        assert ctx.get(dut.o_counts[0]) == 0
        assert await cycle(1, 1) == -1            # start: sign 1 latched, seen next cycle
        assert await cycle(1, 0) == -2            # sign input drops mid-pulse: ignored
        assert await cycle(1, 0, enable=0) == -2  # outside the window: not counted
        assert await cycle(1, 0) == -3            # window gap: no re-latch
        assert await cycle(0, 1) == -3
        assert await cycle(1, 0) == -4            # second pulse, other sign: no re-latch
        for k in range(5, cmax + 3):
            assert await cycle(1, 0) == -min(k, cmax)   # enable back, saturates at count_max
        assert await cycle(0, 0) == -cmax
        assert await cycle(1, 1, clear=1) == 0    # clear wins over a pulse cycle
        assert await cycle(1, 0) == 1             # first counted cycle after clear: start
        assert await cycle(0, 1) == 1

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
