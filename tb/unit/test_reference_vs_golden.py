"""Both golden paths against the independent loop implementation (sim.reference)."""

import numpy as np
import pytest

from hdl.config import NON_IDEALITIES, HeadConfig
from sim.golden import run_token_by_token, run_vectorized
from sim.reference import reference_head

SMALL = ["array.head_dim=8", "array.tile_cols=4", "array.n_tiles=3"]   # W = 12
T = 31                                                                 # > 2·W: wraps twice

CASES = {
    "defaults": [],
    "short_tau": ["analog.tau_retention_s=3e-6"],
    "variability": ["analog.variability=true", "analog.seed=11"],
    "ir_drop": ["analog.ir_drop=true", "analog.ir_drop_alpha=0.2"],
    "linear": ["analog.nonlinearity=false"],
    "no_offset": ["analog.offset=false"],
    "float": ["analog.quantization=false"],
    "all_on": ["analog.variability=true", "analog.ir_drop=true",
               "analog.tau_retention_s=5e-6"],
    "all_off": [f"analog.{n}=false" for n in NON_IDEALITIES],
    "wide_q": ["array.q_bits=5", "array.count_bits=5", "array.kv_bits=2"],
}


def _inputs(seed, d=8, n=T):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, d)), rng.uniform(0, 0.9, (n, d)), rng.uniform(0, 0.9, (n, d))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", [run_vectorized, run_token_by_token],
                         ids=["vectorized", "token"])
def test_fast_paths_match_reference(case, path):
    cfg = HeadConfig().with_overrides(SMALL + CASES[case])
    q, k, v = _inputs(sum(map(ord, case)))
    ref = reference_head(q, k, v, cfg)
    kw = {"block": 8} if path is run_vectorized else {}
    got = path(q, k, v, cfg, layout="dense", **kw)
    np.testing.assert_allclose(got.scores, ref["scores"], rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got.activations, ref["activations"], rtol=1e-11, atol=1e-12)
    # The default window layout: query t, window column s mod W holds key s ∈ (t − W, t].
    win = path(q, k, v, cfg, **kw)
    W = cfg.array.window
    assert win.layout == "window" and win.scores.shape == (len(q), W)
    for t in range(len(q)):
        s = np.arange(max(0, t - W + 1), t + 1)
        np.testing.assert_allclose(win.scores[t, s % W], ref["scores"][t, s], rtol=1e-11,
                                   atol=1e-11)
        np.testing.assert_allclose(win.activations[t, s % W], ref["activations"][t, s],
                                   rtol=1e-11, atol=1e-12)
        assert np.count_nonzero(win.scores[t]) <= len(s)
    np.testing.assert_array_equal(win.counts, got.counts)
    np.testing.assert_allclose(got.tile_outputs, ref["tile_outputs"], rtol=1e-11, atol=1e-12)
    if cfg.analog.quantization:
        assert got.counts.dtype == np.int64
        np.testing.assert_array_equal(got.counts, ref["counts"])
        np.testing.assert_array_equal(got.out, ref["out"])
        assert np.abs(got.counts).max() > 0
    else:
        np.testing.assert_allclose(got.counts, ref["counts"], rtol=1e-11, atol=1e-11)


def test_stalled_times_match_reference():
    cfg = HeadConfig().with_overrides(SMALL + ["analog.tau_retention_s=2e-6"])
    q, k, v = _inputs(5)
    rng = np.random.default_rng(6)
    w = np.cumsum(rng.uniform(0, 2e-6, T))
    r = w + rng.uniform(0, 1e-7, T)
    r = np.maximum.accumulate(r)
    ref = reference_head(q, k, v, cfg, w, r)
    for path in (run_vectorized, run_token_by_token):
        got = path(q, k, v, cfg, write_times_s=w, read_times_s=r)
        np.testing.assert_array_equal(got.counts, ref["counts"])


@pytest.mark.parametrize("path", [run_vectorized, run_token_by_token],
                         ids=["vectorized", "token"])
def test_sixteen_tiles_past_the_wrap_match_reference(path):
    """The paper's tile count (16) with W = 128 > 12, 2·W + 7 tokens (the window wraps twice,
    every tile is overwritten), nonlinearity, offset, leakage and variability on."""
    cfg = HeadConfig().with_overrides(["array.head_dim=8", "array.tile_cols=8",
                                       "array.n_tiles=16", "analog.variability=true",
                                       "analog.seed=3", "analog.tau_retention_s=2e-4"])
    assert cfg.array.window == 128
    n = 2 * cfg.array.window + 7
    q, k, v = _inputs(16, n=n)
    ref = reference_head(q, k, v, cfg)
    got = path(q, k, v, cfg)
    np.testing.assert_array_equal(got.counts, ref["counts"])
    np.testing.assert_array_equal(got.out, ref["out"])
    np.testing.assert_allclose(got.tile_outputs, ref["tile_outputs"], rtol=1e-11, atol=1e-12)
    assert np.count_nonzero(got.counts) > got.counts.size // 20     # not a trivial all-zero case
    assert len(np.unique(got.out)) > 5
