"""IR-drop-style attenuation along an array line (switch ``analog.ir_drop``, off by default).

Approximation, not a circuit solve: the contribution of the cell at position ``i`` of an
``n``-cell line is scaled by ``1 − alpha·i/(n − 1)`` (``analog.ir_drop_alpha``, 0.05 assumed;
P only says 64 cells per line keep IR drop small, §2.3).  Position 0 is the sense end.

* K array, column read (Kirchhoff sum over rows on the bit line): position = row index.
* V array, row read (sum over the tile's columns): position = column index.
"""

from __future__ import annotations

import numpy as np

__all__ = ["line_attenuation"]


def line_attenuation(n: int, alpha: float) -> np.ndarray:
    """Per-position factor (n,) = 1 − alpha·i/(n − 1); all ones for n = 1 or alpha = 0."""
    if n <= 1:
        return np.ones(max(n, 0))
    return 1.0 - alpha * np.arange(n) / (n - 1)
