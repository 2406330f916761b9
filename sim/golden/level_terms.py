"""The vectorised path's V-side key terms by lookup.  With quantisation on, no variability and
unit line factors, the terms a cell stores depend only on its DAC code: the V bank's own
:meth:`~analog_models.array.GainCellBank.line_terms` of each level are evaluated once
(:func:`table`), and each key's are looked up by code and decayed in one compiled pass
(:func:`into`, :file:`level_terms.c`) — the same numbers as evaluating them per cell, bit for
bit (tested).  Elsewhere (:func:`table` None), or without the compiled kernel (one warning),
the path evaluates them per cell.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from analog_models import native
from analog_models.array import GainCellBank
from analog_models.dac import code_to_volts
from hdl.config import HeadConfig

from .block_steps import check_buffer

__all__ = ["by_code_reason", "table", "into", "kernel", "unavailable_reason"]

SOURCE = Path(__file__).with_name("level_terms.c")
_state: dict[str, object] = {}
_ptr, _int, _long = ctypes.c_void_p, ctypes.c_int, ctypes.c_long


def kernel() -> ctypes.CDLL | None:
    """The compiled lookup, built and loaded on first call; None (one warning) without it."""
    return native.load_once(_state, native.compiler, lambda cc: native.build(cc, SOURCE),
                            _declare, "golden level-terms kernel",
                            "the vectorised path evaluates the V side's terms per cell (the "
                            "same numbers, slower)")


def _declare(lib: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    lib.gca_level_terms.argtypes = [_long, _long] + [_int] * 4 + [_ptr] * 3 + [_long, _ptr]
    lib.gca_level_terms.restype = _long
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]


def by_code_reason(cfg: HeadConfig, bank: GainCellBank, read: str) -> str | None:
    """None when the terms a cell of ``bank`` stores for ``read`` depend on its DAC code
    alone, else why not (:mod:`.k_product`'s code form needs it too)."""
    if not cfg.analog.quantization:
        return "quantization is off (no codes)"
    if bank.gain is not None:
        return "variability is on (the cells' terms differ)"
    if not np.all(bank.line_factors(read) == 1.0):
        return f"IR drop weighs the {'rows' if read == 'columns' else 'columns'}"
    return None


def table(cfg: HeadConfig, bank: GainCellBank) -> np.ndarray | None:
    """``(n_powers, kv_max + 1)``: the ``read="rows"`` terms of a cell at each DAC level, from
    the bank itself; None where they depend on more than the code (:func:`by_code_reason`)
    or without the compiled lookup."""
    if not bank.powers or by_code_reason(cfg, bank, "rows") or kernel() is None:
        return None
    levels = code_to_volts(np.arange(cfg.array.kv_max + 1), cfg)
    return np.ascontiguousarray(bank.line_terms(levels[:, None], 0, 0, read="rows")[:, :, 0])


def into(out: np.ndarray, k0: int, code: np.ndarray, tab: np.ndarray, bp: np.ndarray) -> None:
    """``out`` (chunks, n, cols, d) ← for keys k = 0 … m − 1 (``code`` (m, d), int64), at
    place ``k0 + k`` of ``out``'s chunks: ``tab[i, code[k, x]]·bp[i, k]`` (``bp`` (n, m));
    ValueError naming the first code out of the table."""
    lib = kernel()
    if lib is None:
        raise RuntimeError(f"the level-terms kernel is unavailable ({unavailable_reason()})")
    chunks, n, cols, d = out.shape
    m, nlev = code.shape[0], tab.shape[1]
    if not 0 <= k0 <= k0 + m <= chunks * cols:
        raise ValueError(f"keys {k0} … {k0 + m - 1} do not fit {chunks} chunks of {cols}")
    if code.dtype != np.int64 or code.shape != (m, d) or not code.flags.c_contiguous:
        raise ValueError(f"code must be a C-contiguous int64 array of shape {(m, d)}, not "
                         f"{code.dtype} {code.shape}")
    bp = np.ascontiguousarray(bp)
    ptrs = [code.ctypes.data, check_buffer(tab, (n, nlev), "tab"),
            check_buffer(bp, (n, m), "bp")]
    bad = lib.gca_level_terms(m, k0, n, cols, d, nlev, *ptrs, m,
                              check_buffer(out, (chunks, n, cols, d), "out"))
    if bad >= 0:
        at = tuple(int(i) for i in np.unravel_index(bad, code.shape))
        raise ValueError(f"code {int(code.flat[bad])} at {at} is not a level 0 … {nlev - 1}")
