"""WriteSequencer against sim.blockref.WriteSequencerRef, cycle-exact, random starts."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.write_sequencer import WriteSequencer
from hdl.config import HeadConfig
from sim.bits import pack_array, unpack_array
from sim.blockref import WriteSequencerRef

CONFIGS = {
    "default": [],
    "tiny_n3": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"],
    "dis2_dac3": ["timing.discharge_cycles=2", "timing.dac_write_cycles=3"],
    "dis3_dac1_kv5": ["array.head_dim=8", "timing.discharge_cycles=3",
                      "timing.dac_write_cycles=1", "array.kv_bits=5"],
    "pingpong": ["timing.schedule=pingpong"],        # V written right before the A fire
    "pingpong_dis2_dac3": ["array.head_dim=4", "timing.schedule=pingpong",
                           "timing.discharge_cycles=2", "timing.dac_write_cycles=3"],
}
FLAGS = ("discharge_k", "we_k", "discharge_v", "we_v", "busy", "done", "ready")
CONTRACT_LATENCY = 1  # accept → first K discharge cycle (the docstring's contract)


def pack(codes, bits: int) -> int:
    return pack_array(codes, bits)


def unpack(word: int, bits: int, n: int) -> list[int]:
    return unpack_array(word, bits, n, signed=False).tolist()


@pytest.mark.parametrize("name", CONFIGS)
def test_write_sequencer(name: str) -> None:
    cfg = HeadConfig().with_overrides(CONFIGS[name])
    d, bits = cfg.array.head_dim, cfg.array.kv_bits
    dut = WriteSequencer(cfg)
    assert dut.latency == CONTRACT_LATENCY
    ref = WriteSequencerRef(cfg, latency=dut.latency)

    rng = np.random.default_rng(sum(map(ord, name)))
    cycles = 1500
    # Start patterns in segments: held high (back-to-back), sparse, bursty, idle.
    p_start = np.repeat(rng.choice([1.0, 0.05, 0.3, 0.6, 0.0], size=cycles // 50), 50)
    start = rng.random(cycles) < p_start
    k_codes = rng.integers(0, 1 << bits, size=(cycles, d))
    v_codes = rng.integers(0, 1 << bits, size=(cycles, d))
    cover = {"accepts": 0, "back_to_back": 0, "ignored": 0}

    async def tb(ctx):
        for k in range(cycles):
            ctx.set(dut.i_start, int(start[k]))
            # New random codes every cycle: only the ones of the accept cycle may reach the DACs.
            ctx.set(dut.i_k.as_value(), pack(k_codes[k], bits))
            ctx.set(dut.i_v.as_value(), pack(v_codes[k], bits))
            exp = ref.step({"start": int(start[k]), "k": k_codes[k], "v": v_codes[k]})
            got = {f: ctx.get(getattr(dut, f"o_{f}")) for f in FLAGS}
            got["dac_k"] = unpack(ctx.get(dut.o_dac_k.as_value()), bits, d)
            got["dac_v"] = unpack(ctx.get(dut.o_dac_v.as_value()), bits, d)
            for key, value in got.items():
                assert value == exp[key], f"cycle {k}: o_{key} = {value}, expected {exp[key]}"
            accepted = bool(start[k] and exp["ready"])
            cover["accepts"] += accepted
            cover["back_to_back"] += accepted and bool(exp["busy"])
            cover["ignored"] += bool(start[k] and not exp["ready"])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    assert cover["accepts"] > 20 and cover["back_to_back"] > 5 and cover["ignored"] > 5, cover


def test_write_sequencer_literals() -> None:
    """The default schedule written out by hand (discharge 1, DAC write 2 cycles)."""
    cfg = HeadConfig()
    d, bits = cfg.array.head_dim, cfg.array.kv_bits
    dut = WriteSequencer(cfg)
    k = [i % 8 for i in range(d)]
    v = [(7 - i) % 8 for i in range(d)]
    # cycle after accept: (discharge_k, we_k, discharge_v, we_v, busy, done, ready)
    trace = [
        (1, 0, 0, 0, 1, 0, 0),
        (0, 1, 0, 0, 1, 0, 0),
        (0, 1, 0, 0, 1, 0, 0),
        (0, 0, 1, 0, 1, 0, 0),
        (0, 0, 0, 1, 1, 0, 0),
        (0, 0, 0, 1, 1, 1, 1),
        (0, 0, 0, 0, 0, 0, 1),
    ]

    async def tb(ctx):
        assert ctx.get(dut.o_ready) == 1 and ctx.get(dut.o_busy) == 0
        ctx.set(dut.i_start, 1)
        ctx.set(dut.i_k.as_value(), pack(k, bits))
        ctx.set(dut.i_v.as_value(), pack(v, bits))
        await ctx.tick()
        ctx.set(dut.i_k.as_value(), 0)  # codes must have been latched
        ctx.set(dut.i_v.as_value(), 0)
        for row in trace:
            # i_start stays high while busy (ignored); dropped in the o_done cycle to end idle.
            got = tuple(ctx.get(getattr(dut, f"o_{f}")) for f in FLAGS)
            assert got == row
            dac_k = unpack(ctx.get(dut.o_dac_k.as_value()), bits, d)
            dac_v = unpack(ctx.get(dut.o_dac_v.as_value()), bits, d)
            assert dac_k == (k if row[1] else [0] * d)
            assert dac_v == (v if row[3] else [0] * d)
            if row[5]:
                ctx.set(dut.i_start, 0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
