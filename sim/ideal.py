"""Ideal float attention references: softmax attention and linear ReLU attention.

* :func:`softmax_attention` — standard causal (sliding-window) softmax attention,
  ``softmax(q·kᵀ·scale)·v`` with scale 1/√d (the software baseline of model-spec §6).
* :func:`relu_attention` — the paper's linear intermediate hardware model in float with no
  non-ideality (model-spec §6, "LinearDRAMAttention" without quantisation or decay): inputs
  clipped to their physical ranges, ``S = lin·q·(k − v_mid)ᵀ`` on the window,
  ``A = clip(S/S_sat1, 0, 1)``, per tile ``clip(Σ_s A·lin·(v − v_mid)/S_sat2, −1, 1)``, summed
  over tiles.  Its output is in the units of the golden ``out / count_max``; the golden model
  with every switch off equals it (to float rounding).  ``tile_saturation=False`` drops the
  per-tile clip (plain ReLU-with-saturation attention, one sum over the window).
"""

from __future__ import annotations

import numpy as np

from hdl.config import HeadConfig

__all__ = ["window_mask", "softmax_attention", "relu_attention"]


def window_mask(T: int, window: int | None = None) -> np.ndarray:
    """M[t, s] = t − W < s ≤ t (causal if ``window`` is None)."""
    t = np.arange(T)[:, None]
    s = np.arange(T)[None, :]
    m = s <= t
    if window is not None:
        m &= s > t - window
    return m


def softmax_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
                      window: int | None = None, scale: float | None = None) -> np.ndarray:
    """Causal softmax attention of (T, d) arrays (sliding window ``window`` if given)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = q @ k.T * scale
    logits = np.where(window_mask(len(q), window), logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return p @ v


def relu_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                   tile_saturation: bool = True) -> np.ndarray:
    """Ideal linear ReLU (hard-sigmoid) attention of (T, d) post-scaler inputs, float."""
    ar, an = cfg.array, cfg.analog
    lin, vmax, vmid = an.linear_gain_uA_per_V, an.v_max_V, an.v_mid_V
    q = np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0)
    k = np.clip(np.asarray(k, dtype=np.float64), 0.0, vmax) - vmid
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, vmax) - vmid
    T = len(q)
    W = ar.window
    mask = window_mask(T, W)
    A = np.where(mask, np.clip(lin * (q @ k.T) / an.s_sat1_uA, 0.0, 1.0), 0.0)
    if not tile_saturation:
        return A @ (lin * v) / an.s_sat2_uA
    tile_of = (np.arange(T) % W) // ar.tile_cols
    y = np.zeros_like(q)
    for j in range(ar.n_tiles):
        sel = tile_of == j
        if sel.any():
            y += np.clip(A[:, sel] @ (lin * v[sel]) / an.s_sat2_uA, -1.0, 1.0)
    return y
