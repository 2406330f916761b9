"""Gain-cell read current: I = x · g(D·(V − v_mid)) in µA (model-spec §1, DESIGN.md §5).

``g`` is the cubic of model-spec §1.2, **including** the 0.52 µA offset C0
(``AnalogConfig.cell_poly_uA``); the C0 term is not decayed (``g(D·y)``).  Switches:

* ``nonlinearity=False`` → the linear surrogate ``linear_gain_uA_per_V · y`` (model-spec §1.5,
  no offset term, whatever ``offset`` says);
* ``offset=False`` (with the cubic) → C0 set to 0.

x is the input pulse width as a fraction of T_max; it enters linearly (charge = current × time).
"""

from __future__ import annotations

import numpy as np

from hdl.config import AnalogConfig

__all__ = ["effective_poly", "cell_g", "cell_current", "poly_terms", "term_powers"]


def _params(params: AnalogConfig | None) -> AnalogConfig:
    if params is None:
        return AnalogConfig()
    return getattr(params, "analog", params)  # a HeadConfig works too


def effective_poly(params: AnalogConfig | None = None) -> tuple[float, ...]:
    """Coefficients (C0, C1, …) in µA/V^i of the cell curve the switches select."""
    a = _params(params)
    if not a.nonlinearity:
        return (0.0, float(a.linear_gain_uA_per_V))
    c = [float(v) for v in a.cell_poly_uA]
    if not a.offset:
        c[0] = 0.0
    return tuple(c)


def cell_g(y: np.ndarray | float, params: AnalogConfig | None = None) -> np.ndarray:
    """g(y) in µA for the signed weight y = V − v_mid (V), Horner form, vectorised."""
    c = effective_poly(params)
    y = np.asarray(y, dtype=np.float64)
    acc = np.full(y.shape, c[-1])
    for ci in reversed(c[:-1]):
        acc = acc * y + ci
    return acc


def cell_current(v_store_V: np.ndarray | float, pulse_fraction: np.ndarray | float = 1.0,
                 params: AnalogConfig | None = None, *, decay: np.ndarray | float = 1.0
                 ) -> np.ndarray:
    """Charge-equivalent read current of one cell, µA (× pulse fraction of T_max).

    Parameters
    ----------
    v_store_V : stored capacitor voltage(s), V.
    pulse_fraction : input pulse width / T_max, in [0, 1]; broadcast against ``v_store_V``.
    params : :class:`hdl.config.AnalogConfig` (or a ``HeadConfig``); defaults if ``None``.
    decay : leakage factor D = exp(−Δt/τ) of the cell(s); multiplies the signed value.

    Returns ``x · g(D·(V − v_mid))`` as a float64 array (no variability, no IR drop: those are
    per-cell steps of :mod:`analog_models.array`).
    """
    a = _params(params)
    y = (np.asarray(v_store_V, dtype=np.float64) - a.v_mid_V) * decay
    return np.asarray(pulse_fraction, dtype=np.float64) * cell_g(y, a)


def term_powers(params: AnalogConfig | None = None, *, with_constant: bool = False
                ) -> tuple[int, ...]:
    """Powers i of y whose coefficient is non-zero (0 kept if ``with_constant``).

    The arrays keep one precomputed matrix per power so that a read is a few matrix-vector
    products: ``Σ_i C_i·(D·y)^i = Σ_i D^i·(C_i·y^i)``.
    """
    c = effective_poly(params)
    powers = tuple(i for i, ci in enumerate(c) if ci != 0.0 or (i == 0 and with_constant))
    return powers or (0,)


def poly_terms(y: np.ndarray, params: AnalogConfig | None, powers: tuple[int, ...],
               gain: np.ndarray | None = None, offset_uA: np.ndarray | None = None, *,
               coeffs: tuple[float, ...] | None = None) -> np.ndarray:
    """Stack of per-cell terms ``gain·C_i·y^i`` (+ ``offset_uA`` in the i = 0 term).

    Shape ``(len(powers),) + y.shape``.  The cell current is ``x·Σ_i D^i·term_i``; this is the
    one place the per-cell polynomial is expanded (arrays and the vectorised golden path both
    call it, so their per-cell numbers are identical bit for bit).  ``coeffs``:
    ``effective_poly(params)`` if the caller keeps it (a bank writing a column per token).
    """
    c = effective_poly(params) if coeffs is None else coeffs
    y = np.asarray(y, dtype=np.float64)
    out = np.empty((len(powers),) + y.shape)
    ypow, done = None, 0                # y**done by repeated multiplication (None: y**0 = 1)
    for k, p in enumerate(powers):
        while done < p:
            ypow = y if ypow is None else ypow * y        # 1·y is y exactly
            done += 1
        term = out[k]
        if p >= len(c):
            term.fill(0.0)
        elif ypow is None:
            term.fill(c[p])
        else:
            np.multiply(c[p], ypow, out=term)
        if gain is not None:
            np.multiply(gain, term, out=term)
        if p == 0 and offset_uA is not None:
            np.add(term, offset_uA, out=term)
    return out
