"""The vectorised path's key and query sides, cached as the window slides (:mod:`.vectorized`
asks them block by block): the K product's store of each key and query (:mod:`.k_product`), the
V bank's decayed terms of each key, and the leakage factors ``a_t^p_i``, ``b_s^p_i`` about the
block's reference time."""

from __future__ import annotations

import numpy as np

from analog_models.array import GainCellBank
from analog_models.native import aligned
from hdl.config import HeadConfig

from . import level_terms

__all__ = ["Keys", "Queries", "powers_of", "joined"]


def powers_of(a: np.ndarray, powers: tuple[int, ...]) -> np.ndarray:
    """(n, …) stack of a**p (repeated multiplication) for the increasing ``powers``."""
    out, cur, done = [], np.ones_like(a), 0
    for p in powers:
        while done < p:
            cur = cur * a
            done += 1
        out.append(cur)
    return np.stack(out) if out else np.zeros((0,) + a.shape)


def joined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.concatenate([a, b])`` on cache lines (:func:`analog_models.native.aligned`)."""
    out = aligned(np.empty, (len(a) + len(b),) + a.shape[1:], a.dtype)
    out[:len(a)], out[len(a):] = a, b
    return out


class Keys:
    """The key side of both products for keys [s0, s1) (whole chunks of tile_cols keys),
    computed once per key as the window slides, ``ahead`` keys at a time (keys past T are
    padding: zeros), with ``b_s = exp(−(ref − w_s)/τ)`` about the reference time ``ref`` (1
    without leakage; a new ``ref`` recomputes them; a key written more than ``span_tau``·τ/p_max
    after ``ref`` is clamped there: it belongs to a later reference):

    * ``k``: the K product's store of these keys (:mod:`.k_product`, ``ks``'s way);
    * ``v`` (chunks, n·cols, d): ``b_s^p_i·term_i(s)`` of the V bank, rows (i, column);
    * ``c0`` (cols,): ``C0·f_col`` of the V bank (the undecayed C0 part), or None.
    """

    def __init__(self, ks, kb: GainCellBank, vb: GainCellBank, w: np.ndarray,
                 cfg: HeadConfig, vtab: np.ndarray | None, vcode: np.ndarray | None,
                 vv: np.ndarray | None, span_tau: float, ahead: int = 4096) -> None:
        self.ks, self.kb, self.vb, self.w, self.span_tau = ks, kb, vb, w, span_tau
        # the V terms looked up by code (``vtab``, ``vcode``: :mod:`.level_terms`), else
        # evaluated from the stored voltages ``vv``
        self.vtab, self.vcode, self.vv = vtab, vcode, vv
        self.T, self.d = len(w), cfg.array.head_dim
        self.W, self.cols = cfg.array.window, cfg.array.tile_cols
        self.ahead = -(-ahead // self.cols) * self.cols
        self.leak = cfg.analog.leakage and bool(kb.powers)
        self.tau = cfg.analog.tau_retention_s
        self.c0 = vb.const_uA * vb.line_factors("rows") if vb.const_uA else None
        self.n = len(kb.powers)
        self.ref = None
        self.lo = self.hi = 0
        self.k = ks.alloc(0, 0, 0)
        self.v = np.zeros((0, self.n * self.cols, self.d))

    def _compute(self, a: int, e: int) -> tuple[tuple, np.ndarray]:
        T, (n, d, cols) = self.T, (self.n, self.d, self.cols)
        m = max(0, min(e, T) - a)                            # keys before the padding
        out_k = self.ks.alloc(a, e - a, m)
        # written in place (no transposes), on cache lines: the V product's vector loads of a
        # chunk's rows (d doubles each, 8 to a line at the defaults) then never split a line
        out_v = aligned(np.empty, ((e - a) // cols, n, cols, d), np.float64)
        out_v[m // cols:] = 0.0
        piece = max(1, self.PIECE // cols) * cols           # whole chunks at a time: the
        for p0 in range(0, m if n else 0, piece):          # temporaries stay in cache
            self._terms_into(out_k, out_v, a, p0, min(m, p0 + piece))
        return out_k, out_v.reshape((e - a) // cols, n * cols, d)

    #: about how many keys' terms are evaluated at once
    PIECE = 512

    def _terms_into(self, out_k: tuple, out_v: np.ndarray, a: int, p0: int, p1: int
                    ) -> None:
        """Rows [p0, p1) of ``out_k``, and of ``out_v``'s chunks, for the keys a + p0 …"""
        n, d, cols = self.n, self.d, self.cols
        m = p1 - p0
        full = m // cols * cols                              # keys in whole chunks
        s = slice(a + p0, a + p1)
        p = np.arange(a + p0, a + p1) % self.W
        tile, col = p // cols, p % cols
        # keys written past ref + span are valid only for a later reference: clamped
        lim = self.span_tau / max(self.kb.powers)
        bp = (powers_of(np.exp(np.minimum((self.w[s] - self.ref) / self.tau, lim)),
                        self.kb.powers) if self.leak else np.ones((n, m)))
        self.ks.fill(out_k, p0, p1, s, tile, col, bp)
        if self.vtab is not None:
            level_terms.into(out_v, p0, self.vcode[s], self.vtab, bp)
            return
        tv = self.vb.line_terms(self.vv[s], tile, col, read="rows")
        c0, c1 = p0 // cols, (p0 + full) // cols
        for i in range(n):
            np.multiply(tv[i, :full].reshape(-1, cols, d), bp[i, :full, None].reshape(
                -1, cols, 1), out=out_v[c0:c1, i])
        if full < m:                                         # the last chunk's keys before T
            out_v[c1, :, :m - full] = tv[:, full:] * bp[:, full:, None]

    def get(self, s0: int, s1: int, ref: float):
        """(k, v) of keys [s0, s1) about ``ref``: the K product's view (:mod:`.k_product`)
        and the V rows."""
        if ref != self.ref:
            self.ref, self.lo, self.hi = ref, s0, s0
            self.k, self.v = self.ks.alloc(s0, 0, 0), self.v[:0]
        if s1 > self.hi:          # keys past T only as padding up to the last chunk
            end = -(-self.T // self.cols) * self.cols
            hi = max(s1, min(s0 + self.ahead, end))
            new_k, new_v = self._compute(max(self.hi, s0), hi)
            cut = max(0, s0 - self.lo)
            if cut < len(self.v) * self.cols:    # keys still in use: kept before the new
                new_k = self.ks.join(self.k, cut, new_k)
                new_v = joined(self.v[cut // self.cols:], new_v)
            self.k, self.v = new_k, new_v
            self.lo, self.hi = max(self.lo, s0), hi
        a, b = s0 - self.lo, s1 - self.lo
        return self.ks.view(self.k, a, b), self.v[a // self.cols:b // self.cols]


class Queries:
    """The query side of the K product for tokens [t0, t1), computed ``ahead`` tokens at a time
    about the reference time ``ref`` (a new ``ref`` recomputes them):

    * ``ap`` (n, tokens): ``a_t^p_i``, ``a_t = exp(−(r_t − ref)/τ)`` (1 without leakage);
    * ``q``: the K product's query part (:mod:`.k_product`, ``ks``'s way), arrays by token.
    """

    def __init__(self, ks, r: np.ndarray, powers: tuple[int, ...], tau: float, leak: bool,
                 ahead: int = 1024) -> None:
        self.ks, self.r, self.powers = ks, r, powers
        self.tau, self.leak, self.ahead = tau, leak, ahead
        self.ref, self.lo, self.hi = None, 0, 0

    def get(self, t0: int, t1: int, ref: float) -> tuple[np.ndarray, tuple]:
        if ref != self.ref or t1 > self.hi:
            a, e = t0, min(len(self.r), max(t1, t0 + self.ahead))
            self.ap = (powers_of(np.exp((self.r[a:e] - ref) / -self.tau), self.powers)
                       if self.leak else np.ones((len(self.powers), e - a)))
            self.q = self.ks.queries(a, e, self.ap)
            self.ref, self.lo, self.hi = ref, a, e
        a, b = t0 - self.lo, t1 - self.lo
        return self.ap[:, a:b], tuple(None if p is None else p[a:b] for p in self.q)
