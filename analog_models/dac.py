"""Write DAC and query pulse generator: integer codes ↔ physical values (DESIGN.md §5).

* Query: ``code = round(clip(q, 0, 1)·q_max)`` (round half to even, as torch.round in C);
  the PWM line is high for ``code`` cycles, pulse fraction ``x = code / q_max``.
* K/V: ``code = round(clip(v, 0, v_max)/v_max·kv_max)``; ``V = code·v_max/kv_max``
  (8 levels on [0, 0.9] V by default, no 0.45 V level, model-spec §2).
* Discharge: a column is pulled to :data:`DISCHARGE_V` = 0 V before it is written.

The co-simulation bridge observes integer widths and codes on the RTL's pins and converts them
with :func:`pulse_fraction` and :func:`code_to_volts`; the golden model does the same.
"""

from __future__ import annotations

import numpy as np

from hdl.config import HeadConfig

__all__ = ["DISCHARGE_V", "query_code", "pulse_fraction", "kv_code", "code_to_volts"]

#: Voltage of a discharged cell (the write sequencer discharges the column before the DAC write).
DISCHARGE_V = 0.0


def query_code(q: np.ndarray | float, cfg: HeadConfig) -> np.ndarray:
    """PWM code (int64, 0..q_max) of a query value q (clipped to [0, 1])."""
    q_max = cfg.array.q_max
    return np.rint(np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0) * q_max).astype(np.int64)


def pulse_fraction(width_cycles: np.ndarray | int, cfg: HeadConfig) -> np.ndarray:
    """Pulse width in whole cycles → fraction of T_max: ``width / q_max`` (float64)."""
    w = _check_integers(width_cycles, cfg.array.q_max, "pulse width", "integer cycles",
                        " cycles")
    return w / cfg.array.q_max


def kv_code(v_V: np.ndarray | float, cfg: HeadConfig) -> np.ndarray:
    """DAC code (int64, 0..kv_max) of a K/V voltage (clipped to [0, v_max])."""
    vmax = cfg.analog.v_max_V
    v = np.clip(np.asarray(v_V, dtype=np.float64), 0.0, vmax)
    return np.rint(v / vmax * cfg.array.kv_max).astype(np.int64)


def code_to_volts(code: np.ndarray | int, cfg: HeadConfig) -> np.ndarray:
    """DAC code → stored voltage ``code·v_max/kv_max`` (float64)."""
    c = _check_integers(code, cfg.array.kv_max, "DAC code", "an integer")
    return c * cfg.analog.v_max_V / cfg.array.kv_max


def _check_integers(values: np.ndarray | int, hi: int, what: str, kind: str,
                    unit: str = "") -> np.ndarray:
    """``values`` as an integer array in 0..hi; ``ValueError`` naming ``what`` otherwise."""
    a = np.asarray(values)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{what} must be {kind}, not dtype {a.dtype}")
    # unsigned: one reduction (the co-simulation bridge checks a token's widths this way)
    if a.size and ((a.dtype.kind == "i" and a.min() < 0) or a.max() > hi):
        raise ValueError(f"{what} must be 0..{hi}{unit}, found {int(a.min())}..{int(a.max())}")
    return a
