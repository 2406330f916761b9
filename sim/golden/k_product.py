"""The vectorised path's K product of one block of queries against its keys:
``S[t, s] = Σ_i a_t^p_i·b_s^p_i·Σ_d x[t, d]·term_i(s, d)`` plus the C0 part ``x·f_row·C0``
(the leakage factor ``a_t·b_s`` about the block's reference time, :mod:`.vectorized`).

Two ways, one interface (:func:`for_head` picks; :class:`FloatK` and :class:`CodeK`):

* :class:`FloatK` — any configuration: the per-cell numbers the K bank stores
  (:meth:`analog_models.array.GainCellBank.line_terms`) in one float64 product of
  ``[a_t^p_i·x_t]_i ‖ C0 part`` (bq, n·d + 1) by ``[b_s^p_i·term_i(s)]_i ‖ 1`` (n·d + 1, keys).
* :class:`CodeK` — from the codes.  With the DAC levels symmetric about v_mid
  (``2·v_mid = v_max``) a stored weight is ``y = V − v_mid = h·c`` with the integer
  ``c = 2·code − kv_max`` and ``h = (v_max/kv_max)/2``, so ``term_i = term_i(h)·c^p_i`` (the
  cell polynomial is a sum of monomials: :func:`analog_models.gain_cell.poly_terms` evaluated
  once, at y = h); and ``x = q_code/q_max``.  The sums over d are then integer sums
  ``M_i[t, s] = Σ_d q_code[t, d]·c[s, d]^p_i``, and several fit one float64 word exactly:
  ``Σ_d q_code·(c + 2^k_2·c² + 2^k_3·c³)`` = ``M_1 + 2^k_2·M_2 + 2^k_3·M_3`` with the fields
  far enough apart to be recovered exactly, and every partial sum below 2^53 whatever the
  order of the additions (:func:`packing`: one word at the paper's head, k = 14, 31).  So the
  three sums cost one float64 product with inner dimension d (instead of n·d + 1), and
  :file:`k_product.c` (``gca_k_combine``) unpacks them and writes
  ``S = Σ_i a_t^p_i·(G_i·b_s^p_i·M_i) + C0 part`` with ``G_i = term_i(h)/q_max``.  The sums
  are exact, so S differs from :class:`FloatK`'s by that path's rounding only (~1e-15
  relative; tested).  It needs quantisation on, no variability (per-cell terms), unit line
  factors (no IR drop) and the compiled combine; otherwise :class:`FloatK`
  (:func:`code_form_reason` says why).

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

from . import level_terms
from .block_steps import check_buffer

__all__ = ["FloatK", "CodeK", "for_head", "code_form_reason", "packing", "combine", "kernel",
           "unavailable_reason", "EXACT"]

SOURCE = Path(__file__).with_name("k_product.c")
_state: dict[str, object] = {}
_ptr, _int, _long = ctypes.c_void_p, ctypes.c_int, ctypes.c_long

#: Integers below this magnitude are exact in float64 (53-bit significand).
EXACT = 2 ** 53


def kernel() -> ctypes.CDLL | None:
    """The compiled combine, built and loaded on first call; None (one warning) without it."""
    return native.load_once(_state, native.compiler, lambda cc: native.build(cc, SOURCE),
                            _declare, "golden K-product kernel",
                            "the vectorised path's K product runs in float64 (the same sums "
                            "to rounding, slower)")


def _declare(lib: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    lib.gca_k_combine.argtypes = [_int, _long, _int, _int, _long] + [_ptr] * 7
    lib.gca_k_combine.restype = _int
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]


def packing(bounds: list[int]) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(word, shift, n_words)`` packing integer sums with these magnitude bounds into float64
    words, in order: sum i in word ``word[i]`` at ``shift[i]`` (a power of two; 1 for a word's
    first), each field's shift above everything below it in its word (``2^(k−1)`` > their
    bound: recovered exactly by rounding from the top), each word's bound below
    :data:`EXACT`; None when one sum alone does not fit."""
    word, shift = [], []
    w, below = -1, None
    for b in bounds:
        if below is not None:
            k = int(below).bit_length() + 1
            if below + b * 2 ** k < EXACT:
                word.append(w)
                shift.append(2.0 ** k)
                below += b * 2 ** k
                continue
        if b >= EXACT:
            return None
        w, below = w + 1, b
        word.append(w)
        shift.append(1.0)
    return np.array(word, np.int32), np.array(shift), w + 1


def combine(m: np.ndarray, ap: np.ndarray, kb: np.ndarray, e: np.ndarray | None,
            out: np.ndarray, pack: tuple[np.ndarray, np.ndarray, int]) -> np.ndarray:
    """``out[t, s] = Σ_i ap[i, t]·(kb[s, i]·M_i[t, s]) (+ e[t])``, the terms added in order,
    with the integer sums ``M_i`` unpacked from the words ``m[t, s·n_words + w]`` of the
    :func:`packing` ``pack`` (:file:`k_product.c`): ``m`` (bq, ≥ L·n_words), ``ap`` (n, bq),
    ``kb`` (L, n), ``e`` (bq,) or None, ``out`` (bq, L).  Needs :func:`kernel`."""
    lib = kernel()
    if lib is None:
        raise RuntimeError(f"the K-product kernel is unavailable ({unavailable_reason()})")
    (bq, L), n = out.shape, ap.shape[0]
    word, shift, nw = pack
    if (m.dtype != np.float64 or m.ndim != 2 or m.shape[0] != bq or m.shape[1] < L * nw
            or m.strides[1] != 8):
        raise ValueError(f"m must be float64 rows of at least {L * nw} contiguous values for "
                         f"{bq} queries, not {m.dtype} {m.shape}")
    if word.shape != (n,) or word.dtype != np.int32 or shift.shape != (n,):
        raise ValueError(f"the packing must place {n} sums, not {word.shape[0]}")
    ptrs = [word.ctypes.data, check_buffer(shift, (n,), "shift"), m.ctypes.data,
            check_buffer(ap, (n, bq), "ap"), check_buffer(kb, (L, n), "kb"),
            check_buffer(e, (bq,), "e"), check_buffer(out, (bq, L), "out")]
    if lib.gca_k_combine(bq, L, n, nw, m.strides[0] // 8, *ptrs):
        raise ValueError(f"the combine takes 1 to 64 sums in at most as many words, not {n} "
                         f"in {nw}")
    return out


def _bounds(cfg: HeadConfig, kb: GainCellBank) -> list[int]:
    """Largest |M_i| = |Σ_d q_code·c^p_i|: q_max·kv_max^p_i·d."""
    ar = cfg.array
    return [ar.q_max * ar.kv_max ** p * ar.head_dim for p in kb.powers]


def code_form_reason(cfg: HeadConfig, kb: GainCellBank) -> str | None:
    """None when :class:`CodeK` computes this head's K product, else why not."""
    a = cfg.analog
    if not kb.powers:
        return "no cell term depends on the stored voltage"
    if why := level_terms.by_code_reason(cfg, kb, "columns"):
        return why
    if 2.0 * a.v_mid_V != a.v_max_V:
        return "the DAC levels are not symmetric about v_mid"
    if packing(_bounds(cfg, kb)) is None:
        return "a code sum could exceed float64's exact integers"
    if kernel() is None:
        return f"the combine kernel is unavailable ({unavailable_reason()})"
    return None


def for_head(cfg: HeadConfig, kb: GainCellBank, x: np.ndarray, kv, xk0: np.ndarray | None,
             codes: tuple[np.ndarray, np.ndarray] | None):
    """The way to compute this head's K product: :class:`CodeK` where it applies (``codes``:
    the query and key codes (T, d)), else :class:`FloatK` (of the stored voltages ``kv()``)."""
    if codes is not None and code_form_reason(cfg, kb) is None:
        return CodeK(cfg, kb, codes[0], codes[1], xk0)
    return FloatK(kb, x, kv(), xk0)


class FloatK:
    """The K product from the bank's per-cell numbers, in float64.  Key store: ``(k,)`` with
    ``k`` (keys, n·d + 1) = ``[b_s^p_i·term_i(s)]_i ‖ 1``; query part: ``(xq,)`` with ``xq``
    (tokens, n·d + 1) = ``[a_t^p_i·x_t]_i ‖ C0 part``."""

    def __init__(self, kb: GainCellBank, x: np.ndarray, kv: np.ndarray,
                 xk0: np.ndarray | None) -> None:
        self.kb, self.x, self.kv, self.xk0 = kb, x, kv, xk0
        self.n, self.d = len(kb.powers), x.shape[1]

    def alloc(self, a: int, keys: int, m: int) -> tuple:
        """A store for ``keys`` keys from key ``a`` of which the first ``m`` will be filled
        (the rest is padding: terms 0)."""
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
    """The K product from exact integer sums of the codes (module docstring).  The packed
    words ``Σ shift_i·c^p_i`` of each key do not decay: looked up once by code from a table
    of the kv_max + 1 levels, ``words`` (keys, n_words, d) (zeros past T: the padding); key
    store: ``(a, kb)``, the first key and ``kb`` (keys, n) = ``G_i·b_s^p_i``; query part:
    ``(qc, e)`` with ``qc`` (tokens, d) the query codes and ``e`` the C0 part (or None)."""

    def __init__(self, cfg: HeadConfig, kb: GainCellBank, qcode: np.ndarray,
                 kcode: np.ndarray, xk0: np.ndarray | None) -> None:
        kv_max, cols = cfg.array.kv_max, cfg.array.tile_cols
        self.powers, self.n, self.d = kb.powers, len(kb.powers), qcode.shape[1]
        self.pack = packing(_bounds(cfg, kb))
        if self.pack is None:
            raise ValueError("a code sum could exceed float64's exact integers")
        word, shift, self.nw = self.pack
        h = float(code_to_volts(1, cfg)) / 2.0            # V − v_mid = h·(2·code − kv_max)
        self.g = (poly_terms(np.array([h]), cfg.analog, self.powers)[:, 0]
                  * float(pulse_fraction(1, cfg)))          # G_i = term_i(h)/q_max   (n,)
        c = 2 * np.arange(kv_max + 1, dtype=np.int64) - kv_max     # c of each level
        table = np.zeros((self.nw, kv_max + 1), np.int64)  # each word's value at each level
        for i, p in enumerate(self.powers):                # integers below 2^53 (packing):
            table[word[i]] += c ** p * int(shift[i])       # exact in float64 too
        table = table.astype(np.float64)
        T = len(kcode)
        self.words = np.zeros((-(-T // cols) * cols, self.nw, self.d))
        for w in range(self.nw):
            self.words[:T, w] = table[w][kcode]
        self.qc = qcode.astype(np.float64)
        self.xk0 = xk0

    def alloc(self, a: int, keys: int, m: int) -> tuple:
        kb = np.empty((keys, self.n))
        kb[m:] = 0.0
        return a, kb

    def fill(self, store: tuple, p0: int, p1: int, s: slice, tile: np.ndarray,
             col: np.ndarray, bp: np.ndarray) -> None:
        for i in range(self.n):
            np.multiply(bp[i], self.g[i], out=store[1][p0:p1, i])

    @staticmethod
    def join(old: tuple, cut: int, new: tuple) -> tuple:
        return old[0] + cut, np.concatenate([old[1][cut:], new[1]])

    def view(self, store: tuple, a: int, b: int) -> tuple:
        a0, kb = store
        return self.words[a0 + a:a0 + b].reshape((b - a) * self.nw, self.d).T, kb[a:b]

    def queries(self, a: int, e: int, ap: np.ndarray) -> tuple:
        return self.qc[a:e], None if self.xk0 is None else self.xk0[a:e]

    def product(self, q: tuple, k: tuple, ap: np.ndarray, out: np.ndarray,
                buf: np.ndarray) -> np.ndarray:
        """``out`` ← S: the packed integer sums (bq, keys·n_words) into ``buf``, then
        :func:`combine`."""
        (qc, e), (kc, kb) = q, k
        bq = qc.shape[0]
        m = np.matmul(qc, kc, out=buf[:bq * kc.shape[1]].reshape(bq, kc.shape[1]))
        return combine(m, np.ascontiguousarray(ap), kb, e, out, self.pack)

    def buffer_size(self, block: int, keys: int) -> int:
        return block * keys * self.nw
