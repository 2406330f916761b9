"""Per-cell Monte-Carlo mismatch of the cell curve (switch ``analog.variability``).

A mismatched cell sources ``x·(gain·g(D·y) + offset)``: ``gain = 1 + var_gain_sigma·N(0,1)``
and ``offset = var_offset_sigma_uA·N(0,1)`` µA, drawn once per cell (assumed model: neither P nor
C gives mismatch figures).

Draw order (so that anyone constructing the same arrays gets the same numbers): for array kind
``kind`` ("K" → 0, "V" → 1) and tile ``tile``, the generator is
``np.random.default_rng(np.random.SeedSequence(analog.seed, spawn_key=(kind_index, tile)))``
(= child ``(kind_index, tile)`` of ``SeedSequence(seed)``); it draws
``gain`` then ``offset``, each ``standard_normal((rows, cols))`` in C order.
"""

from __future__ import annotations

import numpy as np

from hdl.config import AnalogConfig

__all__ = ["KINDS", "mismatch_rng", "draw_mismatch"]

#: Array kinds and their index in the seed's spawn key.
KINDS = ("K", "V")


def mismatch_rng(seed: int, kind: str, tile: int) -> np.random.Generator:
    """The generator of tile ``tile`` of the ``kind`` array (documented order above)."""
    if kind not in KINDS:
        raise ValueError(f"array kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(KINDS.index(kind), int(tile))))


def draw_mismatch(analog: AnalogConfig, rows: int, cols: int, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(gain, offset_uA), each (rows, cols), drawn from ``rng`` in that order."""
    gain = 1.0 + analog.var_gain_sigma * rng.standard_normal((rows, cols))
    offset = analog.var_offset_sigma_uA * rng.standard_normal((rows, cols))
    return gain, offset
