"""The golden model's vectorised path: all T tokens at once.

Masks and decay as (blocks of) T×T matrices, the cell polynomial expanded into matrix products
(like the paper's training code), from the per-cell numbers the banks themselves store
(:meth:`analog_models.array.GainCellBank.line_terms`, ``powers``, ``const_uA``,
``line_factors``).  Same per-cell numbers as the token path, different summation order (float
differences ~1e-13 relative): counts agree exactly unless ``|O|/S_sat2·count_max`` falls within
that of a half-integer.
"""

from __future__ import annotations

import numpy as np

from analog_models.array import GainCellBank
from analog_models.c2p import relu_c2p
from analog_models.leakage import cell_age_s, decay_factor
from hdl.config import HeadConfig

from .io import GoldenResult, hardware_inputs, run_checked, tile_results

__all__ = ["run_vectorized"]


def run_vectorized(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                   write_times_s: np.ndarray | None = None,
                   read_times_s: np.ndarray | None = None,
                   check_range: bool = True, block: int = 128) -> GoldenResult:
    """All tokens at once, in blocks of ``block`` query rows against their window's keys;
    (B, T, d) inputs run sequence by sequence."""
    return run_checked(_vectorized, q, k, v, cfg, write_times_s, read_times_s, check_range,
                       block=block)


def _vectorized(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, w: np.ndarray,
                r: np.ndarray, block: int) -> GoldenResult:
    T, d = q.shape
    ar, an = cfg.array, cfg.analog
    W, cols, nt = ar.window, ar.tile_cols, ar.n_tiles
    block = max(cols, (block // cols) * cols)
    x, kv, vv = hardware_inputs(q, k, v, cfg)

    # Pad the token axis to whole chunks of tile_cols tokens: chunk c lands in tile c mod n.
    Tp = -(-T // cols) * cols
    pad = Tp - T
    x = np.pad(x, ((0, pad), (0, 0)))
    kv = np.pad(kv, ((0, pad), (0, 0)))
    vv = np.pad(vv, ((0, pad), (0, 0)))
    wp = np.pad(w, (0, pad))
    p_s = np.arange(Tp) % W
    tile_s, col_s = p_s // cols, p_s % cols

    kb = GainCellBank.for_head(cfg, "K")
    vb = GainCellBank.for_head(cfg, "V")
    powers = kb.powers
    n = len(powers)
    nch = Tp // cols
    # The per-cell numbers the banks store when these columns are written (term_i × line
    # factor), grouped by chunk: pk_ch[c] (n, d, cols) for the K side, pv_ch[c] (n·cols, d) for V.
    if n:
        pk = kb.line_terms(kv, tile_s, col_s, read="columns")             # (n, Tp, d)
        pv = vb.line_terms(vv, tile_s, col_s, read="rows")                # (n, Tp, d)
    else:
        pk = pv = np.zeros((0, Tp, d))
    pk_ch = np.ascontiguousarray(pk.reshape(n, nch, cols, d).transpose(1, 0, 2, 3))
    pv_ch = pv.reshape(n, nch, cols, d).transpose(1, 0, 2, 3).reshape(nch, n * cols, d)
    # The C0 current every cell shares, a rank-one part of each read (0 with variability).
    xk0 = kb.const_uA * (x @ kb.line_factors("columns")) if kb.const_uA else None  # (Tp,)
    fcol_s = vb.line_factors("rows")[col_s]
    leak = an.leakage and n > 0
    tau = an.tau_retention_s

    quant = an.quantization
    scores = np.zeros((T, T))
    acts = np.zeros((T, T))
    tile_out = np.zeros((T, nt, d))
    counts = np.zeros((T, nt, d), dtype=np.int64 if quant else np.float64)
    for t0 in range(0, T, block):
        t1 = min(T, t0 + block)
        bq = t1 - t0
        c0 = max(0, t0 - W + 1) // cols     # first chunk any query of the block can see
        c1 = -(-t1 // cols)
        k_ch = c1 - c0
        s0, s1 = c0 * cols, c1 * cols
        keys = s1 - s0
        # Keys in [t1 − W, t0] are inside every query's window; mask only the two edges.
        lo_end = min(max(t1 - W, s0), s1)            # keys [s0, lo_end): too old for some
        hi_start = max(min(t0 + 1, s1), lo_end)      # keys [hi_start, s1): future for some
        tq = np.arange(t0, t1)[:, None]
        ss_lo = np.arange(s0, lo_end)[None, :]
        ss_hi = np.arange(hi_start, s1)[None, :]
        valid_lo = (ss_lo > tq - W) & (ss_lo <= tq)
        valid_hi = (ss_hi <= tq) & (ss_hi > tq - W)
        # m[:, (chunk, i, col)] = Σ_d x[t, d]·term_i[s, d]; then Σ_i D^p_i·m_i by Horner.
        m = (x[t0:t1] @ pk_ch[c0:c1].reshape(k_ch * n * cols, d).T).reshape(bq, k_ch, n, cols)
        if leak:
            dd = decay_factor(cell_age_s(r[t0:t1, None], wp[None, s0:s1]), tau)
            dd3 = dd.reshape(bq, k_ch, cols)
        s3 = np.zeros((bq, k_ch, cols))
        for i in range(n - 1, -1, -1):          # highest power first
            s3 += m[:, :, i, :]
            if leak:
                for _ in range(powers[i] - (powers[i - 1] if i else 0)):
                    s3 *= dd3
        s = s3.reshape(bq, keys)
        if xk0 is not None:
            s += xk0[t0:t1, None]
        s[:, :lo_end - s0] = np.where(valid_lo, s[:, :lo_end - s0], 0.0)
        s[:, hi_start - s0:] = np.where(valid_hi, s[:, hi_start - s0:], 0.0)
        a = relu_c2p(s, cfg)
        te = min(s1, T) - s0
        scores[t0:t1, s0:s0 + te] = s[:, :te]
        acts[t0:t1, s0:s0 + te] = a[:, :te]
        ob = np.zeros((bq, nt, d))
        if n:
            bst = np.empty((bq, k_ch, n, cols))
            prev, done = a.reshape(bq, k_ch, cols), 0
            for i, p in enumerate(powers):
                while leak and done < p:
                    prev = prev * dd3
                    done += 1
                bst[:, :, i, :] = prev
            rch = np.matmul(bst.reshape(bq, k_ch, n * cols).transpose(1, 0, 2),
                            pv_ch[c0:c1])                                   # (k_ch, bq, d)
        if vb.const_uA:
            r0 = vb.const_uA * (a * fcol_s[s0:s1]).reshape(bq, k_ch, cols).sum(axis=2)
        for j in range(k_ch):
            tile = (c0 + j) % nt
            if n:
                ob[:, tile, :] += rch[j]
            if vb.const_uA:
                ob[:, tile, :] += r0[:, j, None]
        tile_out[t0:t1], counts[t0:t1], _ = tile_results(ob, cfg)
    return GoldenResult(scores, acts, tile_out, counts, counts.sum(axis=-2))
