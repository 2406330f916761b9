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
    w = np.asarray(width_cycles)
    if w.dtype.kind not in "iu":
        raise ValueError(f"pulse width must be integer cycles, not dtype {w.dtype}")
    if w.size and (w.min() < 0 or w.max() > cfg.array.q_max):
        raise ValueError(f"pulse width must be 0..{cfg.array.q_max} cycles, "
                         f"found {int(w.min())}..{int(w.max())}")
    return w / cfg.array.q_max


def kv_code(v_V: np.ndarray | float, cfg: HeadConfig) -> np.ndarray:
    """DAC code (int64, 0..kv_max) of a K/V voltage (clipped to [0, v_max])."""
    vmax = cfg.analog.v_max_V
    v = np.clip(np.asarray(v_V, dtype=np.float64), 0.0, vmax)
    return np.rint(v / vmax * cfg.array.kv_max).astype(np.int64)


def code_to_volts(code: np.ndarray | int, cfg: HeadConfig) -> np.ndarray:
    """DAC code → stored voltage ``code·v_max/kv_max`` (float64)."""
    c = np.asarray(code)
    if c.dtype.kind not in "iu":
        raise ValueError(f"DAC code must be an integer, not dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > cfg.array.kv_max):
        raise ValueError(f"DAC code must be 0..{cfg.array.kv_max}, "
                         f"found {int(c.min())}..{int(c.max())}")
    return c * cfg.analog.v_max_V / cfg.array.kv_max
