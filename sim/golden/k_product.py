"""The vectorised path's K product of one block of queries against its keys:
``S[t, s] = Σ_i a_t^p_i·b_s^p_i·Σ_d x[t, d]·term_i(s, d)`` plus the C0 part ``x·f_row·C0``
(the leakage factor ``a_t·b_s`` about the block's reference time, :mod:`.vectorized`).

Two ways, one interface (:func:`for_head` picks; :class:`FloatK` and :class:`CodeK`):

* :class:`FloatK` — any configuration: the per-cell numbers the K bank stores
  (:meth:`analog_models.array.GainCellBank.line_terms`) in one float64 product of
  ``[a_t^p_i·x_t]_i ‖ C0 part`` (bq, n·d + 1) by ``[b_s^p_i·term_i(s)]_i ‖ 1`` (n·d + 1, keys).
* :class:`CodeK` — the paper's defaults: from the codes.  With the DAC levels symmetric about
  v_mid (``2·v_mid = v_max``) a stored weight is ``y = V − v_mid = h·c`` with the integer
  ``c = 2·code − kv_max`` and ``h = (v_max/kv_max)/2``, so ``term_i = term_i(h)·c^p_i`` (the
  cell polynomial is a sum of monomials: :func:`analog_models.gain_cell.poly_terms` evaluated
  once, at y = h); and ``x = q_code/q_max``.  The sums over d are then integer sums
  ``M_i[t, s] = Σ_d q_code[t, d]·c[s, d]^p_i``, exact in float32 while
  ``q_max·kv_max^p_max·d < 2^24``: one float32 product (OpenBLAS's sgemm, twice dgemm's rate
  here), then ``S = Σ_i a_t^p_i·(G_i·b_s^p_i·M_i) + C0 part`` with ``G_i = term_i(h)/q_max``
  in :file:`k_product.c` (``gca_k_combine``).  The sums are exact, so S differs from
  :class:`FloatK`'s only by that path's rounding (~1e-15 relative; tested).  It needs
  quantisation on, no variability (per-cell terms), unit line factors (no IR drop) and the
  compiled combine; otherwise :class:`FloatK` (:func:`code_form_reason` says why).

Each way keeps its key side in a *store* (a tuple of arrays) the key cache allocates, fills,
slides and slices through the methods below, and its query side in a tuple of arrays indexed
by token on their first axis.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from analog_models import native
from analog_models.array import GainCellBank
from analog_models.dac import code_to_volts, pulse_fraction
from analog_models.gain_cell import poly_terms
from hdl.config import HeadConfig

from .block_steps import check_buffer

__all__ = ["FloatK", "CodeK", "for_head", "code_form_reason", "combine", "kernel",
           "unavailable_reason", "EXACT_FLOAT32"]

SOURCE = Path(__file__).with_name("k_product.c")
_state: dict[str, object] = {}
_ptr, _int, _long = ctypes.c_void_p, ctypes.c_int, ctypes.c_long

#: Integers up to this magnitude are exact in float32 (24-bit significand).
EXACT_FLOAT32 = 2 ** 24


def kernel() -> ctypes.CDLL | None:
    """The compiled combine, built and loaded on first call; None (one warning) without it."""
    return native.load_once(_state, native.compiler, lambda cc: native.build(cc, SOURCE),
                            _declare, "golden K-product kernel",
                            "the vectorised path's K product runs in float64 (the same sums "
                            "to rounding, slower)")


def _declare(lib: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    lib.gca_k_combine.argtypes = [_int, _long, _int, _long] + [_ptr] * 5
    lib.gca_k_combine.restype = _int
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]


def combine(m: np.ndarray, ap: np.ndarray, kb: np.ndarray, e: np.ndarray | None,
            out: np.ndarray) -> np.ndarray:
    """``out[t, s] = Σ_i ap[i, t]·(kb[s, i]·m[t, s·n + i]) (+ e[t])``, the terms added in
    order (:file:`k_product.c`): ``m`` (bq, ≥ L·n) float32, ``ap`` (n, bq), ``kb`` (L, n),
    ``e`` (bq,) or None, ``out`` (bq, L).  Needs :func:`kernel`."""
    lib = kernel()
    if lib is None:
        raise RuntimeError(f"the K-product kernel is unavailable ({unavailable_reason()})")
    (bq, L), n = out.shape, ap.shape[0]
    if (m.dtype != np.float32 or m.ndim != 2 or m.shape[0] != bq or m.shape[1] < L * n
            or m.strides[1] != 4):
        raise ValueError(f"m must be float32 rows of at least {L * n} contiguous values for "
                         f"{bq} queries, not {m.dtype} {m.shape}")
    ptrs = [m.ctypes.data, check_buffer(ap, (n, bq), "ap"), check_buffer(kb, (L, n), "kb"),
            check_buffer(e, (bq,), "e"), check_buffer(out, (bq, L), "out")]
    if lib.gca_k_combine(bq, L, n, m.strides[0] // 4, *ptrs):
        raise ValueError(f"the combine takes 1 to 64 decay powers, not {n}")
    return out


def code_form_reason(cfg: HeadConfig, kb: GainCellBank) -> str | None:
    """None when :class:`CodeK` computes this head's K product, else why not."""
    a, ar = cfg.analog, cfg.array
    if not kb.powers:
        return "no cell term depends on the stored voltage"
    if not a.quantization:
        return "quantization is off (no codes)"
    if kb.gain is not None:
        return "variability is on (the cells' terms differ)"
    if not np.all(kb.line_factors("columns") == 1.0):
        return "IR drop weighs the rows"
    if 2.0 * a.v_mid_V != a.v_max_V:
        return "the DAC levels are not symmetric about v_mid"
    if ar.q_max * ar.kv_max ** max(kb.powers) * ar.head_dim >= EXACT_FLOAT32:
        return "the code sums could exceed float32's exact integers"
    if kernel() is None:
        return f"the combine kernel is unavailable ({unavailable_reason()})"
    return None


def for_head(cfg: HeadConfig, kb: GainCellBank, x: np.ndarray, kv: np.ndarray,
             xk0: np.ndarray | None, codes: tuple[np.ndarray, np.ndarray] | None):
    """The way to compute this head's K product: :class:`CodeK` where it applies (``codes``:
    the query and key codes (T, d)), else :class:`FloatK`."""
    if codes is not None and code_form_reason(cfg, kb) is None:
        return CodeK(cfg, kb, codes[0], codes[1], xk0)
    return FloatK(kb, x, kv, xk0)


class FloatK:
    """The K product from the bank's per-cell numbers, in float64.  Key store: ``(k,)`` with
    ``k`` (keys, n·d + 1) = ``[b_s^p_i·term_i(s)]_i ‖ 1``; query part: ``(xq,)`` with ``xq``
    (tokens, n·d + 1) = ``[a_t^p_i·x_t]_i ‖ C0 part``."""

    name = "float64 per-cell terms"

    def __init__(self, kb: GainCellBank, x: np.ndarray, kv: np.ndarray,
                 xk0: np.ndarray | None) -> None:
        self.kb, self.x, self.kv, self.xk0 = kb, x, kv, xk0
        self.n, self.d = len(kb.powers), x.shape[1]

    def alloc(self, keys: int, m: int) -> tuple:
        """A store for ``keys`` keys of which the first ``m`` will be filled (the rest is
        padding: terms 0)."""
        k = np.empty((keys, self.n * self.d + 1))
        k[:, self.n * self.d] = 1.0
        k[m:, :self.n * self.d] = 0.0
        return (k,)

    def fill(self, store: tuple, p0: int, p1: int, s: slice, tile: np.ndarray,
             col: np.ndarray, bp: np.ndarray) -> None:
        """Rows [p0, p1) of ``store``: keys ``s`` at (tile, col), their ``b_s^p_i`` ``bp``
        (n, keys)."""
        n, d = self.n, self.d
        tk = self.kb.line_terms(self.kv[s], tile, col, read="columns")      # (n, keys, d)
        k3 = store[0][p0:p1, :n * d].reshape(p1 - p0, n, d)
        for i in range(n):
            np.multiply(tk[i], bp[i, :, None], out=k3[:, i])

    @staticmethod
    def join(old: tuple, cut: int, new: tuple) -> tuple:
        """``old``'s keys from ``cut`` on, then ``new``'s."""
        return (np.concatenate([old[0][cut:], new[0]]),)

    @staticmethod
    def view(store: tuple, a: int, b: int) -> tuple:
        return (store[0][a:b],)

    def queries(self, a: int, e: int, ap: np.ndarray) -> tuple:
        """The query part of tokens [a, e) (``ap`` (n, e − a): their ``a_t^p_i``)."""
        n, d = self.n, self.d
        xq = np.empty((e - a, n * d + 1))
        xq3 = xq[:, :n * d].reshape(e - a, n, d)
        for i in range(n):
            np.multiply(self.x[a:e], ap[i, :, None], out=xq3[:, i])
        xq[:, n * d] = self.xk0[a:e] if self.xk0 is not None else 0.0
        return (xq,)

    def product(self, q: tuple, k: tuple, ap: np.ndarray, out: np.ndarray,
                buf: np.ndarray) -> np.ndarray:
        """``out`` (bq, keys) ← S of a block: its query part ``q``, the keys' :meth:`view`
        ``k``, its ``ap`` (n, bq) (folded into ``q`` here), ``buf`` unused."""
        return np.matmul(q[0], k[0].T, out=out)

    def buffer_size(self, block: int, keys: int) -> int:
        return 0


class CodeK:
    """The K product from exact integer sums of the codes (module docstring).  Key store:
    ``(kc, kb)`` with ``kc`` (d, keys, n) float32 = ``c[s, d]^p_i`` and ``kb`` (keys, n) =
    ``G_i·b_s^p_i``; query part: ``(qc, e)`` with ``qc`` (tokens, d) float32 the query codes
    and ``e`` the C0 part (or None)."""

    name = "exact code sums (float32 product)"

    def __init__(self, cfg: HeadConfig, kb: GainCellBank, qcode: np.ndarray,
                 kcode: np.ndarray, xk0: np.ndarray | None) -> None:
        kv_max = cfg.array.kv_max
        self.powers, self.n, self.d = kb.powers, len(kb.powers), qcode.shape[1]
        h = float(code_to_volts(1, cfg)) / 2.0            # V − v_mid = h·(2·code − kv_max)
        self.g = (poly_terms(np.array([h]), cfg.analog, self.powers)[:, 0]
                  * float(pulse_fraction(1, cfg)))          # G_i = term_i(h)/q_max   (n,)
        self.c = (2 * kcode.T - kv_max).astype(np.float32)   # (d, T), small integers
        self.qc = qcode.astype(np.float32)
        self.xk0 = xk0

    def alloc(self, keys: int, m: int) -> tuple:
        kc = np.empty((self.d, keys, self.n), np.float32)
        kb = np.empty((keys, self.n))
        kc[:, m:] = 0.0
        kb[m:] = 0.0
        return kc, kb

    def fill(self, store: tuple, p0: int, p1: int, s: slice, tile: np.ndarray,
             col: np.ndarray, bp: np.ndarray) -> None:
        kc, kb = store
        c = self.c[:, s]
        cp, done = None, 0                  # c**done by repeated multiplication (exact)
        for i, p in enumerate(self.powers):
            while done < p:
                cp = c if cp is None else cp * c
                done += 1
            kc[:, p0:p1, i] = cp
            np.multiply(bp[i], self.g[i], out=kb[p0:p1, i])

    @staticmethod
    def join(old: tuple, cut: int, new: tuple) -> tuple:
        return (np.concatenate([old[0][:, cut:], new[0]], axis=1),
                np.concatenate([old[1][cut:], new[1]]))

    def view(self, store: tuple, a: int, b: int) -> tuple:
        kc, kb = store
        return kc[:, a:b].reshape(self.d, (b - a) * self.n), kb[a:b]

    def queries(self, a: int, e: int, ap: np.ndarray) -> tuple:
        return self.qc[a:e], None if self.xk0 is None else self.xk0[a:e]

    def product(self, q: tuple, k: tuple, ap: np.ndarray, out: np.ndarray,
                buf: np.ndarray) -> np.ndarray:
        """``out`` ← S: the integer sums M (bq, keys·n) into ``buf`` (float32), then
        :func:`combine`."""
        (qc, e), (kc, kb) = q, k
        bq = qc.shape[0]
        m = np.matmul(qc, kc, out=buf[:bq * kc.shape[1]].reshape(bq, kc.shape[1]))
        return combine(m, np.ascontiguousarray(ap), kb, e, out)

    def buffer_size(self, block: int, keys: int) -> int:
        return block * keys * self.n
