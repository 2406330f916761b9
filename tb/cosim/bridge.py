"""The analog side of the head co-simulation: gain-cell arrays and C2P circuits behind the pins.

:class:`AnalogBridge` owns the K and V gain-cell banks (``analog_models.array.GainCellBank``,
as the golden model's :class:`sim.golden.TokenHead` does) and runs the token sequence of
:mod:`analog_models.readout` — the functions the golden token path calls — from what it sees on
the pins.  It wakes once per token, when the **ReLU C2P fires** (``o_c2p1_fire`` rises; the
shell's ``o_br_wake`` rises at the falling edge of that cycle), and reads the co-simulation
shell's bridge record (:func:`tb.cosim.shell.bridge_fields`, one bus):
the shell latched each array event of the head at the edge it happened — the pins of that
moment — so the bridge replays them in order:

* the **discharge** and **write enable** of each array: the one-hot tile/column select and the
  DAC codes latched with them; the column is discharged and written (the two bank calls of
  :func:`~analog_models.readout.write_token_column`; write time = the cycle the K discharge of
  that token began);
* the **QK integrate**: its first cycle is the read time;
* then the read-out itself, from the word-line pulse widths the shell counted (``o_wl_width``,
  plus this cycle's ``o_wl_q`` if integrate is still on) and the valid-column mask:
  :func:`~analog_models.readout.read_token` (K-array charge, ReLU C2P, V-array charge, signed
  C2P), the golden path's call with the same arguments, so the floats are bit-identical;
* the counts and signs go to the shell's pulse player (``i_pp_planes``, ``i_pp_sign``), which
  drives ``i_c2p_pulse`` for ``count`` cycles per channel when the signed C2P fires.

The record is decoded, and the pulse player's bit planes written, in one C call each
(:mod:`tb.cosim.pins`).

Each event counter must have moved by exactly one since the previous token (the schedule puts a
token's writes and integrate between its predecessor's fire and its own, and its signed C2P
fire before the next token's ReLU fire); anything else is reported, never guessed at.  On a
reset the events latched so far are applied first (the arrays keep their charge).

With two C2P sets per column (``timing.schedule = "pingpong"``) the phase pins are one bit per
set (the number of sets is the width of ``o_c2p1_fire``); the bridge wakes on their OR (the
shell's ``o_br_wake``) and follows, from the set bits the record latched, which token each set
holds in :class:`analog_models.c2p_sets.C2PSets` — a set integrating over a held token or while
it fires, or firing with nothing integrated, fails the run (with one set the same checks hold).
The next token's K discharge may fall in the cycle the A fire begins: the record latches it at
the end of that cycle, so this token's read-out comes first.  The pulse player holds one token
ahead (the shell takes the counts in the first cycle of the signed fire), so a token's counts
may be loaded while its predecessor's pulses still play.

It never sees the token values of the testbench: only pins.  Time is the cycle count ×
``t_clk``, in seconds, for leakage; cycle n is the one whose falling edge is the n-th since the
clock started (a pin that changes at a rising edge is first seen in the cycle it starts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time

from analog_models.array import GainCellBank
from analog_models.c2p_sets import C2PSets
from analog_models.dac import code_to_volts, pulse_fraction
from analog_models.readout import read_token
from hdl.config import HeadConfig
from tb.cosim.pins import PlaneWriter, Record, RecordDecoder
from tb.cosim.shell import EVENT_BITS, EVENTS
from tb.cosim.vpi import VectorPort

__all__ = ["AnalogBridge", "ObservedToken"]


@dataclass
class ObservedToken:
    """What the bridge saw of one token on the pins (for the scoreboard's diagnostics)."""

    t_write_s: float
    t_read_s: float | None = None
    q_widths: np.ndarray | None = None     # (d,) observed PWM widths in cycles
    sign: np.ndarray | None = None         # (n_tiles, d) bool, driven
    count: np.ndarray | None = None        # (n_tiles, d) unsigned int, driven


class AnalogBridge:
    def __init__(self, dut, cfg: HeadConfig) -> None:
        self.dut, self.cfg = dut, cfg
        a = cfg.array
        self.d, self.n, self.C = a.head_dim, a.n_tiles, a.tile_cols
        self.k_bank = GainCellBank.for_head(cfg, "K")
        self.v_bank = GainCellBank.for_head(cfg, "V")
        self.t_clk_s = cfg.timing.t_clk_s
        self._period_ps = int(round(cfg.timing.t_clk_ns * 1000))
        self._t0_ps = get_sim_time("ps")      # the clock starts (rising) now
        self._wake = dut.o_br_wake
        self.sets = len(dut.o_c2p1_fire)            # C2P sets per column, from the pins
        self.c2p = C2PSets(self.sets)                # the token each C2P set holds
        # the record and the pulse player's inputs as VPI vectors (tb.cosim.vpi: ~10× less
        # CPU time than cocotb's strings of binary digits at these widths), decoded and
        # encoded in one C call each (tb.cosim.pins)
        self._rec = VectorPort(dut.o_br_rec)
        self._decoder = RecordDecoder(cfg)
        self._signs = PlaneWriter(VectorPort(dut.i_pp_sign), 1)
        self._counts = PlaneWriter(VectorPort(dut.i_pp_planes), cfg.array.count_bits)
        self._seen = dict.fromkeys(EVENTS, 0)     # event counts already applied
        self._event_fields = [(e, f"n_{e}") for e in EVENTS]
        self.tokens: list[ObservedToken] = []   # every token whose K column was discharged
        #: Test hook: index into ``tokens`` whose channel 0 is driven wrong on the pins (the
        #: recorded count and sign stay right) — proves the scoreboard catches a corrupted
        #: output.  None in every normal run.
        self.fault_token: int | None = None
        #: Wake-ups of the bridge's coroutine (for the summary: events, not cycles).
        self.wakeups = 0
        #: CPU seconds the bridge's own work took (read-out, array writes, pins; for the
        #: summary: the rest of a run's CPU time is the simulator and cocotb).
        self.cpu_s = 0.0
        self._fires = 0
        self._count_dtype = np.min_scalar_type(cfg.array.count_max)
        #: code_to_volts of every DAC code, looked up per written column (the same floats)
        self._volts_of_code = code_to_volts(np.arange(cfg.array.kv_max + 1), cfg)
        self._writing: ObservedToken | None = None

    def start(self) -> None:
        """Launch the coroutine that watches the ReLU C2P fire (once, after the clock
        started)."""
        for lanes in (self._signs, self._counts):
            lanes.put(np.zeros(lanes.n, dtype=np.int64))
        cocotb.start_soon(self._watch_fire())

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """The RTL is in reset: apply the array events latched so far (they happened), then
        forget the token in flight (the arrays keep their charge; the valid mask, cleared by
        the reset, hides it).  Call it after a falling edge in reset has settled (the shell
        latches the record at those edges: ReadWrite or later in that time step)."""
        rec = self._read_record()
        self._apply(rec, self.cycle_now())
        self._writing = None
        self._fires = self._count(rec, "f2")
        self.c2p = C2PSets(self.sets)

    def cycle_now(self) -> int:
        """The current cycle (see the module docstring)."""
        return (get_sim_time("ps") - self._t0_ps) // self._period_ps + 1

    # -- the record ----------------------------------------------------------------------------
    def _read_record(self) -> Record:
        return self._decoder.decode(self._rec)

    def _count(self, rec: Record, event: str) -> int:
        return rec.int(f"n_{event}")

    def _select(self, rec: Record, name: str) -> tuple[int, int]:
        sel = rec.int(name)
        tiles, cols = sel & ((1 << self.n) - 1), sel >> self.n
        if tiles & (tiles - 1) or cols & (cols - 1) or not tiles or not cols:
            ones = [i for i in range(self.n + self.C) if sel >> i & 1]
            raise AssertionError(f"write select is not one-hot: tiles "
                                 f"{[i for i in ones if i < self.n]}, columns "
                                 f"{[i - self.n for i in ones if i >= self.n]}")
        return tiles.bit_length() - 1, cols.bit_length() - 1

    def _apply(self, rec: Record, n: int) -> dict[str, int]:
        """Apply the array events latched since the last call (each at most once); return
        which happened."""
        mask, seen = (1 << EVENT_BITS) - 1, self._seen
        ints = rec.ints
        counts = {e: ints[f] for e, f in self._event_fields}
        new = {e: (counts[e] - seen[e]) & mask for e in EVENTS}
        bad = {e: k for e, k in new.items() if k > 1 and e != "f2"}
        if bad:
            raise AssertionError(f"cycle {n}: {bad} array events since the last ReLU C2P "
                                 f"fire (one each expected)")
        self._seen = counts
        cyc = rec.int("cyc")
        for bank, dis, wr in ((self.k_bank, "dk", "wk"), (self.v_bank, "dv", "wv")):
            written = self._select(rec, f"{wr}_sel") if new[wr] else None
            if new[dis]:
                where = self._select(rec, f"{dis}_sel")
                if dis == "dk":
                    tok = ObservedToken(t_write_s=(n - (cyc - rec.int("dk_cyc"))) * self.t_clk_s)
                    self._writing = tok
                    self.tokens.append(tok)
                # a write of the same column right after leaves the same cells either way
                if written != where:
                    bank.discharge_column(*where)
            if written is not None:
                # the codes as int64 (small: the same values), an index numpy takes ~4× faster
                volts = self._volts_of_code[rec.array(f"{wr}_dac").view(np.int64)]
                bank.write_column(*written, volts, self._writing.t_write_s)
        return new

    def _follow_sets(self, rec: Record, new: dict[str, int], tok: ObservedToken,
                     n: int) -> int:
        """The C2P set phases since the last fire (this token's integrate, the previous
        token's signed fire) and this fire, checked against the token each set holds; return
        the set that fires."""
        ints = rec.ints

        def one(field: str) -> int:
            v = ints[field]
            if not v or v & (v - 1):
                bits = [s for s in range(self.sets) if v >> s & 1]
                raise AssertionError(f"cycle {n}: {field} set bits {bits}: exactly one C2P "
                                     f"set expected")
            return v.bit_length() - 1
        c = one("fire1")
        try:
            if new["in"]:
                s = one("in_set")
                self.c2p.integrate(s, tok, firing=bool(ints["in_fire1"] >> s & 1))
            if new["f2"]:
                self.c2p.fire_signed(one("f2_set"))
            self.c2p.fire_relu(c, signed_firing=bool(ints["fire2"] >> c & 1))
        except AssertionError as e:
            raise AssertionError(f"cycle {n}: {e}") from None
        return c

    # -- the pins ----------------------------------------------------------------------------
    async def _watch_fire(self) -> None:
        """Each ReLU C2P fire: apply the token's writes, read it out, load the pulse player."""
        while True:
            # The shell's wake pin rises at the falling edge of the cycle fire rose in, after
            # the shell latched the record there: the head and the shell change only at rising
            # edges, so it holds the pins of that cycle (in any simulator), and the pulse
            # player can be loaded at once — one trigger per token (a rise of the fire pin,
            # then a falling clock edge, took two).
            await RisingEdge(self._wake)
            self.wakeups += 1
            c0 = time.process_time()
            sign, count = self._on_fire()
            # at once (the shell registers them at the next rising edge): no ReadWrite callback
            self._signs.put(sign)
            self._counts.put(count)
            self.cpu_s += time.process_time() - c0

    def _on_fire(self) -> tuple[np.ndarray, np.ndarray]:
        """The token's read-out: (signs, counts) for the pulse player."""
        n = self.cycle_now()
        rec = self._read_record()
        new = self._apply(rec, n)
        if not new["in"] or self._writing is None:
            raise AssertionError(f"cycle {n}: ReLU C2P fired without a QK read")
        in_cycle = n - (rec.int("cyc") - rec.int("in_cyc"))
        if in_cycle >= n:
            raise AssertionError(f"cycle {n}: ReLU C2P fired in the cycle its integrate "
                                 f"began (the width counters cannot see that cycle)")
        if self._count(rec, "f2") != self._fires & ((1 << EVENT_BITS) - 1):
            raise AssertionError(f"cycle {n}: ReLU C2P fired before the previous token's "
                                 f"signed C2P began to fire (the pulse player holds one token)")
        tok = self.tokens[-1]
        c = self._follow_sets(rec, new, tok, n)
        tok.t_read_s = in_cycle * self.t_clk_s
        # the shell counted the integrate cycles before this one; this one if still on
        widths = rec.array("wl_width").copy()      # uint64: the record's buffer is reused
        if rec.int("integrate") >> c & 1:
            widths += rec.bits("wl_q")
        valid = rec.bits("valid").reshape(self.n, self.C)
        tok.q_widths = widths
        r = read_token(self.k_bank, self.v_bank, pulse_fraction(tok.q_widths, self.cfg),
                       tok.t_read_s, valid, self.cfg)
        # kept for the scoreboard: counts in the smallest integer type that holds count_max
        # (a long run keeps one per token: 1 KiB, not 8, at the defaults)
        tok.sign, tok.count = r.sign, r.count.astype(self._count_dtype)
        self._fires += 1
        sign, count = tok.sign.ravel(), tok.count.ravel()
        if (self.fault_token is not None and self.fault_token < len(self.tokens)
                and tok is self.tokens[self.fault_token]):
            # channel 0 one cycle longer, or (already saturated) with the sign flipped
            sign, count = sign.copy(), count.copy()
            if count[0] < self.cfg.array.count_max:
                count[0] += 1
            else:
                sign[0] = not sign[0]
        return sign, count
