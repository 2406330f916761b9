"""The analog side of the head co-simulation: gain-cell arrays and C2P circuits behind the pins.

:class:`AnalogBridge` owns the K and V gain-cell banks (``analog_models.array.GainCellBank``,
as the golden model's :class:`sim.golden.TokenHead` does) and runs the token sequence of
:mod:`analog_models.readout` — the functions the golden token path calls — from what it sees on
the pins.  It is event-driven: :meth:`AnalogBridge.start` launches two coroutines that sleep
until a control pin of the head changes (about a dozen wake-ups per token instead of one per
clock cycle); the co-simulation shell (:mod:`tb.cosim.shell`) does the per-cycle parts in
Verilog.  On a change it samples the settled pins (``ReadOnly``) and

* on a **discharge** or **write enable** of an array, decodes the one-hot tile/column select and
  the DAC codes on the pins and discharges/writes that column (the two bank calls of
  :func:`~analog_models.readout.write_token_column`, at their two pin edges; write time = the
  cycle the K discharge of that token began);
* when the **ReLU C2P integrates** (QK read), notes the read time (the first integrate cycle);
* when the **ReLU C2P fires**, reads the word-line pulse widths the shell counted
  (``o_wl_width``: cycles each ``o_wl_q`` bit was high during integrate) and the valid-column
  mask, and runs :func:`~analog_models.readout.read_token` on them (K-array charge, ReLU C2P,
  V-array charge, signed C2P): once per phase, the golden path's call with the same arguments,
  so the floats are bit-identical;
* when the **signed C2P fires**, loads the shell's pulse player with the counts and signs
  (``i_pp_count``, ``i_pp_sign``); the shell drives ``i_c2p_pulse`` high for ``count`` cycles
  per channel and ``i_c2p_sign`` with the sign.

With two C2P sets per column (``timing.schedule = "pingpong"``) the phase pins are one bit per
set: the bridge watches each set's rises and keeps which token each set holds in
:class:`analog_models.c2p_sets.C2PSets` (a set integrating over a held token, or firing with
none, fails the run); the number of sets is the width of ``o_c2p1_fire``.  The next token's K
discharge falls in the cycle the A fire begins: the fire's read-out is run first, whichever of
the two pins' coroutines wakes first.

It never sees the token values of the testbench: only pins.  Time is the cycle count ×
``t_clk``, in seconds, for leakage; cycle n is the one whose falling edge is the n-th since the
clock started (a pin that changes at a rising edge is first seen in the cycle it starts).
"""

from __future__ import annotations

from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge, ValueChange
from cocotb.utils import get_sim_time

from analog_models.array import GainCellBank
from analog_models.c2p_sets import C2PSets
from analog_models.dac import code_to_volts, pulse_fraction
from analog_models.readout import read_token
from hdl.config import HeadConfig
from tb.cosim.bus import read_bits, read_fields, write_bits, write_fields

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
    #: Control pins whose rises wake the bridge (registered outputs of the head: they change
    #: only at rising clock edges, and no two of one token's events share a cycle).
    CONTROL = ("o_discharge_k", "o_we_k", "o_discharge_v", "o_we_v", "o_c2p1_integrate",
               "o_c2p1_fire")

    def __init__(self, dut, cfg: HeadConfig) -> None:
        self.dut, self.cfg = dut, cfg
        a = cfg.array
        self.d, self.n, self.C = a.head_dim, a.n_tiles, a.tile_cols
        self.k_bank = GainCellBank.for_head(cfg, "K")
        self.v_bank = GainCellBank.for_head(cfg, "V")
        self.t_clk_s = cfg.timing.t_clk_s
        self._period_ps = int(round(cfg.timing.t_clk_ns * 1000))
        self._t0_ps = get_sim_time("ps")      # the clock starts (rising) now
        # pins (handles looked up once)
        g = dut
        self._ctrl = {name: getattr(g, name) for name in self.CONTROL}
        self._fire2 = g.o_c2p2_fire
        self.sets = len(g.o_c2p1_fire)            # C2P sets per column, from the pins
        self._wl, self._wl_width, self._valid = g.o_wl_q, g.o_wl_width, g.o_valid
        self._tile_sel, self._col_sel = g.o_tile_sel, g.o_col_sel
        self._dac_k, self._dac_v = g.o_dac_k, g.o_dac_v
        self._pp_count, self._pp_sign = g.i_pp_count, g.i_pp_sign
        self._width_bits = len(g.o_wl_width) // self.d
        self.tokens: list[ObservedToken] = []   # every token whose K column was discharged
        #: Test hook: index into ``tokens`` whose channel 0 is driven wrong on the pins (the
        #: recorded count and sign stay right) — proves the scoreboard catches a corrupted
        #: output.  None in every normal run.
        self.fault_token: int | None = None
        #: Wake-ups of the bridge's coroutines (for the summary: events, not cycles).
        self.wakeups = 0
        self.reset()

    def start(self) -> None:
        """Launch the coroutines that watch the pins (once, after the clock started)."""
        self._pp_count.value = 0
        self._pp_sign.value = 0
        for name in self.CONTROL:
            cocotb.start_soon(self._watch_pin(name))
        cocotb.start_soon(self._watch_output())

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """The RTL is in reset: forget tokens in flight (the arrays keep their charge; the
        valid mask, cleared by the reset, hides it)."""
        self.c2p = C2PSets(self.sets)                  # the token each C2P set holds
        self._writing: ObservedToken | None = None
        self._integrate_cycle: list[int | None] = [None] * self.sets
        self._fire_cycle: list[int | None] = [None] * self.sets

    def cycle_now(self) -> int:
        """The current cycle (see the module docstring)."""
        return (get_sim_time("ps") - self._t0_ps) // self._period_ps + 1

    def _select(self) -> tuple[int, int]:
        tile = np.flatnonzero(read_bits(self._tile_sel)[: self.n])
        col = np.flatnonzero(read_bits(self._col_sel)[: self.C])
        if len(tile) != 1 or len(col) != 1:
            raise AssertionError(f"write select is not one-hot: tiles {tile.tolist()}, "
                                 f"columns {col.tolist()}")
        return int(tile[0]), int(col[0])

    # -- the pins ----------------------------------------------------------------------------
    async def _watch_pin(self, name: str) -> None:
        """One control pin: on each rise, the settled pins of that cycle are handled (one
        plain trigger per pin: a ``First`` of several costs a cocotb task each).  A pin of
        several bits (one per C2P set) wakes on any change; the bits that rose are handled."""
        sig = self._ctrl[name]
        if len(sig) == 1:
            while True:
                await RisingEdge(sig)
                await ReadOnly()
                self.wakeups += 1
                self._on_rising({name}, 1)
        prev = 0
        while True:
            await ValueChange(sig)
            await ReadOnly()
            self.wakeups += 1
            now = _uint(sig)
            rose, prev = now & ~prev, now
            if rose:
                self._on_rising({name}, rose)

    def _on_rising(self, rose: set[str], sets: int) -> None:
        """Handle the pins in ``rose``; ``sets``: bit s = C2P set s rose (phase pins)."""
        n = self.cycle_now()
        now = n * self.t_clk_s
        # writes: discharge then DAC write of the selected column, K and V arrays
        if "o_discharge_k" in rose:
            # an A fire beginning in this cycle (its set still holds the token, its fire pin is
            # on) reads the K array before it is discharged
            fire = _uint(self._ctrl["o_c2p1_fire"])
            for c in range(self.sets):
                if fire >> c & 1 and self.c2p.holds(c) is not None:
                    self._fire_relu(c, n)
            self._writing = ObservedToken(t_write_s=now)
            self.tokens.append(self._writing)
            self.k_bank.discharge_column(*self._select())
        if "o_we_k" in rose:
            codes = read_fields(self._dac_k, self.d, self.cfg.array.kv_bits)
            self.k_bank.write_column(*self._select(), code_to_volts(codes, self.cfg),
                                     self._writing.t_write_s)
        if "o_discharge_v" in rose:
            self.v_bank.discharge_column(*self._select())
        if "o_we_v" in rose:
            codes = read_fields(self._dac_v, self.d, self.cfg.array.kv_bits)
            self.v_bank.write_column(*self._select(), code_to_volts(codes, self.cfg),
                                     self._writing.t_write_s)
        # QK read: its time is the first integrate cycle
        if "o_c2p1_integrate" in rose:
            for c in _bits(sets, self.sets):
                tok = self.tokens[-1]
                tok.t_read_s = now
                try:
                    self.c2p.integrate(c, tok, firing=bool(_uint(self._ctrl["o_c2p1_fire"])
                                                           >> c & 1))
                except AssertionError as e:
                    raise AssertionError(f"cycle {n}: {e}") from None
                self._integrate_cycle[c] = n
        # ReLU C2P fires: the token's read-out, once, from what was observed
        if "o_c2p1_fire" in rose:
            for c in _bits(sets, self.sets):
                if self._fire_cycle[c] != n:       # not already run by the K discharge
                    self._fire_relu(c, n)

    def _fire_relu(self, c: int, n: int) -> None:
        """ReLU C2P set ``c`` fires in cycle ``n``: its token's read-out."""
        self._fire_cycle[c] = n
        if self.c2p.holds(c) is None:
            raise AssertionError(f"cycle {n}: ReLU C2P set {c} fired without a QK read")
        if self._integrate_cycle[c] == n:
            raise AssertionError(f"cycle {n}: ReLU C2P fired in the cycle its integrate "
                                 f"began (the width counters cannot see that cycle)")
        try:
            tok = self.c2p.fire_relu(c, signed_firing=bool(_uint(self._fire2) >> c & 1))
        except AssertionError as e:
            raise AssertionError(f"cycle {n}: {e}") from None
        # the shell counted the integrate cycles before this one; this one if still on
        widths = read_fields(self._wl_width, self.d, self._width_bits)
        if _uint(self._ctrl["o_c2p1_integrate"]) >> c & 1:
            widths = widths + read_bits(self._wl)[: self.d]
        valid = read_bits(self._valid)[: self.n * self.C].reshape(self.n, self.C)
        tok.q_widths = widths
        r = read_token(self.k_bank, self.v_bank, pulse_fraction(tok.q_widths, self.cfg),
                       tok.t_read_s, valid, self.cfg)
        tok.sign, tok.count = r.sign, r.count

    async def _watch_output(self) -> None:
        """Signed C2P fires: load the pulse player (counts and signs) in its first cycle (the
        sets of a channel share its pulse line; one set fires at a time)."""
        prev = 0
        while True:
            if self.sets == 1:
                await RisingEdge(self._fire2)
                rose = 1
            else:
                await ValueChange(self._fire2)
                now = _uint(self._fire2)
                rose, prev = now & ~prev, now
            self.wakeups += 1
            for c in _bits(rose, self.sets):
                self._load_player(c)

    def _load_player(self, c: int) -> None:
        """Signed C2P set ``c`` fires: its token's counts and signs into the pulse player."""
        cmax_bits = self.cfg.array.count_bits
        try:
            tok = self.c2p.fire_signed(c)
        except AssertionError as e:
            raise AssertionError(f"cycle {self.cycle_now()}: {e}") from None
        sign, count = tok.sign.ravel(), tok.count.ravel()
        if (self.fault_token is not None and self.fault_token < len(self.tokens)
                and tok is self.tokens[self.fault_token]):
            # channel 0 one cycle longer, or (already saturated) with the sign flipped
            sign, count = sign.copy(), count.copy()
            if count[0] < self.cfg.array.count_max:
                count[0] += 1
            else:
                sign[0] = not sign[0]
        write_bits(self._pp_sign, sign)
        write_fields(self._pp_count, count, cmax_bits)


def _bits(mask: int, width: int) -> list[int]:
    """Indices of the bits set in ``mask`` (``width`` bits)."""
    return [c for c in range(width) if mask >> c & 1]


def _uint(sig) -> int:
    """A pin's value as an unsigned integer (x/z bits read as 0)."""
    return int("0" + "".join(b if b in "01" else "0" for b in str(sig.value)), 2)
