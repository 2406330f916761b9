"""PwmBank against sim.blockref.PwmBankRef, cycle by cycle, in the Amaranth simulator."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.pwm_bank import PwmBank
from hdl.config import HeadConfig
from sim.bits import pack_array, unpack_array
from sim.blockref import PwmBankRef
from sim.stimuli import pwm_stimulus

CONFIGS = {
    "default": [],
    "tiny": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"],
    "q2": ["array.head_dim=8", "array.q_bits=2", "array.count_bits=2"],
    "q1": ["array.head_dim=2", "array.q_bits=1", "array.count_bits=1"],
    "q6": ["array.head_dim=16", "array.q_bits=6", "array.count_bits=6"],
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pwm_bank_matches_reference(name):
    cfg = HeadConfig().with_overrides(CONFIGS[name])
    a = cfg.array
    d, q_max = a.head_dim, a.q_max
    dut = PwmBank(cfg)
    ref = PwmBankRef(cfg)
    assert dut.latency == ref.latency == 1
    rng = np.random.default_rng(1234 + len(name))
    cycles = max(600, 40 * q_max)
    codes, start = pwm_stimulus(rng, d, q_max, cycles)
    stats = {"accepts": 0, "back_to_back": 0, "wl_high": 0}

    async def tb(ctx):
        high_cycles = np.zeros(d, dtype=np.int64)
        frame_codes = None      # codes of the running frame, as accepted
        accepted = None         # codes accepted in the previous cycle
        for c in range(cycles):
            ctx.set(dut.i_codes.as_value(), pack_array(codes[c], a.q_bits))
            ctx.set(dut.i_start, int(start[c]))
            exp = ref.step(codes[c], bool(start[c]))
            wl = unpack_array(ctx.get(dut.o_wl), 1, d, signed=False).astype(bool)
            got = (ctx.get(dut.o_busy), ctx.get(dut.o_last), ctx.get(dut.o_ready))
            assert got == (exp.busy, exp.last, exp.ready), (c, got, exp)
            assert np.array_equal(wl, exp.wl), (c, wl.astype(int), exp.wl.astype(int))
            # Independent of the model: a frame starts the cycle after its accept and each
            # line is high for exactly its accepted code within the frame.
            if accepted is not None:
                assert exp.busy
                frame_codes, accepted = accepted, None
                high_cycles[:] = 0
            if exp.busy:
                high_cycles += wl
            if exp.last:
                assert np.array_equal(high_cycles, frame_codes), (c, high_cycles, frame_codes)
            if start[c] and exp.ready:
                accepted = codes[c].copy()
                stats["accepts"] += 1
                stats["back_to_back"] += int(exp.last)
            stats["wl_high"] += int(wl.sum())
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    # The stimulus really exercised what it is meant to.
    assert stats["accepts"] >= 10
    assert stats["back_to_back"] >= 3
    assert stats["wl_high"] > 0


def test_pwm_bank_single_frame_directed():
    """Hand-written expectation, no model: codes 0, 1, q_max−1, q_max on a 4-line bank."""
    cfg = HeadConfig().with_overrides(["array.head_dim=4"])
    q_max = cfg.array.q_max
    dut = PwmBank(cfg)
    codes = [0, 1, q_max - 1, q_max]

    async def tb(ctx):
        ctx.set(dut.i_codes.as_value(), pack_array(codes, cfg.array.q_bits))
        ctx.set(dut.i_start, 1)
        assert ctx.get(dut.o_ready) == 1
        await ctx.tick()
        ctx.set(dut.i_start, 0)
        ctx.set(dut.i_codes.as_value(), pack_array([q_max] * 4, cfg.array.q_bits))
        for k in range(q_max):
            # latency 1: frame cycle k is k + 1 cycles after the accept.
            exp = sum(1 << i for i, code in enumerate(codes) if k < code)
            assert ctx.get(dut.o_wl) == exp, k
            assert ctx.get(dut.o_busy) == 1
            assert ctx.get(dut.o_last) == (k == q_max - 1)
            assert ctx.get(dut.o_ready) == (k == q_max - 1)
            await ctx.tick()
        assert (ctx.get(dut.o_wl), ctx.get(dut.o_busy), ctx.get(dut.o_ready)) == (0, 0, 1)

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
