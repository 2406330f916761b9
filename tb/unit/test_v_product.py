"""The vectorised golden path's V product (sim/golden/v_product): the fused AVX-512 kernel gives,
bit for bit, the spec's sums written out in exact arithmetic (each output one chain of fused
multiply-adds over the chunk's terms in order, then the C0 part and the lap's addition), lands
each chunk on its tile, agrees with numpy's batched products to rounding, leaves a whole run's
counts unchanged, refuses bad buffers with a clear message, and says why it is missing (no
compiler, no AVX-512F; the fallback itself: test_block_steps.py)."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hdl.config import HeadConfig
from sim.golden import run_vectorized, v_product
from sim.stimuli import random_tokens


def _cpu_has_avx512f() -> bool:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return any(line.startswith("flags") and " avx512f" in line for line in text.splitlines())


def test_the_kernel_loads_wherever_the_cpu_has_avx512f():
    """CI's machines have AVX-512F (and a C compiler, flows/run.sh): the kernel must load there;
    on a CPU without it the reason is said."""
    lib = v_product.kernel()
    if _cpu_has_avx512f():
        assert lib is not None, v_product.unavailable_reason()
    else:
        assert lib is None and v_product.unavailable_reason() == "this CPU has no AVX-512F"


def _fma(a: float, b: float, c: float) -> float:
    """a·b + c rounded once (exact rationals; float() rounds to nearest, ties to even)."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def _spec(a, ap, vt, rc0, c0, nt):
    """The kernel's contract written out: L_j[t, i·cols + c] = A[t, j·cols + c]·ap[i, t];
    O_j[t, x] = fma chain over k from +0; chunk j on tile (c0 + j) mod nt: the first lap
    written (+ e), later laps added (O + e first); other tiles 0."""
    k_ch, npc, d = vt.shape
    n = ap.shape[0]
    cols = npc // n
    bq = a.shape[0]
    ob = np.zeros((bq, nt, d))
    for j in range(k_ch):
        left = np.concatenate([a[:, j * cols:(j + 1) * cols] * ap[i][:, None]
                               for i in range(n)], axis=1)
        tile = (c0 + j) % nt
        for t in range(bq):
            for x in range(d):
                acc = 0.0
                for kk in range(npc):
                    acc = _fma(float(left[t, kk]), float(vt[j, kk, x]), acc)
                if rc0 is not None:
                    acc = acc + rc0[j, t]
                ob[t, tile, x] = acc if j < nt else ob[t, tile, x] + acc
    return ob


def _case(seed, bq, k_ch, n, cols, d, with_c0, t0=None, c0=0, window=None):
    """Activations as a block leaves them: ReLU zeros, and 0 outside each query's window
    (key s = (c0 + j)·cols + c in the window of query t0 + t when t0 + t − window < s ≤
    t0 + t); t0 None: every key in every window."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.0, 1.0, (bq, k_ch * cols))
    a[rng.uniform(size=a.shape) < 0.3] = 0.0
    if t0 is not None:
        tq = t0 + np.arange(bq)[:, None]
        s = c0 * cols + np.arange(k_ch * cols)[None, :]
        a[~((s > tq - window) & (s <= tq))] = 0.0
    ap = rng.uniform(0.5, 2.0, (n, bq))
    vt = rng.normal(size=(k_ch, n * cols, d))
    rc0 = rng.normal(size=(k_ch, bq)) if with_c0 else None
    return a, ap, vt, rc0


#: Geometry that sees every key: no group of rows skips a chunk.
ALL = dict(t0=10**6, window=10**7)


def _same_bits(got, want, name=""):
    np.testing.assert_array_equal(np.asarray(got).view(np.uint64),
                                  np.asarray(want).view(np.uint64), err_msg=name)


@pytest.mark.parametrize("bq,k_ch,n,cols,d,c0,nt", [
    (17, 3, 2, 8, 16, 2, 4),      # rows: one 12-row block, one 4, one single; two full laps
    (13, 2, 3, 8, 13, 1, 4),      # 13 columns: a panel of 16 masked to 13
    (5, 1, 1, 16, 5, 0, 4),       # 5 columns: one vector masked; fewer chunks than tiles
    (12, 9, 1, 4, 24, 3, 4),      # 24 columns: a full panel and a masked one; 2¼ laps
])
@pytest.mark.parametrize("with_c0", [True, False])
def test_fused_is_the_spec_bit_for_bit(bq, k_ch, n, cols, d, c0, nt, with_c0):
    a, ap, vt, rc0 = _case(bq * 100 + d, bq, k_ch, n, cols, d, with_c0)
    got = np.full((bq, nt, d), np.nan)
    v_product.fused(a, ap, vt, rc0, c0, got, np.empty(bq * n * cols), **ALL)
    _same_bits(got, _spec(a, ap, vt, rc0, c0, nt))


@pytest.mark.parametrize("bq,k_ch,cols,c0,t0,window", [
    (17, 5, 8, 1, 26, 20),      # chunks 1–5 (keys 8–47), queries 26–42: both edges skip
    (30, 6, 4, 0, 5, 8),        # a window of 2 chunks sliding over 6: most groups skip most
    (12, 3, 8, 2, 30, 24),      # one 12-row group sees all three chunks: nothing skipped
    (7, 4, 8, 0, 0, 8),         # the sequence's start: keys past the last query
])
def test_chunks_outside_a_groups_windows_are_skipped_with_the_same_bits(bq, k_ch, cols, c0,
                                                                        t0, window):
    """Activations masked to the windows, as a block leaves them: a row group whose windows
    miss a chunk skips its products and still gets the spec's bits (first lap written with
    the C0 part, later laps added)."""
    n, d, nt = 2, 16, 3
    a, ap, vt, rc0 = _case(t0 + bq, bq, k_ch, n, cols, d, True, t0=t0, c0=c0, window=window)
    got = np.full((bq, nt, d), np.nan)
    v_product.fused(a, ap, vt, rc0, c0, got, np.empty(bq * n * cols), t0=t0, window=window)
    _same_bits(got, _spec(a, ap, vt, rc0, c0, nt))


@pytest.mark.parametrize("bq", [1, 4, 12, 40, 128])
def test_fused_agrees_with_numpy_products_at_the_default_shape(bq):
    """Default chunks (3 powers × 64 columns, d = 64, 16 tiles, 18 chunks: a lap and a bit):
    the fused kernel and numpy's batched products of the stored left operand differ by no more
    than two chains' rounding (K·eps·Σ|terms| each)."""
    cfg = HeadConfig()
    nt, cols, d, n = cfg.array.n_tiles, cfg.array.tile_cols, cfg.array.head_dim, 3
    W = cfg.array.window
    c0 = (2048 - W + 1) // cols                     # the block of queries 2048 … as the path
    a, ap, vt, rc0 = _case(bq, bq, 18, n, cols, d, True, t0=2048, c0=c0, window=W)
    left = np.stack([np.concatenate([a[:, j * cols:(j + 1) * cols] * ap[i][:, None]
                                     for i in range(n)], axis=1) for j in range(18)])
    want = np.full((bq, nt, d), np.nan)
    v_product.onto_tiles(left, vt, rc0, c0, want, np.empty(nt * bq * d))
    got = np.full((bq, nt, d), np.nan)
    v_product.fused(a, ap, vt, rc0, c0, got, np.empty(bq * n * cols), t0=2048, window=W)
    mag = np.zeros((bq, nt, d))
    for j in range(18):
        mag[:, (c0 + j) % nt] += np.abs(left[j]) @ np.abs(vt[j]) + np.abs(rc0[j])[:, None]
    bound = 2 * (n * cols + 2) * np.finfo(float).eps * mag
    assert np.all(np.abs(got - want) <= bound)


def test_a_whole_run_keeps_its_counts_without_the_kernel(monkeypatch):
    """The default head's run with the fused kernel and with numpy's products: the same counts
    and sums, tile outputs within rounding."""
    cfg = HeadConfig()
    q, k, v = random_tokens(cfg, 600, 11)
    fused = run_vectorized(q, k, v, cfg, block=64)
    assert v_product.kernel() is not None or not _cpu_has_avx512f()
    monkeypatch.setattr(v_product, "kernel", lambda: None)
    numpy_path = run_vectorized(q, k, v, cfg, block=64)
    np.testing.assert_array_equal(fused.counts, numpy_path.counts)
    np.testing.assert_array_equal(fused.out, numpy_path.out)
    np.testing.assert_allclose(fused.tile_outputs, numpy_path.tile_outputs, rtol=0,
                               atol=1e-12)
    _same_bits(fused.activations, numpy_path.activations, "activations")


def test_bad_buffers_are_refused_with_their_name():
    a, ap, vt, rc0 = _case(0, 8, 2, 3, 8, 16, True)
    ob = np.zeros((8, 4, 16))
    with pytest.raises(ValueError, match=r"lbuf must be a C-contiguous float64 array of at "
                                         r"least 192 elements, not float64 \(100,\)"):
        v_product.fused(a, ap, vt, rc0, 0, ob, np.empty(100), **ALL)
    with pytest.raises(ValueError, match=r"activations \(8, 15\) do not match 2 chunks of "
                                         r"3×8 rows for 8 queries"):
        v_product.fused(a[:, :15], ap, vt, rc0, 0, ob, np.empty(192), **ALL)
    with pytest.raises(ValueError, match=r"rc0 must be a C-contiguous float64 array of shape "
                                         r"\(2, 8\), not float32 \(2, 8\)"):
        v_product.fused(a, ap, vt, rc0.astype(np.float32), 0, ob, np.empty(192), **ALL)
    with pytest.raises(ValueError, match=r"ob must be a C-contiguous float64 array of shape "
                                         r"\(8, 16, 16\), not float64 \(8, 16, 4\)"):
        v_product.fused(a, ap, vt, rc0, 0, ob.transpose(0, 2, 1), np.empty(192), **ALL)


def test_fused_without_the_kernel_says_why(monkeypatch):
    """(Without a compiler the path itself falls back with one warning:
    test_block_steps.py::test_without_a_compiler_the_path_runs_numpy_with_one_warning.)"""
    monkeypatch.setattr(v_product, "_state", {"kernel": None, "why": "no C compiler (…)"})
    with pytest.raises(RuntimeError, match=r"the V-product kernel is unavailable \(no C "
                                           r"compiler"):
        v_product.fused(*_case(0, 4, 1, 1, 8, 8, False), 0, np.zeros((4, 4, 8)), np.empty(32),
                        **ALL)


def test_a_cpu_without_avx512f_is_said():
    class NoAvx512:
        class _Fn:
            def __init__(self, value=None):
                self.value = value

            def __call__(self):
                return self.value
        gca_v_ok = _Fn(0)
        gca_v_block = _Fn()

    with pytest.raises(RuntimeError, match=r"^this CPU has no AVX-512F$"):
        v_product._declare(NoAvx512(), Path("v_product.so"))
