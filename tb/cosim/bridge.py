"""The analog side of the head co-simulation: gain-cell arrays and C2P circuits behind the pins.

:class:`AnalogBridge` owns the K and V gain-cell banks (``analog_models.array.GainCellBank``,
as the golden model's :class:`sim.golden.TokenHead` does) and runs the token sequence of
:mod:`analog_models.readout` — the functions the golden token path calls — from what it sees on
the pins.  Once per clock cycle, at the falling edge (every RTL output stable), the testbench
calls :meth:`AnalogBridge.cycle`, which

* on a **discharge** or **write enable** of an array, decodes the one-hot tile/column select and
  the DAC codes on the pins and discharges/writes that column (the two bank calls of
  :func:`~analog_models.readout.write_token_column`, at their two pin edges; write time = the
  cycle the K discharge of that token began);
* while the **ReLU C2P integrates** (QK read), adds the word-line pulses it sees to a per-row
  pulse-width count (the charge integration; the read time is the first integrate cycle);
* when the **ReLU C2P fires**, samples the valid-column mask and runs
  :func:`~analog_models.readout.read_token` on the observed widths (K-array charge, ReLU C2P,
  V-array charge, signed C2P): once per phase, the golden path's call with the same arguments,
  so the floats are bit-identical;
* while the **signed C2P fires**, drives ``i_c2p_pulse`` high for ``count`` cycles per channel and
  ``i_c2p_sign`` with the sign.

It never sees the token values of the testbench: only pins.  Time is the cycle count ×
``t_clk``, in seconds, for leakage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analog_models.array import GainCellBank
from analog_models.dac import code_to_volts, pulse_fraction
from analog_models.readout import read_token
from hdl.config import HeadConfig
from tb.cosim.bus import read_bits, read_fields, write_bits

__all__ = ["AnalogBridge", "ObservedToken"]


@dataclass
class ObservedToken:
    """What the bridge saw of one token on the pins (for the scoreboard's diagnostics)."""

    t_write_s: float
    t_read_s: float | None = None
    q_widths: np.ndarray | None = None     # (d,) observed PWM widths in cycles
    sign: np.ndarray | None = None         # (n_tiles, d) bool, driven
    count: np.ndarray | None = None        # (n_tiles, d) int, driven


class AnalogBridge:
    def __init__(self, dut, cfg: HeadConfig) -> None:
        self.dut, self.cfg = dut, cfg
        a = cfg.array
        self.d, self.n, self.C = a.head_dim, a.n_tiles, a.tile_cols
        self.k_bank = GainCellBank.for_head(cfg, "K")
        self.v_bank = GainCellBank.for_head(cfg, "V")
        self.t_clk_s = cfg.timing.t_clk_s
        # pins (handles looked up once)
        g = dut
        self._ctrl = {name: getattr(g, name) for name in (
            "o_discharge_k", "o_we_k", "o_discharge_v", "o_we_v",
            "o_c2p1_integrate", "o_c2p1_fire", "o_c2p2_fire")}
        self._wl, self._valid = g.o_wl_q, g.o_valid
        self._tile_sel, self._col_sel = g.o_tile_sel, g.o_col_sel
        self._dac_k, self._dac_v = g.o_dac_k, g.o_dac_v
        self._pulse, self._sign = g.i_c2p_pulse, g.i_c2p_sign
        self.tokens: list[ObservedToken] = []   # every token whose K column was discharged
        #: Test hook: index into ``tokens`` whose channel 0 is driven wrong on the pins (the
        #: recorded count and sign stay right) — proves the scoreboard catches a corrupted
        #: output.  None in every normal run.
        self.fault_token: int | None = None
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """The RTL is in reset: forget tokens in flight (the arrays keep their charge; the
        valid mask, cleared by the reset, hides it)."""
        self._prev = dict.fromkeys(self._ctrl, 0)
        self._widths = np.zeros(self.d, dtype=np.int64)
        self._reading: ObservedToken | None = None     # token in its QK read
        self._fired: list[ObservedToken] = []          # tokens evaluated, waiting to count
        self._counting: ObservedToken | None = None
        self._count_cycle = 0
        self._driving = False
        self._writing: ObservedToken | None = None

    def _select(self) -> tuple[int, int]:
        tile = np.flatnonzero(read_bits(self._tile_sel)[: self.n])
        col = np.flatnonzero(read_bits(self._col_sel)[: self.C])
        if len(tile) != 1 or len(col) != 1:
            raise AssertionError(f"write select is not one-hot: tiles {tile.tolist()}, "
                                 f"columns {col.tolist()}")
        return int(tile[0]), int(col[0])

    # -- one clock cycle -------------------------------------------------------------------
    def cycle(self, n: int) -> None:
        """Observe cycle ``n`` (called at its falling edge) and drive the C2P outputs."""
        now = n * self.t_clk_s
        cur = {name: int(sig.value) for name, sig in self._ctrl.items()}
        prev = self._prev
        # writes: discharge then DAC write of the selected column, K and V arrays
        if cur["o_discharge_k"] and not prev["o_discharge_k"]:
            self._writing = ObservedToken(t_write_s=now)
            self.tokens.append(self._writing)
            self.k_bank.discharge_column(*self._select())
        if cur["o_we_k"] and not prev["o_we_k"]:
            codes = read_fields(self._dac_k, self.d, self.cfg.array.kv_bits)
            self.k_bank.write_column(*self._select(), code_to_volts(codes, self.cfg),
                                     self._writing.t_write_s)
        if cur["o_discharge_v"] and not prev["o_discharge_v"]:
            self.v_bank.discharge_column(*self._select())
        if cur["o_we_v"] and not prev["o_we_v"]:
            codes = read_fields(self._dac_v, self.d, self.cfg.array.kv_bits)
            self.v_bank.write_column(*self._select(), code_to_volts(codes, self.cfg),
                                     self._writing.t_write_s)
        # QK read: integrate the word-line pulse widths
        if cur["o_c2p1_integrate"]:
            if not prev["o_c2p1_integrate"]:
                self._reading = self.tokens[-1]
                self._reading.t_read_s = now
                self._widths[:] = 0
            self._widths += read_bits(self._wl)[: self.d]
        # ReLU C2P fires: the token's read-out, once, from what was observed
        if cur["o_c2p1_fire"] and not prev["o_c2p1_fire"]:
            tok = self._reading
            if tok is None:
                raise AssertionError(f"cycle {n}: ReLU C2P fired without a QK read")
            valid = read_bits(self._valid)[: self.n * self.C].reshape(self.n, self.C)
            tok.q_widths = self._widths.copy()
            r = read_token(self.k_bank, self.v_bank, pulse_fraction(tok.q_widths, self.cfg),
                           tok.t_read_s, valid, self.cfg)
            tok.sign, tok.count = r.sign, r.count
            self._fired.append(tok)
            self._reading = None
        # signed C2P fires: output pulses of count cycles, sign held
        if cur["o_c2p2_fire"]:
            if not prev["o_c2p2_fire"]:
                if not self._fired:
                    raise AssertionError(f"cycle {n}: signed C2P fired with nothing integrated")
                self._counting = self._fired.pop(0)
                self._count_cycle = 0
                sign = self._counting.sign.ravel()
                self._drive_count = self._counting.count.ravel()
                if (self.fault_token is not None and self.fault_token < len(self.tokens)
                        and self._counting is self.tokens[self.fault_token]):
                    # channel 0 one cycle longer, or (already saturated) with the sign flipped
                    sign, self._drive_count = sign.copy(), self._drive_count.copy()
                    if self._drive_count[0] < self.cfg.array.count_max:
                        self._drive_count[0] += 1
                    else:
                        sign[0] = not sign[0]
                write_bits(self._sign, sign)
            write_bits(self._pulse, self._drive_count > self._count_cycle)
            self._count_cycle += 1
            self._driving = True
        elif self._driving:
            self._pulse.value = 0
            self._sign.value = 0
            self._driving = False
        self._prev = cur
