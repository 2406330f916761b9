"""Capacitor leakage: the signed stored value V − v_mid decays by D = exp(−Δt/τ).

Δt is real time in seconds from the cell's write to the read (P eq. 7; model-spec §4).  The
cell current is ``x·g(D·y)``: the C0 term of the cubic is not decayed, V relaxes toward v_mid.

Presets (:data:`PRESETS`, applied with :func:`apply_preset`):

``cmos``            τ = 5 ms, the SPICE fit of the CMOS gain cell (P §4.1) — the config default.
``code_per_token``  the paper code's per-token factor λ = 1.6e-4 (C ``decay_factor``) with
                    L = 12 layers: τ = token_step_s/1.6e-4, token_step_s = L × head latency of
                    the configured schedule, so ``exp(−λ)`` per token at the default token times.
``osfet``           τ = 5 s: OSFET-class cells retain about three orders of magnitude longer
                    (P §4.1).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hdl.config import HeadConfig
from hdl.schedule import Schedule

__all__ = ["cell_age_s", "decay_factor", "decay_powers", "per_token_lambda", "PRESETS",
           "apply_preset", "CODE_LAMBDA_PER_TOKEN"]

#: The paper code's per-token decay exponent (C ``decay_factor``, model-spec §4).
CODE_LAMBDA_PER_TOKEN = 1.6e-4

PRESETS = {
    "cmos": "τ = 5 ms (P §4.1, SPICE fit of the CMOS gain cell)",
    "code_per_token": "λ = 1.6e-4 per token step with L = 12 (paper code decay_factor)",
    "osfet": "τ = 5 s (OSFET-class retention, ×1000, P §4.1)",
}


def cell_age_s(t_read_s: np.ndarray | float, t_write_s: np.ndarray | float) -> np.ndarray:
    """Δt = t_read − t_write, floored at 0 (a cell is never younger than its write)."""
    return np.maximum(np.subtract(t_read_s, t_write_s), 0.0)


def decay_factor(age_s: np.ndarray | float, tau_s: float) -> np.ndarray:
    """D = exp(−Δt/τ) for ages Δt ≥ 0 (use :func:`cell_age_s`)."""
    return np.exp(np.asarray(age_s, dtype=np.float64) / -tau_s)


def decay_powers(d: np.ndarray, powers: tuple[int, ...], axis: int = 0) -> np.ndarray:
    """Stack of D**p for p in ``powers`` (by repeated multiplication), new axis ``axis``."""
    d = np.asarray(d, dtype=np.float64)
    shape = list(d.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, len(powers))
    out = np.empty(shape)
    planes = np.moveaxis(out, axis, 0) if axis else out   # a view: plane i is D**powers[i]
    dp, done = None, 0                  # dp = D**done (None: D**0), multiplied up in place
    for i, p in enumerate(powers):
        plane = planes[i]
        if p == 0:
            plane.fill(1.0)
            continue
        if done == 0:
            np.copyto(plane, d)
            done = 1
        else:                           # D**(done+1) = D**done · D, as repeated multiplication
            np.multiply(dp, d, out=plane)
            done += 1
        while done < p:
            np.multiply(plane, d, out=plane)
            done += 1
        dp = plane
    return out


def per_token_lambda(cfg: HeadConfig) -> float:
    """λ = token_step_s/τ: decay exponent per default token step (P eq. 7)."""
    return Schedule(cfg).token_step_s / cfg.analog.tau_retention_s


def apply_preset(cfg: HeadConfig, name: str) -> HeadConfig:
    """A copy of ``cfg`` with the leakage preset ``name`` (see :data:`PRESETS`)."""
    if name == "cmos":
        return dataclasses.replace(cfg, analog=dataclasses.replace(cfg.analog,
                                                                   tau_retention_s=5e-3))
    if name == "osfet":
        return dataclasses.replace(cfg, analog=dataclasses.replace(cfg.analog,
                                                                   tau_retention_s=5.0))
    if name == "code_per_token":
        c = dataclasses.replace(cfg, timing=dataclasses.replace(cfg.timing, layers=12))
        tau = Schedule(c).token_step_s / CODE_LAMBDA_PER_TOKEN
        return dataclasses.replace(c, analog=dataclasses.replace(c.analog, tau_retention_s=tau))
    raise ValueError(f"leakage preset must be one of {', '.join(PRESETS)}, not {name!r}")
