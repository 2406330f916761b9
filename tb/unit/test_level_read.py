"""The level kernel of the gain-cell arrays (analog_models/level_read): it builds here, its two
implementations give the same bits, it equals a direct sum and the matrix path, and a bank
falls back to the matrices (with a clear warning) when it cannot be used."""

import os

import numpy as np
import pytest

from analog_models import level_read, native
from analog_models.array import GainCellBank
from analog_models.c2p import (
    relu_c2p,
    signed_c2p,
    signed_c2p_normalized,
    signed_c2p_tiles,
    signed_value_of_normalized,
)
from analog_models.dac import code_to_volts, pulse_fraction
from analog_models.level_read import LEVELS, kernel
from analog_models.native import aligned
from analog_models.readout import read_token, write_token_column
from hdl.config import AnalogConfig, HeadConfig


def test_the_kernel_builds_and_the_default_banks_use_it():
    """CI installs a C compiler (flows/run.sh): the kernel must load, not fall back."""
    k = kernel()
    assert k is not None, level_read.unavailable_reason()
    assert k.path.is_file()
    cfg = HeadConfig()
    assert GainCellBank.for_head(cfg, "K").read_path == "levels"
    assert GainCellBank.for_head(cfg, "V").read_path == "levels"


def _direct(code, table, x, a, decay):
    """The two reads as plain sums over cells (numpy, no ordering claims)."""
    h = np.einsum("kc,kl->cl", decay, table)                  # (n_tc, LEVELS)
    cur = np.take_along_axis(h, code.astype(np.int64), axis=1)  # (n_tc, rows): a cell's current
    return cur @ x, cur, h


@pytest.mark.parametrize("rows", [8, 24, 64])
def test_simd_and_portable_give_the_same_bits_and_the_direct_sums(rows):
    k = kernel()
    rng = np.random.default_rng(rows)
    nt, cols, npow = 3, 7, 3
    code = rng.integers(0, LEVELS, (nt, cols, rows)).astype(np.uint8)
    table = rng.normal(size=(npow, LEVELS))
    x = rng.random(rows)
    a = rng.random((nt, cols)) * (rng.random((nt, cols)) < 0.7)      # some columns at 0
    decay = rng.random((npow, nt * cols))
    s_direct, cur, _ = _direct(code.reshape(nt * cols, rows), table, x, a, decay)
    o_direct = np.einsum("tc,tcr->tr", a, cur.reshape(nt, cols, rows))
    flat = code.reshape(nt * cols, rows)
    s_simd = k.read_columns(flat, table, x, decay)
    s_port = k.read_columns(flat, table, x, decay, simd=False)
    o_simd = k.read_rows(code, table, a, decay.reshape(npow, nt, cols))
    o_port = k.read_rows(code, table, a, decay.reshape(npow, nt, cols), simd=False)
    np.testing.assert_array_equal(s_simd, s_port)
    np.testing.assert_array_equal(o_simd, o_port)
    np.testing.assert_allclose(s_port, s_direct, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(o_port, o_direct, rtol=1e-13, atol=1e-13)
    # without leakage every factor is 1
    ones = np.ones((npow, nt * cols))
    np.testing.assert_array_equal(k.read_columns(flat, table, x, None),
                                  k.read_columns(flat, table, x, ones))


def _default_head_pair(cfg):
    """K and V banks of the default head, full window of DAC-level columns; the same state
    twice: once reading by levels, once forced onto the matrices."""
    banks = []
    for force in (False, True):
        kb, vb = GainCellBank.for_head(cfg, "K"), GainCellBank.for_head(cfg, "V")
        if force:
            kb._levels = vb._levels = None
        rng = np.random.default_rng(0)
        a = cfg.array
        for t in range(a.n_tiles * a.tile_cols):
            tile, col = divmod(t, a.tile_cols)
            for b in (kb, vb):
                codes = rng.integers(0, a.kv_max + 1, a.head_dim)
                write_token_column(b, tile, col, code_to_volts(codes, cfg),
                                   t * 31 * cfg.timing.t_clk_s)
        banks.append((kb, vb))
    return banks


def test_default_head_counts_equal_on_both_paths():
    cfg = HeadConfig()
    (lk, lv), (mk, mv) = _default_head_pair(cfg)
    assert (lk.read_path, mk.read_path) == ("levels", "matrices")
    rng = np.random.default_rng(5)
    a = cfg.array
    for i in range(20):
        x = pulse_fraction(rng.integers(0, a.q_max + 1, a.head_dim), cfg)
        valid = rng.random((a.n_tiles, a.tile_cols)) < 0.95
        t = (1100 + 40 * i) * 31 * cfg.timing.t_clk_s
        r1, r2 = read_token(lk, lv, x, t, valid, cfg), read_token(mk, mv, x, t, valid, cfg)
        np.testing.assert_allclose(r1.scores, r2.scores, rtol=1e-14, atol=1e-12)
        np.testing.assert_allclose(r1.charges, r2.charges, rtol=1e-14, atol=1e-12)
        np.testing.assert_array_equal(r1.count, r2.count)
        np.testing.assert_array_equal(r1.sign, r2.sign)
        assert np.all(r1.scores[~valid] == 0)


def test_a_voltage_beyond_the_levels_switches_to_the_matrices():
    an = AnalogConfig(tau_retention_s=1e-3)
    bank = GainCellBank(2, 8, 4, an)
    twin = GainCellBank(2, 8, 4, an)
    twin._levels = None
    volts = np.linspace(0.05, 0.85, LEVELS - 1)       # with 0 V: exactly LEVELS voltages
    writes = [(0, 0, volts[:8]), (1, 3, volts[7:]), (0, 2, volts[::2][:8])]
    for tile, col, v in writes:
        for b in (bank, twin):
            b.write_column(tile, col, v, 1e-4 * (tile + col))
    assert bank.read_path == "levels"
    x = np.linspace(0, 1, 8)
    np.testing.assert_allclose(bank.read_columns(x, 2e-3), twin.read_columns(x, 2e-3),
                               rtol=1e-14)
    for b in (bank, twin):
        b.write_column(1, 1, np.full(8, 0.123), 0.0)   # one voltage too many
    assert bank.read_path == "matrices"
    np.testing.assert_array_equal(bank.read_columns(x, 2e-3), twin.read_columns(x, 2e-3))
    np.testing.assert_array_equal(bank.read_rows(np.ones((2, 4)), 2e-3),
                                  twin.read_rows(np.ones((2, 4)), 2e-3))


def test_without_a_compiler_the_banks_read_by_matrices(monkeypatch):
    monkeypatch.setattr(level_read, "_state", {})
    monkeypatch.setattr(level_read, "_compiler", lambda: None)
    with pytest.warns(RuntimeWarning, match=r"gain-cell level kernel unavailable \(no C "
                                            r"compiler \(set \$CC or install gcc\)\): the "
                                            r"arrays read by matrices"):
        bank = GainCellBank(1, 8, 2, AnalogConfig())
    assert bank.read_path == "matrices"
    assert level_read.unavailable_reason().startswith("no C compiler")
    bank.write_column(0, 1, np.full(8, 0.9), 0.0)
    assert bank.read_columns(np.ones(8), 0.0)[0, 1] == pytest.approx(8 * 10.3130, abs=1e-3)


def test_a_kernel_that_does_not_compile_is_reported(monkeypatch, tmp_path):
    bad = tmp_path / "level_read.c"
    bad.write_text("int gca_levels(void) { return oops; }\n")
    monkeypatch.setattr(level_read, "_state", {})
    monkeypatch.setattr(level_read, "SOURCE", bad)
    monkeypatch.setattr(level_read, "BUILD", tmp_path / "native")
    with pytest.warns(RuntimeWarning, match=r"(?s)failed on level_read\.c: .*oops"):
        assert kernel() is None
    assert list((tmp_path / "native").iterdir()) == []     # no half-written library left


def test_the_build_is_cached_by_content(monkeypatch, tmp_path):
    monkeypatch.setattr(level_read, "BUILD", tmp_path)
    cc = level_read._compiler()
    first = level_read._build(cc)
    stamp = os.stat(first).st_mtime_ns
    assert level_read._build(cc) == first and os.stat(first).st_mtime_ns == stamp
    src = tmp_path / "level_read.c"
    src.write_text(level_read.SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(level_read, "SOURCE", src)
    assert level_read._build(cc) != first                  # another source: another library


def _banks(cfg, seed, n_cols=None):
    """K and V banks of ``cfg`` with ``n_cols`` random DAC-level columns written (default:
    the whole window)."""
    kb, vb = GainCellBank.for_head(cfg, "K"), GainCellBank.for_head(cfg, "V")
    rng = np.random.default_rng(seed)
    a = cfg.array
    for t in range(n_cols or a.n_tiles * a.tile_cols):
        tile, col = divmod(t, a.tile_cols)
        for b in (kb, vb):
            b.write_column(tile, col, code_to_volts(rng.integers(0, a.kv_max + 1, a.head_dim),
                                                    cfg), t * 31 * cfg.timing.t_clk_s)
    return kb, vb


@pytest.mark.parametrize("simd", [True, False])
@pytest.mark.parametrize("case", ["default", "no_leakage", "ir_drop", "saturating"])
def test_the_token_read_in_one_call_equals_its_steps(case, simd):
    """readout.read_token on two level banks is one C call (gca_read_token); it must give
    the bits of the steps it replaces — read_columns, relu_c2p, read_rows, signed_c2p — each
    called on its own (with the separately computed V leakage when V's write times differ)."""
    # d = 4 (with IR drop): rows padded to a whole lane of 8
    d = 4 if case == "ir_drop" else 32
    base = HeadConfig().with_overrides([f"array.head_dim={d}", "array.n_tiles=3",
                                        "array.tile_cols=16"])
    an = {"no_leakage": ["analog.leakage=false"],
          "ir_drop": ["analog.ir_drop=true", "analog.ir_drop_alpha=0.05"],
          "saturating": [f"analog.s_sat1_uA={base.analog.s_sat1_uA / 8}",
                         f"analog.s_sat2_uA={base.analog.s_sat2_uA / 20}"]}.get(case, [])
    cfg = base.with_overrides(an)
    kb, vb = _banks(cfg, seed=len(case), n_cols=40)
    assert kb.read_path == vb.read_path == "levels"
    kb.level_cells._simd = int(simd and kernel().simd)
    rng = np.random.default_rng(7)
    a = cfg.array
    seen_sat = seen_neg = seen_zero = 0
    for i in range(12):
        if i == 6:                        # V written later than K from here: its own decay
            vb.write_column(0, 3, code_to_volts(np.full(a.head_dim, 5), cfg), 50e-6)
        x = pulse_fraction(rng.integers(0, a.q_max + 1, a.head_dim), cfg)
        valid = rng.random((a.n_tiles, a.tile_cols)) < 0.8
        t = (60 + 7 * i) * 31 * cfg.timing.t_clk_s
        r = read_token(kb, vb, x, t, valid, cfg)
        s = kb.read_columns(x, t, valid)
        act = relu_c2p(s, cfg)
        o = vb.read_rows(act, t)
        sign, count = signed_c2p(o, cfg)
        for got, want in ((r.scores, s), (r.activations, act), (r.charges, o)):
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(r.sign, sign)
        np.testing.assert_array_equal(r.count, count)
        assert r.count.dtype == np.int64 and r.sign.dtype == bool
        seen_sat += int((count == a.count_max).sum()) + int((act == 1).sum())
        seen_neg += int(sign.sum())
        seen_zero += int((act[valid] == 0).sum())
    assert seen_neg and seen_zero
    if case == "saturating":
        assert seen_sat, "the saturating case must clip"


def test_written_levels_are_indexed_in_the_order_they_appear():
    bank = GainCellBank(1, 8, 3, AnalogConfig())
    cells = bank.level_cells
    v = np.array([0.3, 0.1, 0.3, 0.0, 0.7, 0.1, 0.7, 0.3])
    bank.write_column(0, 1, v, 0.0)
    assert cells.volts == [0.0, 0.3, 0.1, 0.7]            # 0 V: every cell's initial level
    np.testing.assert_array_equal(cells.codes[0, 1, :8], [1, 2, 1, 0, 3, 2, 3, 1])
    np.testing.assert_array_equal(cells.levels[cells.codes[0, 1, :8]], v)
    bank.write_column(0, 2, v[::-1], 0.0)                  # no new level
    assert cells.volts == [0.0, 0.3, 0.1, 0.7]
    np.testing.assert_array_equal(cells.levels[cells.codes[0, 2, :8]], v[::-1])


def _charges_near_every_rounding_edge(cfg, rng, n_tok):
    """V-array outputs O (n_tok, n_tiles, d): random, ± each count's half-integer edge and its
    float neighbours, 0, −0, saturating beyond ±S_sat2."""
    a, s2 = cfg.array, cfg.analog.s_sat2_uA
    o = rng.uniform(-1.3, 1.3, (n_tok, a.n_tiles, a.head_dim)) * s2
    edge = (np.arange(a.count_max) + 0.5) / a.count_max * s2
    near = np.concatenate([edge, np.nextafter(edge, 0), np.nextafter(edge, np.inf)])
    flat = o.reshape(-1)
    flat[:3 * near.size] = np.concatenate([near, -near, near[::-1]])
    flat[-4:] = [0.0, -0.0, 2 * s2, -2 * s2]
    return o


@pytest.mark.parametrize("simd", [True, False], ids=["simd", "portable"])
def test_the_tile_results_in_one_pass_equal_the_signed_c2p(simd):
    """The kernel's one pass (the golden vectorised path's read-out) equals the signed C2P as
    the spec writes it (sign, min(floor(|O|/S_sat2·count_max + 0.5), count_max)) and numpy's
    passes, bit for bit, into given arrays too; both implementations; a d that is not a whole
    number of vectors (the AVX-512 code's scalar tail)."""
    cfg = HeadConfig()
    o = _charges_near_every_rounding_edge(cfg, np.random.default_rng(7), 40)
    sign, count = signed_c2p(o, cfg)
    spec_value = np.where(sign, -count, count)
    spec_tile = np.clip(o / cfg.analog.s_sat2_uA, -1.0, 1.0)
    tile, value, out = kernel().tile_results(o, cfg.analog.s_sat2_uA, cfg.array.count_max,
                                             simd=simd)
    np.testing.assert_array_equal(tile, spec_tile)
    np.testing.assert_array_equal(value, spec_value)
    np.testing.assert_array_equal(out, spec_value.sum(axis=1))
    assert np.abs(value).max() == cfg.array.count_max and (value == 0).any()
    into_t, into_v = np.full(o.shape, np.nan), np.full(o.shape, -99, np.int64)
    got = signed_c2p_tiles(o, cfg, tile_out=into_t, value=into_v)
    assert got[0] is into_t and got[1] is into_v
    np.testing.assert_array_equal(into_v, spec_value)
    np.testing.assert_array_equal(into_t, spec_tile)
    numpy_tile = signed_c2p_normalized(o, cfg)
    np.testing.assert_array_equal(signed_value_of_normalized(numpy_tile, cfg), value)
    # outputs on cache lines, as the golden sink allocates them: the streaming stores
    into_t, into_v = aligned(np.empty, o.shape, np.float64), aligned(np.empty, o.shape, np.int64)
    assert into_t.ctypes.data % native.ALIGN == 0 and into_v.ctypes.data % native.ALIGN == 0
    into_t[...], into_v[...] = np.nan, -99
    tile_a, value_a, out_a = kernel().tile_results(o, cfg.analog.s_sat2_uA, cfg.array.count_max,
                                                   into_t, into_v, simd=simd)
    assert tile_a is into_t and value_a is into_v
    np.testing.assert_array_equal(into_t, spec_tile)
    np.testing.assert_array_equal(into_v, spec_value)
    np.testing.assert_array_equal(out_a, spec_value.sum(axis=1))
    odd = o[:, :5, 3:22]                                   # 19 rows: 2 vectors and 3 more
    tile, value, out = kernel().tile_results(odd, cfg.analog.s_sat2_uA, cfg.array.count_max,
                                             simd=simd)
    sign, count = signed_c2p(odd, cfg)
    np.testing.assert_array_equal(value, np.where(sign, -count, count))
    np.testing.assert_array_equal(out, value.sum(axis=1))
    np.testing.assert_array_equal(tile, np.clip(odd / cfg.analog.s_sat2_uA, -1.0, 1.0))
    odd = odd.copy()
    odd[1, 2, [4, 17]] = np.nan                       # in a vector and in the tail: as numpy
    tile, value, _ = kernel().tile_results(odd, cfg.analog.s_sat2_uA, cfg.array.count_max,
                                           simd=simd)
    with np.errstate(invalid="ignore"):
        want = signed_value_of_normalized(signed_c2p_normalized(odd, cfg), cfg)
    assert np.isnan(tile[1, 2, [4, 17]]).all()
    np.testing.assert_array_equal(value, want)


def test_the_tile_results_fall_back_to_numpy_and_check_their_outputs(monkeypatch):
    cfg = HeadConfig()
    o = _charges_near_every_rounding_edge(cfg, np.random.default_rng(8), 3)
    want = kernel().tile_results(o, cfg.analog.s_sat2_uA, cfg.array.count_max)
    with pytest.raises(ValueError, match=r"output array must be C-contiguous int64 of shape "
                                         r"\(3, 16, 64\), not int32 \(3, 16, 64\)"):
        kernel().tile_results(o, 1.0, 15, value=np.zeros(o.shape, np.int32))
    with pytest.raises(ValueError, match=r"count_max must be in 0\.\.2\*\*31 - 1, not 2147483648"):
        kernel().tile_results(o, 1.0, 2**31)
    monkeypatch.setattr(level_read, "_state", {"kernel": None, "why": "test"})
    assert level_read.kernel() is None
    got = signed_c2p_tiles(o, cfg)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
