"""The vectorised golden path's V-side key terms looked up by DAC code (sim/golden/level_terms):
the table is the V bank's own terms of each level, the compiled lookup gives the per-cell
evaluation's numbers bit for bit in the V product's layout, a whole run is bit-identical with
and without it, bad codes and buffers are refused with a clear message, the table is None
where the terms depend on more than the code, and the paper's head never computes the stored
voltages (the codes' ways need none)."""

import numpy as np
import pytest

from analog_models.array import GainCellBank
from analog_models.dac import code_to_volts
from hdl.config import HeadConfig
from sim.golden import io, level_terms, run_vectorized, vectorized
from sim.stimuli import random_tokens

CFG = HeadConfig()


def _same_bits(got, want, name=""):
    np.testing.assert_array_equal(np.asarray(got).view(np.uint64),
                                  np.asarray(want).view(np.uint64), err_msg=name)


def test_the_level_terms_kernel_builds_here():
    """CI installs a C compiler (flows/run.sh): the lookup must load, not fall back."""
    assert level_terms.kernel() is not None, level_terms.unavailable_reason()


def test_the_table_is_the_banks_terms_of_each_level():
    vb = GainCellBank.for_head(CFG, "V")
    tab = level_terms.table(CFG, vb)
    ar = CFG.array
    assert tab.shape == (len(vb.powers), ar.kv_max + 1)
    for code in range(ar.kv_max + 1):
        volts = np.full((1, ar.head_dim), float(code_to_volts(code, CFG)))
        _same_bits(tab[:, code], vb.line_terms(volts, 3, 17, read="rows")[:, 0, 5])


@pytest.mark.parametrize("k0,m,chunks", [(0, 512, 8), (64, 100, 4), (37, 1, 1), (5, 59, 1)])
def test_the_lookup_is_the_per_cell_terms_bit_for_bit(k0, m, chunks):
    """Keys k0 … k0 + m − 1 of ``chunks`` chunks of tile_cols keys: the same numbers as the
    bank's terms of each cell's voltage times b_s^p_i, at their place (row i·cols + column of
    their chunk); nothing else written."""
    ar = CFG.array
    vb = GainCellBank.for_head(CFG, "V")
    n, cols, d = len(vb.powers), ar.tile_cols, ar.head_dim
    rng = np.random.default_rng(k0 + m)
    code = rng.integers(0, ar.kv_max + 1, (m, d))
    bp = rng.uniform(1.0, 1.2, (n, m))
    out = np.full((chunks, n, cols, d), np.nan)
    level_terms.into(out, k0, code, level_terms.table(CFG, vb), bp)
    terms = vb.line_terms(code_to_volts(code, CFG), 0, 0, read="rows")        # (n, m, d)
    want = np.full_like(out, np.nan)
    for kk in range(m):
        j, c = divmod(k0 + kk, cols)
        want[j, :, c] = terms[:, kk] * bp[:, kk, None]
    _same_bits(out, want)


def test_bad_codes_and_buffers_are_refused_with_their_name():
    ar = CFG.array
    vb = GainCellBank.for_head(CFG, "V")
    tab = level_terms.table(CFG, vb)
    out = np.zeros((2, 3, ar.tile_cols, ar.head_dim))
    code = np.zeros((10, ar.head_dim), np.int64)
    code[4, 7] = ar.kv_max + 1
    with pytest.raises(ValueError, match=r"code 8 at \(4, 7\) is not a level 0 … 7"):
        level_terms.into(out, 0, code, tab, np.ones((3, 10)))
    code[4, 7] = -1
    with pytest.raises(ValueError, match=r"code -1 at \(4, 7\) is not a level 0 … 7"):
        level_terms.into(out, 0, code, tab, np.ones((3, 10)))
    with pytest.raises(ValueError, match=r"keys 120 … 129 do not fit 2 chunks of 64"):
        level_terms.into(out, 120, code, tab, np.ones((3, 10)))
    with pytest.raises(ValueError, match=r"code must be a C-contiguous int64 array of shape "
                                         r"\(10, 64\), not int32 \(10, 64\)"):
        level_terms.into(out, 0, code.astype(np.int32), tab, np.ones((3, 10)))
    with pytest.raises(ValueError, match=r"bp must be a C-contiguous float64 array of shape "
                                         r"\(3, 10\), not float64 \(3, 9\)"):
        level_terms.into(out, 0, np.zeros((10, 64), np.int64), tab, np.ones((3, 9)))


@pytest.mark.parametrize("overrides", [["analog.quantization=false"],
                                       ["analog.variability=true"], ["analog.ir_drop=true"]])
def test_no_table_where_the_terms_depend_on_more_than_the_code(overrides):
    cfg = HeadConfig().with_overrides(overrides)
    assert level_terms.table(cfg, GainCellBank.for_head(cfg, "V")) is None


def test_a_whole_run_is_the_same_bits_with_and_without_the_lookup(monkeypatch):
    cfg = HeadConfig()
    q, k, v = random_tokens(cfg, 700, 8)
    looked_up = run_vectorized(q, k, v, cfg, block=128)
    monkeypatch.setattr(level_terms, "table", lambda cfg, bank: None)
    evaluated = run_vectorized(q, k, v, cfg, block=128)
    for name, a in looked_up.arrays().items():
        if a.dtype == np.float64:
            _same_bits(getattr(evaluated, name), a, name)
        else:
            np.testing.assert_array_equal(getattr(evaluated, name), a, err_msg=name)


@pytest.mark.parametrize("overrides,computed", [([], []),
                                                (["analog.variability=true"], ["k", "v"])])
def test_the_stored_voltages_are_computed_only_where_a_way_needs_them(monkeypatch, overrides,
                                                                     computed):
    """The paper's head: the K product from the codes and the V terms by lookup, so only the
    query's pulse fractions; with variability both banks evaluate per cell from voltages."""
    calls = []
    real = io.hardware_input

    def counting(name, *args):
        calls.append(name)
        return real(name, *args)

    monkeypatch.setattr(vectorized, "hardware_input", counting)
    cfg = HeadConfig().with_overrides(overrides)
    q, k, v = random_tokens(cfg, 200, 1)
    run_vectorized(q, k, v, cfg)
    assert sorted(calls) == sorted(["q", *computed])
