"""Gain-cell arrays: stored voltages, per-cell write times, Kirchhoff reads (model-spec §1, §4, §5).

:class:`GainCellBank` holds the ``n_tiles`` sub-tiles (``rows × cols`` each, default 16 × 64 × 64)
of one kind of array (K or V) of a head; :class:`GainCellArray` is one tile with the same
methods minus the tile axis.  A token's writes and read-out go through
:mod:`analog_models.readout` (the golden token path and the co-simulation bridge both call it,
so they get bit-identical floats); the golden model's vectorised path evaluates many tokens at
once from the bank's read model (:attr:`~GainCellBank.powers`, :attr:`~GainCellBank.const_uA`,
:meth:`~GainCellBank.line_factors`, :meth:`~GainCellBank.line_terms`), the numbers the bank
stores itself.

Reads (charge in µA·T_max = Σ pulse fraction × cell current):

* :meth:`GainCellBank.read_columns` — K-style: the query pulses ``x`` (rows,) drive the word
  lines of every tile; per column ``S[c] = Σ_r x_r · I(r, c)``; masked columns give exactly 0.
* :meth:`GainCellBank.read_rows` — V-style: the A pulses (one per column) drive the columns;
  per row ``O[r] = Σ_c A_c · I(r, c)`` over the tile's columns.

Cell current ``I(r, c) = f_line · (gain·g(D_c·y) + offset)``, ``y = V − v_mid``,
``D_c = exp(−max(t_read − t_write[c], 0)/τ)`` (one write time per column), with ``gain``,
``offset`` from :mod:`analog_models.variability` (switch ``variability``) and ``f_line`` from
:mod:`analog_models.ir_drop` (switch ``ir_drop``).  Internally the polynomial is expanded as
``Σ_i D^i·term_i`` with ``term_i = gain·C_i·y^i`` precomputed at write time, so a read is one
matrix-vector product per tile; the float operations are:

    read_columns: m = x @ P_col  (all tiles in one product, P_col[r, t, k, c] =
                  term_k[r, c]·f_row[r] of tile t);
                  S = Σ_k m[k, c]·D_c^(p_k)  (numpy sum over k);  S = S + C0·(x·f_row);
                  S = where(mask, S, 0)
    read_rows:    B[k, c] = A_c·D_c^(p_k);  O = B.ravel() @ P_row  (P_row[k, c, r] =
                  term_k[r, c]·f_col[c]);  O = O + C0·(A·f_col)

``P_col``/``P_row`` hold :meth:`GainCellBank.line_terms` for ``read="columns"``/``"rows"``,
``f_row``/``f_col`` are :meth:`GainCellBank.line_factors`, ``p_k`` :attr:`GainCellBank.powers`.
Without variability the power-0 term (C0, identical for every cell) is kept out of the
matrices and added as the rank-one ``C0·…`` term shown (``const_uA``); with variability it is a
per-cell matrix like the others and ``const_uA`` is 0.

Level reads.  Without variability a cell's terms depend on its voltage alone, and with the DAC
quantising K and V a bank holds a few distinct voltages (8 at the defaults).  While it has seen
at most :data:`~analog_models.level_read.LEVELS` of them, the bank keeps a level index per cell
instead of ``P_col``/``P_row`` and reads through the compiled kernel of
:mod:`analog_models.level_read` (per column ``h[level] = C0 + Σ_k D_c^(p_k)·term_k(level)``,
then one lookup per cell: the same sum in another order, ~1e-15 relative from the matrix
path; the ``C0`` part is in ``h``, not a separate term).  The first write of a voltage beyond
that (quantisation off, say) switches it to the matrices for good;
:attr:`GainCellBank.read_path` says which it uses.  Line factors weight the pulses
(:meth:`GainCellBank.weighted_pulses`: ``x·f_row``, ``A·f_col``); the mask is applied as
above.  With both banks of a head on this path, :func:`analog_models.readout.read_token` reads
a token — both reads and both C2P steps — in one call of the kernel
(:attr:`GainCellBank.level_cells`).

Initial state: every cell discharged (0 V), write time 0 s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hdl.config import AnalogConfig, HeadConfig

from .dac import DISCHARGE_V
from .gain_cell import effective_poly, poly_terms, term_powers
from .ir_drop import line_attenuation
from .level_read import LevelCells, kernel
from .leakage import cell_age_s, decay_factor, decay_powers
from .variability import KINDS, draw_mismatch, mismatch_rng

__all__ = ["GainCellBank", "GainCellArray"]


class GainCellBank:
    """``n_tiles`` gain-cell arrays of one kind (K or V) of one head.

    Parameters
    ----------
    n_tiles, rows, cols : geometry (``cfg.array.n_tiles``, ``head_dim``, ``tile_cols``).
    analog : :class:`hdl.config.AnalogConfig` (constants and switches).
    kind : "K" or "V": selects the mismatch seed stream (see :mod:`analog_models.variability`).
    tile_ids : physical tile index of each tile (default ``range(n_tiles)``), for the seed.
    rng : explicit generators, one per tile, overriding the seeded default (variability only).
    """

    def __init__(self, n_tiles: int, rows: int, cols: int, analog: AnalogConfig, *,
                 kind: str = "K", tile_ids: Sequence[int] | None = None,
                 rng: Sequence[np.random.Generator] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"array kind must be one of {', '.join(KINDS)}, not {kind!r}")
        for name, v in (("n_tiles", n_tiles), ("rows", rows), ("cols", cols)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        self.n_tiles, self.rows, self.cols = int(n_tiles), int(rows), int(cols)
        self.analog = getattr(analog, "analog", analog)
        self.kind = kind
        self.tile_ids = tuple(range(n_tiles)) if tile_ids is None else tuple(tile_ids)
        if len(self.tile_ids) != n_tiles:
            raise ValueError(f"tile_ids must have {n_tiles} entries, not {len(self.tile_ids)}")
        a = self.analog
        shape = (n_tiles, rows, cols)
        self.volts = np.full(shape, DISCHARGE_V)
        self.t_write = np.zeros((n_tiles, cols))
        if a.variability:
            if rng is None:
                rng = [mismatch_rng(a.seed, kind, t) for t in self.tile_ids]
            if len(rng) != n_tiles:
                raise ValueError(f"rng must hold {n_tiles} generators, not {len(rng)}")
            draws = [draw_mismatch(a, rows, cols, r) for r in rng]
            self.gain = np.stack([d[0] for d in draws])
            self.offset_uA = np.stack([d[1] for d in draws])
        else:
            self.gain = None
            self.offset_uA = None
        self._coeffs = effective_poly(a)
        powers = term_powers(a, with_constant=a.variability)
        # Without mismatch the C0 term is the same for every cell: keep it out of the matrices
        # (a quarter less memory traffic per read) and add it as a rank-one term.
        self._const_uA = 0.0
        if not a.variability and powers[0] == 0:
            self._const_uA = self._coeffs[0]
            powers = powers[1:]
        self._powers = powers
        alpha = a.ir_drop_alpha if a.ir_drop else 0.0
        self._f_row = line_attenuation(rows, alpha)   # column reads: position along the column
        self._f_col = line_attenuation(cols, alpha)   # row reads: position along the row
        self._unit_lines = not alpha                  # f = 1 exactly: weighting is a no-op
        # P_col / P_row, each built on the first read that needs it (a K bank is only read
        # by columns, a V bank by rows, the vectorised golden path reads neither) and then
        # kept up to date by every write.
        self._p: dict[str, np.ndarray] = {}
        # Level reads (module docstring): a level index per cell; None once the bank reads
        # by matrices.
        k = kernel() if self.gain is None and powers else None
        self._levels = None if k is None else LevelCells(
            k, n_tiles, cols, rows, len(powers), DISCHARGE_V,
            lambda v: self._cell_terms(v, 0, 0), self._const_uA, self._f_col)

    @property
    def read_path(self) -> str:
        """``"levels"`` (a level index per cell, the compiled kernel) or ``"matrices"``
        (``P_col``/``P_row``); see the module docstring."""
        return "matrices" if self._levels is None else "levels"

    @classmethod
    def for_head(cls, cfg: HeadConfig, kind: str) -> "GainCellBank":
        """The K or V bank of a head: ``n_tiles × head_dim × tile_cols``."""
        ar = cfg.array
        return cls(ar.n_tiles, ar.head_dim, ar.tile_cols, cfg.analog, kind=kind)

    # -- the read model: what a read sums, for a batched evaluation ------------------------
    @property
    def powers(self) -> tuple[int, ...]:
        """Decay powers ``p_i``, one per stored term: a cell sources ``x·f·(Σ_i D^p_i·term_i +
        const_uA)`` with D its leakage factor and f its line factor.  Increasing; starts at 0
        only when the C0 term is per cell (variability on); empty if every term vanishes."""
        return self._powers

    @property
    def const_uA(self) -> float:
        """The C0 current every cell shares (µA), kept out of the terms and added to a read as
        a rank-one part ``const_uA·Σ pulse·f``; 0 when it is per cell (variability on) or
        switched off."""
        return self._const_uA

    def line_factors(self, read: str) -> np.ndarray:
        """IR-drop factor ``f`` of each cell position along the line its current flows on.

        ``read="columns"`` (:meth:`read_columns`): ``(rows,)``, by row; ``read="rows"``
        (:meth:`read_rows`): ``(cols,)``, by column.  All ones without ``ir_drop``.  A copy.
        """
        return (self._f_row if self._check_read(read) == "columns" else self._f_col).copy()

    def weighted_pulses(self, pulses: np.ndarray, read: str) -> np.ndarray:
        """The pulses of a ``read`` weighted by its line factors (``x·f_row`` for
        ``"columns"``, ``a·f_col`` for ``"rows"``, :meth:`line_factors`): what the cells'
        currents are summed against; the pulses themselves without IR drop."""
        if self._unit_lines:
            return pulses
        return pulses * (self._f_row if read == "columns" else self._f_col)

    @property
    def level_cells(self) -> LevelCells | None:
        """The cells as level indices while the bank reads by levels (:attr:`read_path`),
        else None: :func:`analog_models.readout.read_token` reads a token through them in one
        call."""
        return self._levels

    def line_terms(self, volts: np.ndarray, tile: np.ndarray | int, col: np.ndarray | int, *,
                   read: str) -> np.ndarray:
        """``term_i·f`` ``(len(powers), …, rows)`` of cells holding ``volts`` ``(…, rows)`` at
        (``tile``, ``col``) (ints or index arrays broadcast against ``volts[..., 0]``), weighted
        by the line factor of ``read`` (see :meth:`line_factors`).

        These are the numbers the bank stores for that read when such a column is written (its
        own writes call the same code), so a batched evaluation of many tokens — the golden
        model's vectorised path — works on per-cell numbers identical bit for bit.
        """
        return self._weighted(self._cell_terms(volts, tile, col), col, self._check_read(read))

    @staticmethod
    def _check_read(read: str) -> str:
        if read not in ("columns", "rows"):
            raise ValueError(f"read must be 'columns' or 'rows', not {read!r}")
        return read

    def _cell_terms(self, volts: np.ndarray, tile: np.ndarray | int, col: np.ndarray | int
                    ) -> np.ndarray:
        """``term_i`` (n_powers, …, rows) of cells holding ``volts`` (…, rows) at (tile, col)."""
        volts = np.asarray(volts, dtype=np.float64)
        y = volts - self.analog.v_mid_V
        if self.gain is None:
            return poly_terms(y, self.analog, self._powers, coeffs=self._coeffs)
        gain = self.gain[tile, :, col]
        off = self.offset_uA[tile, :, col]
        return poly_terms(y, self.analog, self._powers, gain, off, coeffs=self._coeffs)

    def _weighted(self, term: np.ndarray, col: np.ndarray | int, read: str) -> np.ndarray:
        """``term·f`` for ``read``: f_row along the last (row) axis, or f_col of ``col``
        (``term`` itself without IR drop: x·1.0 is x)."""
        if self._unit_lines:
            return term
        if read == "columns":
            return term * self._f_row
        return term * np.asarray(self._f_col[col])[..., None]

    def _matrix(self, read: str) -> np.ndarray:
        """P_col (rows, n_tiles, n, cols) for ``read="columns"``, P_row (n_tiles, n, cols,
        rows) for ``"rows"``: built from every cell's state on first use, with the same
        element-wise operations as :meth:`_update`."""
        p = self._p.get(read)
        if p is None:
            tiles = np.arange(self.n_tiles)[:, None]
            cols_ = np.arange(self.cols)[None, :]
            term = self._cell_terms(self.volts.transpose(0, 2, 1), tiles, cols_)  # (n,nt,c,r)
            order = (3, 1, 0, 2) if read == "columns" else (1, 0, 2, 3)
            p = self._p[read] = np.ascontiguousarray(
                self._weighted(term, cols_, read).transpose(order))
        return p

    def _update(self, tile: int, col: int, volts: np.ndarray | None = None) -> None:
        """Keep the read state of column (tile, col) up to date (``volts``: its new
        voltages (rows,), if at hand)."""
        if self._levels is not None and not self._levels.set_column(
                tile, col, self.volts[tile, :, col] if volts is None else volts):
            self._levels = None              # more voltages than levels: matrices from now on
        if not self._p:
            return
        term = self._cell_terms(self.volts[tile, :, col], tile, col)   # (n, rows)
        if "columns" in self._p:
            self._p["columns"][:, tile, :, col] = self._weighted(term, col, "columns").T
        if "rows" in self._p:
            self._p["rows"][tile, :, col, :] = self._weighted(term, col, "rows")

    # -- writes -----------------------------------------------------------------------------
    def _check_cell(self, tile: int, col: int) -> None:
        if not 0 <= tile < self.n_tiles:
            raise ValueError(f"tile must be 0..{self.n_tiles - 1}, not {tile}")
        if not 0 <= col < self.cols:
            raise ValueError(f"column must be 0..{self.cols - 1}, not {col}")

    def discharge_column(self, tile: int, col: int) -> None:
        """Pull every cell of the column to 0 V (before a DAC write)."""
        self._check_cell(tile, col)
        self.volts[tile, :, col] = DISCHARGE_V
        self._update(tile, col)

    def write_column(self, tile: int, col: int, volts: np.ndarray, t_s: float) -> None:
        """Store ``volts`` (rows,) in the column; ``t_s`` = its write time (leakage origin)."""
        self._check_cell(tile, col)
        v = np.asarray(volts, dtype=np.float64)
        if v.shape != (self.rows,):
            raise ValueError(f"column voltages must have shape ({self.rows},), not {v.shape}")
        self.volts[tile, :, col] = v
        self.t_write[tile, col] = t_s
        self._update(tile, col, v)

    # -- reads ------------------------------------------------------------------------------
    def leakage_factors(self, t_s: float) -> np.ndarray | None:
        """The leakage factor ``D_c = exp(−max(t_s − t_write[c], 0)/τ)`` of every column
        (n_tiles, cols) at a read at ``t_s``, or None without leakage (or with no decaying
        term); :meth:`decay_at` gives its powers."""
        if not self.analog.leakage or not self._powers:
            return None
        return decay_factor(cell_age_s(t_s, self.t_write), self.analog.tau_retention_s)

    def decay_at(self, t_s: float) -> np.ndarray | None:
        """The leakage factors' powers ``D_c^p`` (n_powers, n_tiles, cols) of a read at
        ``t_s``, or None without leakage — what :meth:`read_columns`/:meth:`read_rows` weigh
        the terms with (pass them as ``decay`` to a read at the same time of a bank with the
        same write times and powers, to compute them once)."""
        d = self.leakage_factors(t_s)
        return None if d is None else decay_powers(d, self._powers)

    def read_columns(self, pulse_fraction: np.ndarray, t_s: float,
                     col_mask: np.ndarray | None = None, *,
                     decay: np.ndarray | None = None) -> np.ndarray:
        """K-style read: charge (n_tiles, cols) in µA·T_max for word-line pulses (rows,);
        ``decay``: :meth:`decay_at` at ``t_s``, if already computed."""
        x = np.asarray(pulse_fraction, dtype=np.float64)
        if x.shape != (self.rows,):
            raise ValueError(f"pulse fractions must have shape ({self.rows},), not {x.shape}")
        nt, n, cols = self.n_tiles, len(self._powers), self.cols
        dp = self.decay_at(t_s) if decay is None else decay
        if self._levels is not None:      # the C0 part is in the levels' currents
            s = self._levels.read_columns(self.weighted_pulses(x, "columns"), dp)
        else:
            # one matrix-vector product over every tile (x drives all of them): one BLAS call
            m = np.matmul(x, self._matrix("columns").reshape(self.rows, nt * n * cols))
            m = m.reshape(nt, n, cols)
            s = m.sum(axis=1) if dp is None else (m * dp.transpose(1, 0, 2)).sum(axis=1)
            if self._const_uA:
                s = s + self._const_uA * np.dot(x, self._f_row)
        if col_mask is not None:
            s = np.where(col_mask, s, 0.0)
        return s

    def read_rows(self, pulse_fraction: np.ndarray, t_s: float,
                  col_mask: np.ndarray | None = None, *,
                  decay: np.ndarray | None = None) -> np.ndarray:
        """V-style read: charge (n_tiles, rows) for one pulse per column (n_tiles, cols);
        ``decay``: :meth:`decay_at` at ``t_s``, if already computed."""
        a = np.asarray(pulse_fraction, dtype=np.float64)
        nt, n, cols = self.n_tiles, len(self._powers), self.cols
        if a.shape != (nt, cols):
            raise ValueError(f"pulse fractions must have shape ({nt}, {cols}), not {a.shape}")
        if col_mask is not None:
            a = np.where(col_mask, a, 0.0)
        dp = self.decay_at(t_s) if decay is None else decay
        if self._levels is not None:      # the C0 part is in the levels' currents
            o = self._levels.read_rows(self.weighted_pulses(a, "rows"), dp)
        else:
            if dp is None:
                b = np.repeat(a[:, None, :], n, axis=1)
            else:
                b = a[:, None, :] * dp.transpose(1, 0, 2)
            o = np.matmul(b.reshape(nt, 1, n * cols),
                          self._matrix("rows").reshape(nt, n * cols, self.rows))
            o = o.reshape(nt, self.rows)
            if self._const_uA:
                o = o + (self._const_uA * np.matmul(a, self._f_col))[:, None]
        return o


class GainCellArray:
    """One ``rows × cols`` tile (K or V) with the per-tile API of :class:`GainCellBank`.

    ``GainCellArray(rows, cols, analog, kind="K", tile=j)`` draws the same mismatch as tile
    ``j`` of ``GainCellBank.for_head(cfg, "K")``; ``rng`` overrides it (one Generator).
    """

    def __init__(self, rows: int, cols: int, analog: AnalogConfig, *, kind: str = "K",
                 tile: int = 0, rng: np.random.Generator | None = None) -> None:
        self._bank = GainCellBank(1, rows, cols, analog, kind=kind, tile_ids=(tile,),
                                  rng=None if rng is None else [rng])
        self.rows, self.cols, self.kind, self.tile = rows, cols, kind, tile

    @property
    def volts(self) -> np.ndarray:
        return self._bank.volts[0]

    @property
    def t_write(self) -> np.ndarray:
        return self._bank.t_write[0]

    def discharge_column(self, col: int) -> None:
        self._bank.discharge_column(0, col)

    def write_column(self, col: int, volts: np.ndarray, t_s: float) -> None:
        self._bank.write_column(0, col, volts, t_s)

    def read_columns(self, pulse_fraction: np.ndarray, t_s: float,
                     col_mask: np.ndarray | None = None) -> np.ndarray:
        """Charge per column (cols,)."""
        mask = None if col_mask is None else np.asarray(col_mask)[None, :]
        return self._bank.read_columns(pulse_fraction, t_s, mask)[0]

    def read_rows(self, pulse_fraction: np.ndarray, t_s: float,
                  col_mask: np.ndarray | None = None) -> np.ndarray:
        """Charge per row (rows,) for one pulse per column (cols,)."""
        mask = None if col_mask is None else np.asarray(col_mask)[None, :]
        a = np.asarray(pulse_fraction, dtype=np.float64)[None, :]
        return self._bank.read_rows(a, t_s, mask)[0]
