"""Statistics-matching adaptation of every head's scalers (model-spec §7, :mod:`sim.scalers`).

Targets (μ*, σ*) are each stage's output statistics per head of the *linear* hardware model on
the calibration batch (the paper accumulates them by EMA during linear training; here they are
measured once, on the same batch).  Then, on the nonlinear model with every scaler reset to
(1, 0): a forward pass on the calibration batch, the update of :func:`sim.scalers.update_scaler`
with α from :func:`sim.scalers.alpha_at` for every layer, stage and head at once, until every
|μ − μ*| and |σ − σ*| ≤ tol or ``max_iter`` iterations.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from sim.scalers import STAGES, StageStats, alpha_at, update_scaler

from .model import CharLM

__all__ = ["measure_stats", "adapt_model", "mismatch"]

log = logging.getLogger(__name__)


@torch.no_grad()
def measure_stats(model: CharLM, x: torch.Tensor, y: torch.Tensor | None = None):
    """({stage: (mean, std)} per (layer, head), loss) of one forward pass on ``x``."""
    model.set_record(True)
    try:
        _, loss = model(x, y)
        return model.stage_stats(), (None if loss is None else loss.item())
    finally:
        for at in model.attentions:
            at.record = False


def mismatch(stats, targets) -> float:
    """Largest |μ − μ*| or |σ − σ*| over every layer, stage and head."""
    return max(float(np.max(np.abs(stats[s][i] - targets[s][i]))) for s in STAGES
               for i in (0, 1))


@torch.no_grad()
def adapt_model(model: CharLM, targets, x: torch.Tensor, y: torch.Tensor, *,
                tol: float = 1e-4, max_iter: int = 100) -> dict:
    """Adapt ``model``'s scalers in place; returns {converged, iterations, trace}, the trace one
    entry per forward pass: iteration, calibration loss (nats), largest mismatch, α."""
    model.reset_scalers()
    trace = []
    for n in range(max_iter + 1):
        stats, loss = measure_stats(model, x, y)
        err = mismatch(stats, targets)
        entry = {"iteration": n, "loss": loss, "mismatch": err}
        trace.append(entry)
        log.info("adaptation iteration %d: calibration loss %.3f, largest mismatch %.2e",
                 n, loss, err)
        if err <= tol or n == max_iter:
            return {"converged": err <= tol, "iterations": n, "trace": trace}
        entry["alpha"] = alpha = alpha_at(n)
        for li, at in enumerate(model.attentions):
            for s in STAGES:
                tgt = StageStats(targets[s][0][li], targets[s][1][li])
                pa, pb = getattr(at, f"{s}_a"), getattr(at, f"{s}_b")
                a, b = update_scaler(pa.double().numpy(), pb.double().numpy(),
                                     stats[s][0][li], stats[s][1][li], tgt, alpha, tol)
                pa.copy_(torch.as_tensor(a)), pb.copy_(torch.as_tensor(b))
    raise AssertionError("unreachable")
