"""The torch hardware head of the LM study against the bit-true golden model (sim.golden), and
its straight-through gradients (issue 15)."""

import dataclasses

import numpy as np
import pytest
import torch

from flows.lm_study.hw_attention import (
    HardwareHead,
    count_quantise,
    quantise_kv,
    quantise_query,
)
from hdl.config import AnalogConfig, ArrayConfig, HeadConfig
from sim.golden import run_token_by_token

W_SMALL = 32                       # 4 tiles × 8 columns
T = W_SMALL + 224                  # ≥ 200 tokens past the window wrap


def _cfg(**analog) -> HeadConfig:
    # τ = 20 µs: at this schedule's token step (L = 12 × latency) the oldest cell of the window
    # has decayed to ~0.4, so leakage changes counts; S_sat1 = 20 µA suits d = 8 rows.
    kw = dict(tau_retention_s=2e-5, s_sat1_uA=20.0)
    kw.update(analog)
    return HeadConfig(array=ArrayConfig(head_dim=8, tile_cols=8, n_tiles=4),
                      analog=AnalogConfig(**kw))


def _tokens(seed=1):
    """Queries uniform, keys uniform, values biased per dimension (a uniform V averages to
    ~0 per tile and gives almost only zero counts)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 1, (T, 8))
    k = rng.uniform(0, 0.9, (T, 8))
    v = np.clip(rng.normal(np.linspace(0.05, 0.85, 8), 0.15, (T, 8)), 0, 0.9)
    return q, k, v


def _torch_counts(cfg, q, k, v):
    head = HardwareHead([cfg], T)
    tt = [torch.from_numpy(a)[None, None] for a in (q, k, v)]
    with torch.no_grad():
        c = head(*tt, tiles=True)[0, 0].numpy()
        out = head(*tt)[0, 0].numpy()
    return c, out


def _boundary_margin(tile_outputs, cfg):
    """Distance of |O|/S_sat2·count_max + 0.5 from the nearest integer (rounding boundary)."""
    z = np.abs(tile_outputs) * cfg.array.count_max + 0.5
    return np.abs(z - np.round(z))


@pytest.mark.parametrize("variability", [False, True], ids=["cells", "mismatch"])
def test_counts_equal_golden_past_the_window_wrap(variability):
    cfg = _cfg(variability=variability)
    assert cfg.analog.nonlinearity and cfg.analog.offset and cfg.analog.leakage
    q, k, v = _tokens()
    g = run_token_by_token(q, k, v, cfg)
    c, out = _torch_counts(cfg, q, k, v)
    diff = c != g.counts
    margin = _boundary_margin(g.tile_outputs, cfg)
    n_diff = int(diff.sum())
    print(f"torch vs golden: {n_diff} of {diff.size} counts differ, all at |margin| < 1e-9")
    assert np.all(margin[diff] < 1e-9) and n_diff <= 2
    np.testing.assert_allclose(out * cfg.array.count_max, g.out, atol=1e-12)
    # The test exercises what it claims: non-trivial counts, many past the wrap, leakage and
    # the offset change them.
    assert (c[W_SMALL:] != 0).mean() > 0.5 and np.abs(c).max() >= 4
    for off in ("leakage", "offset"):
        g_off = run_token_by_token(q, k, v, dataclasses.replace(
            cfg, analog=cfg.analog.ideal(off)))
        assert (g_off.counts[W_SMALL:] != g.counts[W_SMALL:]).mean() > 0.05, off


def test_unquantised_linear_head_equals_golden_floats():
    cfg = _cfg().analog.ideal("quantization", "nonlinearity")
    cfg = dataclasses.replace(_cfg(), analog=cfg)
    q, k, v = _tokens(2)
    g = run_token_by_token(q, k, v, cfg)
    c, _ = _torch_counts(cfg, q, k, v)
    np.testing.assert_allclose(c, g.counts, atol=1e-12)
    assert np.abs(c).max() > 1


def _fd(f, x, eps=1e-6):
    g = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(flat.numel()):
        xp, xm = flat.clone(), flat.clone()
        xp[i] += eps
        xm[i] -= eps
        g.view(-1)[i] = (f(xp.view_as(x)) - f(xm.view_as(x))) / (2 * eps)
    return g


def test_straight_through_gradients_equal_the_unquantised_path():
    cfg = _cfg()
    torch.manual_seed(0)
    w = torch.randn(40, dtype=torch.float64)
    def span(lo, hi, kinks):   # 40 points over both clip edges, none within 1e-3 of a kink
        x = torch.linspace(lo, hi, 40, dtype=torch.float64) + 1e-2 * torch.rand(40)
        assert min(float((x - c).abs().min()) for c in kinks) > 1e-3
        return x

    cases = [  # (quantiser, unquantised path, inputs)
        (lambda x: quantise_query(x, cfg), lambda x: x.clamp(0, 1), span(-0.3, 1.3, (0, 1))),
        (lambda x: quantise_kv(x, cfg), lambda x: x.clamp(0, 0.9), span(-0.2, 1.1, (0, 0.9))),
        (lambda x: count_quantise(x, cfg), lambda x: (x / 40.0).clamp(-1, 1) * 15,
         span(-55.3, 55.1, (-40, 40))),
    ]
    for quant, path, x in cases:
        x = x.clone().requires_grad_(True)
        (quant(x) * w).sum().backward()
        fd = _fd(lambda z: (path(z) * w).sum(), x.detach())
        torch.testing.assert_close(x.grad, fd, atol=1e-6, rtol=1e-6)
        assert (x.grad != 0).any() and (x.grad == 0).any()     # inside and outside the clip
        with torch.no_grad():   # the forward value is the quantised one
            assert not torch.equal(quant(x), path(x))


def test_gradient_of_the_whole_head():
    """Unquantised: autograd equals finite differences; quantised: the STE gradient flows."""
    torch.manual_seed(1)
    q, k, v = (torch.from_numpy(a[:40]).clone()[None, None] for a in _tokens(3))
    wts = torch.randn(1, 1, 40, 8, dtype=torch.float64)
    cfg_f = dataclasses.replace(_cfg(), analog=_cfg().analog.ideal("quantization"))
    head_f = HardwareHead([cfg_f], 40)
    qg = q.clone().requires_grad_(True)
    (head_f(qg, k, v) * wts).sum().backward()
    sel = qg.grad[0, 0, :6]
    fd = _fd(lambda z: (head_f(torch.cat([z[None, None], q[:, :, 6:]], 2), k, v) * wts).sum(),
             q[0, 0, :6].clone())
    torch.testing.assert_close(sel, fd, atol=1e-6, rtol=1e-5)
    assert sel.abs().max() > 1e-3
    head_q = HardwareHead([_cfg()], 40)
    vg = v.clone().requires_grad_(True)
    (head_q(q, k, vg) * wts).sum().backward()
    assert torch.isfinite(vg.grad).all() and (vg.grad != 0).mean(dtype=torch.float64) > 0.3


@pytest.mark.slow
def test_full_size_head_equals_golden():
    """The paper's head (d = 64, 16 tiles × 64, W = 1024), 200 tokens past the wrap, against
    the golden model's vectorised path (~5 s)."""
    cfg = HeadConfig()
    T_full, d = cfg.array.window + 200, cfg.array.head_dim
    rng = np.random.default_rng(0)
    q = rng.uniform(0, 0.3, (T_full, d))
    k = rng.uniform(0, 0.9, (T_full, d))
    v = np.clip(rng.normal(np.linspace(0.05, 0.85, d), 0.15, (T_full, d)), 0, 0.9)
    from sim.golden import run_vectorized
    g = run_vectorized(q, k, v, cfg)
    with torch.no_grad():
        c = HardwareHead([cfg], T_full)(*(torch.from_numpy(a)[None, None] for a in (q, k, v)),
                                        tiles=True)[0, 0].numpy()
    diff = c != g.counts
    assert np.all(_boundary_margin(g.tile_outputs, cfg)[diff] < 1e-9) and diff.sum() <= 2
    assert (c[cfg.array.window:] != 0).mean() > 0.3
