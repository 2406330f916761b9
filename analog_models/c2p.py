"""Charge-to-pulse circuits (model-spec §3, DESIGN.md §5).

* ReLU / HardSigmoid C2P of the K array: ``A = clip(S/S_sat1, 0, 1)``, the A pulse width as a
  fraction of T_max; stays analog (not quantised).  Masked columns have S = 0, so A = 0.
* Signed C2P + sign flip-flop + counter of the V array, per tile and output dimension:
  ``count = min(count_max, floor(|O|/S_sat2·count_max + 0.5))`` whole cycles, sign bit
  ``O < 0``; the tile's value is ``−count`` if the sign bit is set else ``+count``.
"""

from __future__ import annotations

import numpy as np

from analog_models.level_read import kernel
from hdl.config import HeadConfig

__all__ = ["relu_c2p", "signed_c2p", "signed_c2p_normalized", "signed_value",
           "signed_value_of_normalized", "signed_c2p_tiles"]


def relu_c2p(S: np.ndarray, cfg: HeadConfig) -> np.ndarray:
    """A = clip(S/S_sat1, 0, 1) (float64, same shape as S; S in µA·T_max)."""
    analog = getattr(cfg, "analog", cfg)
    a = np.asarray(S, dtype=np.float64) / analog.s_sat1_uA
    np.maximum(a, 0.0, out=a)          # clip(a, 0, 1), without np.clip's Python wrapper
    return np.minimum(a, 1.0, out=a)


def signed_c2p(O: np.ndarray, cfg: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """(sign, count): sign bool (True = negative, O < 0), count int64 in 0..count_max cycles."""
    O = np.asarray(O, dtype=np.float64)
    cmax = cfg.array.count_max
    count = np.abs(O)                 # min(floor(|O|/S_sat2·cmax + 0.5), cmax), in place
    count /= cfg.analog.s_sat2_uA
    count *= cmax
    count += 0.5
    np.floor(count, out=count)
    np.minimum(count, cmax, out=count)
    return O < 0.0, count.astype(np.int64)


def signed_value(sign: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The counter bank's signed output ±count (int64)."""
    value = np.asarray(sign, dtype=bool).astype(np.int64)   # (1 − 2·sign)·count: a masked
    value *= -2                                              # np.where on int64 is ~5× slower
    value += 1
    value *= np.asarray(count, dtype=np.int64)
    return value


def signed_c2p_normalized(O: np.ndarray, cfg: HeadConfig, out: np.ndarray | None = None
                          ) -> np.ndarray:
    """clip(O/S_sat2, −1, 1): the tile output before counting (the float path's output);
    written into ``out`` when given."""
    out = np.divide(np.asarray(O, dtype=np.float64), cfg.analog.s_sat2_uA, out=out)
    return np.clip(out, -1.0, 1.0, out=out)


def signed_value_of_normalized(tile_out: np.ndarray, cfg: HeadConfig,
                               out: np.ndarray | None = None) -> np.ndarray:
    """``signed_value(*signed_c2p(O))`` from ``tile_out = signed_c2p_normalized(O)`` (int64),
    in fewer passes: |O|/S_sat2 is |O/S_sat2| exactly, and where the clip bites (≥ 1) both
    give count_max, so ``±floor(|tile_out|·count_max + 0.5)`` is the same integer — computed
    as ``trunc(tile_out·count_max ± 0.5)`` (the sign of tile_out; IEEE rounding is symmetric,
    so for a negative value this is exactly ``−floor(|tile_out|·count_max + 0.5)``); written
    into the int64 array ``out`` when given."""
    c = np.multiply(tile_out, cfg.array.count_max)
    c += np.copysign(0.5, tile_out)
    if out is None:
        return c.astype(np.int64)   # truncation toward zero
    np.copyto(out, c, casting="unsafe")   # the same truncating conversion
    return out


def signed_c2p_tiles(O: np.ndarray, cfg: HeadConfig, *, tile_out: np.ndarray | None = None,
                     value: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tile_out, value, out)`` of the V array's outputs ``O`` (…, n_tiles, d) of many
    tokens: :func:`signed_c2p_normalized`, :func:`signed_value_of_normalized` and the counters'
    sum over the tiles (…, d), written into ``tile_out``/``value`` when given (C-contiguous
    float64/int64 of O's shape).  One pass of the compiled kernel
    (:meth:`analog_models.level_read.LevelKernel.tile_results`, the same operations, so the
    same bits: tested) when it loads — numpy takes six passes over O — else those functions."""
    k = kernel()                      # compiled and loaded on first use
    if k is not None:
        return k.tile_results(O, cfg.analog.s_sat2_uA, cfg.array.count_max, tile_out, value)
    tile_out = signed_c2p_normalized(O, cfg, out=tile_out)
    value = signed_value_of_normalized(tile_out, cfg, out=value)
    return tile_out, value, value.sum(axis=-2)
