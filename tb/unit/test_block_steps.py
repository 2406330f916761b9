"""The vectorised golden path's block steps (sim/golden/block_steps) and its V products onto
the tiles: the compiled pass equals numpy's steps bit for bit, both equal the spec written out
directly (the window of each query, relu_c2p, the ring's column of each key, the chunk-to-tile
map), bad buffers are refused with a clear message, and without a compiler the path falls back
to numpy with one warning (so does the fused V product, sim/golden/v_product)."""

import numpy as np
import pytest

from analog_models import native
from analog_models.c2p import relu_c2p
from hdl.config import HeadConfig
from sim.golden import block_steps, k_product, run_vectorized, v_product
from sim.golden.outputs import window_tokens
from sim.golden.v_product import onto_tiles as _onto_tiles
from sim.stimuli import random_tokens

CFG = HeadConfig()
W, COLS, NT, D = CFG.array.window, CFG.array.tile_cols, CFG.array.n_tiles, CFG.array.head_dim
SENTINEL = -7.25          # what the window rows hold before: the block overwrites every column


def _same_bits(got, want, name=""):
    """Equal bit for bit: −0.0 is not 0.0 here (np.testing's equality says it is)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, name
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64), err_msg=name)


def test_the_block_kernel_builds_here():
    """CI installs a C compiler (flows/run.sh): the compiled steps must load, not fall back."""
    assert block_steps.kernel() is not None, block_steps.unavailable_reason()


def _scores(rng, bq, L):
    """Scores across the ReLU's range: negative, zero (both signs), inside, saturated, and
    the exact saturation edge."""
    s = rng.uniform(-0.5, 1.5, (bq, L)) * CFG.analog.s_sat1_uA
    flat = s.reshape(-1)
    picks = rng.choice(flat.size, 40, replace=False)
    flat[picks[:10]] = 0.0
    flat[picks[10:20]] = -0.0
    flat[picks[20:30]] = CFG.analog.s_sat1_uA
    flat[picks[30:]] = np.nextafter(CFG.analog.s_sat1_uA, 0.0)
    return s


# (t0, bq): the first block, a block still filling the window, a full block past the window,
# a short block at an odd token, and a wide block (18 chunks, two of them on one tile)
BLOCKS = [(0, 64), (64, 64), (2048, 64), (1000, 37), (3001, 128)]


@pytest.mark.parametrize("t0,bq", BLOCKS)
def test_block_act_equals_numpy_and_the_spec(t0, bq):
    rng = np.random.default_rng(t0 + bq)
    n = 3
    c0 = max(0, t0 - W + 1) // COLS
    k_ch = -(-(t0 + bq) // COLS) - c0
    s0, L = c0 * COLS, k_ch * COLS
    s = _scores(rng, bq, L)
    ap = rng.uniform(0.9, 1.0, (n, bq))
    got, want = {}, {}
    for compiled, res in ((True, got), (False, want)):
        res["s"] = s.copy()
        res["left"] = np.full((k_ch, bq, n * COLS), np.nan)
        res["scores"] = np.full((bq, W), SENTINEL)
        res["acts"] = np.full((bq, W), SENTINEL)
        block_steps.block_act(res["s"], ap, t0, s0, CFG, res["left"], res["scores"],
                              res["acts"], compiled=compiled)
    for name in got:
        _same_bits(got[name], want[name], name)
    # the spec, directly: key s is in query t's window when t - W < s <= t
    t = np.arange(t0, t0 + bq)[:, None]
    keys = np.arange(s0, s0 + L)[None, :]
    masked = np.where((keys > t - W) & (keys <= t), s, 0.0)
    act = relu_c2p(masked, CFG)
    _same_bits(got["s"], act)
    held = window_tokens(t0 + bq, W, t0)                 # the token in each window column
    rows = np.broadcast_to(np.arange(bq)[:, None], held.shape)
    # a column no key of the window holds yet (a window not yet full) is written 0
    spec_scores = np.where(held >= 0, masked[rows, np.maximum(held, 0) - s0], 0.0)
    spec_acts = np.where(held >= 0, act[rows, np.maximum(held, 0) - s0], 0.0)
    _same_bits(got["scores"], spec_scores)
    _same_bits(got["acts"], spec_acts)
    spec_left = act.reshape(bq, k_ch, 1, COLS) * ap.T[:, None, :, None]    # (bq, k, n, cols)
    _same_bits(got["left"], spec_left.transpose(1, 0, 2, 3).reshape(
        k_ch, bq, n * COLS))


def test_block_act_keeps_a_nan_inside_the_window_and_drops_one_outside():
    s = np.full((1, 2 * COLS), 0.5)
    s[0, 3], s[0, 70] = np.nan, np.nan       # query 10 sees keys 0..10: key 70 is future
    left = np.empty((2, 1, COLS))
    for compiled in (True, False):
        a = s.copy()
        block_steps.block_act(a, np.ones((1, 1)), 10, 0, CFG, left, compiled=compiled)
        assert np.isnan(a[0, 3]) and a[0, 70] == 0.0 and np.isnan(left[0, 0, 3])


@pytest.mark.parametrize("k_ch,c0", [(1, 0), (5, 3), (16, 7), (17, 16), (18, 9), (40, 5)])
@pytest.mark.parametrize("with_c0", [True, False])
def test_the_v_products_land_on_their_tiles_in_chunk_order(k_ch, c0, with_c0):
    """v_product.onto_tiles against the map written out: chunk j of the block on tile
    (c0 + j) mod n_tiles, products summed in chunk order, 0 where no chunk lands; 40 chunks go
    round the tiles twice and a half."""
    rng = np.random.default_rng(k_ch * 100 + c0)
    bq, npc = 40, 3 * COLS
    left, vt = rng.normal(size=(k_ch, bq, npc)), rng.normal(size=(k_ch, npc, D))
    rc0 = rng.normal(size=(k_ch, bq)) if with_c0 else None
    got = np.full((bq, NT, D), np.nan)
    _onto_tiles(left, vt, rc0, c0, got, np.empty(NT * bq * D))
    spec = np.zeros((bq, NT, D))
    for j in range(k_ch):
        part = np.matmul(left[j], vt[j])
        part = part + rc0[j][:, None] if with_c0 else part
        tile = (c0 + j) % NT
        spec[:, tile] = part if j < NT else spec[:, tile] + part
    _same_bits(got, spec)


@pytest.mark.parametrize("m,first", [(1, 0), (5, 13), (16, 7)])
@pytest.mark.parametrize("parts", ["src and e", "src", "e"])
def test_tiles_add_equals_numpy_and_the_map(m, first, parts):
    rng = np.random.default_rng(m * 10 + first)
    bq = 24
    src = rng.normal(size=(m, bq, D)) if "src" in parts else None
    e = rng.normal(size=(m, bq)) if "e" in parts.split() else None
    start = rng.normal(size=(bq, NT, D))
    got, want = start.copy(), start.copy()
    block_steps.tiles_add(got, first, e, src)
    block_steps.tiles_add(want, first, e, src, compiled=False)
    _same_bits(got, want)
    spec = start.copy()
    for jj in range(m):                          # chunk jj of the lap on tile (first + jj) mod nt
        tile = (first + jj) % NT
        if src is None:
            spec[:, tile] = spec[:, tile] + e[jj][:, None]
        else:
            spec[:, tile] = spec[:, tile] + (src[jj] + e[jj][:, None] if e is not None
                                             else src[jj])
    _same_bits(got, spec)


@pytest.mark.parametrize("compiled", [True, False])
def test_bad_buffers_are_refused_with_their_name(compiled):
    s = np.zeros((4, 2 * COLS))
    with pytest.raises(ValueError, match=r"left must be a C-contiguous float64 array of shape "
                                         r"\(2, 4, 192\), not float32 \(2, 4, 192\)"):
        block_steps.block_act(s, np.ones((3, 4)), 0, 0, CFG,
                              np.zeros((2, 4, 192), np.float32), compiled=compiled)
    with pytest.raises(ValueError, match=r"scores must be a C-contiguous float64 array of "
                                         r"shape \(4, 1024\), not float64 \(4, 512\)"):
        block_steps.block_act(s, np.ones((3, 4)), 0, 0, CFG, np.zeros((2, 4, 192)),
                              np.zeros((4, 512)), compiled=compiled)
    with pytest.raises(ValueError, match=r"17 chunks are more than one lap of 16 tiles"):
        block_steps.tiles_add(np.zeros((4, 16, 64)), 0, np.zeros((17, 4)), None,
                              compiled=compiled)
    with pytest.raises(ValueError, match=r"src must be a C-contiguous float64 array of shape "
                                         r"\(2, 4, 64\), not float64 \(2, 4, 32\)"):
        block_steps.tiles_add(np.zeros((4, 16, 64)), 0, None, np.zeros((2, 4, 32)),
                              compiled=compiled)
    with pytest.raises(ValueError, match=r"block of 100 keys from key 0: not whole chunks of "
                                         r"64 keys"):
        block_steps.block_act(np.zeros((4, 100)), np.ones((3, 4)), 0, 0, CFG,
                              np.zeros((1, 4, 192)), compiled=compiled)


@pytest.mark.parametrize("module,what,fallback", [
    (block_steps, "golden block kernel", "the vectorised path's block steps run in numpy"),
    (v_product, "golden V-product kernel", "the vectorised path's V product runs in numpy"),
    (k_product, "golden K-product kernel", "the vectorised path's K product runs in float64"),
])
def test_without_a_compiler_the_path_runs_numpy_with_one_warning(monkeypatch, module, what,
                                                                  fallback):
    """Any kernel missing: one warning that says which and why, and the run's results are
    the same — bit for bit without the block steps (numpy's same operations), the same counts
    without the fused V product (numpy's products: the same sums to rounding) or without the
    K product's combine (the float64 product: the same sums to rounding)."""
    cfg = HeadConfig().with_overrides(["array.n_tiles=4", "array.tile_cols=32",
                                       "array.head_dim=16"])
    q, k, v = random_tokens(cfg, 300, 5)
    compiled = run_vectorized(q, k, v, cfg)
    monkeypatch.setattr(module, "_state", {})
    monkeypatch.setattr(native, "compiler", lambda: None)
    with pytest.warns(RuntimeWarning, match=rf"{what} unavailable \(no C compiler "
                                            rf"\(set \$CC or install gcc\)\): {fallback}"):
        assert module.kernel() is None
    assert module.unavailable_reason().startswith("no C compiler")
    fallback = run_vectorized(q, k, v, cfg)
    for name, a in compiled.arrays().items():
        if module is k_product and a.dtype == np.float64:   # float64 sums: to rounding
            np.testing.assert_allclose(getattr(fallback, name), a, rtol=1e-13, atol=1e-12,
                                       err_msg=name)
            continue
        np.testing.assert_array_equal(getattr(fallback, name), a, err_msg=name)
        if a.dtype == np.float64 and module is block_steps:
            _same_bits(getattr(fallback, name), a, name)
