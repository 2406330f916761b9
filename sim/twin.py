"""The FPGA array twin's exact integer arithmetic (numpy) and its build-time tables.

The twin (:class:`hdl.fpga.twin.ArrayTwin`) stands in for the analog arrays on the fabric.  Per
token it computes, in integers, what :func:`analog_models.readout.read_token` computes in
floats, with **leakage, variability and IR drop off** (whatever the config says; the twin has
no time and no per-cell mismatch).  Nonlinearity and offset follow the config: the cell curve
is :func:`analog_models.gain_cell.cell_g`, the one home of the polynomial.

Fixed point (F_S = ``frac_s``, F_G = ``frac_g`` fraction bits):

* ``lut[k, w] = round(w/q_max · g(V(k) − v_mid) · 2^F_S)``: the current of a cell holding K
  code k read by a pulse of w cycles.  S_j = Σ_i lut[k_ij, w_i]; 0 for an invalid column.
* ReLU C2P: ``Sc_j = clip(S_j, 0, sat1)``, ``sat1 = round(S_sat1 · 2^F_S)`` (A = Sc/sat1).
* ``gv[c] = round(g(V(c) − v_mid) · 2^F_G)``; per tile and dim ``P = Σ_col Sc_j·gv[v_jd]``
  (= O · sat1 · 2^F_G).
* Signed C2P: ``count = #{c ∈ 1..count_max : |P| ≥ th[c]}``, ``th[c]`` =
  ``(c − ½)·S_sat2·sat1·2^F_G / count_max`` rounded up to a multiple of 2^``th_shift`` (at
  most 2^-14 of a count step above: the comparators need only the high bits of |P|) —
  ``min(count_max, floor(|O|/S_sat2·count_max + ½))`` for the integer P; sign = P < 0.

The float model rounds nowhere before the count, so the twin may differ by one count where
``|O|/S_sat2·count_max`` lies within the fixed-point error of a half-integer:
:func:`boundary_distance` gives that distance for the report.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from analog_models.dac import code_to_volts
from analog_models.gain_cell import cell_g
from hdl.config import HeadConfig
from hdl.fpga.twin import TwinTables

__all__ = ["twin_config", "twin_tables", "TwinRef", "run_twin", "boundary_distance",
           "golden_agreement"]

FRAC_S, FRAC_G = 12, 10


def twin_config(cfg: HeadConfig) -> HeadConfig:
    """``cfg`` with what the twin does not model switched off (leakage, variability, IR drop):
    the configuration the golden model is compared with."""
    return cfg.with_overrides(["analog.leakage=false", "analog.variability=false",
                               "analog.ir_drop=false"])


def twin_tables(cfg: HeadConfig, frac_s: int = FRAC_S, frac_g: int = FRAC_G) -> TwinTables:
    """The twin's integer tables for ``cfg`` (see the module docstring)."""
    if not cfg.analog.quantization:
        raise ValueError("the twin needs analog.quantization on (it sees integer codes)")
    a, an = cfg.array, cfg.analog
    g = cell_g(code_to_volts(np.arange(a.kv_max + 1), cfg) - an.v_mid_V, an)
    w = np.arange(a.q_max + 1) / a.q_max
    lut = np.rint(np.outer(g, w) * 2.0 ** frac_s).astype(np.int64)
    gv = np.rint(g * 2.0 ** frac_g).astype(np.int64)
    sat1 = int(round(an.s_sat1_uA * 2 ** frac_s))
    scale = Fraction(an.s_sat2_uA) * sat1 * 2 ** frac_g / a.count_max
    # thresholds rounded up to a multiple of 2^shift (≤ 2^-14 of a count step): the twin's
    # comparators then look at |P| >> shift only
    shift = max(0, int(scale).bit_length() - 15)
    th = [-(-(scale * (2 * c - 1)) // (2 << shift)) << shift for c in range(1, a.count_max + 1)]
    return TwinTables(lut=tuple(tuple(int(x) for x in row) for row in lut),
                      gv=tuple(int(x) for x in gv), sat1=sat1,
                      thresholds=tuple(int(t) for t in th), frac_s=frac_s, frac_g=frac_g,
                      th_shift=shift)


class TwinRef:
    """The twin's state (K and V codes per window column) and its token read-out."""

    def __init__(self, cfg: HeadConfig, tables: TwinTables | None = None) -> None:
        self.cfg = cfg
        self.t = tables or twin_tables(cfg)
        a = cfg.array
        self.k = np.zeros((a.window, a.head_dim), np.int64)
        self.v = np.zeros((a.window, a.head_dim), np.int64)
        self._lut = np.array(self.t.lut, np.int64)
        self._gv = np.array(self.t.gv, np.int64)
        self._th = np.array(self.t.thresholds, np.int64)

    def write(self, col: int, k: np.ndarray, v: np.ndarray) -> None:
        """Window column ``col`` (tile·C + column) now holds K codes ``k``, V codes ``v``."""
        self.k[col], self.v[col] = k, v

    def read(self, widths: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Query pulse widths (d,) and valid columns (W,) bool → (sign, count), (n, d) each."""
        p = self.products(widths, valid)
        return p < 0, (np.abs(p)[..., None] >= self._th).sum(axis=-1)

    def products(self, widths: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """P (n, d) of a read (for boundary distances)."""
        a = self.cfg.array
        s = self._lut[self.k, np.asarray(widths)[None, :]].sum(axis=1)
        sc = np.clip(np.where(valid, s, 0), 0, self.t.sat1).reshape(a.n_tiles, a.tile_cols)
        return np.einsum("tc,tcd->td", sc,
                         self._gv[self.v].reshape(a.n_tiles, a.tile_cols, -1))


def run_twin(cfg: HeadConfig, q: np.ndarray, k: np.ndarray, v: np.ndarray,
             tables: TwinTables | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A token stream of codes (T, d) each through the twin as the head drives it (token t in
    window column t mod W, valid = the last W tokens) → (values (T, n, d) = ±count, the P
    products (T, n, d))."""
    ref = TwinRef(cfg, tables)
    a = cfg.array
    T = len(q)
    values = np.zeros((T, a.n_tiles, a.head_dim), np.int64)
    prods = np.zeros_like(values)
    cols = np.arange(a.window)
    for t in range(T):
        ref.write(t % a.window, k[t], v[t])
        valid = cols < min(t + 1, a.window)
        sign, count = ref.read(q[t], valid)
        values[t] = np.where(sign, -count, count)
        prods[t] = ref.products(q[t], valid)
    return values, prods


def boundary_distance(cfg: HeadConfig, prods: np.ndarray, tables: TwinTables | None = None
                      ) -> np.ndarray:
    """Distance of ``|O|/S_sat2·count_max`` from the nearest half-integer (the count's rounding
    boundary), from the twin's P: small where a one-count difference is expected."""
    t = tables or twin_tables(cfg)
    x = np.abs(prods) / (t.sat1 * 2.0 ** t.frac_g) / cfg.analog.s_sat2_uA * cfg.array.count_max
    return np.abs(x - np.floor(x) - 0.5)


def golden_agreement(cfg: HeadConfig, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> dict:
    """The twin's counts against the golden model (float, :func:`sim.golden.run` on
    :func:`twin_config`) for float tokens (T, d) each: share of (token, tile, dim) equal, the
    largest difference, and every disagreement with its distance to the rounding boundary."""
    from analog_models.dac import kv_code, query_code

    from .golden import run

    gcfg = twin_config(cfg)
    golden = run(q, k, v, gcfg).counts
    values, prods = run_twin(cfg, query_code(q, cfg), kv_code(k, cfg), kv_code(v, cfg))
    diff = values - golden
    dist = boundary_distance(cfg, prods)
    where = np.argwhere(diff != 0)
    return {
        "tokens": int(len(q)),
        "compared": int(diff.size),
        "equal_fraction": float((diff == 0).mean()),
        "max_abs_diff": int(np.abs(diff).max()) if diff.size else 0,
        "nonzero_fraction": float((golden != 0).mean()),
        "disagreements": [{"token": int(t), "tile": int(n), "dim": int(d),
                           "twin": int(values[t, n, d]), "golden": int(golden[t, n, d]),
                           "boundary_distance": float(dist[t, n, d])} for t, n, d in where],
    }
