"""The golden model's token-by-token path: the head as the RTL runs it, one token at a time.

Each token goes through :mod:`analog_models.readout` — the same functions, with the same
arguments, that the co-simulation bridge calls from the pins — so the bridge reproduces these
floats bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analog_models.array import GainCellBank
from analog_models.dac import code_to_volts, kv_code, pulse_fraction, query_code
from analog_models.readout import read_token, write_token_column
from hdl.config import HeadConfig

from .io import GoldenResult, hardware_inputs, run_checked, tile_results

__all__ = ["TokenOutput", "TokenHead", "run_token_by_token"]


@dataclass
class TokenOutput:
    """One token's outputs, in window coordinates (tile, column) for S and A."""

    scores: np.ndarray         # (n_tiles, tile_cols)
    activations: np.ndarray    # (n_tiles, tile_cols)
    tile_outputs: np.ndarray   # (n_tiles, d)
    counts: np.ndarray         # (n_tiles, d)
    out: np.ndarray            # (d,)


class TokenHead:
    """The head as the RTL runs it, one token at a time (state: K and V banks, pointer).

    Per token: :func:`analog_models.readout.write_token_column` into the K bank, then the V
    bank, at the write pointer (the RTL's circular pointer: window column ``p = t mod W``, tile
    ``p // tile_cols``, column ``p % tile_cols``); then :func:`analog_models.readout.read_token`
    with the valid mask that includes the new token.
    """

    def __init__(self, cfg: HeadConfig) -> None:
        self.cfg = cfg
        ar = cfg.array
        self.k_bank = GainCellBank.for_head(cfg, "K")
        self.v_bank = GainCellBank.for_head(cfg, "V")
        self.n_written = 0
        self._positions = np.arange(ar.window).reshape(ar.n_tiles, ar.tile_cols)

    @property
    def pointer(self) -> tuple[int, int]:
        """(tile, column) the next token is written to."""
        return divmod(self.n_written % self.cfg.array.window, self.cfg.array.tile_cols)

    def valid_mask(self) -> np.ndarray:
        """(n_tiles, tile_cols) bool: columns holding one of the last W written tokens."""
        return self._positions < min(self.n_written, self.cfg.array.window)

    def step(self, x: np.ndarray, k_volts: np.ndarray, v_volts: np.ndarray, t_write: float,
             t_read: float) -> TokenOutput:
        """One token from pulse fractions x (d,) and stored voltages (d,) (float path too)."""
        tile, col = self.pointer
        write_token_column(self.k_bank, tile, col, k_volts, t_write)
        write_token_column(self.v_bank, tile, col, v_volts, t_write)
        self.n_written += 1
        r = read_token(self.k_bank, self.v_bank, x, t_read, self.valid_mask(), self.cfg)
        tile_out, counts, out = tile_results(r.charges, self.cfg, r.values)
        return TokenOutput(r.scores, r.activations, tile_out, counts, out)

    def step_codes(self, q_code: np.ndarray, k_code: np.ndarray, v_code: np.ndarray,
                   t_write: float, t_read: float) -> TokenOutput:
        """One token from integer PWM widths and DAC codes (what the RTL drives)."""
        return self.step(pulse_fraction(q_code, self.cfg), code_to_volts(k_code, self.cfg),
                         code_to_volts(v_code, self.cfg), t_write, t_read)


def run_token_by_token(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                       write_times_s: np.ndarray | None = None,
                       read_times_s: np.ndarray | None = None,
                       check_range: bool = True, **sink) -> GoldenResult | None:
    """The token-by-token path over a (T, d) sequence (see :class:`TokenHead`); (B, T, d)
    inputs run sequence by sequence.  ``sink``: ``outputs``, ``layout`` or ``sink`` of
    :func:`.io.run_checked`."""
    return run_checked(_token_by_token, q, k, v, cfg, write_times_s, read_times_s, check_range,
                       **sink)


def _token_by_token(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig,
                    w: np.ndarray, r: np.ndarray, rows) -> None:
    T = q.shape[0]
    W = cfg.array.window
    head = TokenHead(cfg)
    quant = cfg.analog.quantization
    if quant:
        qc, kc, vc = query_code(q, cfg), kv_code(k, cfg), kv_code(v, cfg)
    else:
        qx, kx, vx = hardware_inputs(q, k, v, cfg)
    for t in range(T):
        if quant:
            o = head.step_codes(qc[t], kc[t], vc[t], w[t], r[t])
        else:
            o = head.step(qx[t], kx[t], vx[t], w[t], r[t])
        # S and A come in window coordinates (tile, column): ring order p = tile·cols + col
        rows.put(t, t + 1, scores=o.scores.reshape(1, W), activations=o.activations.reshape(1, W),
                 tile_outputs=o.tile_outputs[None], counts=o.counts[None], out=o.out[None])
