"""Scalers and the adaptation algorithm (model-spec §7) on synthetic data with known answers."""

import numpy as np
import pytest

from hdl.config import HeadConfig
from sim.scalers import AffineScaler, HeadScalers, StageStats, adapt, head_stage_inputs


def test_scaler_defaults_and_reset():
    sc = HeadScalers()
    assert sc.as_dict() == {"q": (1.0, 0.0), "k": (1.0, 0.45), "v": (1.0, 0.45),
                            "out": (1.0, 0.0)}
    assert all(ab == (1.0, 0.0) for ab in HeadScalers.reset().as_dict().values())
    np.testing.assert_allclose(AffineScaler(2.0, 1.0)(np.array([0.0, 1.0])), [1.0, 3.0])
    np.testing.assert_allclose(AffineScaler(-1.0, 0.0)(np.array([1.0])), [1e-20])   # a ≥ 1e-20


def test_affine_stages_converge_to_the_closed_form():
    rng = np.random.default_rng(0)
    xs = {"q": rng.normal(2.0, 3.0, 5000), "k": rng.normal(-1.0, 0.5, 5000)}
    targets = {"q": StageStats(0.5, 0.25), "k": StageStats(0.45, 0.2)}
    res = adapt(lambda sc: xs, targets)
    assert res.converged and res.iterations >= 1
    for s, t in targets.items():
        a_true = t.std / np.std(xs[s])
        b_true = t.mean - a_true * np.mean(xs[s])
        sc = getattr(res.scalers, s)
        assert sc.a == pytest.approx(a_true, rel=1e-3)
        assert sc.b == pytest.approx(b_true, abs=1e-3)
    last = res.trace[-1]
    assert last["q"]["err_mean"] <= 1e-4 and last["q"]["err_std"] <= 1e-4
    assert res.trace[0]["alpha"] == 1.0


def test_coupled_stage_and_alpha_schedule():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 4000)

    def stage_inputs(sc):      # the output stage's input depends nonlinearly on the q scaler
        return {"q": x, "out": np.tanh(sc.q(x))}

    targets = {"q": StageStats(0.3, 0.1), "out": StageStats(-2.0, 0.7)}
    res = adapt(stage_inputs, targets, alpha_max=0.8, alpha_min=0.4, alpha_steps=5)
    assert res.converged
    alphas = [e["alpha"] for e in res.trace if "alpha" in e]
    np.testing.assert_allclose(alphas[:5], np.linspace(0.8, 0.4, 5))
    assert len(alphas) > 5 and all(a == 0.4 for a in alphas[5:])
    y = res.scalers.out(np.tanh(res.scalers.q(x)))
    assert abs(y.mean() + 2.0) <= 1e-4 and abs(y.std() - 0.7) <= 1e-4


def test_non_convergence_is_reported():
    x = {"q": np.zeros(10)}                 # σ = 0: a cannot move, σ* unreachable
    res = adapt(lambda sc: x, {"q": StageStats(0.0, 1.0)}, max_iter=7)
    assert not res.converged and res.iterations == 7 and len(res.trace) == 8
    with pytest.raises(ValueError, match="unknown stage"):
        adapt(lambda sc: x, {"z": StageStats(0, 1)})


def test_head_calibration_matches_linear_model_statistics():
    cfg = HeadConfig().with_overrides(["array.head_dim=8", "array.tile_cols=8",
                                       "array.n_tiles=2"])
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(0, 1, (2, 24, 8)) for _ in range(3))
    targets = {"q": StageStats(0.5, 0.25), "k": StageStats(0.45, 0.2),
               "v": StageStats(0.45, 0.2), "out": StageStats(0.0, 0.5)}
    res = adapt(head_stage_inputs(q, k, v, cfg), targets, max_iter=60)
    assert res.converged
    last = res.trace[-1]
    assert all(last[s]["err_std"] <= 1e-4 and last[s]["err_mean"] <= 1e-4 for s in targets)
