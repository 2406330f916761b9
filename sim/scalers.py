"""Per-head affine scalers and the statistics-matching adaptation algorithm (model-spec §7).

Each head has four scaling stages ``y = a·x + b`` (P eq. 3): on Q, K and V before clip and
quantisation, and on the tile-summed output.  The fixed 1/S_sat1 and 1/S_sat2 stages are not
calibrated.  :func:`adapt` sets (a, b) so that each stage's output mean and standard deviation
match the linear model's targets (μ*, σ*), as the paper code does:

    α_n = linspace(α_max, α_min, α_steps)[n] for n < α_steps, else α_min
    if |σ − σ*| > tol and σ ≠ 0:  a ← α·(a·σ*/σ) + (1 − α)·a     (a clamped to ≥ 1e-20)
    if |μ − μ*| > tol:            b ← α·(b + μ* − μ) + (1 − α)·b

all stages updated together after each forward pass, stop when every |σ − σ*| and |μ − μ*| is
≤ tol (absolute, 1e-4), or report non-convergence after ``max_iter`` (100) iterations.
Statistics are over every element of the stage output (batch, tokens, features), unmasked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hdl.config import HeadConfig

__all__ = ["STAGES", "AffineScaler", "HeadScalers", "StageStats", "AdaptationResult", "adapt",
           "head_stage_inputs", "A_MIN", "update_scaler", "alpha_at"]

#: The calibrated stages, in order.
STAGES = ("q", "k", "v", "out")
#: Lower clamp of every gain a (C: a.clamp(min=1e-20)).
A_MIN = 1e-20


@dataclass(frozen=True)
class AffineScaler:
    """y = a·x + b."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return max(self.a, A_MIN) * np.asarray(x, dtype=np.float64) + self.b


@dataclass(frozen=True)
class HeadScalers:
    """The four scalers of one head.  Defaults = C's model constructors (model-spec §2):
    Q (1, 0), K and V (1, 0.45), output (1, 0); :meth:`reset` gives the adaptation start
    point (all (1, 0), as the working calibration script does)."""

    q: AffineScaler = AffineScaler(1.0, 0.0)
    k: AffineScaler = AffineScaler(1.0, 0.45)
    v: AffineScaler = AffineScaler(1.0, 0.45)
    out: AffineScaler = AffineScaler(1.0, 0.0)

    @classmethod
    def reset(cls) -> "HeadScalers":
        return cls(*(AffineScaler(1.0, 0.0) for _ in STAGES))

    def as_dict(self) -> dict[str, tuple[float, float]]:
        return {s: (getattr(self, s).a, getattr(self, s).b) for s in STAGES}


@dataclass(frozen=True)
class StageStats:
    """Target or measured statistics of one stage's output."""

    mean: float
    std: float


@dataclass
class AdaptationResult:
    scalers: HeadScalers
    converged: bool
    iterations: int
    trace: list[dict] = field(default_factory=list)
    """One entry per iteration: alpha, and per stage a, b, mean, std, |Δmean|, |Δstd|."""


def adapt(stage_inputs: Callable[[HeadScalers], Mapping[str, np.ndarray]],
          targets: Mapping[str, StageStats], *, init: HeadScalers | None = None,
          tol: float = 1e-4, max_iter: int = 100, alpha_max: float = 1.0,
          alpha_min: float = 0.1, alpha_steps: int = 50) -> AdaptationResult:
    """Statistics-matching calibration of the scalers of the stages named in ``targets``.

    Parameters
    ----------
    stage_inputs : ``f(scalers) -> {stage: x}``, the *input* of each calibrated stage on the
        fixed calibration batch, given the current scalers (for "out": the hardware output of
        the head run with the current Q/K/V scalers).  Stage outputs are ``a·x + b``.
    targets : ``{stage: StageStats(μ*, σ*)}`` from the linear model.
    init : start point (default :meth:`HeadScalers.reset`).
    """
    unknown = [s for s in targets if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; stages are {', '.join(STAGES)}")
    if tol <= 0 or max_iter < 1 or alpha_steps < 1 or not 0 < alpha_min <= alpha_max <= 1:
        raise ValueError("need tol > 0, max_iter ≥ 1, alpha_steps ≥ 1 and "
                         "0 < alpha_min ≤ alpha_max ≤ 1")
    sc = {s: getattr(init or HeadScalers.reset(), s) for s in STAGES}
    trace: list[dict] = []
    for n in range(max_iter + 1):
        xs = stage_inputs(HeadScalers(**sc))
        entry: dict = {"iteration": n}
        done = True
        meas = {}
        for s, tgt in targets.items():
            y = sc[s](xs[s])
            mu, sd = float(np.mean(y)), float(np.std(y))
            meas[s] = (mu, sd)
            dmu, dsd = abs(mu - tgt.mean), abs(sd - tgt.std)
            done &= dmu <= tol and dsd <= tol
            entry[s] = {"a": sc[s].a, "b": sc[s].b, "mean": mu, "std": sd,
                        "err_mean": dmu, "err_std": dsd}
        if done:
            trace.append(entry)
            return AdaptationResult(HeadScalers(**sc), True, n, trace)
        if n == max_iter:
            trace.append(entry)
            break
        alpha = alpha_at(n, alpha_max, alpha_min, alpha_steps)
        entry["alpha"] = alpha
        trace.append(entry)
        for s, tgt in targets.items():
            sc[s] = AffineScaler(*update_scaler(sc[s].a, sc[s].b, *meas[s], tgt, alpha, tol))
    return AdaptationResult(HeadScalers(**sc), False, max_iter, trace)


def update_scaler(a, b, mean, std, target: StageStats, alpha, tol: float = 1e-4):
    """One relaxed update of a stage's (a, b) from its measured output (mean, std): the rule of
    the module docstring.  Element-wise on floats or numpy arrays (one entry per head; target
    mean/std may be arrays too); returns the new (a, b).  :func:`adapt` calls it for one head, :mod:`flows.lm_study` for every head
    of a model at once."""
    std_off = np.abs(np.subtract(std, target.std)) > tol
    mean_off = np.abs(np.subtract(mean, target.mean)) > tol
    nz = np.asarray(std) != 0
    ratio = np.divide(target.std, np.where(nz, std, 1.0))   # std = 0: no update (below)
    a_new = np.maximum(alpha * (a * ratio) + (1 - alpha) * a, A_MIN)
    b_new = alpha * (b + np.subtract(target.mean, mean)) + (1 - alpha) * b
    a_out = np.where(std_off & nz, a_new, a)
    b_out = np.where(mean_off, b_new, b)
    if np.ndim(a_out) == 0 and np.ndim(b_out) == 0:
        return float(a_out), float(b_out)
    return a_out, b_out


def alpha_at(n: int, alpha_max: float = 1.0, alpha_min: float = 0.1, alpha_steps: int = 50
             ) -> float:
    """α of iteration n: linspace(α_max, α_min, α_steps)[n] for n < α_steps, else α_min."""
    return float(np.linspace(alpha_max, alpha_min, alpha_steps)[n]) if n < alpha_steps \
        else alpha_min


def head_stage_inputs(q_raw: np.ndarray, k_raw: np.ndarray, v_raw: np.ndarray,
                      cfg: HeadConfig) -> Callable[[HeadScalers], dict[str, np.ndarray]]:
    """``stage_inputs`` for one hardware head on a calibration batch of raw projections.

    q, k, v stages see the raw projections; the "out" stage sees the golden head's float
    output ``out / count_max`` computed from the scaled (then clipped and quantised) Q, K, V.
    """
    from sim.golden import run_vectorized  # local: keeps this module light

    def f(sc: HeadScalers) -> dict[str, np.ndarray]:
        res = run_vectorized(sc.q(q_raw), sc.k(k_raw), sc.v(v_raw), cfg, check_range=False)
        return {"q": q_raw, "k": k_raw, "v": v_raw, "out": res.out / cfg.array.count_max}

    return f

