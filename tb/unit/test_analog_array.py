"""Gain-cell arrays: Kirchhoff reads against a per-cell sum, leakage, mismatch, IR drop."""

import dataclasses

import numpy as np
import pytest

from analog_models.array import GainCellArray, GainCellBank
from analog_models.gain_cell import cell_current
from analog_models.ir_drop import line_attenuation
from hdl.config import AnalogConfig

NT, R, C = 3, 8, 5


def _filled(analog, kind="K", seed=1, levels=False):
    """A bank with every column written: uniform voltages (the matrix path), or one of the 8
    DAC levels per cell (``levels``: the level path, unless variability is on)."""
    rng = np.random.default_rng(seed)
    bank = GainCellBank(NT, R, C, analog, kind=kind)
    for t in range(NT):
        for c in range(C):
            v = rng.integers(0, 8, R) * 0.9 / 7 if levels else rng.uniform(0, 0.9, R)
            bank.write_column(t, c, v, float(rng.uniform(0, 2e-3)))
    assert bank.read_path == ("levels" if levels and not analog.variability else "matrices")
    return bank


def _per_cell(bank, analog, t_read):
    """I(tile, r, c) at x = 1, straight from cell_current (plus mismatch/IR by hand)."""
    d = np.exp(-np.maximum(t_read - bank.t_write, 0) / analog.tau_retention_s) \
        if analog.leakage else np.ones_like(bank.t_write)
    i = cell_current(bank.volts, 1.0, analog, decay=d[:, None, :])
    if analog.variability:
        i = bank.gain * i + bank.offset_uA
    return i


@pytest.mark.parametrize("levels", [False, True], ids=["matrices", "levels"])
@pytest.mark.parametrize("switches", [{}, {"leakage": False}, {"nonlinearity": False},
                                      {"variability": True}, {"offset": False}])
def test_reads_equal_per_cell_sums(switches, levels):
    an = dataclasses.replace(AnalogConfig(tau_retention_s=1e-3), **switches)
    bank = _filled(an, levels=levels)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 16, R) / 15
    mask = rng.random((NT, C)) < 0.7
    t_read = 2.5e-3
    i = _per_cell(bank, an, t_read)
    s = bank.read_columns(x, t_read, mask)
    np.testing.assert_allclose(s, np.where(mask, np.einsum("r,trc->tc", x, i), 0), rtol=1e-12,
                               atol=1e-12)
    assert np.all(s[~mask] == 0.0)
    a = rng.random((NT, C))
    np.testing.assert_allclose(bank.read_rows(a, t_read), np.einsum("tc,trc->tr", a, i),
                               rtol=1e-12, atol=1e-12)


def test_leakage_moves_toward_the_midpoint():
    an = AnalogConfig(tau_retention_s=1e-6)
    bank = GainCellBank(1, 4, 2, an)
    bank.write_column(0, 0, np.full(4, 0.9), 0.0)
    x = np.ones(4)
    fresh = bank.read_columns(x, 0.0)[0, 0]
    assert fresh == pytest.approx(4 * 10.3130, abs=1e-3)
    later = bank.read_columns(x, 1e-6)[0, 0]
    assert later == pytest.approx(4 * float(cell_current(0.45 + 0.45 * np.exp(-1), 1, an)))
    gone = bank.read_columns(x, 1.0)[0, 0]          # fully decayed: only C0 remains
    assert gone == pytest.approx(4 * an.cell_poly_uA[0])


def test_variability_seeded_reproducible_and_per_seed():
    an = AnalogConfig(variability=True, seed=7)
    b1, b2 = GainCellBank(NT, R, C, an, kind="K"), GainCellBank(NT, R, C, an, kind="K")
    np.testing.assert_array_equal(b1.gain, b2.gain)
    np.testing.assert_array_equal(b1.offset_uA, b2.offset_uA)
    b3 = GainCellBank(NT, R, C, dataclasses.replace(an, seed=8), kind="K")
    assert not np.allclose(b1.gain, b3.gain)
    bv = GainCellBank(NT, R, C, an, kind="V")
    assert not np.allclose(b1.gain, bv.gain)
    # The documented recipe: SeedSequence(seed, spawn_key=(kind, tile)), gain then offset.
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(1, 2)))
    g = 1 + an.var_gain_sigma * rng.standard_normal((R, C))
    o = an.var_offset_sigma_uA * rng.standard_normal((R, C))
    np.testing.assert_array_equal(bv.gain[2], g)
    np.testing.assert_array_equal(bv.offset_uA[2], o)
    assert abs(np.std(GainCellBank(4, 64, 64, an).gain) - an.var_gain_sigma) < 0.005


def test_tile_object_is_bit_identical_to_bank_tile():
    an = AnalogConfig(variability=True, ir_drop=True, tau_retention_s=1e-3)
    bank = GainCellBank(NT, R, C, an, kind="V")
    tiles = [GainCellArray(R, C, an, kind="V", tile=j) for j in range(NT)]
    rng = np.random.default_rng(3)
    for j in range(NT):
        for c in range(C):
            v, t = rng.uniform(0, 0.9, R), float(rng.uniform(0, 1e-3))
            bank.write_column(j, c, v, t)
            tiles[j].write_column(c, v, t)
    x = rng.integers(0, 16, R) / 15
    mask = rng.random((NT, C)) < 0.8
    a = rng.random((NT, C))
    s = bank.read_columns(x, 2e-3, mask)
    o = bank.read_rows(a, 2e-3)
    for j in range(NT):
        assert np.array_equal(tiles[j].read_columns(x, 2e-3, mask[j]), s[j])
        assert np.array_equal(tiles[j].read_rows(a[j], 2e-3), o[j])
    np.testing.assert_array_equal(tiles[1].volts, bank.volts[1])


def test_ir_drop_attenuates_along_the_line():
    np.testing.assert_allclose(line_attenuation(5, 0.1), [1, 0.975, 0.95, 0.925, 0.9])
    np.testing.assert_array_equal(line_attenuation(1, 0.1), [1.0])
    an = AnalogConfig(ir_drop=True, ir_drop_alpha=0.1, leakage=False)
    bank = GainCellBank(1, 5, 5, an)
    for c in range(5):
        bank.write_column(0, c, np.full(5, 0.9), 0.0)
    i = float(cell_current(0.9, 1.0, an))
    onehot = np.eye(5)
    # column read: row r contributes with 1 − 0.1·r/4
    for r in range(5):
        np.testing.assert_allclose(bank.read_columns(onehot[r], 0.0)[0],
                                   i * (1 - 0.1 * r / 4))
        np.testing.assert_allclose(bank.read_rows(onehot[r][None], 0.0)[0],
                                   i * (1 - 0.1 * r / 4))   # row read: position = column


def test_discharge_and_masked_columns():
    an = AnalogConfig()
    bank = GainCellBank(1, 4, 3, an)
    bank.write_column(0, 1, np.full(4, 0.9), 0.0)
    bank.discharge_column(0, 1)
    np.testing.assert_array_equal(bank.volts[0, :, 1], 0.0)
    s = bank.read_columns(np.ones(4), 0.0, np.array([[False, True, False]]))
    assert s[0, 0] == 0 and s[0, 2] == 0
    assert s[0, 1] == pytest.approx(4 * -10.3315, abs=1e-3)
    # A = 0 columns contribute nothing to a row read, even with mismatch offsets.
    bv = GainCellBank(1, 4, 3, AnalogConfig(variability=True))
    np.testing.assert_array_equal(bv.read_rows(np.zeros((1, 3)), 0.0), 0.0)


def test_bad_arguments():
    an = AnalogConfig()
    bank = GainCellBank(2, 4, 3, an)
    with pytest.raises(ValueError, match="tile must be 0..1, not 2"):
        bank.write_column(2, 0, np.zeros(4), 0.0)
    with pytest.raises(ValueError, match="column must be 0..2, not 3"):
        bank.discharge_column(0, 3)
    with pytest.raises(ValueError, match=r"column voltages must have shape \(4,\), not \(3,\)"):
        bank.write_column(0, 0, np.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"pulse fractions must have shape \(4,\), not \(5,\)"):
        bank.read_columns(np.zeros(5), 0.0)
    with pytest.raises(ValueError, match=r"pulse fractions must have shape \(2, 3\), not \(3,\)"):
        bank.read_rows(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="array kind must be one of K, V, not 'Q'"):
        GainCellBank(1, 4, 3, an, kind="Q")
    with pytest.raises(ValueError, match="rows must be a positive integer, not 0"):
        GainCellBank(1, 0, 3, an)


@pytest.mark.parametrize("levels", [False, True], ids=["matrices", "levels"])
@pytest.mark.parametrize("switches", [{}, {"variability": True, "ir_drop": True},
                                      {"ir_drop": True}, {"offset": False}, {"leakage": False}])
def test_read_model_reproduces_the_reads(switches, levels):
    """powers, const_uA, line_factors and line_terms are what the reads sum: a batched
    evaluation from them (as the golden vectorised path does) equals the bank's reads."""
    an = dataclasses.replace(AnalogConfig(tau_retention_s=1e-3, ir_drop_alpha=0.2), **switches)
    bank = _filled(an, levels=levels)
    rng = np.random.default_rng(3)
    x, a, t_read = rng.integers(0, 16, R) / 15, rng.random((NT, C)), 2.5e-3
    tiles, cols = np.indices((NT, C))
    volts = bank.volts.transpose(0, 2, 1)                                # (NT, C, R)
    d = np.exp(-np.maximum(t_read - bank.t_write, 0) / an.tau_retention_s) \
        if an.leakage else np.ones((NT, C))
    dp = np.stack([d ** p for p in bank.powers])                        # (n, NT, C)
    p_col = bank.line_terms(volts, tiles, cols, read="columns")         # (n, NT, C, R)
    p_row = bank.line_terms(volts, tiles, cols, read="rows")
    s = np.einsum("r,ntcr,ntc->tc", x, p_col, dp) + bank.const_uA * (x @ bank.line_factors(
        "columns"))
    o = np.einsum("tc,ntcr,ntc->tr", a, p_row, dp) + bank.const_uA * (
        a @ bank.line_factors("rows"))[:, None]
    np.testing.assert_allclose(bank.read_columns(x, t_read), s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bank.read_rows(a, t_read), o, rtol=1e-12, atol=1e-12)
    assert (bank.const_uA == 0) == (an.variability or not an.offset)
    with pytest.raises(ValueError, match="read must be 'columns' or 'rows', not 'diag'"):
        bank.line_factors("diag")
