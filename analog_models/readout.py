"""One token through the analog half of a head: the column writes and the read-out sequence.

The golden model's token path (:class:`sim.golden.TokenHead`) and the co-simulation bridge
(:class:`tb.cosim.bridge.AnalogBridge`) both call these functions, so the sequence exists once
and the two produce the same floats bit for bit.

Per token t (window column p = t mod W: ``tile = p // tile_cols``, ``col = p % tile_cols``;
``t_write`` = the cycle its K-column discharge starts, ``t_read`` = the cycle its QK read starts,
both in seconds = cycle × ``cfg.timing.t_clk_s``):

1. :func:`write_token_column` on the K bank, then on the V bank (same ``t_write``):
   discharge the column, store the DAC voltages ``code_to_volts(codes, cfg)``.
2. :func:`read_token` with the query's pulse fractions ``pulse_fraction(widths, cfg)`` and the
   valid-column mask (columns holding one of the last W tokens, its own included):

   ``S = k_bank.read_columns(x, t_read, valid)`` → ``A = relu_c2p(S)`` →
   ``O = v_bank.read_rows(A, t_read)`` → ``sign, count = signed_c2p(O)``.

When both banks read by levels (:attr:`~analog_models.array.GainCellBank.read_path`, the
default), the four steps of 2. run as one call of the compiled kernel
(:meth:`analog_models.level_read.LevelCells.read_token`: the same operations in the same
order, so the same bits — tested against the steps called one by one; ~2.3× faster per token
at the defaults, the numpy calls between the reads were most of the time).

The bridge sees a column's discharge and its DAC write as two pin events cycles apart and calls
``bank.discharge_column`` and ``bank.write_column`` at those edges: the two calls of
:func:`write_token_column`, split in time (no read of the column falls between them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdl.config import HeadConfig

from .array import GainCellBank
from .c2p import relu_c2p, signed_c2p, signed_value

__all__ = ["Readout", "write_token_column", "read_token"]


@dataclass(frozen=True)
class Readout:
    """One token's read-out.

    ``scores`` (n_tiles, tile_cols)     S in µA·T_max (0 at masked columns)
    ``activations`` (n_tiles, tile_cols) A = clip(S/S_sat1, 0, 1), the A pulse widths / T_max
    ``charges`` (n_tiles, head_dim)      O in µA·T_max, the V array's charge per tile
    ``sign``, ``count`` (n_tiles, head_dim)  the signed C2P's sign bit (True = negative) and
                                         pulse length in cycles (int64, ≤ count_max)
    """

    scores: np.ndarray
    activations: np.ndarray
    charges: np.ndarray
    sign: np.ndarray
    count: np.ndarray

    @property
    def values(self) -> np.ndarray:
        """The counters' signed readings ±count (n_tiles, head_dim), int64."""
        return signed_value(self.sign, self.count)


def write_token_column(bank: GainCellBank, tile: int, col: int, volts: np.ndarray,
                       t_write_s: float) -> None:
    """Discharge column (tile, col) of ``bank``, then store ``volts`` (rows,) written at
    ``t_write_s`` (the origin of the cells' leakage)."""
    bank.discharge_column(tile, col)
    bank.write_column(tile, col, volts, t_write_s)


def read_token(k_bank: GainCellBank, v_bank: GainCellBank, x: np.ndarray, t_read_s: float,
               valid: np.ndarray, cfg: HeadConfig) -> Readout:
    """Read one token: query pulses ``x`` (head_dim,) as fractions of T_max on the K bank's word
    lines at ``t_read_s``, masked by ``valid`` (n_tiles, tile_cols) bool; ReLU C2P; the A
    pulses on the V bank at the same time; signed C2P per tile and dimension."""
    # the V columns written with the K columns (write_token_column): the same leakage factors
    same = (v_bank.powers == k_bank.powers
            and bool((v_bank.t_write == k_bank.t_write).all()))
    kc, vc = k_bank.level_cells, v_bank.level_cells
    if (kc is not None and vc is not None and v_bank.powers == k_bank.powers
            and (kc.n_tiles, kc.cols, kc.rows) == (vc.n_tiles, vc.cols, vc.rows)):
        # both banks read by levels: the steps below in one C call, the same bits
        d_k = k_bank.leakage_factors(t_read_s)
        d_v = d_k if same or d_k is None else v_bank.leakage_factors(t_read_s)
        s, a, o, sign, count = kc.read_token(
            vc, k_bank.powers, k_bank.weighted_pulses(np.asarray(x, dtype=np.float64),
                                                      "columns"),
            d_k, d_v, valid, cfg.analog.s_sat1_uA, cfg.analog.s_sat2_uA, cfg.array.count_max)
        return Readout(s, a, o, sign, count)
    dk = k_bank.decay_at(t_read_s)
    s = k_bank.read_columns(x, t_read_s, valid, decay=dk)
    a = relu_c2p(s, cfg)
    o = v_bank.read_rows(a, t_read_s, decay=dk if same else None)
    sign, count = signed_c2p(o, cfg)
    return Readout(s, a, o, sign, count)
