"""The array twin's RTL against sim.twin.TwinRef, bit for bit, in the Amaranth simulator; the
twin's tables against analog_models; the reference against the golden model (float)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from analog_models.dac import code_to_volts
from analog_models.gain_cell import cell_g
from hdl.config import HeadConfig
from hdl.fpga.twin import ArrayTwin, min_time_scale
from sim.bits import pack_array
from sim.twin import TwinRef, twin_tables

SMALL = ["array.head_dim=4", "array.n_tiles=2", "array.tile_cols=8"]


def _drive_reads(cfg, writes_reads, tables, lanes=1):
    """Run ``writes_reads`` (list of ("w", col, k, v) | ("r", widths, valid)) through the
    twin RTL; return the (sign, count) of each read as seen on its pulse pins."""
    a = cfg.array
    dut = ArrayTwin(cfg, tables, lanes)
    got = []

    async def tb(ctx):
        ctx.set(dut.i_ce, 1)

        async def head_cycle():
            await ctx.tick()

        for op in writes_reads:
            if op[0] == "w":
                _, col, k, v = op
                tile, c = divmod(col, a.tile_cols)
                ctx.set(dut.i_tile_sel, 1 << tile)
                ctx.set(dut.i_col_sel, 1 << c)
                for kind in ("k", "v"):
                    ctx.set(getattr(dut, f"i_discharge_{kind}"), 1)
                    await head_cycle()
                    ctx.set(getattr(dut, f"i_discharge_{kind}"), 0)
                    ctx.set(getattr(dut, f"i_dac_{kind}").as_value(),
                            pack_array(k if kind == "k" else v, a.kv_bits))
                    ctx.set(getattr(dut, f"i_we_{kind}"), 1)
                    await head_cycle()
                    ctx.set(getattr(dut, f"i_we_{kind}"), 0)
                    ctx.set(getattr(dut, f"i_dac_{kind}").as_value(), 0)
                continue
            _, widths, valid = op
            ctx.set(dut.i_c2p1_integrate, 1)
            for cyc in range(a.q_max):
                ctx.set(dut.i_wl_q, pack_array(widths > cyc, 1))
                await head_cycle()
            ctx.set(dut.i_wl_q, 0)
            ctx.set(dut.i_c2p1_integrate, 0)
            ctx.set(dut.i_valid, pack_array(valid, 1))
            ctx.set(dut.i_c2p1_fire, 1)
            await head_cycle()
            assert ctx.get(dut.o_busy)
            busy = 1
            while ctx.get(dut.o_busy):
                await ctx.tick()
                busy += 1
            # the engine's length as documented (the time scale R is derived from it)
            assert busy <= dut.engine_cycles
            assert busy >= 2 * a.window * a.head_dim // lanes
            ctx.set(dut.i_c2p1_fire, 0)
            ctx.set(dut.i_c2p2_fire, 1)
            n_ch = a.n_channels
            count = np.zeros(n_ch, np.int64)
            sign = np.array([(ctx.get(dut.o_c2p_sign) >> c) & 1 for c in range(n_ch)], bool)
            for _ in range(a.count_max):
                p = ctx.get(dut.o_c2p_pulse)
                count += np.array([(p >> c) & 1 for c in range(n_ch)])
                assert not ctx.get(dut.o_late)
                await head_cycle()
            ctx.set(dut.i_c2p2_fire, 0)
            assert ctx.get(dut.o_c2p_pulse) == 0 and ctx.get(dut.o_c2p_sign) == 0
            got.append((sign.reshape(a.n_tiles, a.head_dim),
                        count.reshape(a.n_tiles, a.head_dim)))
            await head_cycle()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


@pytest.mark.parametrize("overrides, lanes", [
    (SMALL, 1), (SMALL, 4), (SMALL + ["analog.nonlinearity=false"], 2),
    (["array.head_dim=2", "array.n_tiles=3", "array.tile_cols=4", "analog.offset=false"], 1),
    # lanes > kv_max: the products are formed once per column and chosen per lane
    (["array.head_dim=8", "array.n_tiles=2", "array.tile_cols=8"], 8)])
def test_twin_rtl_matches_reference(overrides, lanes):
    cfg = HeadConfig().with_overrides(overrides)
    a = cfg.array
    tables = twin_tables(cfg)
    rng = np.random.default_rng(7)
    ref = TwinRef(cfg, tables)
    ops, expect = [], []
    for step in range(6):
        # a few writes to random columns (some columns never written: their memory holds 0)
        for _ in range(int(rng.integers(1, 4))):
            col = int(rng.integers(a.window // 2))
            k, v = rng.integers(0, a.kv_max + 1, (2, a.head_dim))
            ops.append(("w", col, k, v))
            ref.write(col, k, v)
        widths = rng.integers(0, a.q_max + 1, a.head_dim)
        widths[rng.random(a.head_dim) < 0.3] = a.q_max
        # random masks: written and unwritten columns both in and out of the window
        valid = rng.random(a.window) < (0.5 if step % 2 else 0.9)
        ops.append(("r", widths, valid))
        expect.append(ref.read(widths, valid))
    got = _drive_reads(cfg, ops, tables, lanes)
    assert len(got) == len(expect)
    nonzero = 0
    for (gs, gc), (es, ec) in zip(got, expect):
        np.testing.assert_array_equal(gc, ec)
        np.testing.assert_array_equal(gs & (gc > 0), es & (ec > 0))
        nonzero += int((ec > 0).sum())
    assert nonzero > 0       # the reads counted something


def test_twin_tables_from_the_cell_curve():
    """lut and gv are the cell curve of analog_models scaled and rounded (an independent
    evaluation: g at each DAC voltage, times the pulse fraction)."""
    cfg = HeadConfig().with_overrides(SMALL)
    t = twin_tables(cfg)
    a = cfg.array
    for code in range(a.kv_max + 1):
        g = float(cell_g(code_to_volts(np.array(code), cfg) - cfg.analog.v_mid_V, cfg.analog))
        assert abs(t.gv[code] / 2 ** t.frac_g - g) <= 2 ** -(t.frac_g + 1)
        for w in range(a.q_max + 1):
            assert abs(t.lut[code][w] / 2 ** t.frac_s - g * w / a.q_max) <= 2 ** -(t.frac_s + 1)
    assert t.sat1 == cfg.analog.s_sat1_uA * 2 ** t.frac_s
    # thresholds: |O|·cmax/S_sat2 ≥ c − ½ with O = P/(sat1·2^frac_g)
    scale = t.sat1 * 2 ** t.frac_g * cfg.analog.s_sat2_uA / a.count_max
    step = 2 ** t.th_shift
    assert step <= scale * 2 ** -14
    for c, th in enumerate(t.thresholds, start=1):
        assert th % step == 0 and th - step < (c - 0.5) * scale <= th


def test_twin_needs_quantised_codes():
    cfg = HeadConfig().with_overrides(SMALL + ["analog.quantization=false"])
    with pytest.raises(ValueError, match="twin needs analog.quantization on"):
        twin_tables(cfg)


def test_twin_refuses_the_pingpong_schedule():
    """The twin has one C2P set and reads the K memory after the A-fire rise: the ping-pong
    schedule (two sets, the next token's K write at that rise) is refused with the reason."""
    import gc
    import warnings

    from amaranth.hdl import UnusedElaboratable

    from hdl.fpga.twin import min_time_scale

    cfg = HeadConfig().with_overrides(["array.head_dim=2", "array.n_tiles=2",
                                       "array.tile_cols=4", "timing.schedule=pingpong"])
    msg = "the FPGA prototype does not support timing.schedule=pingpong"
    with warnings.catch_warnings():      # the refused twin is never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=msg) as e:
            ArrayTwin(cfg, twin_tables(cfg))
        del e
        gc.collect()
    with pytest.raises(ValueError, match=msg):
        min_time_scale(cfg)
@pytest.mark.parametrize("lanes", [0, 3, 16])
def test_twin_lanes_checked(lanes):
    """lanes must divide d (4) and be at most the tile's columns (8)."""
    cfg = HeadConfig().with_overrides(SMALL)
    with pytest.raises(ValueError, match=f"twin lanes must divide head_dim = 4 and be at "
                                         f"most tile_cols = 8, not {lanes}"):
        min_time_scale(cfg, lanes)


def test_time_scale_falls_with_lanes():
    """The default head: R from the engine's length over the schedule's budgets (one lane:
    2·W·d cycles in 15 head cycles), and 16 lanes cut it 16-fold."""
    cfg = HeadConfig()
    r1, r16 = min_time_scale(cfg), min_time_scale(cfg, 16)
    assert r1 == -(-(2 * 1024 * 64 + 1 + 11) // 15)
    assert r16 == -(-(2 * 1024 * 64 // 16 + 16 + 4 + 11) // 15)
