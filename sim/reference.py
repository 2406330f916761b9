"""Independent direct implementation of the model-spec equations, for small sizes only.

Written apart from :mod:`sim.golden` and :mod:`analog_models` (imports neither): plain Python
loops over tokens, window positions and rows, evaluating each cell as the spec writes it,
``g(D·(V − v_mid))`` with ``g`` a polynomial in its argument (model-spec §1.2, §4, §5, §6 and
DESIGN.md §5).  The tests compare the golden model's fast paths against it; keep it slow and
obvious.  Mismatch draws follow the recipe documented in ``analog_models/variability.py``:
``default_rng(SeedSequence(seed, spawn_key=(kind, tile)))``, gain then offset, (rows, cols).
"""

from __future__ import annotations

import math

import numpy as np

from hdl.config import HeadConfig
from hdl.schedule import Schedule

__all__ = ["reference_head"]


def _cell_poly(cfg: HeadConfig) -> list[float]:
    a = cfg.analog
    if not a.nonlinearity:
        return [0.0, a.linear_gain_uA_per_V]          # linear surrogate, no offset (§1.5)
    c = list(a.cell_poly_uA)
    if not a.offset:
        c[0] = 0.0
    return c


def _g(z: float, coeffs: list[float]) -> float:
    return sum(ci * z ** i for i, ci in enumerate(coeffs))


def reference_head(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig,
                   write_times_s: np.ndarray | None = None,
                   read_times_s: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """S, A, per-tile outputs, counts and the head output of a (T, d) sequence, by loops."""
    ar, an = cfg.array, cfg.analog
    T, d = np.shape(q)
    W, cols, nt = ar.n_tiles * ar.tile_cols, ar.tile_cols, ar.n_tiles
    qm, km, cm = ar.q_max, ar.kv_max, ar.count_max
    vmax, vmid = an.v_max_V, an.v_mid_V
    step = Schedule(cfg).token_step_s
    wt = [t * step for t in range(T)] if write_times_s is None else list(write_times_s)
    rt = [t * step for t in range(T)] if read_times_s is None else list(read_times_s)

    def clip(x: float, lo: float, hi: float) -> float:
        return min(max(x, lo), hi)

    # Quantisers (round half to even = Python's round).
    Q = [[clip(float(q[t][i]), 0.0, 1.0) for i in range(d)] for t in range(T)]
    K = [[clip(float(k[t][i]), 0.0, vmax) for i in range(d)] for t in range(T)]
    V = [[clip(float(v[t][i]), 0.0, vmax) for i in range(d)] for t in range(T)]
    if an.quantization:
        Q = [[round(x * qm) / qm for x in row] for row in Q]
        K = [[round(x / vmax * km) * vmax / km for x in row] for row in K]
        V = [[round(x / vmax * km) * vmax / km for x in row] for row in V]

    coeffs = _cell_poly(cfg)
    gain = {}
    off = {}
    for kind_i, kind in enumerate("KV"):
        for j in range(nt):
            if an.variability:
                rng = np.random.default_rng(np.random.SeedSequence(an.seed, spawn_key=(kind_i, j)))
                gain[kind, j] = 1.0 + an.var_gain_sigma * rng.standard_normal((d, cols))
                off[kind, j] = an.var_offset_sigma_uA * rng.standard_normal((d, cols))
            else:
                gain[kind, j] = np.ones((d, cols))
                off[kind, j] = np.zeros((d, cols))
    alpha = an.ir_drop_alpha if an.ir_drop else 0.0
    f_k = [1.0 - alpha * r / (d - 1) if d > 1 else 1.0 for r in range(d)]
    f_v = [1.0 - alpha * c / (cols - 1) if cols > 1 else 1.0 for c in range(cols)]

    S = np.zeros((T, T))
    A = np.zeros((T, T))
    tile_out = np.zeros((T, nt, d))
    counts = np.zeros((T, nt, d), dtype=np.int64 if an.quantization else np.float64)
    for t in range(T):
        O = [[0.0] * d for _ in range(nt)]
        for s in range(max(0, t - W + 1), t + 1):      # the window: t − W < s ≤ t
            p = s % W
            j, c = p // cols, p % cols
            D = math.exp(-max(rt[t] - wt[s], 0.0) / an.tau_retention_s) if an.leakage else 1.0
            acc = 0.0
            for r in range(d):
                cell = gain["K", j][r, c] * _g(D * (K[s][r] - vmid), coeffs) + off["K", j][r, c]
                acc += Q[t][r] * f_k[r] * cell
            S[t, s] = acc
            A[t, s] = clip(acc / an.s_sat1_uA, 0.0, 1.0)
            for e in range(d):
                cell = gain["V", j][e, c] * _g(D * (V[s][e] - vmid), coeffs) + off["V", j][e, c]
                O[j][e] += A[t, s] * f_v[c] * cell
        for j in range(nt):
            for e in range(d):
                o = O[j][e]
                tile_out[t, j, e] = clip(o / an.s_sat2_uA, -1.0, 1.0)
                if an.quantization:
                    n = min(cm, math.floor(abs(o) / an.s_sat2_uA * cm + 0.5))
                    counts[t, j, e] = -n if o < 0 else n
                else:
                    counts[t, j, e] = tile_out[t, j, e] * cm
    return {"scores": S, "activations": A, "tile_outputs": tile_out, "counts": counts,
            "out": counts.sum(axis=1)}
