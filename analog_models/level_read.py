"""Reads of gain cells that hold one of a few voltage levels: the compiled kernel.

With the DAC quantising K and V, every cell of a bank holds one of ``2**kv_bits`` voltages (8 at
the defaults, 0 V, the discharge level, among them) and, without per-cell mismatch, its
current at leakage factor D is a function of its level alone:
``Σ_k D^p_k·term_k(level)``.  :class:`~analog_models.array.GainCellBank` then stores a level
index per cell (64 KiB per bank at the defaults) instead of the per-cell term matrices (1.5 MiB
each, read from the last-level cache every token), and a read is one table lookup per cell
(:file:`level_read.c`; the order of its float operations is written there).  It is the same
sum in another order: the results agree with the matrix path to ~1e-15 relative (tested), and
both the golden token path and the co-simulation bridge read through it, so they stay bit for
bit equal to each other.

The C source is compiled on first use (:mod:`analog_models.native`: cached in
``build/native/`` by the source, the flags and the compiler's version).  Without a compiler the
banks fall back to the matrix path, with one warning (:func:`kernel` returns None and
:func:`unavailable_reason` says why): slower, the same counts.

Two implementations share one order of operations: AVX-512 where the CPU has it and portable C
(``fma()`` lane by lane) elsewhere; they give the same bits (tested on every CI run), so results
do not depend on the machine.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from . import native

__all__ = ["LEVELS", "LANES", "kernel", "unavailable_reason", "LevelKernel", "LevelCells"]

#: Table entries per power: a bank with more distinct cell voltages reads by matrices.
LEVELS = 16
#: Rows are stored padded to a multiple of this (one AVX-512 register of float64).
LANES = 8

SOURCE = Path(__file__).with_name("level_read.c")
FLAGS = native.FLAGS
BUILD = native.BUILD

_ptr = ctypes.c_void_p
_state: dict[str, object] = {}


class LevelKernel:
    """The loaded kernel (see level_read.c); :class:`LevelCells` reads through it."""

    def __init__(self, lib: ctypes.CDLL, path: Path) -> None:
        self.path = path
        self._lib = lib
        d, i, u = ctypes.c_double, ctypes.c_int, ctypes.c_size_t
        lib.gca_read_columns.argtypes = [i, u, i, i, d, _ptr, _ptr, _ptr, _ptr, _ptr]
        lib.gca_read_rows.argtypes = [i] * 5 + [d] + [_ptr] * 5
        lib.gca_level_index.argtypes = [i, _ptr, i, _ptr, _ptr]
        lib.gca_read_token.argtypes = [i] * 5 + [_ptr, d, d] + [_ptr] * 9 + [d] * 3 + [_ptr] * 8
        lib.gca_read_columns.restype = lib.gca_read_rows.restype = None
        lib.gca_tile_results.argtypes = [i, u, i, i, _ptr, d, d, _ptr, _ptr, _ptr]
        lib.gca_read_token.restype = lib.gca_tile_results.restype = None
        lib.gca_level_index.restype = i
        #: the C functions, called with raw pointers
        self.columns, self.rows = lib.gca_read_columns, lib.gca_read_rows
        self.level_index, self.token = lib.gca_level_index, lib.gca_read_token
        if lib.gca_levels() != LEVELS:
            raise RuntimeError(f"{path}: built for {lib.gca_levels()} levels, not {LEVELS}")
        #: the CPU has AVX-512 and the kernel was built with it
        self.simd = bool(lib.gca_has_avx512())

    def read_columns(self, code: np.ndarray, table: np.ndarray, x: np.ndarray,
                     decay: np.ndarray | None, *, c0: float = 0.0, simd: bool | None = None
                     ) -> np.ndarray:
        """S (n_tc,) = Σ_r x_r·h_c[code[c, r]], ``h_c = c0 + Σ_k D_k·table[k]``: ``code``
        (n_tc, rows) uint8 C-contiguous, rows a multiple of :data:`LANES`; ``table``
        (n_powers, LEVELS); ``x`` (rows,); ``decay`` (n_powers, n_tc) or None (no leakage).
        ``simd=False`` forces the portable code (tests)."""
        n_tc, rows = code.shape
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty(n_tc)
        self.columns(self.use_simd(simd), n_tc, rows, table.shape[0], c0, code.ctypes.data,
                     table.ctypes.data, x.ctypes.data, _data(decay), out.ctypes.data)
        return out

    def read_rows(self, code: np.ndarray, table: np.ndarray, a: np.ndarray,
                  decay: np.ndarray | None, *, c0: float = 0.0, simd: bool | None = None
                  ) -> np.ndarray:
        """O (nt, rows) = Σ_c a[t, c]·h_c[code[t, c, r]]: ``code`` (nt, cols, rows) uint8,
        ``a`` (nt, cols) pulse fractions, the rest as :meth:`read_columns`."""
        nt, cols, rows = code.shape
        a = np.ascontiguousarray(a, dtype=np.float64)
        out = np.empty((nt, rows))
        self.rows(self.use_simd(simd), nt, cols, rows, table.shape[0], c0, code.ctypes.data,
                  table.ctypes.data, a.ctypes.data, _data(decay), out.ctypes.data)
        return out

    def tile_results(self, O: np.ndarray, s_sat2: float, count_max: int,
                     tile_out: np.ndarray | None = None, value: np.ndarray | None = None, *,
                     simd: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tile_out, value, out)`` of the V array's outputs ``O`` (…, n_tiles, rows): the
        signed C2P's ``clip(O/S_sat2, −1, 1)``, the counters' ±count and their sum over the
        tiles (…, rows), in one pass (see level_read.c); ``tile_out``/``value``: C-contiguous
        float64/int64 arrays of O's shape to write into (e.g. an output's rows); ``simd`` as
        :meth:`read_columns`.  ``count_max`` must be below 2**31."""
        if not 0 <= count_max < 2**31:
            raise ValueError(f"count_max must be in 0..2**31 - 1, not {count_max}")
        O = np.ascontiguousarray(O, dtype=np.float64)
        *lead, nt, rows = O.shape
        tile_out = _into(tile_out, O.shape, np.float64)
        value = _into(value, O.shape, np.int64)
        out = np.empty((*lead, rows), np.int64)
        self._lib.gca_tile_results(self.use_simd(simd), O.size // max(1, nt * rows), nt, rows,
                                   O.ctypes.data, s_sat2, float(count_max),
                                   tile_out.ctypes.data, value.ctypes.data, out.ctypes.data)
        return tile_out, value, out

    def use_simd(self, simd: bool | None = None) -> int:
        return int(self.simd if simd is None else (simd and self.simd))


class LevelCells:
    """The cells of a bank as level indices: ``(n_tiles, cols, rows)`` of uint8, rows padded to
    whole lanes, with the level voltages seen so far (index 0: ``v0``, every cell's initial
    voltage), their terms ``terms_of(volts) → (n_powers, k)``, ``c0``, the current every
    cell shares (the bank's ``const_uA``: the kernel adds it to each level's current, so a read
    has no separate constant term), and ``f_col`` (cols,), the columns' line factors for row
    reads (:meth:`read_token` weighs the A pulses by them; ones without IR drop).

    :meth:`set_column` returns False when a column holds one voltage too many (the caller
    then reads by matrices).  The reads take the per-power leakage factors ``(n_powers,
    n_tiles, cols)`` (C-contiguous float64) or None.  The buffers' addresses are taken once:
    a read is one C call.
    """

    def __init__(self, k: LevelKernel, n_tiles: int, cols: int, rows: int, n_powers: int,
                 v0: float, terms_of, c0: float = 0.0, f_col: np.ndarray | None = None) -> None:
        self.kernel, self._terms_of = k, terms_of
        self.n_tiles, self.cols, self.rows = n_tiles, cols, rows
        self.n_powers, self.c0 = n_powers, float(c0)
        #: the line factor of each column for row reads (what a V read weighs its pulses by)
        self.f_col = np.ones(cols) if f_col is None else np.array(f_col, dtype=np.float64)
        self.rows_pad = -(-rows // LANES) * LANES
        self.codes = np.zeros((n_tiles, cols, self.rows_pad), np.uint8)
        self.terms = np.zeros((n_powers, LEVELS))
        self.levels = np.zeros(LEVELS)             # the level voltages (the first n_levels)
        self.n_levels = 0
        self._add(float(v0))
        self._x = np.zeros(self.rows_pad)            # the query, zero-padded to whole lanes
        self._col = np.zeros(rows)                   # a written column's voltages
        self._simd = k.use_simd()
        self._p_codes, self._p_terms = self.codes.ctypes.data, self.terms.ctypes.data
        self._p_x, self._p_levels = self._x.ctypes.data, self.levels.ctypes.data
        self._p_col, self._p_f_col = self._col.ctypes.data, self.f_col.ctypes.data
        self._tok: dict[str, np.ndarray] | None = None    # read_token's buffers (first use)

    @property
    def volts(self) -> list[float]:
        """The level voltages, in the order they were first written."""
        return self.levels[:self.n_levels].tolist()

    def _add(self, v: float) -> int | None:
        n = self.n_levels
        if n == LEVELS:
            return None
        self.levels[n] = v
        self.n_levels = n + 1
        self.terms[:, n] = self._terms_of(np.array([v]))[:, 0]
        return n

    def set_column(self, tile: int, col: int, volts: np.ndarray) -> bool:
        """Store the level of each cell of the column (``volts`` (rows,)); a voltage not yet a
        level becomes the next one (exact equality: NaN never matches, so each NaN cell takes a
        level of its own).  False if that needs more than
        :data:`LEVELS` levels in all: the column's codes are then partly written, and the
        caller reads by matrices from then on."""
        self._col[:] = volts
        p_dst = self._p_codes + (tile * self.cols + col) * self.rows_pad
        while True:
            miss = self.kernel.level_index(self.rows, self._p_col, self.n_levels,
                                           self._p_levels, p_dst)
            if miss < 0:
                return True
            if self._add(float(self._col[miss])) is None:
                return False

    def read_columns(self, x: np.ndarray, decay: np.ndarray | None) -> np.ndarray:
        """S (n_tiles, cols) = Σ_r x_r·h_c[level]."""
        self._x[:self.rows] = x
        out = np.empty((self.n_tiles, self.cols))
        self.kernel.columns(self._simd, self.n_tiles * self.cols, self.rows_pad, self.n_powers,
                            self.c0, self._p_codes, self._p_terms, self._p_x, _data(decay),
                            out.ctypes.data)
        return out

    def read_rows(self, a: np.ndarray, decay: np.ndarray | None) -> np.ndarray:
        """O (n_tiles, rows) = Σ_c a_c·h_c[level], ``a`` (n_tiles, cols)."""
        a = np.ascontiguousarray(a, dtype=np.float64)
        out = np.empty((self.n_tiles, self.rows_pad))
        self.kernel.rows(self._simd, self.n_tiles, self.cols, self.rows_pad, self.n_powers,
                         self.c0, self._p_codes, self._p_terms, a.ctypes.data, _data(decay),
                         out.ctypes.data)
        return out if self.rows_pad == self.rows else out[:, :self.rows]

    def read_token(self, v: "LevelCells", powers: tuple[int, ...], x: np.ndarray,
                   d_k: np.ndarray | None, d_v: np.ndarray | None, mask: np.ndarray,
                   s_sat1: float, s_sat2: float, count_max: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One token's read-out with these cells as the K array and ``v`` as the V array
        (same geometry), in one C call: ``(S, A, O, sign, count)`` as
        :func:`analog_models.readout.read_token` composes them (the leakage factors' powers
        as :func:`analog_models.leakage.decay_powers`, ``read_columns`` masked by ``mask``
        (n_tiles, cols), ReLU C2P, ``read_rows`` of ``A·f_col`` (``v.f_col``), signed C2P) —
        the same operations in the same order, so the same bits (tested).  ``x`` is the query
        already weighted by the K lines; ``d_k``, ``d_v`` the leakage factors D (n_tiles, cols)
        of the two banks (None: no leakage; ``d_v`` may be ``d_k``); ``powers`` the banks'
        decay powers (:attr:`GainCellBank.powers`)."""
        b = self._tok
        if b is None or b["key"] != powers:
            b = self._tok = self._token_buffers(powers)
        b["x"][:self.rows] = x
        b["mask"][...] = mask
        p = b["ptr"]
        dk = dv = None
        if d_k is not None:
            b["dk"][...] = d_k
            dk = p["dk"]
        if d_v is d_k:
            dv = dk
        elif d_v is not None:
            b["dv"][...] = d_v
            dv = p["dv"]
        self.kernel.token(self._simd, self.n_tiles, self.cols, self.rows_pad, self.n_powers,
                          p["powers"], self.c0, v.c0, self._p_codes, self._p_terms, v._p_codes,
                          v._p_terms, p["x"], dk, dv, p["mask"], v._p_f_col, s_sat1, s_sat2,
                          float(count_max), p["planes_k"], p["planes_v"], p["S"], p["A"],
                          p["aw"], p["O"], p["sign"], p["count"])
        o, sign, count = b["O"], b["sign"], b["count"]
        if self.rows_pad != self.rows:
            o, sign, count = o[:, :self.rows], sign[:, :self.rows], count[:, :self.rows]
        return (b["S"].copy(), b["A"].copy(), o.copy(), sign.astype(bool), count.copy())

    def _token_buffers(self, powers: tuple[int, ...]) -> dict:
        if len(powers) != self.n_powers:
            raise ValueError(f"{len(powers)} decay powers for cells of {self.n_powers} terms")
        nt, cols, rp, npw = self.n_tiles, self.cols, self.rows_pad, self.n_powers
        b = {"powers": np.array(powers, dtype=np.intc), "x": np.zeros(rp),
             "mask": np.zeros((nt, cols), np.uint8), "dk": np.zeros((nt, cols)),
             "dv": np.zeros((nt, cols)),
             "planes_k": np.zeros((npw, nt, cols)), "planes_v": np.zeros((npw, nt, cols)),
             "S": np.zeros((nt, cols)), "A": np.zeros((nt, cols)), "aw": np.zeros((nt, cols)),
             "O": np.zeros((nt, rp)), "sign": np.zeros((nt, rp), np.uint8),
             "count": np.zeros((nt, rp), np.int64)}
        b["ptr"] = {k: v.ctypes.data for k, v in b.items()}
        b["key"] = tuple(powers)
        return b


def _data(a: np.ndarray | None) -> int | None:
    if a is None:
        return None
    if not (a.flags.c_contiguous and a.dtype == np.float64):
        raise ValueError("leakage factors must be a C-contiguous float64 array")
    return a.ctypes.data


def _into(a: np.ndarray | None, shape: tuple[int, ...], dtype) -> np.ndarray:
    if a is None:
        return np.empty(shape, dtype)
    if a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous:
        raise ValueError(f"output array must be C-contiguous {np.dtype(dtype)} of shape "
                         f"{shape}, not {a.dtype} {a.shape}")
    return a


def _compiler() -> str | None:
    return native.compiler()


def _build(cc: str) -> Path:
    return native.build(cc, SOURCE, FLAGS, BUILD)


def kernel() -> LevelKernel | None:
    """The kernel, compiled and loaded on first call; None (with one warning) if it cannot be
    built here — the banks then read by matrices."""
    return native.load_once(_state, _compiler, _build, LevelKernel, "gain-cell level kernel",
                            "the arrays read by matrices (same counts, several times slower)")


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]
