"""WriteAddressController against sim.blockref.WriteAddressRef, cycle-exact."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.write_address import WriteAddressController
from hdl.config import HeadConfig
from sim.blockref import WriteAddressRef

# name -> (overrides, cycles, P(advance), P(clear))
CONFIGS = {
    "default": ([], None, 0.9, 0.0),
    "tiny_n3": (["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"], 600, 0.7, 0.02),
    "n5_c8": (["array.n_tiles=5", "array.tile_cols=8"], 800, 0.8, 0.005),
    "n1_c1": (["array.n_tiles=1", "array.tile_cols=1"], 200, 0.6, 0.05),
    "n2_c32": (["array.n_tiles=2", "array.tile_cols=32"], 500, 0.8, 0.005),
}
#: Copies of i_advance (hdl/fanout.py) per config: the head's 8 at defaults, an uneven split.
COPIES = {"default": 8, "n5_c8": 3}
OUTPUTS = ("ptr", "tile", "col", "tile_sel", "col_sel", "valid", "full", "count")


@pytest.mark.parametrize("name", CONFIGS)
def test_write_address(name: str) -> None:
    overrides, cycles, p_adv, p_clr = CONFIGS[name]
    cfg = HeadConfig().with_overrides(overrides)
    w = cfg.array.window
    copies = COPIES.get(name, 1)
    dut = WriteAddressController(cfg, copies=copies)
    ref = WriteAddressRef(cfg)
    assert dut.latency == 1  # the contract: registered state

    rng = np.random.default_rng(sum(map(ord, name)))
    if cycles is None:
        # Full size: a clear early on, then more than W advances so the pointer wraps and
        # overwrites; advance gaps throughout.
        cycles = int(2.4 * w)
    advance = rng.random(cycles) < p_adv
    clear = rng.random(cycles) < p_clr
    clear[rng.integers(cycles // 8, cycles // 4)] = True  # at least one clear in mid-run
    clear[cycles - 10] = True  # and one of a full window
    cover = {"wraps": 0, "clear_full": 0, "clear_and_advance": 0, "gaps": int((~advance).sum())}

    async def tb(ctx):
        pending = [ref.outputs()] * dut.latency  # reset state until the first response
        before = ref.outputs()  # model state at the start of the cycle
        for k in range(cycles):
            ctx.set(dut.i_advance, (1 << copies) - 1 if advance[k] else 0)  # copies equal
            ctx.set(dut.i_clear, int(clear[k]))
            pending.append(ref.step({"advance": int(advance[k]), "clear": int(clear[k])}))
            exp = pending.pop(0)
            for port in OUTPUTS:
                got = ctx.get(getattr(dut, f"o_{port}"))
                assert got == exp[port], f"cycle {k}: o_{port} = {got:#x}, expected " \
                                         f"{exp[port]:#x}"
            cover["wraps"] += bool(advance[k] and not clear[k] and before["ptr"] == w - 1)
            cover["clear_full"] += bool(clear[k] and before["full"])
            before = pending[-1] if pending else exp
            cover["clear_and_advance"] += bool(clear[k] and advance[k])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
    # The stimulus reached the interesting cases (not a check of the DUT).
    assert cover["wraps"] >= 1 and cover["clear_full"] >= 1 and cover["gaps"] > 0, cover
    if name != "default":
        assert cover["clear_and_advance"] >= 1, cover


def test_write_address_literals() -> None:
    """Hand-written trace for n = 3, C = 4 (W = 12): split, wrap, overwrite, clear."""
    cfg = HeadConfig().with_overrides(["array.head_dim=4", "array.n_tiles=3",
                                       "array.tile_cols=4"])
    dut = WriteAddressController(cfg)

    async def tb(ctx):
        assert ctx.get(dut.o_ptr) == 0 and ctx.get(dut.o_valid) == 0
        ctx.set(dut.i_advance, 1)
        for _ in range(6):
            await ctx.tick()
        # six columns written: pointer 6 = tile 1, column 2
        assert (ctx.get(dut.o_ptr), ctx.get(dut.o_tile), ctx.get(dut.o_col)) == (6, 1, 2)
        assert (ctx.get(dut.o_tile_sel), ctx.get(dut.o_col_sel)) == (0b010, 0b0100)
        assert ctx.get(dut.o_valid) == 0b0000_0011_1111 and ctx.get(dut.o_count) == 6
        for _ in range(6):
            await ctx.tick()
        # twelve: wrapped to 0, all valid, full
        assert (ctx.get(dut.o_ptr), ctx.get(dut.o_full), ctx.get(dut.o_count)) == (0, 1, 12)
        assert ctx.get(dut.o_valid) == 0xFFF
        for _ in range(13):
            await ctx.tick()
        assert (ctx.get(dut.o_ptr), ctx.get(dut.o_count), ctx.get(dut.o_valid)) == (1, 12, 0xFFF)
        ctx.set(dut.i_clear, 1)  # clear wins over advance
        await ctx.tick()
        assert (ctx.get(dut.o_ptr), ctx.get(dut.o_full), ctx.get(dut.o_valid)) == (0, 0, 0)
        ctx.set(dut.i_clear, 0)
        ctx.set(dut.i_advance, 0)
        await ctx.tick()
        assert ctx.get(dut.o_ptr) == 0 and ctx.get(dut.o_count) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()
