"""Golden head model: path agreement, ideal limit, window, leakage, switches, bad inputs."""

import dataclasses

import numpy as np
import pytest

from analog_models import native
from hdl.config import NON_IDEALITIES, HeadConfig
from hdl.schedule import Schedule
from sim.golden import TokenHead, outputs, run, run_token_by_token, run_vectorized
from sim.ideal import relu_attention, softmax_attention
from sim.stimuli import random_tokens

SMALL = HeadConfig().with_overrides(["array.head_dim=16", "array.tile_cols=8",
                                     "array.n_tiles=4"])            # W = 32


def _inputs(seed, T, d=16):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (T, d)), rng.uniform(0, 0.9, (T, d)), rng.uniform(0, 0.9, (T, d))


def _with(cfg, **kw):
    return dataclasses.replace(cfg, analog=dataclasses.replace(cfg.analog, **kw))


def test_paths_agree_exactly_at_default_size():
    cfg = HeadConfig().with_overrides(["array.n_tiles=4"])           # W = 256, d = 64
    q, k, v = _inputs(1, 300, 64)
    a, b = run_vectorized(q, k, v, cfg), run_token_by_token(q, k, v, cfg)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.out, b.out)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12, atol=1e-11)
    assert np.abs(a.out).max() > 15


@pytest.mark.parametrize("block", [8, 16, 40, 1000])
def test_vectorized_block_size_is_irrelevant(block):
    q, k, v = _inputs(2, 77)
    ref = run_token_by_token(q, k, v, SMALL)
    np.testing.assert_array_equal(run_vectorized(q, k, v, SMALL, block=block).counts, ref.counts)


def test_the_key_cache_slides_past_its_first_fill():
    """The vectorised path computes the keys' sides 4,096 keys ahead; past them it keeps the
    keys still in the window and appends the next ones (caches.joined): 4,500 tokens
    cross that point, with the same counts as the token path there and after it."""
    q, k, v = _inputs(3, 4500)
    ref = run_token_by_token(q, k, v, SMALL)
    got = run_vectorized(q, k, v, SMALL, block=64)
    np.testing.assert_array_equal(got.counts, ref.counts)
    np.testing.assert_allclose(got.tile_outputs, ref.tile_outputs, rtol=1e-12, atol=1e-12)
    assert np.abs(got.out[4096:]).max() > 3


def test_all_off_equals_ideal_linear_relu_attention():
    cfg = _with(SMALL, **{n: False for n in NON_IDEALITIES})
    q, k, v = _inputs(3, 70)
    want = relu_attention(q, k, v, cfg)
    for path in (run_vectorized, run_token_by_token):
        res = path(q, k, v, cfg)
        assert res.out.dtype == np.float64
        np.testing.assert_allclose(res.out / cfg.array.count_max, want, rtol=1e-12, atol=1e-13)
    # Independent check of the ideal itself on the first tile (no wrap, one tile).
    t = 5
    s = 19.3 * (q[t] * (k[: t + 1] - 0.45)).sum(1)
    a = np.clip(s / 80, 0, 1)
    o = np.clip((a[:, None] * 19.3 * (v[: t + 1] - 0.45)).sum(0) / 40, -1, 1)
    np.testing.assert_allclose(want[t], o, rtol=1e-12)


def test_window_wraps_and_masks():
    q, k, v = _inputs(4, 80)
    W = SMALL.array.window
    res = run_vectorized(q, k, v, SMALL, layout="dense")
    t, s = np.indices((80, 80))
    outside = (s > t) | (s <= t - W)
    assert np.all(res.scores[outside] == 0) and np.all(res.activations[outside] == 0)
    assert np.count_nonzero(res.scores[~outside]) == np.count_nonzero(~outside)
    # Output at t ≥ W does not depend on tokens older than the window (overwritten columns).
    k2, v2 = k.copy(), v.copy()
    k2[:10], v2[:10] = 0.9 - k2[:10], 0.9 - v2[:10]
    res2 = run_token_by_token(q, k2, v2, SMALL)
    np.testing.assert_array_equal(res2.counts[10 + W - 1:], res.counts[10 + W - 1:])
    assert not np.array_equal(res2.counts[:10 + W - 1], res.counts[:10 + W - 1])


def test_token_head_pointer_and_valid_mask():
    head = TokenHead(SMALL)
    W, cols = SMALL.array.window, SMALL.array.tile_cols
    x, kv = np.zeros(16), np.full(16, 0.45)
    seen = []
    for t in range(W + 3):
        seen.append(head.pointer)
        head.step(x, kv, kv, 0.0, 0.0)
        assert head.valid_mask().sum() == min(t + 1, W)
    assert seen[:2] == [(0, 0), (0, 1)] and seen[cols] == (1, 0)
    assert seen[W] == (0, 0) and seen[W + 2] == (0, 2)


def test_leakage_follows_real_time():
    cfg = _with(SMALL, tau_retention_s=1e-6)
    q, k, v = _inputs(5, 40)
    step = Schedule(cfg).token_step_s
    base = run_vectorized(q, k, v, cfg)
    explicit = run_vectorized(q, k, v, cfg, write_times_s=np.arange(40) * step,
                              read_times_s=np.arange(40) * step)
    np.testing.assert_array_equal(base.counts, explicit.counts)
    # A long stall before token 20: everything written before it has decayed to the midpoint,
    # so those tokens give exactly the C0-only score.
    w = np.arange(40) * step
    w[20:] += 1.0
    res = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w, layout="dense")
    c0 = cfg.analog.cell_poly_uA[0]
    x = np.rint(q * 15) / 15
    np.testing.assert_allclose(res.scores[25, :20], c0 * x[25].sum(), rtol=1e-12)
    assert not np.allclose(res.scores[25, 20:26], c0 * x[25].sum())
    # Without leakage the stall changes nothing.
    nol = _with(cfg, leakage=False)
    np.testing.assert_array_equal(run_vectorized(q, k, v, nol, write_times_s=w,
                                                 read_times_s=w).counts,
                                  run_vectorized(q, k, v, nol).counts)


def test_reads_later_than_writes_decay_more():
    cfg = _with(SMALL, tau_retention_s=1e-6)
    q, k, v = _inputs(6, 20)
    w = np.arange(20) * 1e-7
    a = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w)
    b = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w + 5e-7)
    assert not np.allclose(a.scores, b.scores)
    np.testing.assert_array_equal(b.counts, run_token_by_token(q, k, v, cfg, write_times_s=w,
                                                               read_times_s=w + 5e-7).counts)


@pytest.mark.parametrize("name", NON_IDEALITIES)
def test_every_switch_changes_the_output(name):
    cfg = SMALL.with_overrides(["analog.tau_retention_s=2e-5", "analog.var_gain_sigma=0.2",
                                "analog.ir_drop_alpha=0.3"])
    on = _with(cfg, **{n: True for n in NON_IDEALITIES})
    off = _with(on, **{name: False})
    q, k, v = _inputs(7, 60)
    a = run_vectorized(q, k, v, on).out / 15
    b = run_vectorized(q, k, v, off).out / 15
    assert np.abs(a - b).max() > 0.05


def test_variability_seed():
    cfg = _with(SMALL, variability=True)
    q, k, v = _inputs(8, 50)
    a = run_vectorized(q, k, v, cfg)
    np.testing.assert_array_equal(a.tile_outputs, run_vectorized(q, k, v, cfg).tile_outputs)
    b = run_vectorized(q, k, v, _with(cfg, seed=1))
    assert not np.allclose(a.tile_outputs, b.tile_outputs)


def test_batch_axis_and_run_dispatch():
    q, k, v = _inputs(9, 30)
    qb, kb, vb = (np.stack([a, a[::-1]]) for a in (q, k, v))
    res = run(qb, kb, vb, SMALL, method="token")
    assert res.counts.shape == (2, 30, 4, 16) and res.scores.shape == (2, 30, 32)
    dense = run(qb, kb, vb, SMALL, layout="dense")
    assert dense.scores.shape == (2, 30, 30)
    np.testing.assert_allclose(res.dense("scores", 32), dense.scores, rtol=1e-12, atol=1e-11)
    np.testing.assert_array_equal(res.counts[1], run(q[::-1], k[::-1], v[::-1], SMALL).counts)
    with pytest.raises(ValueError, match="method must be 'vectorized' or 'token', not 'x'"):
        run(q, k, v, SMALL, method="x")


def test_step_codes_go_through_the_dac():
    head_a, head_b = TokenHead(SMALL), TokenHead(SMALL)
    rng = np.random.default_rng(10)
    for t in range(5):
        qc, kc, vc = rng.integers(0, 16, 16), rng.integers(0, 8, 16), rng.integers(0, 8, 16)
        a = head_a.step_codes(qc, kc, vc, t * 1e-7, t * 1e-7)
        b = head_b.step(qc / 15, kc * 0.9 / 7, vc * 0.9 / 7, t * 1e-7, t * 1e-7)
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_array_equal(a.scores, b.scores)


def test_float_path_outputs():
    cfg = _with(SMALL, quantization=False)
    q, k, v = _inputs(11, 40)
    res = run_vectorized(q, k, v, cfg)
    assert res.counts.dtype == np.float64
    np.testing.assert_allclose(res.counts, res.tile_outputs * 15, rtol=1e-15)
    np.testing.assert_allclose(res.out, res.counts.sum(1), rtol=1e-12)
    assert np.any(res.counts != np.round(res.counts))


def test_softmax_attention_reference():
    q, k, v = _inputs(12, 6, 4)
    out = softmax_attention(q, k, v)
    for t in range(6):
        logits = q[t] @ k[: t + 1].T / 2
        p = np.exp(logits) / np.exp(logits).sum()
        np.testing.assert_allclose(out[t], p @ v[: t + 1])
    win = softmax_attention(q, k, v, window=2)
    np.testing.assert_allclose(win[0], v[0])


BAD = [
    (dict(q=np.zeros(16)), r"array 'q' must have shape \(T, d\) or \(B, T, d\), not \(16,\)"),
    (dict(k=np.zeros((5, 8))), "array 'k' has head dimension 8, but array.head_dim is 16"),
    (dict(v=np.zeros((4, 16))), r"arrays 'q', 'k', 'v' must have the same shape, not "
                                r"q \(5, 16\), k \(5, 16\), v \(4, 16\)"),
    (dict(q=np.full((5, 16), np.nan)), r"array 'q' holds a non-finite value at index \(0, 0\)"),
    (dict(q=np.full((5, 16), 1.5)), r"array 'q' must lie in \[0, 1\], found 1.5 at index"),
    (dict(k=-np.ones((5, 16))), r"array 'k' must lie in \[0, 0.9\] V, found -1 at index"),
    (dict(k=np.where(np.arange(80).reshape(5, 16) == 7, -np.inf, 0.0)),   # one −inf
     r"array 'k' holds a non-finite value at index \(0, 7\)"),
    (dict(v=np.where(np.arange(80).reshape(5, 16) == 53, np.nan, 0.5)),
     r"array 'v' holds a non-finite value at index \(3, 5\)"),
    (dict(q=np.where(np.arange(80).reshape(5, 16) == 37, 1.25, 0.5)),
     r"array 'q' must lie in \[0, 1\], found 1.25 at index \(2, 5\)"),
    (dict(v=np.full((5, 16), "a")), "array 'v' must hold real numbers, not dtype <U1"),
    (dict(q=np.zeros((0, 16)), k=np.zeros((0, 16)), v=np.zeros((0, 16))),
     r"array 'q' is empty \(shape \(0, 16\)\)"),
]


@pytest.mark.parametrize("bad, msg", BAD)
@pytest.mark.parametrize("path", [run_vectorized, run_token_by_token],
                         ids=["vectorized", "token"])
def test_bad_inputs(bad, msg, path):
    arrays = dict(q=np.zeros((5, 16)), k=np.zeros((5, 16)), v=np.zeros((5, 16)))
    arrays.update(bad)
    with pytest.raises(ValueError, match=msg):
        path(arrays["q"], arrays["k"], arrays["v"], SMALL)


@pytest.mark.parametrize("w, r, msg", [
    (np.zeros(4), None, r"write_times_s must have shape \(5,\) \(one per token\), not \(4,\)"),
    (None, np.array([0, 1, 2, np.inf, 4.0]), "read_times_s holds a non-finite value at index 3"),
    (np.array([0, 2, 1, 3, 4.0]), np.arange(5.0) + 9,
     r"write_times_s must be non-decreasing, but write_times_s\[2\] = 1 < write_times_s\[1\] = 2"),
    (np.arange(5.0), np.arange(5.0) - 0.5,
     r"read_times_s\[0\] = -0.5 is before write_times_s\[0\] = 0"),
])
def test_bad_times(w, r, msg):
    z = np.zeros((5, 16))
    with pytest.raises(ValueError, match=msg):
        run_vectorized(z, z, z, SMALL, write_times_s=w, read_times_s=r)


def test_check_range_off_clips():
    q, k, v = _inputs(13, 20)
    a = run_vectorized(q * 3 - 1, k * 3 - 0.9, v, SMALL, check_range=False)
    b = run_vectorized(np.clip(q * 3 - 1, 0, 1), np.clip(k * 3 - 0.9, 0, 0.9), v, SMALL)
    np.testing.assert_array_equal(a.counts, b.counts)


def test_the_vectorised_profile_times_every_step_of_the_run():
    """run_vectorized(profile=): each of STEPS timed (added over the blocks and the sequences
    of a batch), together the run's time less the input checks."""
    import time

    from sim.golden.vectorized import STEPS

    q, k, v = (np.stack([a, a[::-1]]) for a in _inputs(4, 90))
    prof = {}
    start = time.perf_counter()
    run_vectorized(q, k, v, SMALL, profile=prof, block=16)
    took = time.perf_counter() - start
    assert list(prof) == list(STEPS) and all(sec > 0 for sec in prof.values())
    assert 0.5 * took < sum(prof.values()) <= took
    again = dict(prof)
    run_vectorized(q[0], k[0], v[0], SMALL, profile=prof, block=16)   # added into the dict
    assert all(prof[s] > again[s] for s in STEPS)


def test_the_in_memory_outputs_start_on_cache_lines():
    """The sink's arrays are native.aligned (the C2P and block kernels write them with
    streaming stores); the per-key ones read 0 where no query wrote; aligned() itself, for
    both allocators and the dtypes the outputs use."""
    cfg = HeadConfig().with_overrides(["array.n_tiles=4", "array.tile_cols=16",
                                       "array.head_dim=8"])
    q, k, v = random_tokens(cfg, 40, 2)
    res = run_vectorized(q, k, v, cfg)
    for name, a in res.arrays().items():
        assert a.ctypes.data % native.ALIGN == 0, name
    assert (res.scores[0, 1:] == 0).all()              # token 0 sees one key
    for alloc in (np.empty, np.zeros):
        for dt in (np.float64, np.int64, np.uint8):
            a = native.aligned(alloc, (3, 5, 7), dt)
            assert a.shape == (3, 5, 7) and a.dtype == dt and a.ctypes.data % 64 == 0
            assert alloc is np.empty or not a.any()


@pytest.mark.parametrize("layout", ["window", "dense"])
@pytest.mark.parametrize("T", [20, 77])
def test_every_output_element_is_written_or_zeroed_on_dirty_memory(monkeypatch, layout, T):
    """The sink leaves uninitialised what a path writes whole (outputs.Sink._open): on memory
    full of garbage (NaN, −7) both paths still give every element, the same as each other —
    the window rows before the first full window (T = 20 < W − 1 = 31 too) read 0 where no
    key was."""
    def dirty(alloc, shape, dtype):
        a = native.aligned(alloc, shape, dtype)
        a.fill(np.nan if np.dtype(dtype).kind == "f" else -7)
        return a

    monkeypatch.setattr(outputs, "aligned", dirty)
    q, k, v = _inputs(4, T)
    vec = run_vectorized(q, k, v, SMALL, block=16, layout=layout)
    tok = run_token_by_token(q, k, v, SMALL, layout=layout)
    for name, a in vec.arrays().items():
        assert not np.isnan(a).any() and not (a == -7).all(), name
        np.testing.assert_allclose(a, getattr(tok, name), rtol=1e-12, atol=1e-12, err_msg=name)
    assert (vec.scores[0, 1:] == 0).all()
